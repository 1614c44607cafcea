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

The hijacked and chunked streams (attach, exec start, logs, events, wait) are served by
``labkit.engine.sim.streams``; labkit's extension of the API (under ``/labkit/v1``: what the
Engine API cannot carry) by ``labkit.engine.sim.extension``, where it is documented. This module
reads requests, routes them, and answers errors with Docker's statuses.
"""

from __future__ import annotations

import json
import logging
import re
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from labkit.engine.sim import extension, streams, wire
from labkit.engine.sim.engine import ENGINE_VERSION, SimulatedEngine
from labkit.engine.sim.extension import EXTENSION_PREFIX
from labkit.engine.sim.state import now_iso
from labkit.engine.sim.workers import Workers
from labkit.errors import (
    ContainerNotRunning,
    EngineUnavailable,
    InvalidInput,
    LabkitError,
    NotFound,
)
from labkit.generation import API_VERSION, SIM_VERSION, Generation, generation_of

__all__ = ["ApiServer", "serve", "EXTENSION_PREFIX", "MAX_CONNECTIONS"]

MAX_CONNECTIONS = 64  # one thread each at a time; a student's kernels and terminals use a handful
_IDLE = 300.0  # a keep-alive connection with no request for this long is closed
_BODY_MAX = 1 << 20
_SERVED = (
    "it serves containers (run, ps, inspect, port, logs, exec, start, stop, restart, rm), "
    "networks, events, version, info and the lab image labkit/lab-app:1"
)
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


class ApiServer(socketserver.UnixStreamServer):
    """The simulator's daemon: one model, served on ``path`` to every client of one user.

    One thread per connection (kept for the next one, ``workers``), at most ``max_connections``
    at once (more are answered 503); ``reset()`` swaps in a fresh model.
    """

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
        self._workers = Workers(self._serve_connection, name="labkit-sim-connection")
        super().__init__(path, Handler)

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
        self._workers.submit(request, client_address)

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one connection's failure is logged, the daemon lives on
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
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


class Handler(BaseHTTPRequestHandler):
    """One connection's requests, each routed by ``_ROUTES`` to a ``route_*`` method: this
    class's own, or a function of the handler bound here from ``streams`` or ``extension``."""

    protocol_version = "HTTP/1.1"
    timeout = _IDLE
    server: ApiServer
    stdin_early = b""  # set when a stream takes the connection over (streams._hijack)

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

    def json_body(self) -> Json:
        if not self._body.strip():
            return {}
        try:
            data = json.loads(self._body)
        except ValueError:
            raise InvalidInput("The request body is not JSON", "", "").answering(
                400, "invalid JSON in the request body"
            ) from None
        return data if isinstance(data, dict) else {}

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter as Docker reads one (``1``, ``true``, ``yes``)."""
        value = self.query.get(name)
        if value is None or value == "":
            return default
        return value.lower() in ("1", "true", "yes")

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Api-Version", self.max_api)
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        headers = {"Content-Type": ctype} if body or status not in (204, 304) else {}
        if status not in (204, 304):
            headers["Content-Length"] = str(len(body))
        self._head(status, headers)
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status: int, data: Any) -> None:
        self.reply(status, (json.dumps(data) + "\n").encode())

    def _error(self, status: int, message: str) -> None:
        self.reply_json(status, {"message": message})

    def start_chunks(self, ctype: str = "application/json") -> None:
        self._head(200, {"Content-Type": ctype, "Transfer-Encoding": "chunked"})
        self.wfile.flush()

    def chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

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

        self.reply_json(200, wire.version_json(self.engine_version, self.max_api, __version__))

    def route_info(self) -> None:
        engine = self.engine
        states = [c.status for c in engine.containers()]
        self.reply_json(
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

    # -- containers --------------------------------------------------------------------------------

    def route_containers(self) -> None:
        filters = wire.parse_filters(self.query.get("filters"))
        wire.check_filters(filters, wire.CONTAINER_FILTERS)
        show_all = self.flag("all") or "status" in filters
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
        self.reply_json(200, found[:limit] if limit > 0 else found)

    def route_create(self) -> None:
        body = self.json_body()
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
        self.reply_json(201, {"Id": cid, "Warnings": said})

    def route_inspect(self, ref: str) -> None:
        self.reply_json(200, self.engine.inspect_container(ref))

    def route_start(self, ref: str) -> None:
        if self.engine.container(ref).running:
            self.reply(304)
            return
        self.engine.start(ref)
        self.reply(204)

    def _timeout(self) -> int:
        value = self.query.get("t") or self.query.get("timeout")
        return int(value) if value not in (None, "") else 10

    def route_stop(self, ref: str) -> None:
        if not self.engine.container(ref).running:
            self.reply(304)
            return
        self.engine.stop(ref, timeout=self._timeout())
        self.reply(204)

    def route_restart(self, ref: str) -> None:
        self.engine.restart(ref, timeout=self._timeout())
        self.reply(204)

    def route_kill(self, ref: str) -> None:
        self.engine.kill(ref, self.query.get("signal") or "SIGKILL")
        self.reply(204)

    def route_remove(self, ref: str) -> None:
        self.engine.remove(ref, force=self.flag("force"))
        self.reply(204)

    def route_resize(self, ref: str) -> None:
        self.reply(200, b"", "text/plain; charset=utf-8")

    # -- exec ------------------------------------------------------------------------------------------

    def route_exec_create(self, ref: str) -> None:
        body = self.json_body()
        exec_id = self.engine.exec_create(
            ref,
            body.get("Cmd") or [],
            tty=bool(body.get("Tty")),
            stdin=bool(body.get("AttachStdin")),
        )
        self.reply_json(201, {"Id": exec_id})

    def route_exec_inspect(self, ref: str) -> None:
        job = self.engine.exec_inspect(ref)
        self.reply_json(
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
        self.reply_json(200, [wire.image_summary(self._lab_image(), self.api)])

    def route_image(self, ref: str) -> None:
        image = self._lab_image()
        short = image["Id"][7:]
        if ref in (image["RepoTags"][0], "docker.io/" + image["RepoTags"][0], image["Id"]) or (
            len(ref) >= 4 and re.fullmatch(r"[0-9a-f]+", ref) and short.startswith(ref)
        ):
            self.reply_json(200, image)
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
            self.start_chunks()
            self.chunk(b'{"status":"Image is up to date for labkit/lab-app:1"}\n')
            self.end_chunks()
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
        self.reply_json(200, found)

    def route_network(self, ref: str) -> None:
        self.reply_json(200, self.engine.inspect_network(ref))

    def route_network_create(self) -> None:
        body = self.json_body()
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
        self.reply_json(201, {"Id": net.id, "Warning": "; ".join(said)})

    def route_connect(self, ref: str) -> None:
        body = self.json_body()
        endpoint = body.get("EndpointConfig") or {}
        self.engine.connect(ref, body.get("Container") or "", aliases=endpoint.get("Aliases") or ())
        self.reply(200, b"", "text/plain; charset=utf-8")

    def route_disconnect(self, ref: str) -> None:
        body = self.json_body()
        self.engine.disconnect(ref, body.get("Container") or "")
        self.reply(200, b"", "text/plain; charset=utf-8")

    def route_network_remove(self, ref: str) -> None:
        self.engine.remove_network(ref)
        self.reply(204)

    # -- volumes and plugins: none -------------------------------------------------------------------

    def route_volumes(self) -> None:
        self.reply_json(200, {"Volumes": [], "Warnings": None})

    def route_volume(self, ref: str) -> None:
        raise NotFound("No such volume", ref, "").answering(404, f"get {ref}: no such volume")

    def route_plugin(self, ref: str) -> None:
        raise NotFound("No such plugin", ref, "").answering(404, f"plugin {ref} not found")

    # -- served by streams.py: the connection stays open -----------------------------------------

    route_events = streams.events
    route_wait = streams.wait
    route_attach = streams.attach
    route_logs = streams.logs
    route_exec_start = streams.exec_start

    # -- served by extension.py: labkit's extension of the API ---------------------------------

    route_x_info = extension.info
    route_x_http = extension.http_get
    route_x_host_exec = extension.host_exec
    route_x_reset = extension.reset


def serve(path: str, engine_factory: Callable[[], SimulatedEngine] = SimulatedEngine) -> ApiServer:
    """An ``ApiServer`` on ``path`` serving from a background thread (for tests and benches);
    ``shutdown()`` then ``server_close()`` stop it."""
    server = ApiServer(path, engine_factory)
    threading.Thread(target=server.serve_forever, name="labkit-sim-api", daemon=True).start()
    return server
