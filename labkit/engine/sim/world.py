"""The modelled world's rules, written once: the engine (publishing, the page's addresses,
``model_http``), the container shell, the host's commands and the routing model all ask here.

- the gateway endpoint: of a container's endpoints with an address, the one on the network
  whose name sorts first; it carries the default route and the published ports;
- interface order: a container's addresses in the order its interfaces were made, as
  ``ip addr`` lists them;
- who answers at an address: the network whose subnet holds it and the running container
  that has it there (none: the bridge finds no one, or it is the gateway's).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from labkit.engine.sim.state import ContainerRec, EndpointRec, NetworkRec

__all__ = [
    "bridge_name",
    "gateway_endpoint",
    "interfaces",
    "live_endpoints",
    "network_name",
    "who_answers",
]


def network_name(ep: EndpointRec, networks: Mapping[str, NetworkRec]) -> str:
    """The name of the endpoint's network ("" once it is gone)."""
    net = networks.get(ep.network_id)
    return net.name if net is not None else ""


def gateway_endpoint(
    endpoints: Iterable[EndpointRec], networks: Mapping[str, NetworkRec]
) -> EndpointRec | None:
    """The engine's gateway endpoint among ``endpoints``: of those with an address, the one
    whose network's name sorts first (None: no address at all)."""
    live = [ep for ep in endpoints if ep.ip is not None]
    return min(live, key=lambda ep: network_name(ep, networks), default=None)


def interfaces(
    rec: ContainerRec, networks: Mapping[str, NetworkRec]
) -> list[tuple[str, EndpointRec, NetworkRec]]:
    """(ethN, endpoint, network) for each address the running container has, in the order the
    interfaces were made (as `ip addr` lists them)."""
    if not rec.running:
        return []
    result = []
    for ep in sorted(rec.endpoints.values(), key=lambda ep: ep.ifindex):
        net = networks.get(ep.network_id)
        if net is not None and ep.ip is not None:
            result.append((ep.dev, ep, net))
    return result


def live_endpoints(
    containers: Mapping[str, ContainerRec], networks: Mapping[str, NetworkRec]
) -> list[tuple[ContainerRec, EndpointRec, NetworkRec]]:
    """Every running container's endpoints that have an address, container by container."""
    found = []
    for rec in containers.values():
        if not rec.running:
            continue
        for ep in rec.endpoints.values():
            net = networks.get(ep.network_id)
            if net is not None and net.pool is not None and ep.ip is not None:
                found.append((rec, ep, net))
    return found


def who_answers(
    target: ipaddress.IPv4Address,
    containers: Mapping[str, ContainerRec],
    networks: Mapping[str, NetworkRec],
) -> tuple[NetworkRec | None, ContainerRec | None, EndpointRec | None]:
    """Who has ``target``: (the network whose subnet holds it, the running container with that
    address there, its endpoint); (net, None, None) when nobody on that network has it (or it
    is the gateway's, the engine host's own); (None, None, None) outside every network."""
    for net in networks.values():
        if net.pool is None or target not in net.pool.subnet:
            continue
        for cid in net.members:
            rec = containers.get(cid)
            ep = rec.endpoints.get(net.id) if rec else None
            if rec is not None and ep is not None and ep.ip == target and rec.running:
                return net, rec, ep
        return net, None, None
    return None, None, None


def bridge_name(net: NetworkRec) -> str:
    """The Linux bridge behind a network: docker0, or br- and the first 12 digits of its ID."""
    return net.options.get("com.docker.network.bridge.name") or f"br-{net.id[:12]}"
