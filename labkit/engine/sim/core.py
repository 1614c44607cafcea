"""The simulated engine's world: its records of containers, networks and execs, the lookups
by ID, name and prefix the engine makes, its lab image, and the events it emits. The engine's
jobs (``publishing``, ``networks``, ``lifecycle``, ``execs``) build on ``EngineCore``; every
one of them runs under its lock."""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import random
import socket
import threading
import time
from collections.abc import Callable

from labkit import app
from labkit.engine._checks import no_such_container, no_such_network
from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import routing, views
from labkit.engine.sim.events import EventBus, container_event
from labkit.engine.sim.ipam import DEFAULT_BRIDGE_SUBNET, AddressPool, SubnetAllocator, new_id
from labkit.engine.sim.listener import ListenerHub
from labkit.engine.sim.ports import PortAllocator, port_is_free, read_port_range
from labkit.engine.sim.state import (
    ContainerRec,
    ExecRec,
    LogLine,
    NetworkDriver,
    NetworkRec,
    now_iso,
)
from labkit.engine.sim.version import sim_generation
from labkit.engine.sim.world import interfaces
from labkit.errors import EngineUnavailable, ImageNotFound
from labkit.generation import API_VERSION, SIM_VERSION, Generation
from labkit.models import Container, Network

__all__ = ["EngineCore", "LabImage", "APP_CMD", "APP_PORT"]

APP_CMD = ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
APP_PORT = (80, "tcp")
_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "docker0",
    "com.docker.network.driver.mtu": "1500",
}
_FALLBACK_DNS = "8.8.8.8"  # what Docker writes when the host only has a local resolver


class LabImage:
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


class EngineCore:
    """The state every job of the simulated engine reads and changes (see ``SimulatedEngine``
    for the arguments)."""

    def __init__(
        self,
        reason: str = "no Docker engine answered",
        *,
        generation: Generation | str | None = None,
        port_range: tuple[int, int] | None = None,
        publish_range: tuple[int, int] | None = None,
        port_probe: Callable[[int, str, str], bool] | None = None,
    ) -> None:
        self.reason = reason
        self.generation = sim_generation(generation)
        self.version = SIM_VERSION[self.generation]
        self.api_version = API_VERSION[self.generation]
        self.rng = random.Random()  # join order on 28; tests may seed it
        self._lock = threading.RLock()
        self.routing = routing.DirectRouting()
        # The host's ephemeral range, as the engine and `cat ip_local_port_range` show it; host
        # ports are handed out from publish_range within it (a daemon's slice of its own).
        self._shown_range = port_range or read_port_range()
        self._ports = PortAllocator(
            publish_range or self._shown_range, probe=port_probe or port_is_free
        )
        self._subnets = SubnetAllocator()
        self._hub = ListenerHub()
        self._events = EventBus()
        self._closed = False
        self._image_built = False
        self._pids = itertools.count(4000, 7)
        # The numbers of the links made on the host (lo, NIC, docker0 first): the kernel's count.
        self._host_ifindex = itertools.count(4)
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
                NetworkDriver.BRIDGE,
                created,
                options=dict(_BRIDGE_OPTIONS),
                pool=AddressPool(bridge_net),
                gateway_given=self.generation.bridge_gateway_on_first_start,
                predefined=True,
            )
        )
        self._add_network(
            NetworkRec(new_id(), "host", NetworkDriver.HOST, created, predefined=True)
        )
        self._add_network(
            NetworkRec(new_id(), "none", NetworkDriver.NULL, created, predefined=True)
        )

    def _add_network(self, net: NetworkRec) -> None:
        self.network_recs[net.id] = net
        self._net_names[net.name] = net.id

    @property
    def port_range(self) -> tuple[int, int]:
        return self._shown_range

    @property
    def publish_range(self) -> tuple[int, int]:
        """Where this engine's host ports come from: the port range, or a slice of it."""
        return self._ports.range

    def _check_open(self) -> None:
        if self._closed:
            raise EngineUnavailable(
                "The simulated engine is closed",
                "close() stopped it and its listeners",
                "create a new one: labkit.connect() or SimulatedEngine()",
            )

    # -- the image -------------------------------------------------------------------------

    def _check_image(self, image: str) -> None:
        if image in (LAB_IMAGE, LabImage.id(), LabImage.id()[7:]) or (
            len(image) >= 12 and LabImage.id()[7:].startswith(image)
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

    # -- what the app serves ------------------------------------------------------------------

    def serves_app(self, rec: ContainerRec) -> bool:
        """Whether the lab app answers in ``rec`` (on `none` too: it listens on the loopback,
        the one interface there is)."""
        return rec.running and rec.cmd == APP_CMD

    def page(self, rec: ContainerRec, client: str) -> str:
        """The lab app's page as ``rec`` would serve it to ``client``."""
        ips = [str(ep.ip) for _dev, ep, _net in interfaces(rec, self.network_recs)]
        return app.render_page(ips[0] if ips else "", rec.hostname, client, ips)

    # -- events and models -------------------------------------------------------------------

    def _emit(self, rec: ContainerRec, action: str, **attrs: str) -> None:
        attributes = {**LabImage.labels(), **rec.labels, "image": rec.image, "name": rec.name}
        attributes.update(attrs)
        self._events.emit(
            container_event(action, rec.id, rec.image, dict(sorted(attributes.items())))
        )

    def _model(self, rec: ContainerRec, *, summary: bool = False) -> Container:
        return views.container_model(
            rec, self.network_recs, LabImage.labels(), self.generation, summary=summary
        )

    def _net_model(self, net: NetworkRec) -> Network:
        return views.network_model(net, self.container_recs, self.generation)


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
