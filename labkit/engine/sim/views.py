"""The simulator's records as labkit's frozen models: the ``Container`` and ``Network`` the
Docker backend would build from the engine's JSON for the same state."""

from __future__ import annotations

from collections.abc import Mapping

from labkit import host
from labkit.engine.sim import inspect as raw
from labkit.engine.sim.state import ContainerRec, EndpointRec, NetworkRec
from labkit.generation import Generation
from labkit.models import Attachment, Container, Endpoint, Network, PortBinding

__all__ = ["container_model", "network_model", "is_ipv6"]


def is_ipv6(host_ip: str) -> bool:
    return ":" in host_ip


def container_model(
    rec: ContainerRec,
    networks: Mapping[str, NetworkRec],
    image_labels: Mapping[str, str],
    generation: Generation,
    *,
    summary: bool = False,
) -> Container:
    """The Container the Docker backend would build from the engine's JSON (``summary``:
    from the list endpoint, which carries no aliases, exit code or start time)."""
    attachments = []
    for net_id, ep in rec.endpoints.items():
        net = networks.get(net_id)
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
                aliases=() if summary else tuple(_aliases_shown(rec, ep, generation)),
            )
        )
    attachments.sort(key=lambda a: a.network)
    return Container(
        id=rec.id,
        name=rec.name,
        image=rec.image,
        status=str(rec.status),
        labels={**image_labels, **rec.labels},
        ports=_port_models(rec),
        networks=tuple(attachments),
        network_mode=rec.network_mode,
        exit_code=0 if summary else rec.exit_code,
        restart_count=0 if summary else rec.restart_count,
        started_at="" if summary else rec.started_at,
    )


def _aliases_shown(rec: ContainerRec, ep: EndpointRec, generation: Generation) -> list[str]:
    """``Aliases`` as inspect shows it: 28 keeps only the user's (the short ID and name
    moved to ``DNSNames``); 20.10 lists the short ID too."""
    if generation.lists_dns_names:
        return raw.user_aliases(rec, ep)
    return list(ep.aliases or ())


def _port_models(rec: ContainerRec) -> tuple[PortBinding, ...]:
    if not rec.running or rec.network_mode in ("host", "none") or not rec.port_network:
        return ()
    result = []
    for port, proto in sorted(rec.exposed):
        bindings = rec.published.get((port, proto)) or []
        v4 = [b for b in bindings if not is_ipv6(b[0])]
        v6 = [b for b in bindings if is_ipv6(b[0])]
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


def network_model(
    net: NetworkRec, containers: Mapping[str, ContainerRec], generation: Generation
) -> Network:
    data = raw.network_json(net, containers, generation)
    config = (data["IPAM"]["Config"] or [{}])[0]
    return Network(
        id=net.id,
        name=net.name,
        driver=str(net.driver),
        scope="local",
        subnet=config.get("Subnet", ""),
        # The engine leaves Gateway out of a given subnet's config: .1 is what it assigns.
        gateway=config.get("Gateway") or host.default_gateway(config.get("Subnet", ""), net.driver),
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
