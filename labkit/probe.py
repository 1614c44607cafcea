"""HTTP probes of the lab app: via the published host port and via the container's bridge IP.

Every probe is bounded as a whole (default 1.5 s: connecting, the status line, the headers and
the body together, however slowly they come), reads at most 64 KiB, and ends in a classified
``ProbeResult`` — never an exception for a network outcome. A bad argument (a timeout of -1, a
port of 'eighty') is an InvalidInput, said before any traffic.
"""

from __future__ import annotations

import dataclasses
import errno
import threading
import time
from pathlib import Path

from labkit.app import parse_page
from labkit.engine._checks import check_seconds
from labkit.engine.base import Engine
from labkit.errors import InvalidInput, InvalidPort
from labkit.models import Container, HttpReply, Outcome, ProbeResult
from labkit.text import printable

__all__ = [
    "probe",
    "probe_host_port",
    "probe_bridge_ip",
    "probe_address",
    "probe_old_port",
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
]

DEFAULT_TIMEOUT = 1.5
MAX_TIMEOUT = 30.0
MAX_BODY = 64 * 1024


def probe(
    engine: Engine, container: Container, port: int = 80, *, timeout: float = DEFAULT_TIMEOUT
) -> list[ProbeResult]:
    """Both ways in, as the lab text tries them: the published host port, then the bridge IP."""
    timeout = check_seconds(timeout, "timeout", most=MAX_TIMEOUT)
    if not container.running:
        # An exited or crash-looping app is reported as such, not as a probe time-out.
        return [_not_running(container, via) for via in ("host-port", "bridge-ip")]
    return [
        probe_host_port(engine, container, port, timeout=timeout),
        probe_bridge_ip(engine, container, port, timeout=timeout),
    ]


def probe_host_port(
    engine: Engine, container: Container, port: int = 80, *, timeout: float = DEFAULT_TIMEOUT
) -> ProbeResult:
    binding = container.port(port)
    if binding is None or not binding.published:
        return _nothing_to_probe(
            "host-port", Outcome.ERROR, f"{container.name} publishes no host port for {port}/tcp"
        )
    host_port = binding.host_port or binding.ipv6_host_port or 0  # published: one is set
    result = probe_address(
        engine,
        _published_host(engine, binding.host_ip),
        int(host_port),
        via="host-port",
        timeout=timeout,
    )
    return _from(container, result)


def probe_bridge_ip(
    engine: Engine,
    container: Container,
    port: int = 80,
    *,
    network: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeResult:
    att = container.attachment(network)
    if att is None or not att.ip:
        why = (
            "it is not running"
            if not container.running
            else f"it has no IP on {network or 'any network'}"
        )
        return _nothing_to_probe(
            "bridge-ip", Outcome.ERROR, f"{container.name} has no bridge IP: {why}"
        )
    return _from(container, probe_address(engine, att.ip, port, via="bridge-ip", timeout=timeout))


def _from(container: Container, result: ProbeResult) -> ProbeResult:
    """An answer from another container is not this one's: an address can reach someone else's
    container from here (an engine in another network namespace, a reused bridge IP)."""
    if (
        result.ok
        and container.hostname
        and result.hostname
        and result.hostname != container.hostname
    ):
        return dataclasses.replace(
            result,
            outcome=Outcome.WRONG_CONTAINER,
            detail=f"answered by another container (hostname {result.hostname}, not "
            f"{container.hostname}): from here {result.target} is not {container.name}'s",
        )
    return result


def probe_address(
    engine: Engine | None,
    host: str,
    port: int,
    *,
    via: str = "address",
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeResult:
    """GET http://host:port/ — answered by the engine's model when it owns the address."""
    import http.client  # here, not at module top: `import labkit` stays fast

    timeout = check_seconds(timeout, "timeout", most=MAX_TIMEOUT)
    _check_target(host, port)
    url = f"http://{_bracket(host)}:{port}/"
    target = f"{_bracket(host)}:{port}"
    started = time.perf_counter()
    try:
        modelled = engine.model_http(host, port) if engine is not None else None
        if modelled is not None:
            return _result(via, target, url, modelled, started, simulated=True)
        status, body = _get(host, port, timeout)
    except ConnectionRefusedError:
        return _failed(
            via, target, url, Outcome.REFUSED, started, "connection refused: nothing listens there"
        )
    except TimeoutError:
        return _failed(
            via, target, url, Outcome.TIMEOUT, started, f"no answer within {timeout:g} s"
        )
    except (http.client.HTTPException, UnicodeError) as exc:
        return _failed(
            via,
            target,
            url,
            Outcome.NOT_HTTP,
            started,
            f"the reply is not HTTP ({type(exc).__name__})",
        )
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
            return _failed(
                via, target, url, Outcome.UNREACHABLE, started, "no route to that address from here"
            )
        if exc.errno in (errno.ECONNRESET, errno.EPIPE):
            return _failed(
                via,
                target,
                url,
                Outcome.NOT_HTTP,
                started,
                "the connection was reset before a reply",
            )
        return _failed(via, target, url, Outcome.ERROR, started, exc.strerror or str(exc))
    reply = HttpReply(status=status, body=body, latency_ms=(time.perf_counter() - started) * 1000)
    return _result(via, target, url, reply, started, simulated=False)


def _check_target(host: str, port: int) -> None:
    if not isinstance(host, str) or not host.strip():
        raise InvalidInput(
            f"Invalid address {host!r} to probe",
            "a probe needs a host: an IP address or a name",
            "give e.g. '127.0.0.1' (or use lab.probe('myapp2'))",
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidPort(
            f"Invalid port {port!r} to probe",
            "a port is a whole number from 1 to 65535",
            "give the host port as a number, e.g. app.port(80).host_port",
        )


def _get(host: str, port: int, timeout: float) -> tuple[int, str]:
    """One GET within ``timeout`` in all. A per-read time-out is not enough: a server that sends
    a byte a second never lets one expire. So a timer ends the socket at the deadline, and a
    reply cut by it is a time-out, never a short answer."""
    import http.client

    deadline = time.monotonic() + timeout
    expired = threading.Event()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    timer: threading.Timer | None = None
    try:
        conn.connect()
        sock = conn.sock
        left = deadline - time.monotonic()

        def end() -> None:
            expired.set()
            try:
                sock.shutdown(2)  # socket.SHUT_RDWR: the blocked read returns at once
            except OSError:
                pass

        timer = threading.Timer(max(left, 0.0), end)
        timer.daemon = True
        timer.start()
        conn.request("GET", "/", headers={"User-Agent": "labkit-probe"})
        response = conn.getresponse()
        chunks, size = [], 0
        while size < MAX_BODY:
            chunk = response.read1(MAX_BODY - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if expired.is_set():
            raise TimeoutError("the reply did not end in time")
        raw = b"".join(chunks)
    except (OSError, http.client.HTTPException):
        if expired.is_set() or time.monotonic() >= deadline:
            raise TimeoutError("the reply did not end in time") from None
        raise
    finally:
        if timer is not None:
            timer.cancel()
        conn.close()
    return response.status, raw.decode("utf-8", errors="replace")


def probe_old_port(
    engine: Engine,
    container: Container,
    old_port: int,
    *,
    via: str = "old host port",
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeResult:
    """Probe a host port the container had before a restart — only if it is still the
    container's, or nobody's. On a shared engine the old port may since have gone to someone
    else's container, or to another program: then say so and send nothing."""
    timeout = check_seconds(timeout, "timeout", most=MAX_TIMEOUT)
    _check_target("-", old_port)
    info = engine.info()
    target = f"{_bracket(info.host)}:{old_port}"
    for other in engine.containers():
        if any(old_port in (b.host_port, b.ipv6_host_port) for b in other.ports):
            if other.id == container.id:
                break  # still this container's: probe it
            return ProbeResult(
                via=via,
                target=target,
                url="",
                outcome=Outcome.TAKEN,
                detail=f"host port {old_port} now belongs to another container: not probed "
                "(the engine gave it away after the restart)",
            )
    else:
        if info.local and _listening_here(old_port):
            return ProbeResult(
                via=via,
                target=target,
                url="",
                outcome=Outcome.TAKEN,
                detail=f"host port {old_port} is now held by another program on this machine: "
                "not probed",
            )
    return _from(container, probe_address(engine, info.host, old_port, via=via, timeout=timeout))


def _listening_here(port: int, proc: Path = Path("/proc/net")) -> bool:
    """Whether a TCP socket on this machine listens on ``port`` (read, not connected to)."""
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 3
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                return True
    return False


def _result(
    via: str, target: str, url: str, reply: HttpReply, started: float, *, simulated: bool
) -> ProbeResult:
    # Fields parsed from an app's reply are shown in tables and terminals: printable text only.
    fields = {k: printable(v) for k, v in parse_page(reply.body).items()}
    latency = reply.latency_ms if simulated else (time.perf_counter() - started) * 1000
    detail = f"HTTP {reply.status}" + (" (answered by the simulated engine)" if simulated else "")
    return ProbeResult(
        via=via,
        target=target,
        url=url,
        outcome=Outcome.OK if 200 <= reply.status < 400 else Outcome.ERROR,
        status=reply.status,
        latency_ms=round(latency, 2),
        server_ip=fields.get("server_ip"),
        hostname=fields.get("hostname"),
        client_addr=fields.get("client_addr"),
        body=reply.body[:MAX_BODY],
        simulated=simulated,
        detail=detail,
    )


# Exit codes a shell or docker-init gives for a command that never ran.
_EXIT_MEANING = {126: "its command could not be run", 127: "its command is not in the image"}


def _not_running(container: Container, via: str) -> ProbeResult:
    how = container.status
    if container.status == "exited":
        meaning = _EXIT_MEANING.get(container.exit_code)
        how = f"exited with code {container.exit_code}" + (f": {meaning}" if meaning else "")
    return _nothing_to_probe(
        via,
        Outcome.NOT_RUNNING,
        f"{container.name} is not running ({how}): start it again, and read its logs if it keeps stopping",
    )


def _nothing_to_probe(via: str, outcome: str, detail: str) -> ProbeResult:
    """A result for a probe that has no address to try: said at once, no network traffic."""
    return ProbeResult(via=via, target="-", url="", outcome=outcome, detail=detail)


def _failed(
    via: str, target: str, url: str, outcome: str, started: float, detail: str
) -> ProbeResult:
    return ProbeResult(
        via=via,
        target=target,
        url=url,
        outcome=outcome,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        detail=detail,
    )


def _published_host(engine: Engine, host_ip: str | None) -> str:
    info = engine.info()
    if not info.local:
        return info.host
    if host_ip and host_ip not in ("0.0.0.0", "::", ""):
        return host_ip
    return "127.0.0.1"


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
