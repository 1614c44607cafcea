"""Topology diagrams: what the lab text draws in words, as a plotly figure.

A figure is a pure function of a ``Snapshot`` (plain data taken from the engine in one place), so
the same lab always gives the same picture. The layout works in pixels: the figure has a fixed
size and one axis unit is one pixel, which is what lets us promise (and test) that no two labels
overlap. Columns are networks (at most ``MAX_COLS`` a band, bands stacked); rows are containers
hanging off a network's bus line; a column longer than its cap ends in a "+N more" node.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import plotly.graph_objects as go

from labkit.check import remember_container
from labkit.engine.base import Engine
from labkit.errors import NotFound
from labkit.lab import Lab
from labkit.models import Attachment, Container, EngineInfo, Network, PortBinding
from labkit.progress import is_marker

__all__ = [
    "Snapshot",
    "Change",
    "Node",
    "Edge",
    "Graph",
    "snapshot",
    "changes",
    "layout",
    "topology_figure",
    "diff_figure",
    "topology",
    "label_boxes",
    "mimebundle",
    "figure_spec",
    "LEGEND",
]

# Geometry, in pixels (= axis units).
PAD = 20
COL_W = 240
MAX_COLS = 4
ROW_H = 56
TOP_H = 150  # the browser and host rows above the first band
MARK_DX = 20  # a column's bus line / markers sit this far into the column
TEXT_DX = 32  # labels start here, right of the markers
UPLINK_DX = 4  # host-to-network edges run down the column's left gutter ...
GUTTER_DX = 10  # ... and port edges beside them, so neither crosses a label
UPLINK_FAN_DY = 42  # above a band's network row: where uplinks run level to their gutter ...
PORT_FAN_DY = 34  # ... and published ports, on a level of their own
CLIENT_DX = 8  # the browser-to-host edge leaves the browser's marker at its left tip
NODE_R = 8  # about half a node marker: where an edge ends at a marker's rim
FONT = 11
SMALL = 10

_COLORS = {
    "client": "#5c6bc0",
    "host": "#37474f",
    "network": "#00897b",
    "container": "#1e88e5",
    "stopped": "#9e9e9e",
    "more": "#bdbdbd",
    "port": "#ef6c00",
    "member": "#80cbc4",
    "uplink": "#90a4ae",
    "route": "#2e7d32",
    "route-off": "#9e9e9e",
    "client-edge": "#c5cae9",
    "changed": "#d81b60",
    "added": "#43a047",
}
_BUILTIN_ORDER = {"bridge": 0, "host": 2, "none": 3}


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Everything a diagram shows, taken at one moment. Build it with ``snapshot()`` or by hand."""

    info: EngineInfo
    networks: tuple[Network, ...]
    containers: tuple[Container, ...]
    route: bool = False  # draw the lab text's `route add 172.17.0.0/16 via <host>` edge
    namespace: str = ""  # a Lab's prefix, hidden from labels ("alice-myapp2" shows as "myapp2")
    focus: tuple[str, ...] = ()  # container names always shown, even in a summarised column


@dataclass(frozen=True)
class Change:
    """One difference between two snapshots of a container."""

    kind: str  # port | ip | added | removed | status
    container: str
    key: str = ""  # the port (80/tcp) or network (bridge) that changed
    old: str = ""
    new: str = ""

    def __str__(self) -> str:
        if self.kind in ("added", "removed"):
            return f"{self.container} {self.kind}"
        return f"{self.container} {self.kind} {self.key}: {self.old or '—'} → {self.new or '—'}"


@dataclass(frozen=True)
class Node:
    id: str  # client | host | network:<name> | container:<name> | more:<network>
    kind: str
    x: float
    y: float
    label: str  # plotly pseudo-HTML, already escaped
    hover: str
    color: str
    changed: str = ""  # "", "changed" or "added": drawn with a ring


@dataclass(frozen=True)
class Edge:
    kind: str  # client | uplink | member | port | route
    source: str
    target: str
    label: str = ""
    points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class LegendItem:
    """One entry of the legend under the diagram: a sample mark at (x, y), its text right of it."""

    kind: str  # an edge kind (client, uplink, member, port, route), a node kind, or "changed"
    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    # Edge labels placed where the edge ends: (x, y, text, color, hover).
    edge_labels: tuple[tuple[float, float, str, str, str], ...]
    width: int
    height: int
    title: str
    changes: tuple[Change, ...] = field(default=())
    legend: tuple[LegendItem, ...] = field(default=())

    def node_ids(self) -> set[str]:
        return {n.id for n in self.nodes}

    def edge_set(self, kind: str | None = None) -> set[tuple[str, str, str]]:
        return {(e.source, e.target, e.label) for e in self.edges if kind in (None, e.kind)}


def snapshot(
    source: Engine | Lab,
    *,
    route: bool = False,
    focus: Sequence[str] = (),
    networks: Sequence[Network] | None = None,
) -> Snapshot:
    """Read the engine once. For a Lab: the student's containers, and only the networks they
    touch plus the built-in bridge, host and none (one read each: on a shared engine the other
    students' networks are none of this diagram's business); for an Engine: everything on it.

    ``networks`` hands in networks read before (a restart changes containers, not networks):
    then only the containers are read, and any network they joined since.
    """
    if isinstance(source, Lab):
        engine, namespace = source.engine, source.namespace
        containers = [c for c in source.containers() if not is_marker(c.labels)]
        used = {a.network for c in containers for a in c.networks}
        known = {n.name: n for n in networks or ()}
        wanted = [*_BUILTIN_ORDER, *sorted(used - set(_BUILTIN_ORDER))]
        found = []
        for name in wanted:
            if name in known:
                found.append(known[name])
                continue
            try:
                found.append(engine.network(name))
            except NotFound:
                continue  # removed meanwhile, or an engine started with --bridge=none
        focus = tuple(source.name(f) for f in focus)
    else:
        engine, namespace = source, ""
        containers = source.containers()
        found = list(networks) if networks is not None else source.networks()
    return Snapshot(
        info=engine.info(),
        networks=tuple(found),
        containers=tuple(containers),
        route=route,
        namespace=namespace,
        focus=tuple(focus),
    )


def changes(before: Snapshot, after: Snapshot) -> tuple[Change, ...]:
    """Host ports that moved, IPs that changed, containers added, removed, stopped or started."""
    old = {c.name: c for c in before.containers}
    new = {c.name: c for c in after.containers}
    found: list[Change] = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None:
            found.append(Change("added", name))
            continue
        if b is None:
            found.append(Change("removed", name))
            continue
        if a.status != b.status:
            found.append(Change("status", name, "", a.status, b.status))
        for key in sorted({p.key for p in a.ports} | {p.key for p in b.ports}):
            pa, pb = _port(a, key), _port(b, key)
            ha = pa.host_port if pa else None
            hb = pb.host_port if pb else None
            if ha != hb:
                found.append(Change("port", name, key, _host_addr(pa), _host_addr(pb)))
        nets = sorted({x.network for x in a.networks} | {x.network for x in b.networks})
        for net in nets:
            ia, ib = _ip(a, net), _ip(b, net)
            if ia != ib:
                found.append(Change("ip", name, net, ia, ib))
    return tuple(found)


# -- layout ----------------------------------------------------------------------------------


def layout(snap: Snapshot, *, before: Snapshot | None = None) -> Graph:
    """Place nodes, edges and labels in pixels. Pure: the same input gives the same Graph."""
    diff = changes(before, snap) if before is not None else ()
    info = snap.info
    networks = sorted(snap.networks, key=_network_order)
    ncols = max(1, min(MAX_COLS, len(networks)))
    bands = max(1, math.ceil(len(networks) / ncols))
    cap = 8 if bands <= 2 else 6
    homes = _homes(snap.containers, networks)
    focus = set(snap.focus)

    nodes: list[Node] = []
    edges: list[Edge] = []
    labels: list[tuple[float, float, str, str, str]] = []
    width = 2 * PAD + ncols * COL_W

    # The route edge's label sits at its start, under the browser, like port labels at their end.
    route_net = _route_target(networks) if snap.route else None
    route_text = _route_label(info, route_net) if route_net is not None else ""
    client_label = "<b>your browser</b>" + _gray(" · opens published ports" + _via(info))
    if route_text:
        color = _COLORS["route" if info.bridge_reachable else "route-off"]
        client_label += f"<br><span style='color:{color}'>{route_text}</span>"
    client = Node(
        "client",
        "client",
        PAD + MARK_DX,
        -30.0,
        client_label,
        _client_hover(info, bool(route_text)),
        _COLORS["client"],
    )
    host_x = PAD + COL_W + MARK_DX if ncols > 1 else PAD + MARK_DX + 120
    host = Node(
        "host", "host", float(host_x), -95.0, _host_label(info), _host_hover(info), _COLORS["host"]
    )
    nodes += [client, host]
    # Down then across, so the edge never runs under the browser's label; it leaves the marker
    # at its left tip, so the route can leave from its bottom tip on a line of its own.
    cx = client.x - CLIENT_DX
    elbow = ((cx, client.y), (cx, host.y), (host.x - 10, host.y))
    edges.append(Edge("client", "client", "host", "", elbow))

    by_change = _index_changes(diff)
    y_top = -TOP_H
    # Edges leave the host straight down, then run level to their column's gutter: uplinks on
    # one level, published ports on another, so the two never share a segment, and the route
    # (straight down into the bridge's top) crosses each at a right angle, well above the node.
    y_uplink = y_top - 20 + UPLINK_FAN_DY
    y_port = y_top - 20 + PORT_FAN_DY
    net_nodes: dict[str, Node] = {}
    placed: dict[str, Node] = {}
    pending_members: list[tuple[str, str]] = []
    for band in range(bands):
        band_nets = networks[band * ncols : (band + 1) * ncols]
        y_net = y_top - 20
        deepest = y_net
        for col, net in enumerate(band_nets):
            x0 = PAD + col * COL_W
            mx = x0 + MARK_DX
            nnode = Node(
                f"network:{net.name}",
                "network",
                float(mx),
                float(y_net),
                _network_label(net, snap.namespace),
                _network_hover(net, snap),
                _COLORS["network"],
            )
            nodes.append(nnode)
            net_nodes[net.name] = nnode
            if net.driver != "null":
                iface = net.bridge_name or ("host's stack" if net.driver == "host" else net.driver)
                gx = x0 + UPLINK_DX  # into the marker from the left, never across its label
                path: tuple[tuple[float, float], ...] = (
                    (host.x, host.y),
                    (host.x, y_uplink),
                    (gx, y_uplink),
                    (gx, y_net),
                    (mx, y_net),
                )
                edges.append(Edge("uplink", "host", nnode.id, iface, path))
            members = sorted(homes.get(net.name, []), key=lambda c: (c.name not in focus, c.name))
            shown = members if len(members) <= cap else members[: cap - 1]
            y = y_net - 62
            last_y = y_net
            for c in shown:
                cnode = _container_node(c, net.name, mx, y, snap.namespace, by_change)
                nodes.append(cnode)
                placed[c.name] = cnode
                edges.append(Edge("member", nnode.id, cnode.id, "", ((mx, y_net), (mx, y))))
                port_label = _port_label(c, by_change)
                if port_label:
                    gx = x0 + GUTTER_DX
                    path = ((host.x, host.y), (host.x, y_port), (gx, y_port), (gx, y), (mx - 7, y))
                    edges.append(Edge("port", "host", cnode.id, _plain(port_label), path))
                    labels.append(
                        (x0 + TEXT_DX, y - 22, port_label, _COLORS["port"], _ports_hover(c))
                    )
                last_y = y
                y -= ROW_H
            if len(members) > len(shown):
                rest = members[len(shown) :]
                more = Node(
                    f"more:{net.name}",
                    "more",
                    float(mx),
                    float(y),
                    f"<b>+{len(rest)} more</b>"
                    + _gray(f" on {_esc(_short(net.name, snap.namespace))}"),
                    _more_hover(rest, snap.namespace),
                    _COLORS["more"],
                )
                nodes.append(more)
                edges.append(Edge("member", nnode.id, more.id, "", ((mx, y_net), (mx, y))))
                last_y = y
            deepest = min(deepest, last_y)
            for c in members:
                for att in c.networks:
                    if att.network != net.name:
                        pending_members.append((att.network, c.name))
        y_top = deepest - 50

    # A container on a second network: a thin edge from that network to where it is drawn.
    for net_name, cname in sorted(set(pending_members)):
        if net_name in net_nodes and cname in placed:
            a, b = net_nodes[net_name], placed[cname]
            edges.append(Edge("member", a.id, b.id, "", ((a.x, a.y), (b.x, b.y))))

    if route_net is not None:
        tnode = net_nodes[route_net.name]
        # Into the node's top: the bridge sits first, under the browser, so this is one
        # straight line down; elsewhere it goes down, then across above the node's label.
        top = tnode.y + NODE_R
        if tnode.x == client.x:
            path = ((client.x, client.y - NODE_R), (tnode.x, top))
        else:
            path = (
                (client.x, client.y - NODE_R),
                (client.x, top + 14),
                (tnode.x, top + 14),
                (tnode.x, top),
            )
        edges.append(Edge("route", "client", tnode.id, _plain(route_text), path))

    legend, y_end = _legend(nodes, edges, width, y_top + 14)
    return Graph(
        nodes=tuple(nodes),
        edges=tuple(edges),
        edge_labels=tuple(labels),
        width=int(width),
        height=int(-y_end + 8),
        title=_title(snap, diff),
        changes=diff,
        legend=legend,
    )


# What each mark means, in the legend under the diagram, in this order.
LEGEND = {
    "client": "browser → Docker host",
    "uplink": "host → network (its Linux bridge)",
    "port": "published port: host port → container port",
    "route": "route to the bridge subnet (the lab text's route add)",
    "member": "container on a network",
    "host": "Docker host",
    "network": "network",
    "container": "container (grey: stopped)",
    "more": "more containers, folded",
    "changed": "changed since the last look",
}
_SAMPLE_W = 22  # a legend entry's sample line or marker, before its text
_LEGEND_ROW = 18


def _legend(
    nodes: Sequence[Node], edges: Sequence[Edge], width: float, y: float
) -> tuple[tuple[LegendItem, ...], float]:
    """Entries for the kinds this diagram draws, in rows that fit its width; and where they end."""
    present = {e.kind for e in edges} | {n.kind for n in nodes}
    if any(n.changed for n in nodes):
        present.add("changed")
    items, x = [], float(PAD)
    y -= _LEGEND_ROW / 2
    for kind, text in LEGEND.items():
        if kind not in present:
            continue
        need = _SAMPLE_W + 6 + _text_width(text, SMALL) + 18
        if x + need > width - PAD / 2 and x > PAD:
            x, y = float(PAD), y - _LEGEND_ROW
        items.append(LegendItem(kind, text, x, y))
        x += need
    return tuple(items), y - _LEGEND_ROW / 2


def _homes(
    containers: Iterable[Container], networks: Sequence[Network]
) -> dict[str, list[Container]]:
    """Each container is drawn once, under the first of its networks in column order."""
    order = {n.name: i for i, n in enumerate(networks)}
    homes: dict[str, list[Container]] = {}
    for c in containers:
        names = [a.network for a in c.networks if a.network in order]
        if not names and c.network_mode in order:
            names = [c.network_mode]
        if not names:
            names = ["none"] if "none" in order else []
        if names:
            homes.setdefault(min(names, key=order.__getitem__), []).append(c)
    return homes


def _network_order(n: Network) -> tuple[int, str]:
    return (_BUILTIN_ORDER.get(n.name, 1), n.name)


def _route_target(networks: Sequence[Network]) -> Network | None:
    for n in networks:
        if n.name == "bridge":
            return n
    return next((n for n in networks if n.driver == "bridge"), None)


# -- labels and hover ------------------------------------------------------------------------


def _container_node(
    c: Container, net: str, x: float, y: float, namespace: str, by_change: dict
) -> Node:
    att = c.attachment(net) or c.attachment()
    ip_change = by_change.get(("ip", c.name, net))
    if not c.running:
        line2 = _gray(f"{_esc(c.status)} · no IP")
    elif net == "host" or c.network_mode == "host":
        line2 = _gray("shares the host's stack")
    elif net == "none" or not att or not att.ip:
        line2 = _gray("loopback only")
    elif ip_change is not None:
        line2 = f"<s>{_esc(ip_change.old or '—')}</s> → <b>{_esc(att.ip)}</b>"
    else:
        line2 = f"{_esc(att.ip)}  " + _gray(_esc(att.mac))
    name = _fit(_short(c.name, namespace), COL_W - TEXT_DX - 8, FONT, bold=True)
    flagged = ""
    if ("added", c.name, "") in by_change:
        flagged = "added"
    elif any(k[1] == c.name for k in by_change):
        flagged = "changed"
    color = _COLORS["container" if c.running else "stopped"]
    return Node(
        f"container:{c.name}",
        "container",
        float(x),
        float(y),
        f"<b>{_esc(name)}</b><br>{line2}",
        _container_hover(c),
        color,
        flagged,
    )


def _port_label(c: Container, by_change: dict) -> str:
    published = [p for p in c.ports if p.published]
    if not published:
        return ""
    p = published[0]
    moved = by_change.get(("port", c.name, p.key))
    if moved is not None and moved.old:
        old_port = moved.old.rsplit(":", 1)[-1]
        text = f"<s>{_esc(old_port)}</s> → <b>{_esc(_host_addr(p))}</b> → {p.key}"
    else:
        text = f"{_esc(_host_addr(p))} → {p.key}"
    if len(published) > 1:
        text += f" +{len(published) - 1}"
    return text


def _host_addr(p: PortBinding | None) -> str:
    if p is None or not p.published:
        return ""
    if p.host_port is not None:
        return f"{p.host_ip or '0.0.0.0'}:{p.host_port}"
    return f"[{p.ipv6_host_ip or '::'}]:{p.ipv6_host_port}"


def _host_label(info: EngineInfo) -> str:
    fwd = {True: "ip_forward=1", False: "ip_forward=0", None: "ip_forward=?"}[info.ip_forward]
    sim = _gray(" (simulated)") if info.simulated else ""
    bridge = f"{_esc(info.bridge_name)} {_esc(info.bridge_address or '?')}"
    return f"<b>Docker host</b> {_esc(info.host)}{sim}<br>{bridge} · {fwd}"


def _host_hover(info: EngineInfo) -> str:
    lines = [
        f"<b>{_esc(info.description)}</b>",
        f"published ports are reached at {_esc(info.host)}",
        f"bridge {_esc(info.bridge_name)}: {_esc(info.bridge_address or 'unknown')}",
        f"ip_forward: {'unknown' if info.ip_forward is None else int(info.ip_forward)}",
        f"ephemeral port range: {info.port_range[0]}–{info.port_range[1]}",
        f"bridge IPs reachable from here: {'yes' if info.bridge_reachable else 'no'}",
        _esc(info.bridge_reason),
    ]
    return "<br>".join(x for x in lines if x)


def _via(info: EngineInfo) -> str:
    return " on localhost" if info.local else f" at {_esc(info.host)}"


def _client_hover(info: EngineInfo, route: bool) -> str:
    text = (
        "The browser you read this in.<br>"
        f"It reaches published ports at {_esc(info.host)}"
        " (or through the Jupyter proxy on a hub),<br>"
        "and bridge IPs only with a route to the host's bridge."
    )
    if route:
        text += f"<br>route: {_esc(info.bridge_reason)}"
    return text


def _network_label(n: Network, namespace: str) -> str:
    name = _fit(_short(n.name, namespace), 110, FONT, bold=True)
    if n.driver == "host":
        detail = "the host's own stack"
    elif n.driver == "null":
        detail = "loopback only"
    else:
        detail = f"{n.subnet or '?'} · gw {n.gateway or '?'}"
    if n.bridge_name:
        iface = f" · {_esc(_fit(n.bridge_name, 90, FONT))}"
    elif n.name in ("host", "none"):
        iface = ""  # the driver would only repeat the name
    else:
        iface = _gray(f" · {_esc(n.driver)}")
    return f"<b>{_esc(name)}</b>{iface}<br>" + _gray(_esc(detail))


def _network_hover(n: Network, snap: Snapshot) -> str:
    shown = {c.name for c in snap.containers}
    others = sum(1 for e in n.endpoints if e.container_name not in shown)
    lines = [
        f"<b>network {_esc(n.name)}</b> ({_esc(n.short_id)})",
        f"driver {_esc(n.driver)}, scope {_esc(n.scope)}",
        f"subnet {_esc(n.subnet or '—')}, gateway {_esc(n.gateway or '—')}",
        f"Linux bridge: {_esc(n.bridge_name)}" if n.bridge_name else "",
        f"{len(n.endpoints)} endpoint(s)"
        + (f", {others} not in this lab (not drawn)" if others else ""),
    ]
    return "<br>".join(x for x in lines if x)


def _container_hover(c: Container) -> str:
    lines = [
        f"<b>{_esc(c.name)}</b> ({_esc(c.short_id)})",
        f"image {_esc(c.image)} · {_esc(c.status)}",
    ]
    for a in c.networks:
        addr = f"{a.ip}/{a.prefix_len}" if a.ip else "no IP"
        lines.append(
            f"{_esc(a.network)}: {_esc(addr)} · MAC {_esc(a.mac or '—')}"
            f" · gw {_esc(a.gateway or '—')}"
        )
    lines.append(_ports_hover(c) or "no published ports")
    return "<br>".join(lines)


def _ports_hover(c: Container) -> str:
    return "<br>".join(_esc(line) for p in c.ports for line in p.docker_port_lines())


def _more_hover(rest: Sequence[Container], namespace: str) -> str:
    names = [_esc(_short(c.name, namespace)) for c in rest[:40]]
    tail = f"<br>… and {len(rest) - 40} more" if len(rest) > 40 else ""
    return f"{len(rest)} more containers:<br>" + "<br>".join(names) + tail


def _route_label(info: EngineInfo, net: Network) -> str:
    subnet = net.subnet or "172.17.0.0/16"
    if info.local and info.bridge_reachable:
        text = f"route {subnet} dev {net.bridge_name or info.bridge_name}"
    else:
        text = f"route {subnet} via {info.host}"
    return _esc(text) + ("" if info.bridge_reachable else " ✗")


def _title(snap: Snapshot, diff: Sequence[Change]) -> str:
    title = f"Lab topology — {_esc(snap.info.description)}"
    if snap.info.simulated:
        title += " <span style='color:#8a5a00'>(SIMULATED)</span>"
    if diff:
        shown = "; ".join(
            _esc(str(dataclasses.replace(c, container=_short(c.container, snap.namespace))))
            for c in diff[:3]
        )
        more = f" (+{len(diff) - 3})" if len(diff) > 3 else ""
        style = f"font-size:12px;color:{_COLORS['changed']}"
        title += f"<br><span style='{style}'>changed: {shown}{more}</span>"
    return title


# -- the figure ------------------------------------------------------------------------------


def topology_figure(snap: Snapshot, *, before: Snapshot | None = None) -> go.Figure:
    """The diagram of ``snap``; with ``before``, what changed since is marked."""
    return _figure(layout(snap, before=before))


def diff_figure(before: Snapshot, after: Snapshot) -> go.Figure:
    """``after`` drawn with the changes since ``before``: a moved port struck through and the new
    one in bold, a changed IP likewise, changed containers ringed."""
    return topology_figure(after, before=before)


def topology(
    source: Engine | Lab | Snapshot, *, route: bool = False, before: Snapshot | None = None
) -> go.Figure:
    """The one call a notebook makes: ``topology(lab)`` or ``topology(lab, route=True)``.
    For a Lab, what the diagram shows of each container is recorded for the checks."""
    snap = source if isinstance(source, Snapshot) else snapshot(source, route=route)
    if isinstance(source, Lab):
        for c in snap.containers:
            remember_container(source, c)
    return topology_figure(snap, before=before)


def _figure(g: Graph) -> go.Figure:
    return go.Figure(figure_spec(g))


def figure_spec(g: Graph) -> dict:
    """The figure as plain plotly JSON: what ``mimebundle`` sends, built without plotly's
    per-property validation (which takes most of a figure's time: 30-70 ms here)."""
    traces: list[dict] = []
    # Edges first so nodes and labels sit on top. One trace per kind, None between segments.
    styles = {
        "client": dict(color=_COLORS["client-edge"], width=1.5, dash="dot"),
        "uplink": dict(color=_COLORS["uplink"], width=1.5),
        "member": dict(color=_COLORS["member"], width=2),
        "port": dict(color=_COLORS["port"], width=1.5),
        "route": dict(color=_COLORS["route"], width=2.5, dash="dash"),
    }
    for kind, style in styles.items():
        kind_edges = [e for e in g.edges if e.kind == kind]
        if not kind_edges:
            continue
        xs: list[float | None] = []
        ys: list[float | None] = []
        for e in kind_edges:
            for px, py in e.points:
                xs.append(px)
                ys.append(py)
            xs.append(None)
            ys.append(None)
        traces.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="lines",
                line=style,
                hoverinfo="skip",
                name=f"{kind} edges",
                meta={"edges": [[e.source, e.target, e.label] for e in kind_edges]},
            )
        )
    rings = [n for n in g.nodes if n.changed]
    if rings:
        traces.append(
            dict(
                type="scatter",
                x=[n.x for n in rings],
                y=[n.y for n in rings],
                mode="markers",
                hoverinfo="skip",
                name="changed",
                marker=dict(
                    size=21,
                    color="rgba(0,0,0,0)",
                    line=dict(
                        width=3,
                        color=[
                            _COLORS["added" if n.changed == "added" else "changed"] for n in rings
                        ],
                    ),
                ),
            )
        )
    symbols = {
        "client": "diamond",
        "host": "square",
        "network": "hexagon",
        "container": "circle",
        "more": "circle-open",
    }
    sizes = {"client": 16, "host": 18, "network": 16, "container": 13, "more": 12}
    for kind, symbol in symbols.items():
        kind_nodes = [n for n in g.nodes if n.kind == kind]
        if not kind_nodes:
            continue
        traces.append(
            dict(
                type="scatter",
                x=[n.x for n in kind_nodes],
                y=[n.y for n in kind_nodes],
                mode="markers",
                name=kind,
                marker=dict(
                    symbol=symbol,
                    size=sizes[kind],
                    color=[n.color for n in kind_nodes],
                    line=dict(width=1, color="white"),
                ),
                customdata=[n.id for n in kind_nodes],
                hovertext=[n.hover for n in kind_nodes],
                hoverinfo="text",
            )
        )
    # Node labels: one text trace; edge labels: another. Text is placed right of its point.
    traces.append(
        dict(
            type="scatter",
            x=[n.x + TEXT_DX - MARK_DX for n in g.nodes],
            y=[n.y for n in g.nodes],
            mode="text",
            text=[n.label for n in g.nodes],
            textposition="middle right",
            hoverinfo="skip",
            textfont=dict(size=FONT, color="#212121"),
            name="labels",
        )
    )
    if g.edge_labels:
        traces.append(
            dict(
                type="scatter",
                x=[lx for lx, *_ in g.edge_labels],
                y=[ly for _, ly, *_ in g.edge_labels],
                mode="text",
                text=[t for _, _, t, _, _ in g.edge_labels],
                textposition="middle right",
                textfont=dict(size=SMALL, color=[c for *_, c, _ in g.edge_labels]),
                hovertext=[h for *_, h in g.edge_labels],
                hoverinfo="text",
                name="edge labels",
            )
        )
    traces += _legend_traces(g.legend, styles, symbols, sizes)
    layout = dict(
        title=dict(text=g.title, x=0.01, xanchor="left", font=dict(size=14)),
        width=g.width,
        height=g.height + 70,
        margin=dict(l=0, r=0, t=70, b=0),
        showlegend=False,  # the legend is drawn in the diagram's own pixels: see _legend
        plot_bgcolor="white",
        paper_bgcolor="white",
        hovermode="closest",
        hoverlabel=dict(align="left"),
        # One axis unit is one pixel: ranges match the plot area, so labels keep their places.
        xaxis=dict(range=[0, g.width], visible=False, fixedrange=True),
        yaxis=dict(range=[-g.height, 0], visible=False, fixedrange=True),
        meta={"labkit": "topology", "changes": [str(c) for c in g.changes]},
        template=_template(),
    )
    return {"data": traces, "layout": layout}


def _legend_traces(
    items: Sequence[LegendItem], styles: dict, symbols: dict, sizes: dict
) -> list[dict]:
    if not items:
        return []
    traces: list[dict] = []
    for item in items:
        if item.kind in styles:  # a short stretch of the edge's own line
            traces.append(
                dict(
                    type="scatter",
                    x=[item.x, item.x + _SAMPLE_W],
                    y=[item.y, item.y],
                    mode="lines",
                    line=styles[item.kind],
                    hoverinfo="skip",
                    name=f"legend {item.kind}",
                )
            )
    marks = [i for i in items if i.kind not in styles]
    if marks:
        traces.append(
            dict(
                type="scatter",
                x=[i.x + _SAMPLE_W / 2 for i in marks],
                y=[i.y for i in marks],
                mode="markers",
                hoverinfo="skip",
                name="legend marks",
                marker=dict(
                    symbol=[symbols.get(i.kind, "circle") for i in marks],
                    size=[sizes.get(i.kind, 17) for i in marks],
                    color=[
                        "rgba(0,0,0,0)" if i.kind == "changed" else _COLORS[i.kind] for i in marks
                    ],
                    line=dict(
                        width=[3 if i.kind == "changed" else 1 for i in marks],
                        color=[
                            _COLORS["changed"] if i.kind == "changed" else "white" for i in marks
                        ],
                    ),
                ),
            )
        )
    traces.append(
        dict(
            type="scatter",
            x=[i.x + _SAMPLE_W + 6 for i in items],
            y=[i.y for i in items],
            mode="text",
            text=[_esc(i.text) for i in items],
            textposition="middle right",
            hoverinfo="skip",
            textfont=dict(size=SMALL, color="#616161"),
            name="legend",
        )
    )
    return traces


_TEMPLATE: dict | None = None


def _template() -> dict:
    """plotly's default template as plain JSON, read once (what ``Figure.to_json`` embeds)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        import json

        import plotly.io as pio

        template = pio.templates[pio.templates.default].to_plotly_json()
        _TEMPLATE = json.loads(pio.json.to_json_plotly(template))
    return _TEMPLATE


def mimebundle(fig: go.Figure | dict) -> dict:
    """The display data JupyterLab's bundled plotly extension renders offline (no CDN)."""
    import json

    spec = dict(fig) if isinstance(fig, dict) else json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False, "responsive": False}
    return {"application/vnd.plotly.v1+json": spec, "text/plain": "<labkit topology figure>"}


# -- text measuring (also what the tests use to prove labels do not overlap) -----------------

_TAG = re.compile(r"<[^>]+>")
_NARROW = set(".,:;'|!ilIjtf()[] ")
_WIDE = set("mwMW@%")


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """A deliberately generous estimate of rendered width in px (sans-serif)."""
    em = sum(
        0.33 if ch in _NARROW else 0.92 if ch in _WIDE else 0.74 if ch.isupper() else 0.6
        for ch in text
    )
    return em * size * (1.08 if bold else 1.0)


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def label_boxes(fig: go.Figure) -> list[tuple[float, float, float, float, str]]:
    """(x0, y0, x1, y1, text) of every text label, in pixels, as the figure places them."""
    boxes = []
    for trace in fig.data:
        if trace.mode != "text" or trace.text is None:
            continue
        size = trace.textfont.size if isinstance(trace.textfont.size, (int, float)) else FONT
        for x, y, text in zip(trace.x, trace.y, trace.text, strict=True):
            lines = text.split("<br>")
            width = max(_text_width(_plain(line), size, bold="<b>" in line) for line in lines)
            height = len(lines) * size * 1.3
            boxes.append((x, y - height / 2, x + width + 3, y + height / 2, _plain(text)))
    return boxes


def _fit(text: str, max_px: float, size: float, bold: bool = False) -> str:
    if _text_width(text, size, bold) <= max_px:
        return text
    while text and _text_width(text + "…", size, bold) > max_px:
        text = text[:-1]
    return text + "…"


# -- small helpers ---------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(str(text), quote=False)


def _gray(text: str) -> str:
    return f"<span style='color:#757575'>{text}</span>"


def _short(name: str, namespace: str) -> str:
    prefix = f"{namespace}-" if namespace else ""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def _port(c: Container, key: str) -> PortBinding | None:
    return next((p for p in c.ports if p.key == key), None)


def _ip(c: Container, network: str) -> str:
    att: Attachment | None = next((a for a in c.networks if a.network == network), None)
    return att.ip if att else ""


def _index_changes(diff: Sequence[Change]) -> dict[tuple[str, str, str], Change]:
    return {(c.kind, c.container, c.key): c for c in diff}
