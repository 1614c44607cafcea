"""Networks: ``docker network ls | inspect | create | connect | disconnect | rm``, and the
endpoints a container's start makes on them (an address, a MAC, the next ethN)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence

from labkit.engine._checks import (
    PREDEFINED_NETWORKS,
    already_connected,
    check_gateway,
    check_name,
    check_subnet,
    host_network_is_fixed,
    name_in_use,
    network_in_use,
    none_and_another,
    not_connected,
    predefined_network,
    subnet_overlaps,
)
from labkit.engine.sim import inspect as raw
from labkit.engine.sim import routing
from labkit.engine.sim.events import network_event
from labkit.engine.sim.ipam import AddressPool, endpoint_mac, new_id
from labkit.engine.sim.publishing import Publishing
from labkit.engine.sim.state import ContainerRec, EndpointRec, NetworkDriver, NetworkRec, now_iso
from labkit.errors import InvalidInput
from labkit.generation import Generation
from labkit.models import Network

__all__ = ["Networks"]


class Networks(Publishing):
    # -- endpoints ---------------------------------------------------------------------------

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
                # Made on the host, then moved: both ends take a host number (seen on 20.10.24:
                # pair 3/4, bridge 5, pair 6/7); on 28 only the host end does.
                ep.ifindex = next(self._host_ifindex)
                ep.peer = next(self._host_ifindex)
            ep.dev = f"eth{rec.next_dev}"
            rec.next_dev += 1
        net.members[rec.id] = None
        self._events.emit(network_event("connect", net.id, net.name, net.driver, rec.id))

    def _leave(self, rec: ContainerRec, ep: EndpointRec, net: NetworkRec) -> None:
        if net.pool is not None and ep.ip is not None:
            net.pool.release(ep.ip)
        ep.ip, ep.mac, ep.endpoint_id, ep.ifindex, ep.dev = None, "", "", 0, ""
        if net.members.pop(rec.id, "gone") is None:
            self._events.emit(network_event("disconnect", net.id, net.name, net.driver, rec.id))

    # -- the network API ---------------------------------------------------------------------

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
                NetworkDriver.BRIDGE,
                now_iso(time.time()),
                labels=dict(labels or {}),
                options=options,
                pool=pool,
                gateway_given=gateway_given,
                ifindex=next(self._host_ifindex),
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
                    # A network whose name sorts first takes over the gateway endpoint.
                    self._republish(rec)

    def disconnect(self, network: str, container: str) -> None:
        with self._lock:
            self._check_open()
            rec = self._find(container)
            net = self._find_net(network)
            if net.driver is NetworkDriver.HOST or rec.network_mode == "host":
                raise host_network_is_fixed(rec.name)
            ep = rec.endpoints.get(net.id)
            if ep is None:
                raise not_connected(rec.name, net.name, rec.id)
            self._leave(rec, ep, net)
            del rec.endpoints[net.id]
            if rec.running and rec.port_network == net.id:
                # The ports leave with that endpoint; the next network (if any) publishes anew.
                self._republish(rec)

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


def _check_driver(driver: str) -> None:
    if driver == NetworkDriver.BRIDGE:
        return
    if driver in (NetworkDriver.HOST, NetworkDriver.NULL):
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
    if net.driver is NetworkDriver.HOST or rec.network_mode == "host":
        raise host_network_is_fixed(rec.name, joining_other=net.driver is not NetworkDriver.HOST)
    if net.driver is NetworkDriver.NULL or rec.network_mode == "none":
        raise none_and_another(rec.name)
