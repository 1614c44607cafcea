"""The simulated engine served as Docker's Engine HTTP API on a unix socket.

The docker CLI (20.10 and 28), docker-py and labkit's ``DockerEngine`` drive it as they drive
dockerd: ``HEAD /_ping`` with the ``Api-Version`` header, ``/v1.NN/`` paths, JSON bodies, errors
as an HTTP status with ``{"message": ...}`` (the CLI prints ``Error response from daemon: ...``),
long polls (``wait``, ``events``) and hijacked streams (``attach``, ``exec``: ``101 UPGRADED``,
then raw bytes with a TTY or 8-byte-header frames without). Served:

- system: ``/_ping``, ``/version``, ``/info``, ``/events``
- containers: ``json`` (list, filters), ``create``, ``{id}/json``, ``start``, ``stop``,
  ``restart``, ``kill``, ``wait``, ``attach``, ``logs``, ``resize``, ``DELETE``; ``exec``,
  ``/exec/{id}/start``, ``/exec/{id}/json``, ``/exec/{id}/resize``
- images: ``json`` (list) and ``{name}/json`` (the lab image, the only one)
- networks: list, inspect, ``create``, ``connect``, ``disconnect``, ``DELETE``
- volumes and plugins: empty (so ``docker inspect`` probes past them)

Anything else answers as Docker answers an error, saying what the simulator serves.

labkit's extension, for what the Engine API cannot carry (unversioned, under ``/labkit/v1``):

- ``GET /labkit/v1/info`` → ``{"Simulated": true, "Generation", "EngineVersion", "Pid"}``
- ``GET /labkit/v1/http?host=H&port=P&path=/`` → an HTTP GET to an address the model owns (a
  simulated bridge IP): ``{"Outcome": "reply", "Status", "Body", "LatencyMs"}``, or
  ``{"Outcome": "refused" | "unreachable"}``, or ``{"Outcome": "not-modelled"}`` (use the real
  network: published ports are real listeners on 127.0.0.1)
- ``POST /labkit/v1/host/exec`` with ``{"Cmd": ["ip", "addr", "show", "docker0"]}`` → a command on
  the simulated host (``labkit.engine.sim.hostcmd``): ``{"ExitCode", "Output"}``
- ``POST /labkit/v1/reset`` → 204: a fresh model (every container and network gone)
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import queue
import re
import select
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from labkit.engine._checks import not_running
from labkit.engine.sim import wire
from labkit.engine.sim.engine import ENGINE_VERSION, SimulatedEngine
from labkit.engine.sim.state import LogLine, WaitCondition, now_iso
from labkit.engine.sim.terminal import Terminal, is_interactive_shell
from labkit.errors import (
    ContainerNotRunning,
    EngineUnavailable,
    InvalidInput,
    LabkitError,
    NotFound,
)
from labkit.generation import API_VERSION, SIM_VERSION, Generation, generation_of
from labkit.models import ExecResult

__all__ = ["ApiServer", "serve", "EXTENSION_PREFIX", "MAX_CONNECTIONS"]

EXTENSION_PREFIX = "/labkit/v1"
MAX_CONNECTIONS = 64  # one thread each; a student's kernels and terminals use a handful
_IDLE = 300.0  # a keep-alive connection with no request for this long is closed
_BODY_MAX = 1 << 20
_SERVED = (
    "it serves containers (run, ps, inspect, port, logs, exec, start, stop, restart, rm), "
    "networks, events, version, info and the lab image labkit/lab-app:1"
)
_POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)
_SIOCOUTQ = 0x5411  # bytes sent on a socket that its peer has not read yet (Linux)
log = logging.getLogger("labkit.sim")

Json = dict[str, Any]


def _generation(engine: SimulatedEngine) -> Generation:
    # The model says which generation it follows once it knows (LABKIT_SIM_VERSION); until then
    # its engine version does.
    found = getattr(engine, "generation", None)
    return found if isinstance(found, Generation) else generation_of(ENGINE_VERSION)


def _status(exc: LabkitError) -> tuple[int, str]:
    """An engine error as the daemon answers it: HTTP status first (by kind), then message."""
    if exc.reply is not None:
        return exc.reply
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, ContainerNotRunning):
        status = 409
    elif isinstance(exc, InvalidInput):
        status = 400
    elif isinstance(exc, EngineUnavailable):
        status = 503
    elif exc.__class__.__name__ in ("Conflict", "NameInUse", "PortInUse", "NetworkInUse"):
        status = 409
    else:
        status = 500
    return status, exc.why or exc.what


def _not_served(what: str) -> InvalidInput:
    return InvalidInput(
        f"labkit's simulated engine does not serve {what}", _SERVED, "see `labkit sim --help`"
    ).answering(404, f"labkit's simulated engine does not serve {what}: {_SERVED}")


def _not_modelled(what: str, status: int = 400) -> InvalidInput:
    return InvalidInput(
        f"labkit's simulated engine does not model {what}", _SERVED, "leave the option out"
    ).answering(status, f"labkit's simulated engine does not model {what}")


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.lower() in ("1", "true", "yes")


def _frame(stream: int, data: bytes) -> bytes:
    """The multiplexed stream's frame: stream type, three zero bytes, big-endian length."""
    return struct.pack(">BxxxL", stream, len(data)) + data


def _crlf(text: str) -> str:
    """A TTY's output processing (onlcr): every newline reaches the terminal as CR LF."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _peer_gone(sock: socket.socket, *, eof_is_gone: bool) -> bool:
    """Whether the client closed its connection. A client that only half-closed (stdin at EOF
    on an exec or attach stream) still reads: unless ``eof_is_gone``, that is not gone."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLHUP | _POLLRDHUP)
    try:
        events = poller.poll(0)
    except OSError:
        return True
    if not events:
        return False
    mask = events[0][1]
    if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
        return True
    if eof_is_gone and mask & (select.POLLIN | _POLLRDHUP):
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
    return False


def _wait_until_read(sock: socket.socket, limit: float = 0.5) -> None:
    """Wait (bounded) until the client has read everything sent so far. docker-py parses the
    101 headers through a buffered reader, then reads the stream from the socket beneath it:
    output that arrived together with the headers would be lost in that buffer. dockerd gets
    away with it because a process takes a moment to start; the model answers at once."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            return
        if unread <= 0:
            return
        time.sleep(0.001)


class ApiServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The simulator's daemon: one model, served on ``path`` to every client of one user.

    One thread per connection, at most ``max_connections`` at once (more are answered 503);
    ``reset()`` swaps in a fresh model.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        path: str,
        engine_factory: Callable[[], SimulatedEngine] = SimulatedEngine,
        *,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.engine_factory = engine_factory
        self.engine = engine_factory()
        self._swap = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(path, _Handler)

    def reset(self) -> None:
        with self._swap:
            old, self.engine = self.engine, self.engine_factory()
        old.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            body = json.dumps(
                {"message": "labkit's simulated engine is busy: too many connections"}
            )
            try:
                request.sendall(
                    (
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
                    ).encode()
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("labkit sim: a connection failed")

    def server_close(self) -> None:
        super().server_close()
        self.engine.close()


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in (
        ("GET", r"/_ping", "ping"),
        ("GET", r"/version", "version"),
        ("GET", r"/info", "info"),
        ("GET", r"/events", "events"),
        ("GET", r"/containers/json", "containers"),
        ("POST", r"/containers/create", "create"),
        ("GET", r"/containers/(?P<ref>[^/]+)/json", "inspect"),
        ("POST", r"/containers/(?P<ref>[^/]+)/start", "start"),
        ("POST", r"/containers/(?P<ref>[^/]+)/stop", "stop"),
        ("POST", r"/containers/(?P<ref>[^/]+)/restart", "restart"),
        ("POST", r"/containers/(?P<ref>[^/]+)/kill", "kill"),
        ("POST", r"/containers/(?P<ref>[^/]+)/wait", "wait"),
        ("POST", r"/containers/(?P<ref>[^/]+)/attach", "attach"),
        ("GET", r"/containers/(?P<ref>[^/]+)/logs", "logs"),
        ("POST", r"/containers/(?P<ref>[^/]+)/resize", "resize"),
        ("POST", r"/containers/(?P<ref>[^/]+)/exec", "exec_create"),
        ("DELETE", r"/containers/(?P<ref>[^/]+)", "remove"),
        ("POST", r"/exec/(?P<ref>[^/]+)/start", "exec_start"),
        ("POST", r"/exec/(?P<ref>[^/]+)/resize", "resize"),
        ("GET", r"/exec/(?P<ref>[^/]+)/json", "exec_inspect"),
        ("GET", r"/images/json", "images"),
        ("GET", r"/images/(?P<ref>.+)/json", "image"),
        ("POST", r"/images/create", "pull"),
        ("GET", r"/networks", "networks"),
        ("POST", r"/networks/create", "network_create"),
        ("GET", r"/networks/(?P<ref>[^/]+)", "network"),
        ("POST", r"/networks/(?P<ref>[^/]+)/connect", "connect"),
        ("POST", r"/networks/(?P<ref>[^/]+)/disconnect", "disconnect"),
        ("DELETE", r"/networks/(?P<ref>[^/]+)", "network_remove"),
        ("GET", r"/volumes", "volumes"),
        ("GET", r"/volumes/(?P<ref>[^/]+)", "volume"),
        ("GET", r"/plugins/(?P<ref>.+)/json", "plugin"),
        ("GET", EXTENSION_PREFIX + r"/info", "x_info"),
        ("GET", EXTENSION_PREFIX + r"/http", "x_http"),
        ("POST", EXTENSION_PREFIX + r"/host/exec", "x_host_exec"),
        ("POST", EXTENSION_PREFIX + r"/reset", "x_reset"),
    )
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    rbufsize = 0  # unbuffered: a hijacked stream reads stdin from the socket with nothing held back
    timeout = _IDLE
    server: ApiServer

    # -- plumbing ------------------------------------------------------------------------------

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.debug("labkit sim: " + format, *args)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.debug("labkit sim: %s %s", self.requestline, code)

    def version_string(self) -> str:
        return f"Docker/{self.engine_version} (linux)"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self.engine = self.server.engine
        generation = _generation(self.engine)
        self.max_api = API_VERSION[generation]
        self.engine_version = SIM_VERSION[generation]
        self.generation = generation
        url = urlsplit(self.path)
        path = url.path
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.api = self.max_api
        versioned = re.match(r"^/v(\d+\.\d+)(/.*)$", path)
        try:
            self._body = self._read_body()
            if versioned:
                self.api, path = versioned.group(1), versioned.group(2)
                self._check_api()
            method = "GET" if self.command == "HEAD" else self.command
            for verb, pattern, name in _ROUTES:
                found = pattern.fullmatch(path)
                if found and verb == method:
                    getattr(self, "route_" + name)(**found.groupdict())
                    return
            raise _not_served(f"{self.command} {path}")
        except LabkitError as exc:
            self._error(*_status(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug answers 500, the daemon lives on
            log.exception("labkit sim: %s failed", self.requestline)
            self._error(500, f"labkit's simulated engine failed: {type(exc).__name__}: {exc}")

    def _check_api(self) -> None:
        asked, top = self.api, self.max_api
        if not wire.api_at_least(top, asked):
            raise InvalidInput("API version too new", "", "").answering(
                400, f"client version {asked} is too new. Maximum supported API version is {top}"
            )
        low = "1.24" if self.generation is Generation.V28 else "1.12"
        if not wire.api_at_least(asked, low):
            raise InvalidInput("API version too old", "", "").answering(
                400,
                f"client version {asked} is too old. Minimum supported API version is {low}, "
                "please upgrade your client to a newer version",
            )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                length = int(line.split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    self.rfile.readline(1024)
                    return b"".join(chunks)
                size += length
                if size > _BODY_MAX:
                    self.close_connection = True
                    raise _not_modelled("request bodies this large (image builds)", 413)
                chunks.append(self._read_exact(length))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _BODY_MAX:
            self.close_connection = True
            raise _not_modelled("request bodies this large (image builds)", 413)
        return self._read_exact(length)

    def _read_exact(self, length: int) -> bytes:
        data = b""
        while len(data) < length:
            chunk = self.rfile.read(length - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def _json_body(self) -> Json:
        if not self._body.strip():
            return {}
        try:
            data = json.loads(self._body)
        except ValueError:
            raise InvalidInput("The request body is not JSON", "", "").answering(
                400, "invalid JSON in the request body"
            ) from None
        return data if isinstance(data, dict) else {}

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Api-Version", self.max_api)
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        headers = {"Content-Type": ctype} if body or status not in (204, 304) else {}
        if status not in (204, 304):
            headers["Content-Length"] = str(len(body))
        self._head(status, headers)
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, (json.dumps(data) + "\n").encode())

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"message": message})

    def _start_chunks(self, ctype: str = "application/json") -> None:
        self._head(200, {"Content-Type": ctype, "Transfer-Encoding": "chunked"})
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _stream_type(self, tty: bool) -> str:
        if not tty and wire.api_at_least(self.api, "1.42"):
            return "application/vnd.docker.multiplexed-stream"
        return "application/vnd.docker.raw-stream"

    def _hijack(self, tty: bool) -> socket.socket:
        """Answer ``101 UPGRADED`` (or 200 to a client that did not ask to upgrade) and hand
        back the raw connection: from here on it carries the process's stdin and output."""
        upgrade = "upgrade" in self.headers.get("Connection", "").lower()
        ctype = self._stream_type(tty)
        if upgrade:
            head = f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {ctype}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\n"
        head += (
            f"Api-Version: {self.max_api}\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
            f"Server: {self.version_string()}\r\n\r\n"
        )
        self.connection.settimeout(None)
        self.connection.sendall(head.encode())
        self.close_connection = True
        _wait_until_read(self.connection)
        return self.connection

    def _out(self, sock: socket.socket, data: bytes, *, tty: bool, stream: int = 1) -> None:
        if data:
            sock.sendall(data if tty else _frame(stream, data))

    # -- system ----------------------------------------------------------------------------------

    def route_ping(self) -> None:
        body = b"" if self.command == "HEAD" else b"OK"
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": str(len(body) if self.command != "HEAD" else 0),
            "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache",
            "Swarm": "inactive",
        }
        self._head(200, headers)
        if body:
            self.wfile.write(body)

    def route_version(self) -> None:
        from labkit import __version__

        self._json(200, wire.version_json(self.engine_version, self.max_api, __version__))

    def route_info(self) -> None:
        engine = self.engine
        states = [c.status for c in engine.containers()]
        self._json(
            200,
            wire.info_json(
                engine_version=self.engine_version,
                generation=self.generation.value,
                containers=states,
                images=1,
                port_range=engine.port_range,
                hostname=engine.host_hostname,
                now=now_iso(time.time()),
            ),
        )

    def route_events(self) -> None:
        filters = wire.parse_filters(self.query.get("filters"))
        wire.check_filters(filters, wire.EVENT_FILTERS)  # a 400 before the stream starts
        since = float(self.query["since"]) if self.query.get("since") else None
        until = float(self.query["until"]) if self.query.get("until") else None
        inbox: queue.SimpleQueue[dict] = queue.SimpleQueue()
        stop = self.engine.subscribe(inbox.put, lambda raw: wire.event_matches(raw, filters))
        try:
            self._start_chunks()
            sent = 0
            if since is not None:
                for raw in self.engine.past_events(since, until):
                    if wire.event_matches(raw, filters):
                        self._chunk((json.dumps(raw) + "\n").encode())
                        sent = raw["timeNano"]
            while until is None or time.time() < until:
                try:
                    raw = inbox.get(timeout=0.5)
                except queue.Empty:
                    if _peer_gone(self.connection, eof_is_gone=True):
                        self.close_connection = True
                        return
                    continue
                if raw["timeNano"] > sent and (until is None or raw["timeNano"] <= until * 1e9):
                    self._chunk((json.dumps(raw) + "\n").encode())
            self._end_chunks()
        finally:
            stop()

    # -- containers --------------------------------------------------------------------------------

    def route_containers(self) -> None:
        filters = wire.parse_filters(self.query.get("filters"))
        wire.check_filters(filters, wire.CONTAINER_FILTERS)
        show_all = _flag(self.query.get("all")) or "status" in filters
        now = time.time()
        found = []
        for container in self.engine.containers(all=show_all):
            try:
                data = self.engine.inspect_container(container.id)
            except NotFound:
                continue  # removed meanwhile
            if wire.container_matches(data, filters):
                found.append(wire.container_summary(data, now))
        limit = int(self.query.get("limit") or -1)
        self._json(200, found[:limit] if limit > 0 else found)

    def route_create(self) -> None:
        body = self._json_body()
        host = body.get("HostConfig") or {}
        image = body.get("Image") or ""
        if (host.get("RestartPolicy") or {}).get("Name") not in (None, "", "no"):
            raise _not_modelled("restart policies (--restart)")
        if body.get("Entrypoint"):
            raise _not_modelled("another entrypoint (--entrypoint)")
        ports: dict[str, Any] = {}
        for key, bindings in (host.get("PortBindings") or {}).items():
            first = (bindings or [{}])[0] or {}
            host_ip, host_port = first.get("HostIp") or "", first.get("HostPort") or ""
            number = int(host_port) if host_port.isdigit() else None
            ports[key] = (host_ip, number) if host_ip else number
        if host.get("PublishAllPorts"):
            for key in {"80/tcp", *(body.get("ExposedPorts") or {})}:
                ports.setdefault(key, None)
        mode = host.get("NetworkMode") or "default"
        if mode.startswith("container:"):
            raise _not_modelled("sharing another container's network (--network container:…)")
        cid, said = self.engine.create(
            image,
            name=self.query.get("name") or None,
            ports=ports,
            network=None if mode == "default" else mode,
            labels=body.get("Labels") or {},
            init=bool(host.get("Init")),
            command=body.get("Cmd") or None,
            hostname=body.get("Hostname") or None,
            dns=host.get("Dns") or None,
            auto_remove=bool(host.get("AutoRemove")),
            tty=bool(body.get("Tty")),
            open_stdin=bool(body.get("OpenStdin")),
        )
        self._json(201, {"Id": cid, "Warnings": said})

    def route_inspect(self, ref: str) -> None:
        self._json(200, self.engine.inspect_container(ref))

    def route_start(self, ref: str) -> None:
        if self.engine.container(ref).running:
            self._send(304)
            return
        self.engine.start(ref)
        self._send(204)

    def _timeout(self) -> int:
        value = self.query.get("t") or self.query.get("timeout")
        return int(value) if value not in (None, "") else 10

    def route_stop(self, ref: str) -> None:
        if not self.engine.container(ref).running:
            self._send(304)
            return
        self.engine.stop(ref, timeout=self._timeout())
        self._send(204)

    def route_restart(self, ref: str) -> None:
        self.engine.restart(ref, timeout=self._timeout())
        self._send(204)

    def route_kill(self, ref: str) -> None:
        self.engine.kill(ref, self.query.get("signal") or "SIGKILL")
        self._send(204)

    def route_remove(self, ref: str) -> None:
        self.engine.remove(ref, force=_flag(self.query.get("force")))
        self._send(204)

    def route_resize(self, ref: str) -> None:
        self._send(200, b"", "text/plain; charset=utf-8")

    def route_wait(self, ref: str) -> None:
        condition = self.query.get("condition") or WaitCondition.NOT_RUNNING
        if condition not in {c.value for c in WaitCondition}:
            raise InvalidInput("Unknown wait condition", condition, "").answering(
                400, f"invalid condition: {condition!r}"
            )
        wait = self.engine.waiter(ref, WaitCondition(condition))
        self._start_chunks()
        code = wait(lambda: _peer_gone(self.connection, eof_is_gone=True))
        if code is None:  # the client gave up (`docker run -d` does): nothing to answer
            self.close_connection = True
            return
        self._chunk((json.dumps({"Error": None, "StatusCode": code}) + "\n").encode())
        self._end_chunks()

    def route_attach(self, ref: str) -> None:
        data = self.engine.inspect_container(ref)
        config = data["Config"]
        tty = bool(config["Tty"])
        pid1 = [data["Path"], *data["Args"]]
        if _flag(self.query.get("stdin")) and tty and config["OpenStdin"]:
            if is_interactive_shell(pid1):
                self._attach_shell(data["Id"])
                return
        inbox: queue.SimpleQueue[LogLine | None] = queue.SimpleQueue()
        detach = self.engine.attach(ref, inbox.put)
        try:
            sock = self._hijack(tty)
            if _flag(self.query.get("logs")):
                for line in self.engine.logs(ref):
                    self._out(sock, line.text.encode(), tty=tty, stream=line.stream)
            self._pump(sock, inbox, tty)
        finally:
            detach()

    def _pump(self, sock: socket.socket, inbox: queue.SimpleQueue, tty: bool) -> None:
        """Copy a container's output to a client until the process ends or the client leaves."""
        while True:
            try:
                line = inbox.get(timeout=1.0)
            except queue.Empty:
                if _peer_gone(sock, eof_is_gone=False) or self.engine is not self.server.engine:
                    return
                continue
            if line is None:
                return
            text = _crlf(line.text) if tty else line.text
            self._out(sock, text.encode(), tty=tty, stream=line.stream)

    def _attach_shell(self, cid: str) -> None:
        """`docker run -it IMAGE sh`: PID 1 is an interactive shell on the client's terminal."""
        sock = self._hijack(True)
        deadline = time.monotonic() + 30
        while not self.engine.container(cid).running:  # the CLI attaches before it starts
            if time.monotonic() > deadline or _peer_gone(sock, eof_is_gone=False):
                return
            time.sleep(0.02)
        term = Terminal(self.engine.terminal_session(cid), tty=True)
        self._session(sock, term, tty=True, alive=lambda: self.engine.container(cid).running)
        self.engine.end_pid1(cid, term.exit_code if term.done else 137)

    def route_logs(self, ref: str) -> None:
        data = self.engine.inspect_container(ref)
        tty = bool(data["Config"]["Tty"])
        running = bool(data["State"]["Running"])
        streams = {1} if _flag(self.query.get("stdout")) else set()
        streams |= {2} if _flag(self.query.get("stderr")) else set()
        stamps = _flag(self.query.get("timestamps"))
        since = float(self.query.get("since") or 0)
        lines = [x for x in self.engine.logs(ref) if x.stream in streams and x.time >= since]
        tail = self.query.get("tail") or "all"
        if tail != "all" and tail.isdigit():
            lines = lines[-int(tail) :] if int(tail) else []
        self._start_chunks(self._stream_type(tty))

        def chunk(line: LogLine) -> None:
            text = line.text
            if stamps:
                stamp = now_iso(line.time)
                text = "".join(f"{stamp} {part}" for part in text.splitlines(True))
            data = text.encode()
            self._chunk(data if tty else _frame(line.stream, data))

        for line in lines:
            chunk(line)
        if _flag(self.query.get("follow")) and running:
            inbox: queue.SimpleQueue[LogLine | None] = queue.SimpleQueue()
            detach = self.engine.attach(ref, inbox.put)
            try:
                while True:
                    try:
                        new = inbox.get(timeout=1.0)
                    except queue.Empty:
                        if _peer_gone(self.connection, eof_is_gone=True):
                            self.close_connection = True
                            return
                        continue
                    if new is None:
                        break
                    if new.stream in streams:
                        chunk(new)
            finally:
                detach()
        self._end_chunks()

    # -- exec ------------------------------------------------------------------------------------------

    def route_exec_create(self, ref: str) -> None:
        body = self._json_body()
        exec_id = self.engine.exec_create(
            ref,
            body.get("Cmd") or [],
            tty=bool(body.get("Tty")),
            stdin=bool(body.get("AttachStdin")),
        )
        self._json(201, {"Id": exec_id})

    def route_exec_start(self, ref: str) -> None:
        body = self._json_body()
        job = self.engine.exec_inspect(ref)
        if not self.engine.container(job.container_id).running:
            raise not_running(job.container_id, job.container_id)
        interactive = is_interactive_shell(job.argv) and job.stdin
        if body.get("Detach"):
            self.engine.exec_start(ref)  # a shell with no terminal reads EOF at once
            self._send(200)
            return
        sock = self._hijack(job.tty)
        if interactive:
            _job, run_line = self.engine.exec_session(ref)
            term = Terminal(run_line, tty=job.tty)
            try:
                self._session(
                    sock, term, tty=job.tty, alive=lambda: self._running(job.container_id)
                )
            finally:
                self.engine.exec_end(ref, term.exit_code if term.done else 137)
            return
        try:
            result = self.engine.exec_start(ref)
        except LabkitError as exc:
            result = ExecResult(126, _status(exc)[1] + "\r\n")
        text = _crlf(result.output) if job.tty else result.output
        self._out(sock, text.encode(), tty=job.tty)

    def _session(
        self, sock: socket.socket, term: Terminal, *, tty: bool, alive: Callable[[], bool]
    ) -> None:
        """Run an interactive shell over the hijacked connection until it exits, the
        container stops or the client leaves."""
        self._out(sock, term.start(), tty=tty)
        while not term.done:
            ready, _, _ = select.select([sock], [], [], 1.0)
            if not ready:
                if not alive() or self.engine is not self.server.engine:
                    return
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                return
            out = term.feed(data) if data else term.close_input()
            self._out(sock, out, tty=tty)
            if not data:
                return

    def _running(self, ref: str) -> bool:
        try:
            return self.engine.container(ref).running
        except NotFound:
            return False

    def route_exec_inspect(self, ref: str) -> None:
        job = self.engine.exec_inspect(ref)
        self._json(
            200,
            {
                "CanRemove": False,
                "ContainerID": job.container_id,
                "DetachKeys": "",
                "ExitCode": job.exit_code,
                "ID": job.id,
                "OpenStderr": True,
                "OpenStdin": job.stdin,
                "OpenStdout": True,
                "ProcessConfig": {
                    "arguments": job.argv[1:],
                    "entrypoint": job.argv[0],
                    "privileged": False,
                    "tty": job.tty,
                },
                "Running": job.running,
                "Pid": job.pid if job.started else 0,
            },
        )

    # -- images ----------------------------------------------------------------------------------------

    def _lab_image(self) -> Json:
        image = self.engine.lab_image()
        return wire.image_inspect(
            image["id"],
            image["tag"],
            image["created"],
            image["labels"],
            image["cmd"],
            1_982_764,  # the lab image as built FROM scratch with Debian's static busybox
            self.engine_version,
            self.api,
        )

    def route_images(self) -> None:
        self._json(200, [wire.image_summary(self._lab_image(), self.api)])

    def route_image(self, ref: str) -> None:
        image = self._lab_image()
        short = image["Id"][7:]
        if ref in (image["RepoTags"][0], "docker.io/" + image["RepoTags"][0], image["Id"]) or (
            len(ref) >= 4 and re.fullmatch(r"[0-9a-f]+", ref) and short.startswith(ref)
        ):
            self._json(200, image)
            return
        named = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
        raise NotFound("No such image", ref, "").answering(
            404, f"no such image: {ref}: No such image: {named}"
        )

    def route_pull(self) -> None:
        image = self.query.get("fromImage", "")
        tag = self.query.get("tag", "")
        wanted = f"{image}:{tag}" if tag else image
        if wanted in ("labkit/lab-app:1", "docker.io/labkit/lab-app:1"):
            self._start_chunks()
            self._chunk(b'{"status":"Image is up to date for labkit/lab-app:1"}\n')
            self._end_chunks()
            return
        raise NotFound("No registry", wanted, "").answering(
            404,
            f"pull access denied for {image}: labkit's simulated engine has no registry; "
            "its one image is labkit/lab-app:1",
        )

    # -- networks --------------------------------------------------------------------------------------

    def route_networks(self) -> None:
        filters = wire.parse_filters(self.query.get("filters"))
        wire.check_filters(filters, wire.NETWORK_FILTERS)
        found = []
        for net in self.engine.networks():
            try:
                data = self.engine.inspect_network(net.id)
            except NotFound:
                continue
            predefined = net.name in ("bridge", "host", "none")
            if wire.network_matches(data, filters, predefined):
                found.append(wire.network_summary(data))
        self._json(200, found)

    def route_network(self, ref: str) -> None:
        self._json(200, self.engine.inspect_network(ref))

    def route_network_create(self) -> None:
        body = self._json_body()
        config = ((body.get("IPAM") or {}).get("Config") or [{}])[0] or {}
        said = []
        if body.get("Options"):
            said.append("labkit's simulated engine ignores network options (-o)")
        if body.get("Internal") or body.get("EnableIPv6"):
            said.append("labkit's simulated engine does not model --internal or --ipv6")
        net = self.engine.create_network(
            body.get("Name") or "",
            driver=body.get("Driver") or "bridge",
            subnet=config.get("Subnet") or None,
            gateway=config.get("Gateway") or None,
            labels=body.get("Labels") or {},
        )
        self._json(201, {"Id": net.id, "Warning": "; ".join(said)})

    def route_connect(self, ref: str) -> None:
        body = self._json_body()
        endpoint = body.get("EndpointConfig") or {}
        self.engine.connect(ref, body.get("Container") or "", aliases=endpoint.get("Aliases") or ())
        self._send(200, b"", "text/plain; charset=utf-8")

    def route_disconnect(self, ref: str) -> None:
        body = self._json_body()
        self.engine.disconnect(ref, body.get("Container") or "")
        self._send(200, b"", "text/plain; charset=utf-8")

    def route_network_remove(self, ref: str) -> None:
        self.engine.remove_network(ref)
        self._send(204)

    # -- volumes and plugins: none -------------------------------------------------------------------

    def route_volumes(self) -> None:
        self._json(200, {"Volumes": [], "Warnings": None})

    def route_volume(self, ref: str) -> None:
        raise NotFound("No such volume", ref, "").answering(404, f"get {ref}: no such volume")

    def route_plugin(self, ref: str) -> None:
        raise NotFound("No such plugin", ref, "").answering(404, f"plugin {ref} not found")

    # -- labkit's extension -------------------------------------------------------------------------

    def route_x_info(self) -> None:
        self._json(
            200,
            {
                "Simulated": True,
                "Generation": self.generation.value,
                "EngineVersion": self.engine_version,
                "ApiVersion": self.max_api,
                "Pid": os.getpid(),
                "PortRange": list(self.engine.port_range),
                "PublishRange": list(self.engine.publish_range),
            },
        )

    def route_x_http(self) -> None:
        host = self.query.get("host", "")
        try:
            port = int(self.query.get("port") or 80)
        except ValueError:
            raise InvalidInput("Bad port", "", "").answering(400, "port must be a number") from None
        try:
            reply = self.engine.model_http(host, port, self.query.get("path") or "/")
        except ConnectionRefusedError:
            self._json(200, {"Outcome": "refused"})
            return
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                self._json(200, {"Outcome": "unreachable"})
                return
            raise
        if reply is None:
            self._json(200, {"Outcome": "not-modelled"})
            return
        self._json(
            200,
            {
                "Outcome": "reply",
                "Status": reply.status,
                "Body": reply.body,
                "LatencyMs": reply.latency_ms,
            },
        )

    def route_x_host_exec(self) -> None:
        argv = self._json_body().get("Cmd") or []
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise InvalidInput("Bad command", "", "").answering(
                400, "Cmd must be a list of strings"
            )
        result = self.engine.host_command(argv)
        self._json(200, {"ExitCode": result.exit_code, "Output": result.output})

    def route_x_reset(self) -> None:
        self.server.reset()
        self._send(204)


def serve(path: str, engine_factory: Callable[[], SimulatedEngine] = SimulatedEngine) -> ApiServer:
    """An ``ApiServer`` on ``path`` serving from a background thread (for tests and benches);
    ``shutdown()`` then ``server_close()`` stop it."""
    server = ApiServer(path, engine_factory)
    threading.Thread(target=server.serve_forever, name="labkit-sim-api", daemon=True).start()
    return server
