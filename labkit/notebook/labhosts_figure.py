"""The real lab drawn: client, agent01 and agent02 on the lab bridge, their docker0 bridges and
containers, the routes the lesson adds and the VXLAN tunnel between the agents."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from labkit.labhosts import BRIDGE, SUBNET, HostView

__all__ = ["labhosts_figure"]

_X = {"client": 0.0, "agent01": 1.0, "agent02": 2.0}
_COLOURS = {
    "host": "#37474f",
    "bridge": "#1565c0",
    "container": "#2e7d32",
    "route": "#2e7d32",
    "tunnel": "#6a1b9a",
}


def labhosts_figure(views: Sequence[HostView]) -> go.Figure:
    """A deterministic picture of ``LabHosts.snapshot()``: same input, same figure."""
    fig = go.Figure()
    by_name = {v.name: v for v in views}
    nodes: list[tuple[float, float, str, str, str]] = []  # x, y, label, hover, kind
    for view in views:
        x = _X.get(view.name, len(_X))
        forward = {True: "on", False: "off", None: "?"}[view.ip_forward]
        nodes.append(
            (
                x,
                0.0,
                f"<b>{view.name}</b><br>eth1 {view.address}",
                "<br>".join(view.routes) or "no routes",
                "host",
            )
        )
        if view.bridge:
            nodes.append(
                (
                    x,
                    -1.0,
                    f"docker0 {view.bridge}<br>ip_forward {forward}",
                    f"{view.name}'s own engine"
                    + (f": Docker Engine {view.engine}" if view.engine else ""),
                    "bridge",
                )
            )
            for i, (name, ip) in enumerate(view.containers[:6]):
                cx, cy = x + (i % 2) * 0.35 - 0.17, -2.0 - (i // 2) * 0.7
                nodes.append((cx, cy, f"{name}<br>{ip}", name, "container"))
                line = {"color": _COLOURS["container"], "width": 1}
                # From below the bridge's label down to the container, so no line crosses text.
                fig.add_shape(type="line", x0=x, x1=cx, y0=-1.45, y1=cy, line=line, layer="below")
    for kind in ("host", "bridge", "container"):
        chosen = [n for n in nodes if n[4] == kind]
        fig.add_trace(
            go.Scatter(
                x=[n[0] for n in chosen],
                y=[n[1] for n in chosen],
                mode="markers+text",
                text=[n[2] for n in chosen],
                hovertext=[n[3] for n in chosen],
                hoverinfo="text",
                textposition="bottom center",
                marker={
                    "size": 18 if kind != "container" else 12,
                    "color": _COLOURS[kind],
                    "symbol": "square",
                },
                name=kind,
                showlegend=False,
            )
        )
    # The lab bridge every host hangs off.
    fig.add_shape(
        type="line", x0=-0.3, x1=2.3, y0=0.6, y1=0.6, line={"color": "#90a4ae", "width": 4}
    )
    fig.add_annotation(x=1.0, y=0.75, text=f"lab bridge {BRIDGE} · {SUBNET}", showarrow=False)
    for view in views:
        x = _X.get(view.name, len(_X))
        fig.add_shape(
            type="line", x0=x, x1=x, y0=0.1, y1=0.6, line={"color": "#90a4ae", "width": 2}
        )
        if view.bridge:
            fig.add_shape(
                type="line",
                x0=x,
                x1=x,
                y0=-0.15,
                y1=-0.85,
                line={"color": _COLOURS["bridge"], "width": 2},
            )
    _routes(fig, by_name)
    fig.update_layout(
        title="Real lab hosts on this machine (network namespaces, each agent with its own Docker engine)",
        xaxis={"visible": False, "range": [-0.6, 2.6]},
        yaxis={"visible": False, "range": [-3.6, 1.0]},
        height=460,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="white",
    )
    return fig


def _routes(fig: go.Figure, by_name: dict[str, HostView]) -> None:
    """Arrows for routes to container subnets, and the tunnel when one is up."""
    for view in by_name.values():
        for route in view.routes:
            parts = route.split()
            if "via" not in parts or parts[0] in ("default",):
                continue
            subnet, via = parts[0], parts[parts.index("via") + 1]
            target = next((v for v in by_name.values() if v.address == via), None)
            if target is None or not target.bridge:
                continue
            x0, x1 = _X[view.name], _X[target.name]
            y = -1.0 if view.name == "client" else -1.6
            fig.add_annotation(
                x=x1,
                y=-1.0,
                ax=x0,
                ay=y,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                arrowhead=3,
                arrowcolor=_COLOURS["route"],
                arrowwidth=2,
                showarrow=True,
                text=f"route {subnet} via {via}",
                font={"color": _COLOURS["route"], "size": 11},
            )
        if view.vxlan is not None and view.name == "agent01" and "agent02" in by_name:
            sent, received = view.vxlan
            fig.add_shape(
                type="line",
                x0=1.0,
                x1=2.0,
                y0=-1.0,
                y1=-1.0,
                line={"color": _COLOURS["tunnel"], "width": 3, "dash": "dot"},
            )
            fig.add_annotation(
                x=1.5,
                y=-1.55,
                showarrow=False,
                font={"color": _COLOURS["tunnel"]},
                text=f"VXLAN tunnel (vni 42, UDP 4789)<br>agent01: {sent} packets sent, {received} received",
            )
