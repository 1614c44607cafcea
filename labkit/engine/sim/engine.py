"""SimulatedEngine: Docker Engine 20.10 or 28 modelled in memory, for Binder and machines
without an engine. The ``labkit sim`` daemon holds one and serves it as the Engine API
(``api.py``); state lives for the daemon's life; published app ports listen for real on
127.0.0.1; bridge addresses are answered by the model (``model_http``), and requests routed from
another host by ``routed_http`` (see ``labkit.engine.sim.routing``)."""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import itertools
import random
import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence

from labkit import app, host
from labkit.engine._checks import (
    PREDEFINED_NETWORKS,
    already_connected,
    check_gateway,
    check_labels,
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
from labkit.engine.sim import inspect as raw
from labkit.engine.sim import routing
from labkit.engine.sim.events import EventBus, as_model, container_event, network_event
from labkit.engine.sim.hostcmd import run_host_command
from labkit.engine.sim.ipam import (
    DEFAULT_BRIDGE_SUBNET,
    AddressPool,
    SubnetAllocator,
    endpoint_mac,
    new_id,
)
from labkit.engine.sim.listener import SERVED_PATHS, ListenerHub, not_found_page
from labkit.engine.sim.ports import PortAllocator, port_is_free
from labkit.engine.sim.shell import missing_program, pid1_result, run_command
from labkit.engine.sim.state import (
    ZERO_TIME,
    ContainerRec,
    EndpointRec,
    ExecRec,
    LogLine,
    NetworkRec,
    now_iso,
)
from labkit.engine.sim.terminal import is_interactive_shell
from labkit.engine.sim.version import sim_generation
from labkit.errors import (
    EngineUnavailable,
    EngineWarning,
    ImageNotFound,
    InvalidInput,
    LabkitError,
    NetworkNotFound,
    PortInUse,
)
from labkit.generation import API_VERSION, SIM_VERSION, Generation
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
    ProbeResult,
)

__all__ = ["SimulatedEngine", "ENGINE_VERSION"]

# 20.10's version, kept for callers from before generations; an engine's own is info().version.
ENGINE_VERSION = SIM_VERSION[Generation.V20]

_APP_CMD = ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
_APP_PORT = (80, "tcp")
_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "docker0",
    "com.docker.network.driver.mtu": "1500",
}
_FALLBACK_DNS = "8.8.8.8"  # what Docker writes when the host only has a local resolver
_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15}
_LOG_LINES = 1000  # log writes kept per container
_EXECS = 256  # finished execs kept for `GET /exec/{id}/json`
# For the names the engine picks itself (`docker run --rm IMAGE` without --name).
_ADJECTIVES = (
    "brave calm eager fond gentle happy jolly keen lucid merry nifty quirky sharp swift tender "
    "vivid wise zen"
).split()
_SURNAMES = (
    "baran cerf davies hopper kahn lamport lovelace metcalfe perlman postel ritchie shannon "
    "thompson turing"
).split()


class _LabImage:
    """The lab app image as the simulator knows it: its labels and ID, derived from the same
    build context the Docker backend builds (computed once, on first use)."""

    _digest: str | None = None

    @classmethod
    def digest(cls) -> str:
        if cls._digest is None:
            cls._digest = app.build_context(app.static_busybox())[1]
        return cls._digest

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {"labkit.app.digest": cls.digest()}

    @classmethod
    def id(cls) -> str:
        return "sha256:" + hashlib.sha256(("labkit-lab-app" + cls.digest()).encode()).hexdigest()


class SimulatedEngine:
    """A Docker engine modelled in memory: the embedded default where no engine answers.

    ``reason`` says why the simulator runs (shown in the banner). ``generation`` is the engine
    generation it models (``Generation``, "20.10" or "28"; default ``$LABKIT_SIM_VERSION``,
    else 28). ``allow_direct_routing`` is Engine 28's daemon option of that name.
    ``port_range`` overrides the kernel's ephemeral range; ``port_probe(port, proto, host_ip)
    -> bool`` overrides the check that a host port is free on this machine (for ports without
    a real listener).
    """

    kind = "sim"

    def __init__(
        self,
        reason: str = "no Docker engine answered",
        *,
        generation: Generation | str | None = None,
        allow_direct_routing: bool = False,
        port_range: tuple[int, int] | None = None,
        port_probe: Callable[[int, str, str], bool] | None = None,
    ) -> None:
        self.reason = reason
        self.generation = sim_generation(generation)
        self.version = SIM_VERSION[self.generation]
        self.api_version = API_VERSION[self.generation]
        self.rng = random.Random()  # join order on 28; tests may seed it
        self._lock = threading.RLock()
        self.routing = routing.DirectRouting()
        if allow_direct_routing:
            self.set_allow_direct_routing(True)
        self._ports = PortAllocator(port_range, probe=port_probe or port_is_free)
        self._subnets = SubnetAllocator()
        self._hub = ListenerHub()
        self._events = EventBus()
        self._closed = False
        self._image_built = False
        self._pids = itertools.count(4000, 7)
        self._ifindex = itertools.count(4, 2)  # 20.10: container-side veth numbers; lo is 1
        self._host_ifindex = itertools.count(4)  # 28: host-side numbers (lo, NIC, docker0 first)
        self._seq = itertools.count(1)  # the order of joins and publishes (28's raw rules)
        self.container_recs: dict[str, ContainerRec] = {}
        self.exec_recs: dict[str, ExecRec] = {}
        # Container state changed (an exit, a removal): `wait` long-polls on it.
        self._changes = threading.Condition(self._lock)
        # Container ID -> functions that stream its output to `docker attach` clients.
        self._attached: dict[str, list[Callable[[LogLine | None], None]]] = {}
        self.network_recs: dict[str, NetworkRec] = {}
        self._names: dict[str, str] = {}
        self._net_names: dict[str, str] = {}
        self.host_hostname = socket.gethostname() or "localhost"
        self.host_nameserver = _host_nameserver()
        self.started = time.time()
        self._add_predefined()

    # -- setup ------------------------------------------------------------------------------

    def _add_predefined(self) -> None:
        created = now_iso(time.time())
        bridge_net = ipaddress.IPv4Network(DEFAULT_BRIDGE_SUBNET)
        self._subnets.mark_used(bridge_net)
        # A new simulated engine is a daemon's first start: Engine 20.10 then shows only the
        # default bridge's subnet in its IPAM config (the gateway appears from the second start
        # on, once docker0 exists: moby/moby#26799); Engine 28 shows the gateway at once.
        self._add_network(
            NetworkRec(
                new_id(),
                "bridge",
                "bridge",
                created,
                options=dict(_BRIDGE_OPTIONS),
                pool=AddressPool(bridge_net),
                gateway_given=self.generation.bridge_gateway_on_first_start,
                predefined=True,
            )
        )
        self._add_network(NetworkRec(new_id(), "host", "host", created, predefined=True))
        self._add_network(NetworkRec(new_id(), "none", "null", created, predefined=True))

    def _add_network(self, net: NetworkRec) -> None:
        self.network_recs[net.id] = net
        self._net_names[net.name] = net.id

    @property
    def port_range(self) -> tuple[int, int]:
        return self._ports.range

    # -- engine ----------------------------------------------------------------------------

    def info(self) -> EngineInfo:
        return EngineInfo(
            kind="sim",
            version=self.version,
            description=f"Simulated Docker engine {self.version} ({self.reason})",
            local=True,
            host="127.0.0.1",
            bridge_name="docker0",
            bridge_address="172.17.0.1/16",
            ip_forward=True,
            port_range=self._ports.range,
            bridge_reachable=True,
            bridge_reason=(
                "the bridge is modelled: probes of container IPs are answered by the simulator, "
                "published ports are real listeners on 127.0.0.1"
            ),
            simulated=True,
        )

    def ping(self) -> None:
        self._check_open()

    def close(self) -> None:
        """Stop every listener and the event thread. The engine refuses calls afterwards."""
        with self._lock:
            self._closed = True
            for rec in self.container_recs.values():
                rec.listening.clear()
        self._hub.close()
        self._events.close()

    def _check_open(self) -> None:
        if self._closed:
            raise EngineUnavailable(
                "The simulated engine is closed",
                "close() stopped it and its listeners",
                "create a new one: labkit.connect() or SimulatedEngine()",
            )

    # -- images ----------------------------------------------------------------------------

    def ensure_lab_image(self, progress: Callable[[str], None] | None = None) -> str:
        self._check_open()
        if not self._image_built and progress is not None:
            progress(
                f"The simulated engine provides the lab app image {LAB_IMAGE} (nothing to build)"
            )
        self._image_built = True
        return LAB_IMAGE

    def _check_image(self, image: str) -> None:
        if image in (LAB_IMAGE, _LabImage.id(), _LabImage.id()[7:]) or (
            len(image) >= 12 and _LabImage.id()[7:].startswith(image)
        ):
            return
        raise ImageNotFound(
            f"No image {image!r} on the engine",
            "the simulated engine has only the lab app image, and no registry can provide others",
            f"use the lab app image {LAB_IMAGE!r} (labkit builds it on first use)",
        ).answering(404, f"No such image: {image}")

    # -- lookups ---------------------------------------------------------------------------

    def _find(self, ref: str) -> ContainerRec:
        """By full ID, name (with or without '/'), or unique ID prefix, as the engine looks up."""
        if isinstance(ref, str) and ref:
            rec = self.container_recs.get(ref)
            if rec is not None:
                return rec
            cid = self._names.get(ref.lstrip("/"))
            if cid is not None:
                return self.container_recs[cid]
            matches = [c for c in self.container_recs.values() if c.id.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        raise no_such_container(ref)

    def _find_net(self, ref: str) -> NetworkRec:
        if isinstance(ref, str) and ref:
            net = self.network_recs.get(ref)
            if net is not None:
                return net
            nid = self._net_names.get(ref)
            if nid is not None:
                return self.network_recs[nid]
            matches = [n for n in self.network_recs.values() if n.id.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        raise no_such_network(ref)

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
        specs = check_ports(ports)
        labels = check_labels(labels)
        with self._lock:
            rec, said = self._create(
                image,
                name=name,
                specs=specs,
                network=network,
                labels=labels,
                init=init,
                command=command,
                hostname=hostname,
                dns=dns,
            )
            for text in said:
                # The engine warns and ignores them; the Docker backend does not even send them.
                warnings.warn(text, EngineWarning, stacklevel=2)
            try:
                self._start(rec)
            except LabkitError:
                # A start that fails (a host port taken) leaves nothing behind, as the backend does.
                self._forget(rec)
                self._emit(rec, "destroy")
                raise
            self._emit(rec, "start")
            self._settle_pid1(rec)
            return self._model(rec)

    def create(
        self,
        image: str,
        *,
        name: str | None = None,
        ports: Mapping[str, PortSpec] | None = None,
        network: str | None = None,
        labels: Mapping[str, str] | None = None,
        init: bool = False,
        command: Sequence[str] | None = None,
        hostname: str | None = None,
        dns: Sequence[str] | None = None,
        auto_remove: bool = False,
        tty: bool = False,
        open_stdin: bool = False,
    ) -> tuple[str, list[str]]:
        """``docker create`` (``POST /containers/create``): the new container's ID and the
        engine's warnings. Without a ``name`` the engine picks one, as Docker does."""
        if name is not None:
            check_name(name)
        specs = check_ports(ports)
        with self._lock:
            rec, said = self._create(
                image,
                name=name,
                specs=specs,
                network=network,
                labels=labels,
                init=init,
                command=command,
                hostname=hostname,
                dns=dns,
            )
            rec.auto_remove, rec.tty, rec.open_stdin = auto_remove, tty, open_stdin
            return rec.id, said

    def _create(
        self,
        image: str,
        *,
        name: str | None,
        specs: dict[tuple[int, str], tuple[str, int | None]],
        network: str | None,
        labels: Mapping[str, str] | None,
        init: bool,
        command: Sequence[str] | None,
        hostname: str | None,
        dns: Sequence[str] | None,
    ) -> tuple[ContainerRec, list[str]]:
        self._check_open()
        # The engine's order: the image, then the name, then the network.
        self._check_image(image)
        if name is None:
            name = self._free_name()
        if name in self._names:
            raise name_in_use("container", name, self._names[name])
        mode = network or self.generation.default_network_mode
        net = self._find_net(network) if network else self._find_net("bridge")
        said = []
        if net.driver == "host" and specs:
            said.append(HOST_PORTS_DISCARDED)
            specs = {}
        cid = new_id()
        exposed = sorted({_APP_PORT, *specs}, key=lambda pp: f"{pp[0]}/{pp[1]}")
        if net.driver == "host":
            host_name = self.host_hostname
        else:
            host_name = hostname or cid[:12]
        rec = ContainerRec(
            id=cid,
            name=name,
            image=image,
            image_id=_LabImage.id(),
            created=now_iso(time.time()),
            labels=dict(labels or {}),
            port_specs=specs,
            exposed=exposed,
            network_mode=mode,
            init=init,
            cmd=list(command) if command else list(_APP_CMD),
            hostname=host_name,
            dns=list(dns) if dns else None,
        )
        aliases = [cid[:12]] if net.user_defined else None
        rec.endpoints[net.id] = EndpointRec(net.id, aliases=aliases)
        self.container_recs[cid] = rec
        self._names[name] = cid
        self._emit(rec, "create")
        return rec, said

    def _free_name(self) -> str:
        """A name like the engine's own picks (adjective_surname), not yet in use."""
        while True:
            name = f"{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
            if name not in self._names:
                return name

    def _settle_pid1(self, rec: ContainerRec) -> None:
        """A command that ends at once (a lookup, a program the image lacks) takes its
        container down with it, as on the engine, where it dies a moment after start; what
        it printed stays in the container's logs."""
        if rec.tty and rec.open_stdin and is_interactive_shell(rec.cmd):
            return  # `docker run -it IMAGE sh`: the shell waits for its terminal
        result = pid1_result(rec, self)
        if result is None or not rec.running:
            return
        if result.output:
            self._log(rec, 2 if result.exit_code == 127 else 1, result.output)
        self._halt(rec, result.exit_code)
        self._emit(rec, "die", exitCode=str(result.exit_code))
        self._exited(rec)

    def _exited(self, rec: ContainerRec) -> None:
        """After PID 1 ended or a stop: `docker run --rm` removes its container."""
        if rec.auto_remove and rec.id in self.container_recs:
            self._forget(rec)
            self._emit(rec, "destroy")

    def _log(self, rec: ContainerRec, stream: int, text: str) -> None:
        line = LogLine(stream, time.time(), text)
        rec.logs.append(line)
        del rec.logs[:-_LOG_LINES]
        for deliver in self._attached.get(rec.id, ()):
            deliver(line)

    def _serves_app(self, rec: ContainerRec) -> bool:
        # On `none` too: the app listens on the loopback, the one interface there is.
        return rec.running and rec.cmd == _APP_CMD

    serves_app = _serves_app  # the shell's World protocol

    def _start(self, rec: ContainerRec) -> None:
        """Join networks (lowest free address each), publish ports, open listeners."""
        program = missing_program(rec.cmd)
        if program and not rec.init:  # with docker-init, the init starts and exits 127 instead
            raise no_such_program(rec.name, program)
        for net_id in rec.endpoints:
            if net_id not in self.network_recs:
                raise NetworkNotFound(
                    f"Container {rec.name!r} cannot start: its network is gone",
                    f"network {net_id[:12]} was removed while the container was stopped",
                    "disconnect it (lab.disconnect(...)) or remove and run it again",
                ).answering(404, f"network {net_id} not found")
        taken: list[tuple[EndpointRec, NetworkRec]] = []
        rec.next_dev = 0
        rec.next_ifindex = 2
        try:
            for ep in self._join_order(rec):  # veths made in the order the networks join...
                net = self.network_recs[ep.network_id]
                self._join(rec, ep, net)
                taken.append((ep, net))
                self._pass_gateway(rec, [e for e, _n in taken], ep)
            if self.generation.orders_interfaces_on_restart:
                # ...but on 20.10 named in network-name order: eth0 is the gateway endpoint's.
                named = sorted(
                    (ep for ep in rec.endpoints.values() if ep.dev), key=self._net_name_of
                )
                for n, ep in enumerate(named):
                    ep.dev = f"eth{n}"
            rec.status = "running"  # the listener's responder reads it
            self._publish_all(rec)
        except LabkitError:
            for ep, net in taken:
                self._leave(rec, ep, net)
            rec.status = "created" if rec.started_at == ZERO_TIME else "exited"
            raise
        rec.sandbox_id = new_id()
        rec.pid = next(self._pids)
        rec.exit_code = 0
        rec.started_at = now_iso(time.time())

    def _join_order(self, rec: ContainerRec) -> list[EndpointRec]:
        """The order a start joins the networks: 20.10 in the order they were connected; 28 in
        Go's map order, a random rotation of that (measured: eth0 was the first-connected
        network in 5 of 8 restarts of a four-network container, the others 1 in 8 each)."""
        eps = list(rec.endpoints.values())
        if self.generation.orders_interfaces_on_restart or len(eps) < 2:
            return eps
        offset = self.rng.randrange(max(8, len(eps)))  # a map bucket has 8 slots
        start = offset if offset < len(eps) else 0
        return eps[start:] + eps[:start]

    def _pass_gateway(self, rec: ContainerRec, joined: list[EndpointRec], new: EndpointRec) -> None:
        """Engine 28 maps the ports of each endpoint that becomes the gateway as the networks
        join one by one; all but the last such mapping are undone before the start ends, but
        each moved the host-port round robin on (20.10 maps once, at the end)."""
        if self.generation is not Generation.V28 or len(joined) < 2:
            return
        live = [ep for ep in joined if ep.ip is not None]
        before = min((ep for ep in live if ep is not new), key=self._net_name_of, default=None)
        if before is not None and min(live, key=self._net_name_of) is new:
            self._ports_in_passing(rec)

    def _ports_in_passing(self, rec: ContainerRec) -> None:
        """Allocate and at once release the ephemeral host ports of a gateway endpoint that
        carries them only for a moment (Engine 28, while a container joins or leaves several
        networks)."""
        if rec.network_mode in ("host", "none"):
            return
        for (_port, proto), (host_ip, fixed) in rec.port_specs.items():
            if fixed is not None:
                continue  # a named port does not move the round robin
            ips = [host_ip] if host_ip else ["0.0.0.0", "::"]
            try:
                port = self._ports.allocate_together(ips, proto)
            except LabkitError:
                continue  # the engine logs it and goes on
            for ip in ips:
                self._ports.release(port, ip, proto)

    def _net_name_of(self, ep: EndpointRec) -> str:
        net = self.network_recs.get(ep.network_id)
        return net.name if net is not None else ""

    def _join(self, rec: ContainerRec, ep: EndpointRec, net: NetworkRec) -> None:
        """An endpoint for a running container: an address, a MAC, the next ethN."""
        ep.endpoint_id = new_id()
        ep.seq = next(self._seq)
        if net.pool is not None:
            ep.ip = net.pool.request()
            ep.mac = endpoint_mac(ep.ip, self.generation)
            if self.generation is Generation.V28:
                # Made inside the container's namespace: numbered there; the host end is
                # numbered among the host's interfaces.
                ep.ifindex = rec.next_ifindex
                rec.next_ifindex += 1
                ep.peer = next(self._host_ifindex)
            else:
                ep.ifindex = next(self._ifindex)  # made on the host, then moved: pair numbers
                ep.peer = ep.ifindex + 1
            ep.dev = f"eth{rec.next_dev}"
            rec.next_dev += 1
        net.members[rec.id] = None
        self._events.emit(network_event("connect", net.id, net.name, net.driver, rec.id))

    def _gateway_network(self, rec: ContainerRec) -> str:
        """The engine's gateway endpoint: of the networks with an address, the first by name.
        It carries the default route and the published ports."""
        live = [ep for ep in rec.endpoints.values() if ep.ip is not None]
        return min(live, key=self._net_name_of).network_id if live else ""

    def _publish_all(self, rec: ContainerRec) -> None:
        """Publish the container's ports through its gateway endpoint, as the engine does; on
        host, none or no network: nothing."""
        rec.published = {}
        rec.port_network = self._gateway_network(rec)
        rec.publish_seq = next(self._seq)
        if not rec.port_network or rec.network_mode in ("host", "none"):
            return
        try:
            for (port, proto), (host_ip, fixed) in rec.port_specs.items():
                rec.published[(port, proto)] = self._publish(rec, port, proto, host_ip, fixed)
        except LabkitError:
            self._unpublish_all(rec)
            raise

    def _unpublish_all(self, rec: ContainerRec) -> None:
        for (_port, proto), bindings in rec.published.items():
            self._unpublish(rec, bindings, proto)
        rec.published = {}
        rec.port_network = ""

    def _publish(
        self, rec: ContainerRec, port: int, proto: str, host_ip: str, fixed: int | None
    ) -> list[tuple[str, int]]:
        """Host bindings for one published port, as NetworkSettings.Ports lists them.

        All interfaces (no host IP) means an IPv4 and an IPv6 binding: 20.10 allocates them
        apart (when a port is busy for IPv4 alone, the two host ports differ); 28 allocates
        one port for both.
        """
        serve = (port, proto) == _APP_PORT and rec.cmd == _APP_CMD

        def listen(host_port: int, protocol: str, ip: str) -> bool:
            # Free on all interfaces, as the engine's proxy needs; the simulated app then
            # answers for real on 127.0.0.1 (IPv4 only).
            free = self._ports.probe(host_port, protocol, ip)
            if free and serve and not _is_ipv6(ip):
                return self._hub.try_open(host_port, self._responder(rec))
            return free

        bindings: list[tuple[str, int]] = []
        ips = [host_ip] if host_ip else ["0.0.0.0", "::"]
        if self.generation.same_port_twins:
            try:
                if fixed is None:
                    host_port = self._ports.allocate_together(ips, proto, listen)
                else:
                    host_port = self._ports.reserve_together(fixed, ips, proto, listen)
            except OSError as exc:  # out of file descriptors, not a busy port
                raise PortInUse(
                    f"Cannot open a listener for {rec.name!r}",
                    exc.strerror or str(exc),
                    "remove containers you no longer need (lab.cleanup()) and try again",
                ) from exc
            bindings = [(ip, host_port) for ip in ips]
            if serve and any(not _is_ipv6(ip) for ip in ips):
                rec.listening.append(host_port)
            return bindings
        try:
            for ip in ips:
                if fixed is None:
                    host_port = self._ports.allocate(ip, proto, listen)
                else:
                    host_port = self._ports.reserve(fixed, ip, proto, listen)
                bindings.append((ip, host_port))
                if serve and not _is_ipv6(ip):
                    rec.listening.append(host_port)
        except OSError as exc:  # out of file descriptors, not a busy port
            self._unpublish(rec, bindings, proto)
            raise PortInUse(
                f"Cannot open a listener for {rec.name!r}",
                exc.strerror or str(exc),
                "remove containers you no longer need (lab.cleanup()) and try again",
            ) from exc
        except LabkitError as exc:
            self._unpublish(rec, bindings, proto)
            if isinstance(exc, PortInUse) and exc.reply is None:
                exc.answering(500, _port_failure(rec, exc.why))
            raise
        return bindings

    def _unpublish(self, rec: ContainerRec, bindings: list[tuple[str, int]], proto: str) -> None:
        for host_ip, host_port in bindings:
            if not _is_ipv6(host_ip) and host_port in rec.listening:
                rec.listening.remove(host_port)
                self._hub.close_port(host_port)
            self._ports.release(host_port, host_ip, proto)

    def _responder(self, rec: ContainerRec) -> Callable[[int], str]:
        def respond(client_port: int) -> str:
            # Runs on the listener thread: read-only, no engine lock (a page may be a moment stale).
            gateway = self._primary_gateway(rec)
            return self.page(rec, f"[::ffff:{gateway}]:{client_port}")

        return respond

    def _addresses(self, rec: ContainerRec) -> list[tuple[ipaddress.IPv4Address, NetworkRec]]:
        """The container's addresses in `ip addr` order (the order the interfaces were made)."""
        result = []
        for ep in sorted(list(rec.endpoints.values()), key=lambda ep: ep.ifindex):
            net = self.network_recs.get(ep.network_id)
            if ep.ip is not None and net is not None:
                result.append((ep.ip, net))
        return result

    def _primary_gateway(self, rec: ContainerRec) -> str:
        """Where a request through a published port comes from: the carrying network's gateway."""
        net = self.network_recs.get(rec.port_network)
        return str(net.pool.gateway) if net is not None and net.pool is not None else "127.0.0.1"

    def page(self, rec: ContainerRec, client: str) -> str:
        """The lab app's page as ``rec`` would serve it to ``client``."""
        ips = [str(ip) for ip, _net in self._addresses(rec)]
        return app.render_page(ips[0] if ips else "", rec.hostname, client, ips)

    def _leave(self, rec: ContainerRec, ep: EndpointRec, net: NetworkRec) -> None:
        if net.pool is not None and ep.ip is not None:
            net.pool.release(ep.ip)
        ep.ip, ep.mac, ep.endpoint_id, ep.ifindex, ep.dev = None, "", "", 0, ""
        if net.members.pop(rec.id, "gone") is None:
            self._events.emit(network_event("disconnect", net.id, net.name, net.driver, rec.id))

    def _halt(self, rec: ContainerRec, exit_code: int) -> None:
        """Everything a stop undoes: listeners and host ports, addresses, the process."""
        had_ports = bool(rec.port_network)
        self._unpublish_all(rec)
        if self.generation is Generation.V28 and had_ports:
            # The endpoints leave gateway first; each next one is the gateway for a moment and
            # maps the ports anew (moby's sbLeave), which moves the round robin on.
            live = sum(1 for ep in rec.endpoints.values() if ep.ip is not None)
            for _ in range(live - 1):
                self._ports_in_passing(rec)
        for net_id, ep in rec.endpoints.items():
            net = self.network_recs.get(net_id)
            if net is not None:
                self._leave(rec, ep, net)
            else:
                ep.ip, ep.mac, ep.endpoint_id = None, "", ""
        rec.status = "exited"
        rec.exit_code = exit_code
        rec.pid = 0
        rec.exits += 1
        for deliver in self._attached.pop(rec.id, ()):
            deliver(None)  # the attach stream ends with the process
        self._changes.notify_all()
        rec.finished_at = now_iso(time.time())

    def _forget(self, rec: ContainerRec) -> None:
        if rec.running:
            self._halt(rec, 137)
        for net_id in rec.endpoints:
            net = self.network_recs.get(net_id)
            if net is not None:
                net.members.pop(rec.id, None)
        self.container_recs.pop(rec.id, None)
        self._names.pop(rec.name, None)
        for exec_id in [e.id for e in self.exec_recs.values() if e.container_id == rec.id]:
            del self.exec_recs[exec_id]
        rec.removed = True
        self._changes.notify_all()

    def _graceful(self, rec: ContainerRec) -> bool:
        """Whether PID 1 honours SIGTERM: docker-init does; busybox httpd as PID 1 does not,
        so without init the engine waits out the stop timeout and then kills."""
        return rec.init or rec.cmd != _APP_CMD

    def _stop_locked(self, rec: ContainerRec, graceful: bool) -> None:
        self._emit(rec, "kill", signal="15")
        if not graceful:
            self._emit(rec, "kill", signal="9")
        code = 143 if graceful else 137
        self._halt(rec, code)
        if not self.generation.orders_restart_events:
            # 28's stop and die race; every stop measured here came as kill, stop, die.
            self._emit(rec, "stop")
            self._emit(rec, "die", exitCode=str(code))
        else:  # 20.10: kill, die, stop
            self._emit(rec, "die", exitCode=str(code))
            self._emit(rec, "stop")

    def _wait_for_stop(self, ref: str, timeout: int) -> None:
        # Outside the lock: a stop that waits out its timeout must not freeze the other calls.
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            slow = rec.running and not self._graceful(rec)
        if slow:
            time.sleep(max(0, timeout))

    def container(self, ref: str) -> Container:
        with self._lock:
            self._check_open()
            return self._model(self._find(ref))

    def containers(
        self, *, labels: Mapping[str, str] | None = None, all: bool = True
    ) -> list[Container]:
        with self._lock:
            self._check_open()
            wanted = dict(labels or {})
            found = []
            for rec in reversed(
                list(self.container_recs.values())
            ):  # newest first, like `docker ps`
                if not all and not rec.running:
                    continue
                merged = {**_LabImage.labels(), **rec.labels}
                if _all_match(merged, wanted):
                    found.append(self._model(rec, summary=True))
            return found

    def restart(self, ref: str, *, timeout: int = 10) -> Container:
        self._wait_for_stop(ref, timeout)
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if rec.running:
                self._stop_locked(rec, self._graceful(rec))
            self._start(rec)
            self._emit(rec, "start")
            self._emit(rec, "restart")
            self._settle_pid1(rec)
            return self._model(rec)

    def stop(self, ref: str, *, timeout: int = 10) -> Container:
        self._wait_for_stop(ref, timeout)
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if rec.running:  # stopping a stopped container is a no-op (HTTP 304)
                self._stop_locked(rec, self._graceful(rec))
                self._exited(rec)
            return self._model(rec)

    def start(self, ref: str) -> Container:
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running:  # starting a running container is a no-op (HTTP 304)
                self._start(rec)
                self._emit(rec, "start")
                self._settle_pid1(rec)
            return self._model(rec)

    def remove(self, ref: str, *, force: bool = True) -> None:
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if rec.running:
                if not force:
                    error = InvalidInput(
                        f"Container {rec.name!r} is running",
                        f"You cannot remove a running container {rec.id}. Stop the container "
                        "before attempting removal or force remove",
                        "stop it first (lab.stop(...)), or remove with force=True",
                    )
                    raise error.answering(409, error.why)
                self._emit(rec, "kill", signal="9")
                self._halt(rec, 137)
                self._emit(rec, "die", exitCode="137")
            self._forget(rec)
            self._emit(rec, "destroy")

    def exec(self, ref: str, command: Sequence[str], *, timeout: float = 10.0) -> ExecResult:
        # ``timeout`` is the protocol's bound; modelled commands end at once.
        with self._lock:
            return self.exec_start(self.exec_create(ref, command))

    def exec_create(
        self, ref: str, command: Sequence[str], *, tty: bool = False, stdin: bool = False
    ) -> str:
        """``POST /containers/{id}/exec``: the exec's ID; it runs at ``exec_start``."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running:
                raise not_running(ref, rec.id)
            argv = [str(part) for part in (command or ())]
            if not argv or not argv[0]:
                raise InvalidInput(
                    f"No command to run in {rec.name!r}",
                    "No exec command specified",
                    "pass a command as a list, e.g. ['/bin/busybox', 'hostname']",
                ).answering(400, "No exec command specified")
            job = ExecRec(new_id(), rec.id, argv, tty=tty, stdin=stdin)
            finished = [e.id for e in self.exec_recs.values() if e.exit_code is not None]
            for old in finished[: max(0, len(finished) - _EXECS)]:
                del self.exec_recs[old]
            self.exec_recs[job.id] = job
            self._emit(rec, f"exec_create: {_shown(argv)}", execID=job.id)
            return job.id

    def exec_start(self, exec_id: str) -> ExecResult:
        """Run a created exec to its end (a command, or a shell that reads no terminal)."""
        with self._lock:
            job, rec = self._begin_exec(exec_id)
            result = run_command(rec, job.argv, self)
            self.exec_end(exec_id, result.exit_code, died=not missing_program(job.argv))
            return result

    def _begin_exec(self, exec_id: str) -> tuple[ExecRec, ContainerRec]:
        self._check_open()
        job = self._find_exec(exec_id)
        rec = self.container_recs.get(job.container_id)
        if rec is None or not rec.running:
            raise not_running(job.container_id, job.container_id)
        if job.started:
            error = InvalidInput(
                "This exec was started already",
                f"Error: Exec command {exec_id} has already run",
                "create a new exec for each command",
            )
            raise error.answering(409, error.why)
        job.started, job.running, job.pid = True, True, next(self._pids)
        self._emit(rec, f"exec_start: {_shown(job.argv)}", execID=job.id)
        return job, rec

    def exec_session(self, exec_id: str) -> tuple[ExecRec, Callable[[str], ExecResult]]:
        """Start an interactive exec: its record and the function that runs one line of its
        shell (the terminal calls it for each line typed); ``exec_end`` finishes it."""
        with self._lock:
            job, rec = self._begin_exec(exec_id)

        def run_line(line: str) -> ExecResult:
            with self._lock:
                if not rec.running:
                    return ExecResult(137, "")
                return run_command(rec, ["sh", "-c", line], self)

        return job, run_line

    def exec_end(self, exec_id: str, exit_code: int, *, died: bool = True) -> None:
        """The exec ended with ``exit_code``; ``died``: it ran (an exec whose program is not
        in the image never starts, and the engine reports no exec_die for it)."""
        with self._lock:
            job = self.exec_recs.get(exec_id)
            if job is None or job.exit_code is not None:
                return
            job.running, job.exit_code = False, exit_code
            rec = self.container_recs.get(job.container_id)
            if rec is not None and died:
                self._emit(rec, "exec_die", execID=exec_id, exitCode=str(exit_code))

    def _find_exec(self, exec_id: str) -> ExecRec:
        job = self.exec_recs.get(exec_id)
        if job is None:
            raise InvalidInput(
                f"No exec {exec_id!r}",
                "the engine has no exec of that ID (its container may have been removed)",
                "create a new exec",
            ).answering(404, f"No such exec instance: {exec_id}")
        return job

    def exec_inspect(self, exec_id: str) -> ExecRec:
        with self._lock:
            return self._find_exec(exec_id)

    def terminal_session(self, ref: str) -> Callable[[str], ExecResult]:
        """For `docker run -it IMAGE sh`: the function that runs one line of PID 1's shell."""
        with self._lock:
            rec = self._find(ref)

        def run_line(line: str) -> ExecResult:
            with self._lock:
                if not rec.running:
                    return ExecResult(137, "")
                return run_command(rec, ["sh", "-c", line], self)

        return run_line

    def end_pid1(self, ref: str, exit_code: int) -> None:
        """PID 1 ended on its own (an interactive shell typed `exit`)."""
        with self._lock:
            rec = self.container_recs.get(ref) or self._find(ref)
            if rec.running:
                self._halt(rec, exit_code)
                self._emit(rec, "die", exitCode=str(exit_code))
                self._exited(rec)

    def kill(self, ref: str, signal: str = "SIGKILL") -> None:
        """``docker kill``: SIGKILL (or the signal given) to PID 1; the container dies at once
        (the lab image's processes do not survive a signal)."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running:
                raise not_running(ref, rec.id).answering(
                    409, f"Cannot kill container: {ref}: Container {rec.id} is not running"
                )
            number = str(_SIGNALS.get(signal.upper().removeprefix("SIG"), signal))
            self._emit(rec, "kill", signal=number)
            if number in ("1", "2", "15") and not self._graceful(rec):
                return  # busybox httpd as PID 1 ignores them, as the kernel lets PID 1 do
            code = 128 + int(number) if number.isdigit() else 137
            self._halt(rec, code)
            self._emit(rec, "die", exitCode=str(code))
            self._exited(rec)

    # -- what `docker logs`, `attach` and `wait` read --------------------------------------------

    def logs(self, ref: str) -> list[LogLine]:
        with self._lock:
            self._check_open()
            return list(self._find(ref).logs)

    def attach(self, ref: str, deliver: Callable[[LogLine | None], None]) -> Callable[[], None]:
        """Stream the container's output to ``deliver`` (None: the process ended) until the
        returned function detaches it. A container that is not running ends at once unless it
        was never started (`docker run` attaches before it starts)."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running and rec.status != "created":
                deliver(None)
                return lambda: None
            self._attached.setdefault(rec.id, []).append(deliver)
            self._emit(rec, "attach")

        def detach() -> None:
            with self._lock:
                watchers = self._attached.get(rec.id, [])
                if deliver in watchers:
                    watchers.remove(deliver)

        return detach

    def waiter(
        self, ref: str, condition: str = "not-running"
    ) -> Callable[[Callable[[], bool]], int | None]:
        """``POST /containers/{id}/wait``: look the container up now and return the function
        that blocks until ``condition`` holds (``not-running``, ``next-exit`` or ``removed``)
        and gives the exit code, or None once ``abandoned()`` says the client left."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            exits = rec.exits

        def done() -> bool:
            if condition == "removed":
                return rec.removed
            if condition == "next-exit":
                return rec.exits > exits
            return not rec.running

        def wait(abandoned: Callable[[], bool]) -> int | None:
            with self._lock:
                while not done():
                    if abandoned() or self._closed:
                        return None
                    self._changes.wait(0.5)
                return rec.exit_code

        return wait

    def inspect_container(self, ref: str) -> dict:
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            return raw.container_json(rec, self.network_recs, _LabImage.labels(), self.generation)

    # -- networks ----------------------------------------------------------------------------

    def networks(self) -> list[Network]:
        with self._lock:
            self._check_open()
            return sorted(
                (self._net_model(n) for n in self.network_recs.values()), key=lambda n: n.name
            )

    def network(self, ref: str) -> Network:
        with self._lock:
            self._check_open()
            return self._net_model(self._find_net(ref))

    def inspect_network(self, ref: str) -> dict:
        with self._lock:
            self._check_open()
            return raw.network_json(self._find_net(ref), self.container_recs, self.generation)

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
        """``options`` are the driver options of ``docker network create -o``: kept and shown
        in inspect (``Options``); Engine 28's routing options change what ``routed_http``
        answers (see ``labkit.engine.sim.routing``)."""
        check_name(name, "network")
        subnet = check_subnet(subnet)
        options = routing.check_network_options(options or {}, self.generation)
        gateway = check_gateway(gateway, subnet)
        with self._lock:
            self._check_open()
            if name in PREDEFINED_NETWORKS:
                raise predefined_network(name, "created")
            if name in self._net_names:
                raise name_in_use("network", name)
            _check_driver(driver)
            in_use = [n.pool.subnet for n in self.network_recs.values() if n.pool is not None]
            if subnet is None:
                pool = AddressPool(self._subnets.next(in_use, name))
                gateway_given = True
            else:
                net_addr = ipaddress.IPv4Network(subnet)  # check_subnet let IPv4 alone through
                if any(net_addr.overlaps(used) for used in in_use):
                    raise subnet_overlaps(name)
                pool = AddressPool(net_addr, _gateway(gateway, net_addr))
                gateway_given = gateway is not None
            net = NetworkRec(
                new_id(),
                name,
                "bridge",
                now_iso(time.time()),
                labels=dict(labels or {}),
                options=options,
                pool=pool,
                gateway_given=gateway_given,
            )
            self._add_network(net)
            self._events.emit(network_event("create", net.id, net.name, net.driver))
            return self._net_model(net)

    def connect(self, network: str, container: str, *, aliases: Sequence[str] = ()) -> None:
        with self._lock:
            self._check_open()
            rec = self._find(container)  # the engine looks up the container first
            net = self._find_net(network)
            _check_joinable(rec, net)
            if net.id in rec.endpoints:
                raise already_connected(rec.name, net.name)
            if aliases and not net.user_defined:
                error = InvalidInput(
                    f"Cannot give {rec.name!r} aliases on network {net.name!r}",
                    "network-scoped alias is supported only for containers in user defined "
                    "networks",
                    "connect it without aliases, or use a network you created",
                )
                raise error.answering(400, error.why)
            names = [str(a) for a in aliases] + [rec.short_id] if net.user_defined else None
            ep = EndpointRec(net.id, aliases=names)
            rec.endpoints[net.id] = ep
            if rec.running:
                self._join(rec, ep, net)
                if self._gateway_network(rec) != rec.port_network:
                    # A network whose name sorts first takes over the gateway endpoint, and the
                    # published ports move with it (new host ports).
                    self._unpublish_all(rec)
                    self._publish_all(rec)

    def disconnect(self, network: str, container: str) -> None:
        with self._lock:
            self._check_open()
            rec = self._find(container)
            net = self._find_net(network)
            if net.driver == "host" or rec.network_mode == "host":
                raise host_network_is_fixed(rec.name)
            ep = rec.endpoints.get(net.id)
            if ep is None:
                raise not_connected(rec.name, net.name, rec.id)
            self._leave(rec, ep, net)
            del rec.endpoints[net.id]
            if rec.running and rec.port_network == net.id:
                # The ports leave with that endpoint; the next network (if any) publishes anew.
                self._unpublish_all(rec)
                self._publish_all(rec)

    def remove_network(self, ref: str) -> None:
        with self._lock:
            self._check_open()
            net = self._find_net(ref)
            if net.predefined:
                raise predefined_network(net.name, "removed")
            if net.members:
                names = ", ".join(
                    self.container_recs[c].name for c in net.members if c in self.container_recs
                )
                raise network_in_use(net.name, names, net.id)
            del self.network_recs[net.id]
            self._net_names.pop(net.name, None)
            self._events.emit(network_event("destroy", net.id, net.name, net.driver))

    # -- watching and the modelled network -----------------------------------------------------

    def watch(
        self, callback: Callable[[Event], None], *, labels: Mapping[str, str] | None = None
    ) -> Callable[[], None]:
        """Deliver container events (create, start, kill, die, stop, restart, destroy, exec_*)
        to ``callback`` from a background thread, in order; return the function that stops it."""
        self._check_open()
        wanted = dict(labels or {})

        def match(raw: dict) -> bool:
            attributes = raw["Actor"]["Attributes"]
            return raw["Type"] == "container" and _all_match(attributes, wanted)

        return self._events.subscribe(lambda raw: callback(as_model(raw)), match)

    def subscribe(
        self, callback: Callable[[dict], None], match: Callable[[dict], bool] | None = None
    ) -> Callable[[], None]:
        """Every event (containers and networks) in the daemon's JSON, for ``GET /events``."""
        self._check_open()
        return self._events.subscribe(callback, match)

    def past_events(self, since: float, until: float | None = None) -> list[dict]:
        return self._events.history(since, until)

    def wait_events(self, timeout: float = 2.0) -> bool:
        """Wait until every event emitted so far was delivered to the watchers."""
        return self._events.wait_idle(timeout)

    def _emit(self, rec: ContainerRec, action: str, **attrs: str) -> None:
        attributes = {**_LabImage.labels(), **rec.labels, "image": rec.image, "name": rec.name}
        attributes.update(attrs)
        self._events.emit(
            container_event(action, rec.id, rec.image, dict(sorted(attributes.items())))
        )

    def lab_image(self) -> dict:
        """The one image the simulator has, for ``GET /images/...``: its ID, tag, labels,
        command and creation time (when the engine started)."""
        return {
            "id": _LabImage.id(),
            "tag": LAB_IMAGE,
            "labels": _LabImage.labels(),
            "cmd": list(_APP_CMD),
            "created": now_iso(self.started),
        }

    def host_command(self, argv: Sequence[str]) -> ExecResult:
        """A command on the simulated engine's host (``ip addr show docker0``, ``ip route``,
        ``cat /proc/sys/net/ipv4/ip_forward``): see ``labkit.engine.sim.hostcmd``."""
        with self._lock:
            self._check_open()
            return run_host_command(argv, self)

    def model_http(self, host: str, port: int, path: str = "/") -> HttpReply | None:
        """Answer GET http://host:port/path for an address inside one of the simulator's subnets.

        - a running lab app container's address, port 80: its page, the client being the
          network's gateway (``[::ffff:172.17.0.1]:<port>``) as the host's requests look there;
        - that address on another port, a container that does not serve the app, or a gateway:
          ``ConnectionRefusedError``;
        - any other address of a simulated subnet (a stopped or removed container's old IP):
          ``OSError(EHOSTUNREACH)``, as the Linux bridge answers when nobody has the address;
        - an address outside every simulated subnet: None, meaning "use the real network"
          (published ports on 127.0.0.1 are real listeners).
        """
        started = time.perf_counter()
        try:
            target = ipaddress.IPv4Address(host)
        except ValueError:
            return None
        with self._lock:
            self._check_open()
            for net in self.network_recs.values():
                pool = net.pool
                if pool is None or target not in pool.subnet:
                    continue
                if target == pool.gateway:
                    raise ConnectionRefusedError(
                        errno.ECONNREFUSED, f"Connection refused ({host}:{port})"
                    )
                for cid in net.members:
                    rec = self.container_recs.get(cid)
                    ep = rec.endpoints.get(net.id) if rec else None
                    if rec is None or ep is None or ep.ip != target:
                        continue
                    if port != 80 or not self._serves_app(rec):
                        raise ConnectionRefusedError(
                            errno.ECONNREFUSED, f"Connection refused ({host}:{port})"
                        )
                    low, high = self._ports.range
                    client = f"[::ffff:{pool.gateway}]:{random.randint(low, high)}"
                    latency = (time.perf_counter() - started) * 1000 + random.uniform(0.2, 0.6)
                    if (path or "/").split("?", 1)[0] not in SERVED_PATHS:
                        return HttpReply(404, not_found_page(), latency)
                    return HttpReply(200, self.page(rec, client), latency)
                raise OSError(errno.EHOSTUNREACH, f"No route to host ({host})")
        return None

    def routed_http(
        self,
        host: str,
        port: int = 80,
        path: str = "/",
        *,
        client: str = routing.DEFAULT_CLIENT,
        agent: str = routing.DEFAULT_AGENT,
        in_interface: str = routing.DEFAULT_INTERFACE,
        timeout: float = 2.0,
    ) -> ProbeResult:
        """GET http://host:port/path from another host that routes the engine's networks
        through this engine's host (``agent``; the lab text's ``ip route add 172.17.0.0/16 via
        <host>``), arriving on ``in_interface``: 20.10 forwards it, 28 drops it unless opened
        (daemon option, gateway mode or trusted interface). ``host=agent`` with a published
        host port goes through that port instead. The raw table's counters move."""
        with self._lock:
            self._check_open()
            return routing.routed_get(
                self,
                self.routing,
                host,
                port,
                path,
                client=client,
                agent=agent,
                in_interface=in_interface,
                timeout=timeout,
            )

    def raw_prerouting(self) -> str:
        """What ``iptables -t raw -L PREROUTING -v -n`` prints on the engine's host now."""
        with self._lock:
            self._check_open()
            return routing.raw_listing(self, self.routing)

    def raw_rules(self) -> str:
        """What ``iptables -t raw -S`` prints on the engine's host now."""
        with self._lock:
            self._check_open()
            return routing.raw_specs(self, self.routing)

    def set_allow_direct_routing(self, allowed: bool = True) -> None:
        """Engine 28's daemon option ``--allow-direct-routing``, as if the daemon had been
        restarted with (or without) it: Docker's raw rules are rewritten (their counters start
        at 0). Engine 20.10 has no such option."""
        if allowed and self.generation is Generation.V20:
            raise InvalidInput(
                "Engine 20.10 has no --allow-direct-routing option",
                "dockerd 20.10 refuses to start with it (unknown flag); it forwards routed "
                "traffic to containers anyway",
                "leave it off on 20.10, or simulate Engine 28 (LABKIT_SIM_VERSION=28)",
            )
        with self._lock:
            self.routing.allow_direct_routing = allowed
            self.routing.counters.clear()

    # -- records → labkit's models -------------------------------------------------------------

    def _model(self, rec: ContainerRec, *, summary: bool = False) -> Container:
        """The Container the Docker backend would build from the engine's JSON (``summary``:
        from the list endpoint, which carries no aliases, exit code or start time)."""
        attachments = []
        for net_id, ep in rec.endpoints.items():
            net = self.network_recs.get(net_id)
            if net is None:
                continue
            live = ep.ip is not None
            attachments.append(
                Attachment(
                    network=net.name,
                    network_id=net.id,
                    ip=str(ep.ip) if live else "",
                    prefix_len=net.pool.subnet.prefixlen if live and net.pool else 0,
                    gateway=str(net.pool.gateway) if live and net.pool else "",
                    mac=ep.mac if live else "",
                    aliases=() if summary else tuple(self._aliases_shown(rec, ep)),
                )
            )
        attachments.sort(key=lambda a: a.network)
        return Container(
            id=rec.id,
            name=rec.name,
            image=rec.image,
            status=rec.status,
            labels={**_LabImage.labels(), **rec.labels},
            ports=self._port_models(rec),
            networks=tuple(attachments),
            network_mode=rec.network_mode,
            exit_code=0 if summary else rec.exit_code,
            restart_count=0 if summary else rec.restart_count,
            started_at="" if summary else rec.started_at,
        )

    def _aliases_shown(self, rec: ContainerRec, ep: EndpointRec) -> list[str]:
        """``Aliases`` as inspect shows it: 28 keeps only the user's (the short ID and name
        moved to ``DNSNames``); 20.10 lists the short ID too."""
        if self.generation.lists_dns_names:
            return raw.user_aliases(rec, ep)
        return list(ep.aliases or ())

    def _port_models(self, rec: ContainerRec) -> tuple[PortBinding, ...]:
        if not rec.running or rec.network_mode in ("host", "none") or not rec.port_network:
            return ()
        result = []
        for port, proto in sorted(rec.exposed):
            bindings = rec.published.get((port, proto)) or []
            v4 = [b for b in bindings if not _is_ipv6(b[0])]
            v6 = [b for b in bindings if _is_ipv6(b[0])]
            result.append(
                PortBinding(
                    container_port=port,
                    protocol=proto,
                    host_ip=v4[0][0] if v4 else None,
                    host_port=v4[0][1] if v4 else None,
                    ipv6_host_ip=v6[0][0] if v6 else None,
                    ipv6_host_port=v6[0][1] if v6 else None,
                )
            )
        return tuple(result)

    def _net_model(self, net: NetworkRec) -> Network:
        data = raw.network_json(net, self.container_recs, self.generation)
        config = (data["IPAM"]["Config"] or [{}])[0]
        return Network(
            id=net.id,
            name=net.name,
            driver=net.driver,
            scope="local",
            subnet=config.get("Subnet", ""),
            # The engine leaves Gateway out of a given subnet's config: .1 is what it assigns.
            gateway=config.get("Gateway")
            or host.default_gateway(config.get("Subnet", ""), net.driver),
            created=net.created,
            labels=dict(net.labels),
            options=dict(net.options),
            endpoints=tuple(
                Endpoint(
                    container_id=cid,
                    container_name=ep["Name"],
                    ipv4=ep["IPv4Address"],
                    ipv6=ep["IPv6Address"],
                    mac=ep["MacAddress"],
                )
                for cid, ep in sorted(data["Containers"].items(), key=lambda kv: kv[1]["Name"])
            ),
        )


def _all_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def _is_ipv6(host_ip: str) -> bool:
    return ":" in host_ip


def _shown(argv: Sequence[str]) -> str:
    """An exec's command in its events: the program, a space, its arguments (so a bare
    `hostname` shows as 'hostname ', as the engine writes it)."""
    return f"{argv[0]} {' '.join(argv[1:])}"


def _port_failure(rec: ContainerRec, why: str) -> str:
    """The daemon's words when a host port cannot be published for ``rec``."""
    words = re.sub(r" \(another [^)]*\)$", "", why)
    if words.startswith("listen "):
        words = "Error starting userland proxy: " + words
    endpoint = next((ep.endpoint_id for ep in rec.endpoints.values() if ep.endpoint_id), "")
    return f"driver failed programming external connectivity on endpoint {rec.name} ({endpoint}): {words}"


def _check_driver(driver: str) -> None:
    if driver == "bridge":
        return
    if driver in ("host", "null"):
        raise InvalidInput(
            f"Cannot create another {driver!r} network",
            f'only one instance of "{driver}" network is allowed',
            "use the existing one (network='host' or 'none'), or driver='bridge'",
        ).answering(403, f'only one instance of "{driver}" network is allowed')
    if driver == "overlay":
        raise InvalidInput(
            "Cannot create an overlay network on this engine",
            "This node is not a swarm manager (overlay networks span a Docker Swarm)",
            "the course shows overlays in the 'beyond one host' notebook; use driver='bridge' here",
        ).answering(
            500,
            'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
            "connect this node to swarm and try again.",
        )
    raise InvalidInput(
        f"Unknown network driver {driver!r}",
        f'plugin "{driver}" not found',
        "use driver='bridge' on one host",
    ).answering(404, f'plugin "{driver}" not found')


def _gateway(gateway: str | None, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address | None:
    if gateway is None:
        return None
    try:
        return ipaddress.IPv4Address(gateway)
    except ValueError:
        raise InvalidInput(
            f"Invalid gateway {gateway!r}",
            "a gateway is an IPv4 address inside the subnet",
            f"leave it out (the engine takes the first address of {subnet}) or give one inside it",
        ) from None


def _check_joinable(rec: ContainerRec, net: NetworkRec) -> None:
    if net.driver == "host" or rec.network_mode == "host":
        raise host_network_is_fixed(rec.name, joining_other=net.driver != "host")
    if net.driver == "null" or rec.network_mode == "none":
        raise none_and_another(rec.name)


def _host_nameserver(path: str = "/etc/resolv.conf") -> str:
    """The resolver a default-bridge container inherits from the host (Docker copies it)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith("127."):
                    return parts[1]
    except OSError:
        pass
    return _FALLBACK_DNS
