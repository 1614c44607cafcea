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
import signal
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
from docker.context import ContextAPI
from docker.utils import kwargs_from_env, parse_host

from labkit import app, host
from labkit.engine._checks import (
    already_connected,
    check_aliases,
    check_command,
    check_container_name,
    check_gateway,
    check_labels,
    check_name,
    check_ports,
    check_ref,
    check_seconds,
    check_stop_timeout,
    check_subnet,
    ephemeral_port_failed,
    host_network_is_fixed,
    host_port_taken,
    name_in_use,
    network_in_use,
    no_such_container,
    no_such_network,
    no_such_program,
    none_and_another,
    not_connected,
    not_running,
    pools_used_up,
    predefined_network,
    subnet_overlaps,
)
from labkit.engine.base import HOST_PORTS_DISCARDED, LAB_IMAGE, PortSpec
from labkit.errors import (
    CommandTimeout,
    EngineNotResponding,
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

__all__ = [
    "DockerEngine",
    "engine_address",
    "quick_timeout",
    "QUICK_TIMEOUT",
    "SLOW_TIMEOUT",
    "EXEC_TIMEOUT",
    "TIMEOUT_VARIABLE",
]

_RECOVER = (
    "start the engine (`sudo systemctl start docker`, or `dockerd &` as root), check DOCKER_HOST, "
    "or run the course on the simulator: LABKIT_ENGINE=sim"
)
_RECOVER_HUNG = (
    "wait a moment and try again; if it stays so, restart the engine (`sudo systemctl restart "
    "docker`); a busy shared engine may need longer (LABKIT_ENGINE_TIMEOUT=15)"
)
# A request the engine answers at once (inspect, list, ping): a hung engine fails within 3 s.
QUICK_TIMEOUT = 2.5
# A request that makes the engine work (create, start, stop, remove, build), asked only after a
# quick ping has shown the engine answers.
SLOW_TIMEOUT = 60.0
EXEC_TIMEOUT = 10.0
TIMEOUT_VARIABLE = "LABKIT_ENGINE_TIMEOUT"
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_address(
    base_url: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Where the Docker SDK connects, as it decides: ``base_url``, else DOCKER_HOST (with the TLS
    variables), else the current context (DOCKER_CONTEXT, else ``currentContext`` in
    ~/.docker/config.json), else the default socket.

    Returns the address (``unix:///…``, ``tcp://host:port``, ``ssh://…``), what chose it, and the
    client's keyword arguments. Raises EngineUnavailable for an address the SDK cannot use.
    """
    env = os.environ if environ is None else environ
    if base_url:
        params: dict[str, Any] = {"base_url": base_url}
        source = "the engine address given"
    else:
        params = kwargs_from_env(environment=dict(env))
        source = "DOCKER_HOST"
        if "base_url" not in params:
            name = env.get("DOCKER_CONTEXT") or None
            try:
                context = ContextAPI.get_context(name)
            except Exception as exc:  # noqa: BLE001 - the SDK raises a bare Exception here
                raise EngineUnavailable(
                    f"The Docker context {name or '(current)'!r} cannot be read",
                    _short(exc),
                    "repair it, or choose another: `docker context use default`",
                ) from exc
            source = "the default socket"
            if context is not None and context.Host:
                params.setdefault("base_url", context.Host)
                if context.TLSConfig is not None:
                    params.setdefault("tls", context.TLSConfig)
                if context.Name != "default":
                    source = f"the Docker context {context.Name!r}"
    raw = params.get("base_url") or _DEFAULT_SOCKET
    try:
        parsed = parse_host(raw, False, tls=bool(params.get("tls")))
    except (ValueError, docker.errors.DockerException) as exc:
        shown = f"DOCKER_HOST={raw}" if source == "DOCKER_HOST" else f"{raw} ({source})"
        raise EngineUnavailable(
            f"{shown} is not an engine address",
            _address_problem(exc),
            "write it like unix:///var/run/docker.sock or tcp://HOST:2375, or unset DOCKER_HOST",
        ) from exc
    return _canonical(parsed), source, params


def _address_problem(exc: BaseException) -> str:
    text = str(exc)
    if "out of range" in text or "port is required" in text or "cast to integer" in text:
        return "its port must be a number from 1 to 65535"
    if "protocol" in text:
        return "it must start with unix://, tcp://, ssh:// or npipe://"
    return _short(exc)


def _canonical(parsed: str) -> str:
    """The SDK's parsed address in the words DOCKER_HOST uses (http+unix:// → unix://)."""
    for sdk, ours in (("http+unix://", "unix://"), ("https://", "tcp://"), ("http://", "tcp://")):
        if parsed.startswith(sdk):
            return ours + parsed[len(sdk) :]
    return parsed


def quick_timeout() -> float:
    """QUICK_TIMEOUT, or LABKIT_ENGINE_TIMEOUT where a workshop's engine is shared and busy (one
    dockerd for a room answers an inspect in seconds, not milliseconds)."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return QUICK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(
            f"{TIMEOUT_VARIABLE}={raw[:40]!r} is not a number of seconds",
            "it is how long labkit waits for the engine's answer to a quick request",
            f"set it to e.g. {TIMEOUT_VARIABLE}=15, or unset it for {QUICK_TIMEOUT:g} s",
        ) from None
    return check_seconds(value, TIMEOUT_VARIABLE, most=SLOW_TIMEOUT)


class DockerEngine:
    """A Docker engine over its Engine API: a real dockerd, or labkit's simulator (which serves
    the same API; ``info().simulated`` tells them apart). ``DockerEngine()`` follows
    DOCKER_HOST, TLS settings and the current docker context, as the docker CLI does;
    ``base_url`` names one explicitly."""

    def __init__(self, base_url: str | None = None, *, timeout: float | None = None) -> None:
        self._base_url = base_url
        self._timeout = quick_timeout() if timeout is None else timeout
        self._client: docker.DockerClient | None = None
        self._slow: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._info: EngineInfo | None = None
        self._image_labels: dict[str, dict[str, str]] = {}
        self._lab_context: tuple[bytes, str] | None = None  # the image's tar context and digest

    @property
    def kind(self) -> str:
        """``docker`` or ``sim``, as ``info()`` says."""
        return self.info().kind

    # -- the boundary -------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The engine's address, as errors and EngineInfo name it: where the SDK connects."""
        try:
            return engine_address(self._base_url)[0]
        except EngineUnavailable:
            return self._base_url or os.environ.get("DOCKER_HOST") or _DEFAULT_SOCKET

    def cli_environment(self) -> dict[str, str]:
        """What the docker CLI needs in its environment to reach this same engine: DOCKER_HOST
        when the engine was named explicitly (the simulator, a lab host); otherwise nothing, and
        the CLI follows DOCKER_HOST and the docker context as the SDK did."""
        return {"DOCKER_HOST": self._base_url} if self._base_url else {}

    @property
    def client(self) -> docker.DockerClient:
        # Built lazily and rebuilt after a failure, so a kernel recovers when the engine returns.
        with self._lock:
            if self._client is None:
                _where, _source, params = engine_address(self._base_url)
                with self._translate():
                    self._client = docker.DockerClient(
                        timeout=self._timeout, version="auto", **params
                    )
            return self._client

    @property
    def _slow_api(self) -> docker.APIClient:
        """The same engine with a long time-out, for requests that make it work. Pinged first, so
        a hung engine still fails within the quick bound."""
        client = self.client
        self.ping()
        with self._lock:
            if self._slow is None:
                _where, _source, params = engine_address(self._base_url)
                self._slow = docker.APIClient(
                    timeout=max(SLOW_TIMEOUT, self._timeout),
                    version=client.api.api_version,
                    **params,
                )
            return self._slow

    def _forget_clients(self) -> None:
        for old in (self._client, self._slow):
            if old is not None:
                try:
                    old.close()
                except Exception:  # noqa: BLE001 - closing a broken client may fail too
                    pass
        self._client = self._slow = None

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
            if "non-overlapping" in text:  # 20.10 answers 404 when the pools are used up
                raise pools_used_up(network or "?") from exc
            named = re.search(r"network (\S+) not found", text)
            if (network and ("network" in text.lower() or not container)) or named:
                raise no_such_network(network or (named.group(1) if named else "?")) from exc
            raise no_such_container(container or "?") from exc
        except docker.errors.APIError as exc:
            raise self._api_error(exc, container=container, network=network) from exc
        except (
            docker.errors.DockerException,
            requests.exceptions.RequestException,
            OSError,
        ) as exc:
            self._forget_clients()
            if _timed_out(exc):
                raise EngineNotResponding(
                    f"The Docker engine at {self.where} did not answer within {self._timeout:g} s",
                    "it took the connection but sent no reply: it is hung (stopped?) or overloaded",
                    _RECOVER_HUNG,
                ) from exc
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
            return _publish_failed(text, c, None)
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
        # 20.10: "...or connected to host network"; 28: "cannot connect container to host network".
        if ("host network" in low and "connect" in low) or "sharing network namespace" in low:
            return host_network_is_fixed(c)
        if "is not connected to" in low:
            return not_connected(c, n)
        if "non-overlapping" in low:  # 28 answers 400/500 when the pools are used up
            return pools_used_up(n)
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
        self._forget_clients()

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
                self.ping()  # a hung engine fails fast, not in the middle of a build
                self.client.images.build(
                    fileobj=io.BytesIO(context),
                    custom_context=True,
                    tag=LAB_IMAGE,
                    rm=True,
                    timeout=SLOW_TIMEOUT,
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

    def image_labels(self, ref: str) -> dict[str, str]:
        """An image's labels (what its containers inherit); images never change, so kept."""
        if ref not in self._image_labels:
            with self._translate(image=ref):
                data = self.client.api.inspect_image(ref)
            self._image_labels[ref] = dict((data.get("Config") or {}).get("Labels") or {})
        return self._image_labels[ref]

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
        check_container_name(name)
        bindings = check_ports(ports)
        labels = check_labels(labels)
        command = check_command(command) if command is not None else None
        if network is not None:
            check_ref(network, "network")
        if network == "host" and bindings:
            warnings.warn(HOST_PORTS_DISCARDED, EngineWarning, stacklevel=2)
            bindings = {}
        port_map = {
            f"{port}/{proto}": (host_ip, host_port) if host_ip else host_port
            for (port, proto), (host_ip, host_port) in bindings.items()
        }
        with self._translate(container=name, network=network or "", image=image):
            api = self._slow_api
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
            except docker.errors.APIError as exc:
                # A start that fails (host port taken) leaves nothing behind.
                api.remove_container(created["Id"], force=True)
                text = _explanation(exc)
                if "already allocated" in text or "address already in use" in text:
                    raise _publish_failed(text, name, bindings) from exc
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
        check_ref(ref)
        with self._translate(container=ref):
            return self.client.api.inspect_container(ref)

    def container(self, ref: str) -> Container:
        return container_from_inspect(self._inspect(ref))

    def containers(
        self, *, labels: Mapping[str, str] | None = None, all: bool = True
    ) -> list[Container]:
        labels = check_labels(labels)
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else None
        with self._translate():
            summaries = self.client.api.containers(all=all, filters=filters)
        return [container_from_summary(s) for s in summaries]

    def restart(self, ref: str, *, timeout: int = 10) -> Container:
        check_ref(ref)
        timeout = check_stop_timeout(timeout)
        with self._translate(container=ref):
            try:
                self._slow_api.restart(ref, timeout=timeout)
            except docker.errors.APIError as exc:
                self._raise_if_unpublished(exc, ref)
                raise
        return self._settled(ref, ports_expected=True)

    def stop(self, ref: str, *, timeout: int = 10) -> Container:
        check_ref(ref)
        timeout = check_stop_timeout(timeout)
        with self._translate(container=ref):
            self._slow_api.stop(ref, timeout=timeout)
        return self.container(ref)

    def start(self, ref: str) -> Container:
        check_ref(ref)
        with self._translate(container=ref):
            try:
                self._slow_api.start(ref)
            except docker.errors.APIError as exc:
                self._raise_if_unpublished(exc, ref)
                raise
        return self._settled(ref, ports_expected=True)

    def _raise_if_unpublished(self, exc: docker.errors.APIError, ref: str) -> None:
        """A start, restart or connect the engine refused for a port it could not publish: say
        which kind of request it was (an ephemeral port, or a given one)."""
        text = _explanation(exc)
        if "already allocated" not in text and "address already in use" not in text:
            return
        try:
            wanted = self.client.api.inspect_container(ref)["HostConfig"].get("PortBindings") or {}
        except Exception:  # noqa: BLE001 - the error names the port either way
            raise _publish_failed(text, ref, None) from exc
        requested = {}
        for key, binds in wanted.items():
            port, _, proto = key.partition("/")
            for b in binds or [{}]:
                fixed = b.get("HostPort") or ""
                requested[(int(port), proto or "tcp")] = (
                    b.get("HostIp") or "",
                    int(fixed) if fixed.isdigit() else None,
                )
        raise _publish_failed(text, ref, requested) from exc

    def remove(self, ref: str, *, force: bool = True) -> None:
        check_ref(ref)
        with self._translate(container=ref):
            try:
                self._slow_api.remove_container(ref, force=force)
            except docker.errors.APIError as exc:
                if exc.status_code != 409 or "already in progress" not in _explanation(exc):
                    raise
                # The engine is removing it already: a `run --rm` container that has just
                # exited. Done when it is gone.
                try:
                    self._slow_api.wait(ref, condition="removed", timeout=SLOW_TIMEOUT)
                except docker.errors.NotFound:
                    pass

    def exec(
        self, ref: str, command: str | Sequence[str], *, timeout: float = EXEC_TIMEOUT
    ) -> ExecResult:
        """``docker exec``, bounded: after ``timeout`` s the command is killed (when this machine
        is the engine's host and may) and CommandTimeout says so."""
        check_ref(ref)
        argv = check_command(command)
        timeout = check_seconds(timeout, "timeout", most=600)
        with self._translate(container=ref):
            exec_id = self.client.api.exec_create(ref, argv)["Id"]
            api = self._slow_api
        done: dict[str, Any] = {}

        def read() -> None:
            try:
                done["output"] = api.exec_start(exec_id)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                done["error"] = exc

        reader = threading.Thread(target=read, name="labkit-exec", daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            killed = self._kill_exec(exec_id, argv)
            if killed:
                reader.join(2.0)
            raise CommandTimeout(
                f"{' '.join(argv)[:60]!r} in {ref!r} did not finish within {timeout:g} s",
                "labkit waits a bounded time for a command"
                + (" and stopped it" if killed else "; it may still run in the container"),
                "give the command an end (e.g. ping -c 3), or more time: lab.exec(..., timeout=30)",
            )
        with self._translate(container=ref):
            if "error" in done:
                raise done["error"]
            code = self.client.api.exec_inspect(exec_id).get("ExitCode")
        return ExecResult(
            exit_code=code if code is not None else -1,
            output=done["output"].decode(errors="replace"),
        )

    def _kill_exec(self, exec_id: str, argv: Sequence[str]) -> bool:
        """Kill a command that outlived its bound: the engine has no API for it, but on the
        engine's own host its process is ours to signal. Only when it still runs ``argv``."""
        try:
            pid = int(self.client.api.exec_inspect(exec_id).get("Pid") or 0)
            if pid <= 0 or not self.info().local:
                return False
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                running = handle.read().split(b"\0")[:-1]
            if [w.decode(errors="replace") for w in running] != list(argv):
                return False
            os.kill(pid, signal.SIGKILL)
            return True
        except (OSError, ValueError, LabkitError, docker.errors.DockerException):
            return False

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
        check_ref(ref, "network")
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
        options: Mapping[str, str] | None = None,
    ) -> Network:
        """``options``: driver options (``docker network create -o``), e.g. Engine 28's
        ``com.docker.network.bridge.gateway_mode_ipv4``."""
        check_name(name, "network")
        subnet = check_subnet(subnet)
        gateway = check_gateway(gateway, subnet)
        labels = check_labels(labels)
        if not isinstance(driver, str) or not driver:
            raise InvalidInput(
                f"Invalid network driver {driver!r}",
                "a driver is the name of a network kind, as text",
                "use driver='bridge' on one host",
            )
        with self._translate(network=name):
            ipam = None
            if subnet:
                pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway)
                ipam = docker.types.IPAMConfig(pool_configs=[pool])
            # check_duplicate: API 1.41 lets two networks share a name unless asked not to.
            created = self._slow_api.create_network(
                name,
                driver=driver,
                ipam=ipam,
                labels=labels,
                options=dict(options or {}) or None,
                check_duplicate=True,
            )
        return self.network(created["Id"])

    def connect(self, network: str, container: str, *, aliases: str | Sequence[str] = ()) -> None:
        check_ref(network, "network")
        check_ref(container)
        names = check_aliases(aliases)
        with self._translate(container=container, network=network):
            try:
                self._slow_api.connect_container_to_network(
                    container, network, aliases=list(names) or None
                )
            except docker.errors.APIError as exc:
                self._raise_if_unpublished(exc, container)
                raise

    def disconnect(self, network: str, container: str) -> None:
        check_ref(network, "network")
        check_ref(container)
        with self._translate(container=container, network=network):
            self._slow_api.disconnect_container_from_network(container, network)

    def remove_network(self, ref: str) -> None:
        check_ref(ref, "network")
        with self._translate(network=ref):
            self._slow_api.remove_network(ref)

    # -- events and modelled traffic -----------------------------------------------------------

    def watch(
        self, callback: Callable[[Event], None], *, labels: Mapping[str, str] | None = None
    ) -> Callable[[], None]:
        filters: dict[str, Any] = {"type": "container"}
        labels = check_labels(labels)
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
        documented in ``labkit.engine.sim.extension``)."""
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


def _timed_out(exc: BaseException) -> bool:
    """A reply that did not come in time (not a refused or missing socket)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (requests.exceptions.Timeout, TimeoutError)):
            return True
        if "timed out" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# 20.10: "Bind for 0.0.0.0:N failed", "...:N: bind"; 28: "host port for 0.0.0.0:N:".
_PORT_IN_TEXT = re.compile(
    r"(?:Bind for \S*?:|:)(\d+)(?:: bind| failed)|host port for (?:\[[^\]]*\]|[^\s:]*):(\d+):"
)


def _publish_failed(
    text: str, container: str, requested: Mapping[tuple[int, str], tuple[str, int | None]] | None
) -> PortInUse:
    """The engine could not publish a port: the words fit what was asked (a port the student
    named, or an ephemeral one), in the shared words of labkit.engine._checks."""
    found = _PORT_IN_TEXT.search(text)
    port = int(found.group(1) or found.group(2)) if found else None
    if requested is None or any(fixed == port for _ip, fixed in requested.values()):
        return host_port_taken(container, port, "already allocated" in text)
    tried = re.search(r"listen \w+ (\S+?):\d+: bind", text)
    address = tried.group(1) if tried else "0.0.0.0"
    return ephemeral_port_failed(address, port, container)


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
        image_id=data.get("Image", ""),
        hostname=data.get("Config", {}).get("Hostname", ""),
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
        image_id=data.get("ImageID", ""),
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
