"""DockerEngine: a real engine through the Docker SDK for Python.

The only module that imports ``docker``. Methods are thin: one SDK call plus a translation of
its JSON into labkit's dataclasses. Every SDK, requests and socket error is translated into a
labkit error in ``_translate`` — the one boundary.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import docker
import docker.errors
import requests.exceptions

from labkit import app, host
from labkit.engine._checks import (
    already_connected,
    check_name,
    check_ports,
    check_subnet,
    host_network_is_fixed,
    name_in_use,
    network_in_use,
    no_such_container,
    no_such_network,
    no_such_program,
    none_and_another,
    not_connected,
    not_running,
    predefined_network,
    subnet_overlaps,
)
from labkit.engine.base import HOST_PORTS_DISCARDED, LAB_IMAGE, PortSpec
from labkit.errors import (
    EngineUnavailable,
    EngineWarning,
    ImageBuildFailed,
    ImageNotFound,
    InvalidInput,
    LabkitError,
    PortInUse,
)
from labkit.models import (
    Attachment,
    Container,
    Endpoint,
    EngineInfo,
    Event,
    ExecResult,
    HttpReply,
    Network,
    PortBinding,
)

__all__ = ["DockerEngine"]

_RECOVER = (
    "start the engine (`sudo systemctl start docker`, or `dockerd &` as root), check DOCKER_HOST, "
    "or run the course on the simulator: LABKIT_ENGINE=sim"
)


class DockerEngine:
    """A Docker engine over its Engine API: a real dockerd, or labkit's simulator (which serves
    the same API; ``info().simulated`` tells them apart). ``DockerEngine()`` follows
    DOCKER_HOST, TLS settings and the current docker context, as the docker CLI does;
    ``base_url`` names one explicitly."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 30.0) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._info: EngineInfo | None = None
        self._lab_context: tuple[bytes, str] | None = None  # the image's tar context and digest

    @property
    def kind(self) -> str:
        """``docker`` or ``sim``, as ``info()`` says."""
        return self.info().kind

    # -- the boundary -------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The engine's address, as errors and EngineInfo name it."""
        return self._base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"

    @property
    def client(self) -> docker.DockerClient:
        # Built lazily and rebuilt after a failure, so a kernel recovers when the engine returns.
        with self._lock:
            if self._client is None:
                with self._translate():
                    if self._base_url:
                        self._client = docker.DockerClient(
                            base_url=self._base_url, timeout=self._timeout, version="auto"
                        )
                    else:
                        self._client = docker.from_env(timeout=self._timeout)
            return self._client

    @contextmanager
    def _translate(
        self, *, container: str = "", network: str = "", image: str = ""
    ) -> Iterator[None]:
        try:
            yield
        except LabkitError:
            raise
        except docker.errors.ImageNotFound as exc:
            raise _image_missing(image) from exc
        except docker.errors.InvalidArgument as exc:
            raise InvalidInput(
                "Invalid option for the engine", _short(exc), "check the arguments"
            ) from exc
        except docker.errors.NotFound as exc:
            text = _explanation(exc)
            if "plugin" in text.lower():
                raise InvalidInput(
                    f"Unknown network driver for {network!r}",
                    text,
                    "use driver='bridge' on one host",
                ) from exc
            if "no such image" in text.lower():
                raise _image_missing(image) from exc
            named = re.search(r"network (\S+) not found", text)
            if (network and ("network" in text.lower() or not container)) or named:
                raise no_such_network(network or named.group(1)) from exc
            raise no_such_container(container or "?") from exc
        except docker.errors.APIError as exc:
            raise self._api_error(exc, container=container, network=network) from exc
        except (
            docker.errors.DockerException,
            requests.exceptions.RequestException,
            OSError,
        ) as exc:
            self._client = None
            raise EngineUnavailable(
                f"No Docker engine answers at {self.where}", _why_unavailable(exc), _RECOVER
            ) from exc

    def _api_error(self, exc: Any, *, container: str, network: str) -> LabkitError:
        # Matched on the engine's own words; the first match wins, so specific phrases go first.
        text = _explanation(exc)
        low = text.lower()
        c, n = container or "the container", network or "the network"
        missing = re.search(r'exec: "([^"]+)": (?:executable file not found|stat )', text)
        if missing:
            return no_such_program(c, missing.group(1))
        if "allocate gateway" in low:
            return InvalidInput(
                f"Invalid gateway for {n!r}",
                "the gateway must be a host address inside the subnet",
                "leave it out and let the engine pick .1",
            )
        if "port is already allocated" in low or "address already in use" in low:
            port = re.search(r"(?:Bind for \S*?:|:)(\d+)(?:: bind| failed)", text)
            return PortInUse(
                f"Host port {port.group(1) if port else '?'} for {c!r} is already in use",
                "another process or container holds it",
                "publish on another host port, or None for an ephemeral one (-p :80)",
            )
        if "already exists in network" in low:
            return already_connected(c, n)
        if "already in use" in low or "already exists" in low:
            if network and not container:
                return name_in_use("network", network)
            return name_in_use("container", container)
        if "active endpoints" in low:
            return network_in_use(n)
        if "is not running" in low or "is restarting" in low or "is paused" in low:
            return not_running(c)
        if "private (none) mode" in low:
            return none_and_another(c)
        if ("host network" in low and "connected" in low) or "sharing network namespace" in low:
            return host_network_is_fixed(c)
        if "is not connected to" in low:
            return not_connected(c, n)
        if "pool overlaps" in low:
            return subnet_overlaps(n)
        if "pre-defined network" in low:
            return predefined_network(n, "removed")
        if "predefined" in low:
            return predefined_network(n, "created")
        return InvalidInput(
            f"The engine refused the request for {container or network or 'this object'!r}",
            text,
            "check the name and options; `labkit doctor` explains this engine's limits",
        )

    # -- engine ------------------------------------------------------------------------------

    def ping(self) -> None:
        with self._translate():
            self.client.ping()

    def info(self) -> EngineInfo:
        if self._info is None:
            with self._translate():
                version = self.client.version()
                details = self.client.info()
                try:
                    bridge = self.client.api.inspect_network("bridge")
                except docker.errors.NotFound:
                    bridge = {}  # an engine started with --bridge=none
            self._info = host.describe_docker(self.where, version, details, bridge)
        return self._info

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- images ------------------------------------------------------------------------------

    def ensure_lab_image(self, progress: Callable[[str], None] | None = None) -> str:
        busybox = app.static_busybox()
        if self._lab_context is None:  # reads and hashes ~2 MB: once per engine, not per run
            self._lab_context = app.build_context(busybox)
        context, digest = self._lab_context
        with self._translate(image=LAB_IMAGE):
            try:
                image = self.client.images.get(LAB_IMAGE)
                if (image.labels or {}).get("labkit.app.digest") == digest:
                    return LAB_IMAGE
            except docker.errors.ImageNotFound:
                pass
            if progress:
                how = (
                    "FROM scratch with this machine's static busybox"
                    if busybox
                    else "on busybox:1.36"
                )
                progress(f"Building the lab app image {LAB_IMAGE} ({how})…")
            try:
                self.client.images.build(
                    fileobj=io.BytesIO(context),
                    custom_context=True,
                    tag=LAB_IMAGE,
                    rm=True,
                    # Containers inherit image labels: never put ownership labels on the image,
                    # or a user's own container from it would look like labkit's.
                    labels={"labkit.app.digest": digest},
                )
            except docker.errors.BuildError as exc:
                raise ImageBuildFailed(
                    f"Could not build the lab app image {LAB_IMAGE}",
                    _short(exc),
                    "install a static busybox (Debian: apt-get install busybox-static) or let "
                    "the engine pull busybox:1.36; `labkit doctor` checks both",
                ) from exc
        return LAB_IMAGE

    # -- containers --------------------------------------------------------------------------

    def run(
        self,
        image: str,
        *,
        name: str,
        ports: Mapping[str, PortSpec] | None = None,
        network: str | None = None,
        labels: Mapping[str, str] | None = None,
        init: bool = True,
        command: Sequence[str] | None = None,
        hostname: str | None = None,
        dns: Sequence[str] | None = None,
    ) -> Container:
        check_name(name)
        bindings = check_ports(ports)
        if network == "host" and bindings:
            warnings.warn(HOST_PORTS_DISCARDED, EngineWarning, stacklevel=2)
            bindings = {}
        port_map = {
            f"{port}/{proto}": (host_ip, host_port) if host_ip else host_port
            for (port, proto), (host_ip, host_port) in bindings.items()
        }
        api = self.client.api
        with self._translate(container=name, network=network or "", image=image):
            host_config = api.create_host_config(
                port_bindings=port_map or None,
                init=init,
                network_mode=network or None,
                dns=list(dns) if dns else None,
            )
            # The low-level create never pulls: an unknown image is an error, not a long wait.
            created = api.create_container(
                image,
                command=list(command) if command else None,
                name=name,
                ports=[(p, proto) for p, proto in bindings] or None,
                labels=dict(labels or {}),
                hostname=hostname,
                host_config=host_config,
            )
            try:
                api.start(created["Id"])
            except docker.errors.APIError:
                # A start that fails (host port taken) leaves nothing behind.
                api.remove_container(created["Id"], force=True)
                raise
        return self._settled(created["Id"], ports_expected=bool(bindings) and network != "host")

    def _settled(self, ref: str, *, ports_expected: bool) -> Container:
        # The engine fills in published ports a moment after start: poll briefly, bounded.
        deadline = time.monotonic() + 2.0
        data = self._inspect(ref)
        while (
            ports_expected
            and data["State"].get("Running")
            and not data["NetworkSettings"].get("Ports")
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
            data = self._inspect(ref)
        return container_from_inspect(data)

    def _inspect(self, ref: str) -> dict:
        with self._translate(container=ref):
            return self.client.api.inspect_container(ref)

    def container(self, ref: str) -> Container:
        return container_from_inspect(self._inspect(ref))

    def containers(
        self, *, labels: Mapping[str, str] | None = None, all: bool = True
    ) -> list[Container]:
        filters = {"label": [f"{k}={v}" for k, v in (labels or {}).items()]} if labels else None
        with self._translate():
            summaries = self.client.api.containers(all=all, filters=filters)
        return [container_from_summary(s) for s in summaries]

    def restart(self, ref: str, *, timeout: int = 10) -> Container:
        with self._translate(container=ref):
            self.client.api.restart(ref, timeout=timeout)
        return self._settled(ref, ports_expected=True)

    def stop(self, ref: str, *, timeout: int = 10) -> Container:
        with self._translate(container=ref):
            self.client.api.stop(ref, timeout=timeout)
        return self.container(ref)

    def start(self, ref: str) -> Container:
        with self._translate(container=ref):
            self.client.api.start(ref)
        return self._settled(ref, ports_expected=True)

    def remove(self, ref: str, *, force: bool = True) -> None:
        with self._translate(container=ref):
            self.client.api.remove_container(ref, force=force)

    def exec(self, ref: str, command: Sequence[str]) -> ExecResult:
        with self._translate(container=ref):
            exec_id = self.client.api.exec_create(ref, list(command))
            output = self.client.api.exec_start(exec_id)
            code = self.client.api.exec_inspect(exec_id).get("ExitCode")
        return ExecResult(
            exit_code=code if code is not None else -1, output=output.decode(errors="replace")
        )

    def inspect_container(self, ref: str) -> dict:
        return self._inspect(ref)

    # -- networks ----------------------------------------------------------------------------

    def networks(self) -> list[Network]:
        with self._translate():
            # The list endpoint leaves Containers empty: inspect each (few networks on a host).
            summaries = self.client.api.networks()
            details = []
            for summary in summaries:
                try:
                    details.append(self.client.api.inspect_network(summary["Id"]))
                except docker.errors.NotFound:
                    continue  # removed between the two calls
        return sorted((network_from_inspect(d) for d in details), key=lambda n: n.name)

    def network(self, ref: str) -> Network:
        return network_from_inspect(self.inspect_network(ref))

    def inspect_network(self, ref: str) -> dict:
        with self._translate(network=ref):
            return self.client.api.inspect_network(ref)

    def create_network(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Network:
        check_name(name, "network")
        subnet = check_subnet(subnet)
        with self._translate(network=name):
            ipam = None
            if subnet:
                pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway)
                ipam = docker.types.IPAMConfig(pool_configs=[pool])
            # check_duplicate: API 1.41 lets two networks share a name unless asked not to.
            created = self.client.api.create_network(
                name, driver=driver, ipam=ipam, labels=dict(labels or {}), check_duplicate=True
            )
        return self.network(created["Id"])

    def connect(self, network: str, container: str, *, aliases: Sequence[str] = ()) -> None:
        with self._translate(container=container, network=network):
            self.client.api.connect_container_to_network(
                container, network, aliases=list(aliases) or None
            )

    def disconnect(self, network: str, container: str) -> None:
        with self._translate(container=container, network=network):
            self.client.api.disconnect_container_from_network(container, network)

    def remove_network(self, ref: str) -> None:
        with self._translate(network=ref):
            self.client.api.remove_network(ref)

    # -- events and modelled traffic -----------------------------------------------------------

    def watch(
        self, callback: Callable[[Event], None], *, labels: Mapping[str, str] | None = None
    ) -> Callable[[], None]:
        filters: dict[str, Any] = {"type": "container"}
        if labels:
            filters["label"] = [f"{k}={v}" for k, v in labels.items()]
        with self._translate():
            stream = self.client.events(decode=True, filters=filters)

        def pump() -> None:
            try:
                for raw in stream:
                    actor = raw.get("Actor", {})
                    attrs = actor.get("Attributes", {})
                    callback(
                        Event(
                            action=raw.get("Action", raw.get("status", "")).split(":")[0],
                            container_id=actor.get("ID", raw.get("id", "")),
                            name=attrs.get("name", ""),
                            time=raw.get("timeNano", 0) / 1e9 or float(raw.get("time", 0)),
                            labels={k: v for k, v in attrs.items() if k.startswith("labkit.")},
                        )
                    )
            except Exception:  # noqa: BLE001 - the stream ends with an error when closed
                return

        threading.Thread(target=pump, name="labkit-docker-events", daemon=True).start()
        return stream.close

    def model_http(self, host: str, port: int, path: str = "/") -> HttpReply | None:
        """A real engine's containers answer on the real network (None). On the simulator,
        labkit's API extension answers for the addresses it models (``GET /labkit/v1/http``,
        documented in ``labkit.engine.sim.api``)."""
        if not self.info().simulated:
            return None
        data = self._extension("GET", "/http", params={"host": host, "port": port, "path": path})
        outcome = data.get("Outcome")
        if outcome == "reply":
            return HttpReply(int(data["Status"]), str(data["Body"]), float(data["LatencyMs"]))
        if outcome == "refused":
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"Connection refused ({host}:{port})")
        if outcome == "unreachable":
            raise OSError(errno.EHOSTUNREACH, f"No route to host ({host})")
        return None

    def host_command(self, argv: Sequence[str]) -> ExecResult:
        """A command on the engine's host (``ip addr show docker0``, ``ip route``,
        ``cat /proc/sys/net/ipv4/ip_forward``): run for real on this machine when the engine
        is local, on the simulated host when the engine is simulated (the caller marks that
        SIMULATED). Raises InvalidInput for a remote engine, whose host is out of reach."""
        words = [str(w) for w in argv]
        info = self.info()
        if info.simulated:
            data = self._extension("POST", "/host/exec", json={"Cmd": words})
            return ExecResult(int(data.get("ExitCode", -1)), str(data.get("Output", "")))
        if not info.local:
            raise InvalidInput(
                f"Cannot run {' '.join(words)!r} on the engine's host",
                f"the engine runs on another machine ({self.where})",
                "run it there (for example over ssh)",
            )
        return _run_here(words)

    def _extension(self, method: str, path: str, **kw: Any) -> dict:
        """A call to labkit's extension of the Engine API (the simulator only)."""
        api = self.client.api
        with self._translate():
            reply = api.request(
                method, f"{api.base_url}/labkit/v1{path}", timeout=self._timeout, **kw
            )
        try:
            data = reply.json()
        except ValueError:
            data = {}
        if reply.status_code != 200 or not isinstance(data, dict):
            message = data.get("message", reply.text) if isinstance(data, dict) else reply.text
            raise InvalidInput(
                "labkit's simulated engine refused the request",
                str(message)[:200],
                "`labkit sim status` shows the simulator; `labkit sim stop` then start it again",
            )
        return data


# -- JSON → dataclasses ------------------------------------------------------------------------


def _run_here(words: list[str]) -> ExecResult:
    """A host command on this machine, bounded in time; a missing program answers as a shell
    does (127)."""
    if not words:
        return ExecResult(1, "no command given\n")
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    program = shutil.which(words[0], path=search)
    if program is None:
        return ExecResult(127, f"{words[0]}: command not found\n")
    try:
        done = subprocess.run(
            [program, *words[1:]], capture_output=True, text=True, timeout=10, check=False
        )
    except subprocess.TimeoutExpired:
        return ExecResult(124, f"{words[0]}: no answer within 10 s\n")
    return ExecResult(done.returncode, done.stdout + done.stderr)


def _image_missing(image: str) -> ImageNotFound:
    return ImageNotFound(
        f"No image {image or '?'!r} on the engine",
        "it was never built here and no registry can be reached to pull it",
        f"use the lab app image {LAB_IMAGE!r} (labkit builds it on first use)",
    )


def _why_unavailable(exc: BaseException) -> str:
    text = str(exc)
    for words, why in (
        (("FileNotFoundError", "No such file"), "there is no engine socket there"),
        (("Connection refused", "ConnectionRefused"), "nothing listens there"),
        (
            ("Permission denied", "PermissionError"),
            "no permission to use the socket (join the docker group)",
        ),
        (("timed out", "Timeout"), "it did not answer in time"),
        (
            ("Invalid bind address", "protocol", "URLSchemeUnknown"),
            "DOCKER_HOST is not unix:///path or tcp://host:port",
        ),
    ):
        if any(w in text for w in words):
            return why
    return _short(exc)


def _explanation(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc).strip()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def ports_from_inspect(raw: Mapping[str, Any] | None) -> tuple[PortBinding, ...]:
    """NetworkSettings.Ports → bindings, pairing each IPv4 binding with its IPv6 twin."""
    result = []
    for key, bindings in sorted((raw or {}).items(), key=lambda kv: _port_sort(kv[0])):
        number, _, proto = key.partition("/")
        v4 = [b for b in bindings or [] if ":" not in (b.get("HostIp") or "")]
        v6 = [b for b in bindings or [] if ":" in (b.get("HostIp") or "")]
        count = max(len(v4), len(v6), 1)
        for i in range(count):
            four = v4[i] if i < len(v4) else None
            six = v6[i] if i < len(v6) else None
            result.append(
                PortBinding(
                    container_port=int(number),
                    protocol=proto or "tcp",
                    host_ip=four["HostIp"] if four else None,
                    host_port=int(four["HostPort"]) if four and four.get("HostPort") else None,
                    ipv6_host_ip=six["HostIp"] if six else None,
                    ipv6_host_port=int(six["HostPort"]) if six and six.get("HostPort") else None,
                )
            )
    return tuple(result)


def ports_from_summary(raw: Sequence[Mapping[str, Any]] | None) -> tuple[PortBinding, ...]:
    """The list endpoint's Ports ([{IP, PrivatePort, PublicPort, Type}]) in inspect's shape."""
    as_inspect: dict[str, list[dict[str, str]] | None] = {}
    for p in raw or []:
        key = f"{p['PrivatePort']}/{p.get('Type', 'tcp')}"
        if "PublicPort" in p:
            as_inspect.setdefault(key, [])
            as_inspect[key].append({"HostIp": p.get("IP", ""), "HostPort": str(p["PublicPort"])})  # type: ignore[union-attr]
        else:
            as_inspect.setdefault(key, None)
    return ports_from_inspect(as_inspect)


def _port_sort(key: str) -> tuple[int, str]:
    number, _, proto = key.partition("/")
    return (int(number) if number.isdigit() else 0, proto)


def _attachments(networks: Mapping[str, Mapping[str, Any]] | None) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(
            network=name,
            network_id=ep.get("NetworkID") or "",
            ip=ep.get("IPAddress") or "",
            prefix_len=ep.get("IPPrefixLen") or 0,
            gateway=ep.get("Gateway") or "",
            mac=ep.get("MacAddress") or "",
            ipv6=ep.get("GlobalIPv6Address") or "",
            aliases=tuple(ep.get("Aliases") or ()),
        )
        for name, ep in sorted((networks or {}).items())
    )


def container_from_inspect(data: Mapping[str, Any]) -> Container:
    state = data.get("State", {})
    settings = data.get("NetworkSettings", {})
    return Container(
        id=data["Id"],
        name=data["Name"].lstrip("/"),
        image=data.get("Config", {}).get("Image", ""),
        status=state.get("Status", ""),
        labels=dict(data.get("Config", {}).get("Labels") or {}),
        ports=ports_from_inspect(settings.get("Ports")),
        networks=_attachments(settings.get("Networks")),
        network_mode=data.get("HostConfig", {}).get("NetworkMode", ""),
        exit_code=state.get("ExitCode", 0),
        restart_count=data.get("RestartCount", 0),
        started_at=state.get("StartedAt", ""),
    )


def container_from_summary(data: Mapping[str, Any]) -> Container:
    names = data.get("Names") or ["/"]
    return Container(
        id=data["Id"],
        name=names[0].lstrip("/"),
        image=data.get("Image", ""),
        status=data.get("State", ""),
        labels=dict(data.get("Labels") or {}),
        ports=ports_from_summary(data.get("Ports")),
        networks=_attachments((data.get("NetworkSettings") or {}).get("Networks")),
        network_mode=(data.get("HostConfig") or {}).get("NetworkMode", ""),
    )


def network_from_inspect(data: Mapping[str, Any]) -> Network:
    config = ((data.get("IPAM") or {}).get("Config") or [{}])[0] or {}
    subnet = config.get("Subnet", "")
    return Network(
        id=data["Id"],
        name=data["Name"],
        driver=data.get("Driver", ""),
        scope=data.get("Scope", ""),
        subnet=subnet,
        gateway=config.get("Gateway") or host.default_gateway(subnet, data.get("Driver", "")),
        internal=bool(data.get("Internal")),
        ipv6=bool(data.get("EnableIPv6")),
        created=data.get("Created", ""),
        labels=dict(data.get("Labels") or {}),
        options=dict(data.get("Options") or {}),
        endpoints=tuple(
            Endpoint(
                container_id=cid,
                container_name=ep.get("Name", ""),
                ipv4=ep.get("IPv4Address", ""),
                ipv6=ep.get("IPv6Address", ""),
                mac=ep.get("MacAddress", ""),
            )
            for cid, ep in sorted(
                (data.get("Containers") or {}).items(), key=lambda kv: kv[1].get("Name", "")
            )
        ),
    )


def docker_host_name(url: str) -> str:
    """Where published ports of the engine at ``url`` are reached from this machine."""
    parsed = urlparse(url)
    if parsed.scheme in ("tcp", "http", "https", "ssh") and parsed.hostname:
        return parsed.hostname
    return "127.0.0.1"
