"""Figures and tables for the simulated two-host model (``labkit.multihost``): the packet's path
from web1 on agent01 to web2 on agent02, and the headers it carries on the wire, per mode.

Every figure says SIMULATED in its title: nothing here ran on a network.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from labkit.multihost import MODES, UNDERLAY_MTU, TwoHosts

__all__ = ["packet_path_figure", "wire_headers_figure", "hops_table", "routes_table", "modes_table"]

_LAYER_COLOUR = {
    "Ethernet": "#90a4ae",
    "IPv4": "#1e88e5",
    "UDP": "#ef6c00",
    "VXLAN": "#8e24aa",
    "TCP": "#43a047",
}
_X = {1: 0.0, 2: 1.6, 3: 4.0, 4: 6.4, 5: 8.0}


def packet_path_figure(model: TwoHosts | str) -> go.Figure:
    """web1 → web2 across the two hosts: boxes for the hosts, one marker per hop (hover: headers
    and the rule that decides the hop), and the header stack on the wire drawn above it."""
    model = TwoHosts(model) if isinstance(model, str) else model
    hops = model.path()
    fig = go.Figure()
    a, b = model.hosts
    for x0, x1, host in ((-0.7, 2.5, a), (5.5, 8.7, b)):
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x1,
            y0=-1.4,
            y1=1.2,
            line={"color": "#37474f"},
            fillcolor="rgba(55,71,79,0.05)",
        )
        fig.add_annotation(
            x=(x0 + x1) / 2, y=1.05, text=f"<b>{host.name}</b> eth1 {host.ip}", showarrow=False
        )
        fig.add_annotation(
            x=(x0 + x1) / 2,
            y=-1.25,
            text=f"containers {host.subnet} on {host.bridge}",
            showarrow=False,
            font={"size": 10},
        )
    xs = [_X[h.step] for h in hops]
    ys = [0.0] * len(hops)
    hover = [
        f"<b>{h.step}. {h.device}</b> ({h.where})<br>{h.action}<br><i>{h.rule}</i><br>"
        + "<br>".join(("▸ " if hd.outer else "· ") + str(hd) for hd in h.headers)
        for h in hops
    ]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers+text",
            text=[h.device for h in hops],
            textposition=["top center" if h.step in (2, 4) else "bottom center" for h in hops],
            marker={
                "size": 16,
                "color": ["#ef6c00" if h.encapsulated else "#1e88e5" for h in hops],
            },
            line={"color": "#455a64", "width": 3},
            hovertext=hover,
            hoverinfo="text",
            name="packet path",
        )
    )
    wire = next(h for h in hops if h.where == "wire")
    # The header stack on the wire, outermost on top.
    for i, hd in enumerate(wire.headers):
        y = 1.0 - 0.28 * i + 0.25 * (len(wire.headers) - 1)
        fig.add_annotation(
            x=_X[3],
            y=y + 0.4,
            text=f"{hd.layer} <span style='font-size:9px'>{hd.fields}</span> ({hd.size} B)",
            showarrow=False,
            bgcolor=_LAYER_COLOUR[hd.layer] if hd.outer else "white",
            bordercolor=_LAYER_COLOUR[hd.layer],
            font={"size": 10, "color": "white" if hd.outer else "black"},
        )
    top = 1.0 + 0.25 * (len(wire.headers) - 1) + 0.4
    fig.add_annotation(
        x=_X[3],
        y=top + 0.3,
        text="<i>on the wire, outermost header first</i>",
        showarrow=False,
        font={"size": 10},
    )
    mode = model.mode
    extra = (
        f"{model.overhead()} bytes of encapsulation, container MTU {model.mtu()}"
        if model.overhead()
        else "no encapsulation, full MTU"
    )
    fig.update_layout(
        title={
            "text": f"SIMULATED — {mode.title}: web1 → web2 ({extra})",
            "font": {"size": 14},
            "x": 0.01,
        },
        xaxis={"visible": False, "range": [-1, 9]},
        yaxis={"visible": False, "range": [-1.6, 3.5]},
        showlegend=False,
        height=430,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="white",
    )
    return fig


def wire_headers_figure(modes: tuple[str, ...] = tuple(MODES)) -> go.Figure:
    """Bytes of header on the wire per mode, stacked by layer: the cost of each encapsulation."""
    models = [TwoHosts(m) for m in modes]
    # One bar segment per header kind, in the order they sit on the wire (outermost first).
    order: list[tuple[str, bool]] = []
    for m in sorted(models, key=lambda m: -len(m.wire_headers())):
        for h in m.wire_headers():
            if (h.layer, h.outer) not in order:
                order.append((h.layer, h.outer))
    fig = go.Figure()
    for layer, outer in order:
        sizes = [
            sum(h.size for h in m.wire_headers() if h.layer == layer and h.outer == outer)
            for m in models
        ]
        fig.add_trace(
            go.Bar(
                y=[m.mode.title for m in models],
                x=sizes,
                orientation="h",
                name=f"{'outer' if outer else 'inner'} {layer}",
                marker={"color": _LAYER_COLOUR[layer], "opacity": 1.0 if outer else 0.45},
            )
        )
    fig.update_layout(
        barmode="stack",
        legend={"traceorder": "normal"},
        title={
            "text": "SIMULATED — headers on the wire per mode (bytes; outer = added by the encapsulation)",
            "font": {"size": 14},
            "x": 0.01,
        },
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={"title": "bytes"},
    )
    return fig


def hops_table(model: TwoHosts | str) -> pd.DataFrame:
    model = TwoHosts(model) if isinstance(model, str) else model
    rows = [
        {
            "step": h.step,
            "where": h.where,
            "device": h.device,
            "what happens": h.action,
            "decided by": h.rule,
            "headers (outermost first)": " / ".join(str(x) for x in h.headers),
        }
        for h in model.path()
    ]
    return pd.DataFrame(rows)


def routes_table(model: TwoHosts | str):
    """Each host's ``ip route``, as a styled table: whole lines, left-aligned, in monospace
    (a plain DataFrame cuts lines at 50 characters and right-aligns them)."""
    model = TwoHosts(model) if isinstance(model, str) else model
    rows = [
        {"host": h.name, "ip route": line} for h in model.hosts for line in model.routes(h.name)
    ]
    return (
        pd.DataFrame(rows)
        .style.hide(axis="index")
        .set_properties(None, **{"text-align": "left"})
        .set_properties(subset=["ip route"], **{"font-family": "monospace"})
        .set_table_styles([{"selector": "th", "props": "text-align: left"}])
    )


def modes_table() -> pd.DataFrame:
    rows = []
    for key, mode in MODES.items():
        m = TwoHosts(key)
        rows.append(
            {
                "mode": mode.title,
                "encapsulation": mode.encapsulation or "none (routing)",
                "UDP port": mode.udp_port,
                "bytes added": m.overhead(),
                f"container MTU (underlay {UNDERLAY_MTU})": m.mtu(),
                "agent01 → agent02 next hop": m.next_hop("agent01"),
            }
        )
    frame = pd.DataFrame(rows)
    frame["UDP port"] = (
        frame["UDP port"].astype("Int64").astype(object).where(frame["UDP port"].notna(), "—")
    )  # host-gw has none: "—", not pandas' <NA>
    return frame


class AgentsLink:
    """What ``agents_link`` started on the real lab hosts, so the notebook's last cell can
    remove exactly that."""

    def __init__(self, hosts, one, two) -> None:  # noqa: ANN001 - LabHosts and two Labs
        self.hosts, self.one, self.two = hosts, one, two

    def cleanup(self) -> str:
        if self.hosts is None:
            return "No lab hosts ran: nothing on them to remove."
        self.hosts.link_agents("none")
        return (
            f"agent01: {self.one.cleanup(session_only=True)}\n"
            f"agent02: {self.two.cleanup(session_only=True)}"
        )


def agents_link(lab, hosts) -> AgentsLink:  # noqa: ANN001 - a Lab and LabHosts (or None)
    """web1 on agent01 asks web2 on agent02 by IP three ways — no link, host-gw routes, a VXLAN
    tunnel — on the real lab hosts, and shows the route and the tunnel's packet counters.

    On Engine 28 the agents drop traffic routed to their containers from another host:
    linking restarts both engines with ``--allow-direct-routing`` first (before the containers
    start, or they would stop), and web2 publishes its port, since direct routing opens only
    published ports. Engine 20.10 forwards it as it is."""
    from IPython.display import display

    from labkit.lab import Lab
    from labkit.notebook.labhosts_figure import labhosts_figure
    from labkit.notebook.layout import command_output, table

    if hosts is None:  # no lab hosts here: lab_hosts() has said why
        return AgentsLink(None, None, None)
    hosts.link_agents("host-gw")  # on 28: the engines restart with direct routing, now
    one = Lab(hosts.engine("agent01"), namespace=lab.namespace, session=lab.session)
    two = Lab(hosts.engine("agent02"), namespace=lab.namespace, session=lab.session)
    done = AgentsLink(hosts, one, two)
    web1 = one.start_app("web1", port=None, step="04-beyond-one-host")
    web2 = two.start_app("web2", port=None, step="04-beyond-one-host")
    version = one.engine.info().version
    print(
        f"agents on Docker Engine {version}; web1 on agent01: {web1.ip}, web2 on agent02: {web2.ip}"
    )
    if hosts.generation.drops_routed_traffic:
        print(
            "Engine 28+: the agents run with --allow-direct-routing and web2 publishes port 80; "
            "without either, agent02 drops what agent01 routes to it."
        )
    rows = []
    subnet = "172.18."
    for mode in ("none", "host-gw", "vxlan"):
        hosts.link_agents(mode)
        sent_before = hosts.vxlan_packets("agent01")[0]
        reply = one.exec("web1", ["timeout", "3", "wget", "-q", "-O", "-", f"http://{web2.ip}/"])
        routes = [r for r in hosts.routes("agent01") if r.startswith(subnet)]
        rows.append(
            {
                "mode": mode,
                "web1 → web2": "answers" if reply.exit_code == 0 else "no answer",
                "agent01's route to 172.18.0.0/16": routes[0] if routes else "—",
                "VXLAN packets sent by agent01": hosts.vxlan_packets("agent01")[0] - sent_before,
            }
        )
    display(
        command_output(
            "ip route   # on agent01, linked by VXLAN", "\n".join(hosts.routes("agent01"))
        )
    )
    display(table(pd.DataFrame(rows)))
    display(labhosts_figure(hosts.snapshot()))
    return done


def lab_hosts():  # noqa: ANN201 - (LabHosts | None, why)
    """Real lab hosts when they are turned on and can run here (``labkit.labhosts.lab_hosts``),
    saying what is built as it goes; else None and one line saying why not."""
    from labkit.labhosts import lab_hosts as build

    return build(progress=print)
