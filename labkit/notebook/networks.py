"""Notebook 03's pictures: what ``docker network ls`` / ``network inspect`` / ``inspect`` just
printed, as tables with the student's own rows first, and what the student's engine generation
does differently (the keys Engine 28 adds, the MAC, the gateway network) — each computed from
the student's engine, never written down for one generation.
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Iterable

from IPython.display import HTML

from labkit.check import remember, remember_container, remember_network
from labkit.errors import NotFound
from labkit.lab import Lab
from labkit.notebook.layout import side_by_side, table, table_html
from labkit.notebook.tables import (
    LabTable,
    config_table,
    container_networks_table,
    endpoints_table,
    networks_table,
)

__all__ = [
    "network_ls",
    "network_inspect",
    "container_networks",
    "ENGINE28_NETWORK_KEYS",
    "ENGINE28_ENDPOINT_KEYS",
]

# Keys Engine 28's inspect JSON has and 20.10's lacks (measured on 28.5.2 beside 20.10.24).
ENGINE28_NETWORK_KEYS = ("EnableIPv4",)
ENGINE28_ENDPOINT_KEYS = ("GwPriority", "DNSNames")


def _note(text: str) -> str:
    return (
        "<div class='labkit-engine-note' style='font-family:sans-serif;font-size:12px;"
        f"border-left:4px solid #0d47a1;padding:2px 8px;margin:4px 0'>{text}</div>"
    )


def network_ls(lab: Lab) -> HTML:
    """The networks ``docker network ls`` listed, as a table: the built-in three and the
    student's own first, other students' folded."""
    networks = lab.networks()
    for n in networks:
        if n.name in ("bridge", "host", "none") or n.name.startswith(f"{lab.namespace}-"):
            remember_network(lab, n)
    return table(networks_table(networks), lab, what="networks")


def network_inspect(lab: Lab, name: str) -> HTML:
    """``docker network inspect NAME`` as its two halves — configuration and the containers
    attached (the student's first, the others folded) — and what this engine's JSON has that
    the other generation's lacks."""
    network = lab.network(name)
    remember_network(lab, network)
    raw = lab.engine.inspect_network(network.id)
    info = lab.engine.info()
    has = [k for k in ENGINE28_NETWORK_KEYS if k in raw]
    endpoint_keys: set[str] = set()
    # One container's endpoint shows the keys (every endpoint has the same): a member of this
    # network if it has one, else any of the student's.
    members = list(raw.get("Containers") or {}) or [c.id for c in lab.containers()]
    for ref in members:
        try:
            settings = lab.engine.inspect_container(ref).get("NetworkSettings") or {}
        except NotFound:
            continue  # removed since the listing (a terminal's `docker rm`)
        for att in (settings.get("Networks") or {}).values():
            endpoint_keys |= set(att)
        break
    has += [k for k in ENGINE28_ENDPOINT_KEYS if k in endpoint_keys]
    keys = ", ".join(f"<code>{k}</code>" for k in has)
    if has:
        note = (
            f"Docker Engine {html.escape(info.version)}: the JSON has keys Engine 20.10 lacks "
            f"({keys}; <code>GwPriority</code> and <code>DNSNames</code> sit in each "
            "container's <code>docker inspect</code>, under NetworkSettings.Networks)."
        )
    else:
        note = (
            f"Docker Engine {html.escape(info.version)}: none of the keys Engine 28 adds "
            f"({', '.join(ENGINE28_NETWORK_KEYS + ENGINE28_ENDPOINT_KEYS)}) appear here."
        )
    if not network.gateway and network.name == "bridge":
        note += (
            " No <code>Gateway</code> under IPAM.Config: Engine 20.10 leaves it out after the "
            "daemon's first start (moby/moby#26799); docker0's address is still the gateway."
        )
    body = side_by_side(
        config_table(network),
        endpoints_table(network),
        titles=("configuration", "containers (endpoints)"),
        lab=lab,
    )
    return HTML(body.data + _note(note))


def container_networks(lab: Lab, names: Iterable[str]) -> HTML:
    """Each container's networks as ``docker inspect`` shows them (NetworkMode, addresses,
    gateway, MAC, ports), one row per network, and what this engine does with MACs and with a
    container on more than one network."""
    rows = []
    containers = [lab.container(n) for n in names]
    for c in containers:
        remember_container(lab, c)
        mode = lab.engine.inspect_container(c.name)["HostConfig"]["NetworkMode"]
        frame = container_networks_table(c)
        ports = " ".join(
            f"{b.host_ip or '*'}:{b.host_port}->{b.key}" for b in c.ports if b.published
        )
        for record in frame.to_dict("records"):
            rows.append({"container": c.name, "NetworkMode": mode, **record, "ports": ports or "—"})
        if frame.empty:
            rows.append({"container": c.name, "NetworkMode": mode, "ports": ports or "—"})
    frame = LabTable(rows).fillna("—")
    notes = [_mac_note(lab, containers), _gateway_note(lab, containers)]
    return HTML(table_html(frame, lab, what="containers") + "".join(_note(n) for n in notes if n))


def _derived_mac(ip: str) -> str:
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


def _mac_note(lab: Lab, containers: list) -> str:
    for c in containers:
        for att in c.networks:
            if att.ip and att.mac:
                derived = att.mac.lower() == _derived_mac(att.ip)
                remember(lab, f"mac:{_short(lab, c.name)}.derived", derived)
                how = (
                    f"is 02:42 followed by its IP {att.ip} in hex: this engine derives MACs from "
                    "addresses (Engine 20.10 does)"
                    if derived
                    else f"has nothing of its IP {att.ip} in it: this engine makes MACs random "
                    "(Engine 28 does)"
                )
                return f"MAC: {html.escape(c.name)}'s <code>{att.mac}</code> {how}."
    return ""


def _gateway_note(lab: Lab, containers: list) -> str:
    for c in containers:
        nets = [a for a in c.networks if a.network not in ("host", "none")]
        if len(nets) > 1:
            raw = lab.engine.inspect_container(c.name)["NetworkSettings"]["Networks"]
            prios = {a.network: raw.get(a.network, {}).get("GwPriority") for a in nets}
            first = sorted(nets, key=lambda a: (-(prios[a.network] or 0), a.network))[0]
            rule = (
                "the highest <code>GwPriority</code> wins (<code>--gw-priority</code>), and at "
                "equal priority the network whose name sorts first"
                if any(p is not None for p in prios.values())
                else "the network whose name sorts first"
            )
            return (
                f"{html.escape(c.name)} is on {len(nets)} networks: its default route and "
                f"published ports go through one, chosen by {rule}: here "
                f"<b>{html.escape(first.network)}</b>."
            )
    return ""


def _short(lab: Lab, name: str) -> str:
    prefix = f"{lab.namespace}-"
    return name[len(prefix) :] if name.startswith(prefix) else name
