"""HTTP probes of the lab app: via the published host port and via the container's bridge IP.

Every probe is bounded (default 1.5 s), reads at most 64 KiB, and ends in a classified
``ProbeResult`` — never an exception for a network outcome.
"""

from __future__ import annotations

import errno
import time

from labkit.app import parse_page
from labkit.engine.base import Engine
from labkit.models import Container, HttpReply, Outcome, ProbeResult

__all__ = ["probe", "probe_host_port", "probe_bridge_ip", "probe_address", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 1.5
MAX_BODY = 64 * 1024


def probe(
    engine: Engine, container: Container, port: int = 80, *, timeout: float = DEFAULT_TIMEOUT
) -> list[ProbeResult]:
    """Both ways in, as the lab text tries them: the published host port, then the bridge IP."""
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
    host_port = binding.host_port or binding.ipv6_host_port
    return probe_address(
        engine,
        _published_host(engine, binding.host_ip),
        int(host_port),
        via="host-port",
        timeout=timeout,
    )


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
    return probe_address(engine, att.ip, port, via="bridge-ip", timeout=timeout)


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


def _get(host: str, port: int, timeout: float) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"User-Agent": "labkit-probe"})
        response = conn.getresponse()
        chunks, size = [], 0
        while size < MAX_BODY:
            if time.monotonic() > deadline:
                raise TimeoutError("slow reply")
            chunk = (
                response.read1(MAX_BODY - size)
                if hasattr(response, "read1")
                else response.read(MAX_BODY - size)
            )
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
    finally:
        conn.close()
    return response.status, raw.decode("utf-8", errors="replace")


def _result(
    via: str, target: str, url: str, reply: HttpReply, started: float, *, simulated: bool
) -> ProbeResult:
    fields = parse_page(reply.body)
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
