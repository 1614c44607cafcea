"""Topology figures, built from plain dataclasses: node and edge sets, determinism, the diff,
and a large lab whose labels must not overlap."""

from __future__ import annotations

import dataclasses

import pytest

from labkit.models import Attachment, Container, EngineInfo, Network, PortBinding
from labkit.notebook.topology import (
    Snapshot,
    changes,
    diff_figure,
    label_boxes,
    layout,
    snapshot,
    topology_figure,
)

INFO = EngineInfo(
    kind="docker",
    version="20.10",
    description="Docker Engine 20.10 on this machine",
    local=True,
    host="127.0.0.1",
    bridge_name="docker0",
    bridge_address="172.17.0.1/16",
    ip_forward=True,
    bridge_reachable=True,
    bridge_reason="this machine is the engine's Linux host",
)
BRIDGE = Network(
    id="b" * 64,
    name="bridge",
    driver="bridge",
    subnet="172.17.0.0/16",
    gateway="172.17.0.1",
    options={"com.docker.network.bridge.name": "docker0"},
)
HOST = Network(id="h" * 64, name="host", driver="host")
NONE = Network(id="n" * 64, name="none", driver="null")


def app(
    name: str,
    host_port: int | None = 32771,
    ip: str = "172.17.0.2",
    net: str = "bridge",
    status: str = "running",
) -> Container:
    mac = "02:42:" + ":".join(f"{int(o):02x}" for o in ip.split(".")) if ip else ""
    ports = (PortBinding(80, "tcp", "0.0.0.0", host_port, "::", host_port),) if host_port else ()
    return Container(
        id=(name.encode().hex() + "0" * 64)[:64],
        name=name,
        image="labkit/lab-app:1",
        status=status,
        ports=ports,
        networks=(
            Attachment(net, ip=ip, prefix_len=16, gateway=ip.rsplit(".", 1)[0] + ".1", mac=mac),
        ),
    )


def user_net(i: int) -> Network:
    return Network(
        id=f"{i:064x}",
        name=f"net{i:02d}",
        driver="bridge",
        subnet=f"172.{18 + i}.0.0/16",
        gateway=f"172.{18 + i}.0.1",
    )


def lab4(**kw) -> Snapshot:
    """The lab text's picture: myapp2 on the default bridge, published on an ephemeral port."""
    return Snapshot(INFO, (BRIDGE, HOST, NONE), (app("myapp2"),), **kw)


def big(containers: int = 200, networks: int = 10) -> Snapshot:
    nets = [user_net(i) for i in range(networks - 3)]
    boxes = []
    all_nets = [BRIDGE, *nets]
    for i in range(containers):
        net = all_nets[i % len(all_nets)]
        third = net.subnet.split(".")[1]
        boxes.append(
            app(
                f"service-{i:03d}-with-a-long-name",
                32768 + i,
                f"172.{third}.{i // 250}.{2 + i % 250}",
                net.name,
            )
        )
    return Snapshot(INFO, (BRIDGE, *nets, HOST, NONE), tuple(boxes))


def test_lab4_nodes_and_edges():
    g = layout(lab4())
    assert g.node_ids() == {
        "client",
        "host",
        "network:bridge",
        "network:host",
        "network:none",
        "container:myapp2",
    }
    assert g.edge_set("port") == {("host", "container:myapp2", "0.0.0.0:32771 → 80/tcp")}
    assert g.edge_set("member") == {("network:bridge", "container:myapp2", "")}
    # docker0 links the host to the default bridge; none has no uplink at all.
    assert ("host", "network:bridge", "docker0") in g.edge_set("uplink")
    assert not any(e.target == "network:none" for e in g.edges)
    assert g.edge_set("route") == set()


def test_route_edge_only_when_asked():
    g = layout(lab4(route=True))
    assert g.edge_set("route") == {("client", "network:bridge", "route 172.17.0.0/16 dev docker0")}
    remote = dataclasses.replace(INFO, local=False, host="10.0.0.5", bridge_reachable=False)
    g = layout(Snapshot(remote, (BRIDGE,), (), route=True))
    assert g.edge_set("route") == {
        ("client", "network:bridge", "route 172.17.0.0/16 via 10.0.0.5 ✗")
    }


def test_figure_carries_nodes_edges_and_details():
    fig = topology_figure(lab4())
    ids = {i for t in fig.data if t.customdata is not None for i in t.customdata}
    assert "container:myapp2" in ids and "network:bridge" in ids
    edges = {tuple(e) for t in fig.data if t.meta for e in t.meta["edges"]}
    assert ("host", "container:myapp2", "0.0.0.0:32771 → 80/tcp") in edges
    hover = " ".join(h for t in fig.data if t.hovertext is not None for h in t.hovertext)
    assert "02:42:ac:11:00:02" in hover and "172.17.0.2/16" in hover and "ip_forward: 1" in hover
    labels = " ".join(t.text and " ".join(t.text) or "" for t in fig.data if t.mode == "text")
    assert (
        "docker0 172.17.0.1/16 · ip_forward=1" in labels
        and "172.17.0.0/16 · gw 172.17.0.1" in labels
    )


def test_host_and_none_containers_have_no_ip_line():
    snap = Snapshot(
        INFO, (BRIDGE, HOST, NONE), (app("h", None, "", "host"), app("n", None, "", "none"))
    )
    g = layout(snap)
    assert g.edge_set("member") == {
        ("network:host", "container:h", ""),
        ("network:none", "container:n", ""),
    }
    assert not g.edge_set("port")
    labels = {n.id: n.label for n in g.nodes}
    assert (
        "shares the host's stack" in labels["container:h"]
        and "loopback only" in labels["container:n"]
    )


def test_same_input_same_figure_json():
    a, b = topology_figure(big(60, 6)), topology_figure(big(60, 6))
    assert a.to_json() == b.to_json()
    # ... also when the engine listed things in another order.
    snap = big(60, 6)
    shuffled = dataclasses.replace(
        snap, containers=snap.containers[::-1], networks=snap.networks[::-1]
    )
    assert topology_figure(shuffled).to_json() == a.to_json()


def test_diff_marks_the_moved_port_and_changed_ip():
    before = lab4()
    after = Snapshot(INFO, (BRIDGE, HOST, NONE), (app("myapp2", 32772, "172.17.0.3"),))
    found = {(c.kind, c.key, c.old, c.new) for c in changes(before, after)}
    assert found == {
        ("port", "80/tcp", "0.0.0.0:32771", "0.0.0.0:32772"),
        ("ip", "bridge", "172.17.0.2", "172.17.0.3"),
    }
    fig = diff_figure(before, after)
    texts = [s for t in fig.data if t.mode == "text" for s in t.text]
    assert any("<s>32771</s>" in s and "<b>0.0.0.0:32772</b>" in s for s in texts)
    assert any("<s>172.17.0.2</s>" in s and "<b>172.17.0.3</b>" in s for s in texts)
    rings = [t for t in fig.data if t.name == "changed"]
    assert len(rings) == 1 and list(rings[0].x) == [
        n.x for n in layout(after).nodes if n.id == "container:myapp2"
    ]
    assert "myapp2 port 80/tcp: 0.0.0.0:32771 → 0.0.0.0:32772" in fig.layout.meta["changes"]
    # No change, no marks.
    plain = diff_figure(before, before)
    assert not [t for t in plain.data if t.name == "changed"]
    assert not any("<s>" in s for t in plain.data if t.mode == "text" for s in t.text)


def test_names_are_escaped_in_labels():
    snap = Snapshot(INFO, (BRIDGE,), (app("<img src=x>"),))
    texts = [s for t in topology_figure(snap).data if t.mode == "text" for s in t.text]
    assert not any("<img" in s for s in texts) and any("&lt;img" in s for s in texts)


def _overlaps(boxes):
    boxes = sorted(boxes)
    hits = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if b[0] >= a[2]:
                break
            if a[1] < b[3] and b[1] < a[3]:
                hits.append((a[4], b[4]))
    return hits


@pytest.mark.parametrize("n,nets", [(1, 3), (5, 4), (24, 5), (80, 8), (200, 10)])
def test_no_overlapping_labels(n, nets):
    fig = topology_figure(big(n, nets))
    boxes = label_boxes(fig)
    assert not _overlaps(boxes)
    # Every label stays inside the figure.
    width, height = fig.layout.width, fig.layout.height - fig.layout.margin.t
    assert all(0 <= b[0] and b[2] <= width and -height <= b[1] and b[3] <= 0 for b in boxes), [
        b for b in boxes if not (0 <= b[0] and b[2] <= width and -height <= b[1] and b[3] <= 0)
    ]


def test_overlap_check_can_fail():
    # The checker itself: two labels at one place must be reported.
    fig = topology_figure(lab4())
    boxes = label_boxes(fig)
    assert _overlaps(boxes + [boxes[0]])


def test_large_lab_is_summarised_and_small():
    """How fast it builds is a benchmark figure (labkit bench), not a test."""
    snap = big(200, 10)
    fig = topology_figure(snap)
    size = len(fig.to_json())
    g = layout(snap)
    more = [n for n in g.nodes if n.kind == "more"]
    shown = [n for n in g.nodes if n.kind == "container"]
    hidden = sum(int(n.label.split("+")[1].split(" ")[0]) for n in more)
    assert more and len(shown) + hidden == 200
    assert size < 1_000_000, f"{size} bytes of JSON"


def test_focus_keeps_a_container_visible_in_a_summarised_column():
    snap = big(200, 10)
    last = "service-196-with-a-long-name"  # on the bridge column, far past its cap
    assert f"container:{last}" not in layout(snap).node_ids()
    assert f"container:{last}" in layout(dataclasses.replace(snap, focus=(last,))).node_ids()


def test_snapshot_of_a_lab(lab):
    lab.start_app("myapp2")
    snap = snapshot(lab, route=True)
    # Only this lab's container is drawn: never a bystander's, even on a shared engine.
    assert [c.name for c in snap.containers] == [lab.name("myapp2")]
    assert {"bridge", "host", "none"} <= {n.name for n in snap.networks}
    g = layout(snap)
    node = next(n for n in g.nodes if n.id == f"container:{lab.name('myapp2')}")
    assert "<b>myapp2</b>" in node.label  # the namespace prefix is hidden
    port = snap.containers[0].port(80).host_port
    assert {label for _, _, label in g.edge_set("port")} == {f"127.0.0.1:{port} → 80/tcp"}
    assert g.edge_set("route")


def test_the_diagram_has_a_legend_for_what_it_draws():
    g = layout(lab4(route=True))
    kinds = [item.kind for item in g.legend]
    assert {"port", "route", "uplink", "member", "network", "container", "host"} <= set(kinds)
    assert "more" not in kinds and "changed" not in kinds  # nothing folded, nothing changed
    assert "route" not in {i.kind for i in layout(lab4()).legend}
    fig = topology_figure(lab4(route=True))
    legend = next(t for t in fig.data if t.name == "legend")
    assert any("published port" in t for t in legend.text) and any(
        "route" in t for t in legend.text
    )
    # The legend is part of the picture: inside it, clear of every label.
    assert all(-g.height <= item.y <= 0 and item.x < g.width for item in g.legend)
    boxes = label_boxes(fig)
    overlaps = [
        (a[4], b[4])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]
    assert not overlaps, overlaps


def _segments(edge):
    return list(zip(edge.points, edge.points[1:], strict=False))


def _crossing(s, t):
    """Where two axis-parallel segments meet, or None; and whether they share a stretch."""
    (ax, ay), (bx, by) = s
    (cx, cy), (dx, dy) = t
    if ax == bx and cx == dx and ax == cx:  # both vertical, on one line
        return "shared" if min(ay, by) < max(cy, dy) and min(cy, dy) < max(ay, by) else None
    if ay == by and cy == dy and ay == cy:  # both horizontal, on one line
        return "shared" if min(ax, bx) < max(cx, dx) and min(cx, dx) < max(ax, bx) else None
    if ax == bx and cy == dy:  # s vertical, t horizontal
        if min(cx, dx) <= ax <= max(cx, dx) and min(ay, by) <= cy <= max(ay, by):
            return (ax, cy)
    if ay == by and cx == dx:
        if min(ax, bx) <= cx <= max(ax, bx) and min(cy, dy) <= ay <= max(cy, dy):
            return (cx, ay)
    return None


@pytest.mark.parametrize("snap", [lab4(route=True), big(12, 4)], ids=["lab4", "four networks"])
def test_the_route_and_the_published_port_paths_never_share_a_stretch(snap):
    g = layout(dataclasses.replace(snap, route=True))
    [route] = [e for e in g.edges if e.kind == "route"]
    bridge = next(n for n in g.nodes if n.id == "network:bridge")
    others = [e for e in g.edges if e.kind in ("port", "uplink", "client")]
    assert others
    # Every segment is level or upright, so meetings are exact; none is shared, and where the
    # route crosses one it is at a right angle and well clear of the bridge's marker.
    for r in _segments(route):
        assert r[0][0] == r[1][0] or r[0][1] == r[1][1], r
        for e in others:
            for seg in _segments(e):
                met = _crossing(r, seg)
                assert met != "shared", (e.kind, seg)
                if met is not None and e.kind != "client":
                    assert abs(met[1] - bridge.y) >= 30, (e.kind, met)
    # It ends at the bridge's marker, coming from above, not through another edge's end.
    assert route.points[-1][0] == bridge.x and 0 < route.points[-1][1] - bridge.y <= 10
    ends = {e.points[-1] for e in others}
    assert route.points[-1] not in ends


def test_the_fast_figure_json_is_what_plotly_validates():
    from labkit.notebook.topology import figure_spec, mimebundle

    g = layout(lab4(route=True), before=lab4())
    fast = mimebundle(figure_spec(g))["application/vnd.plotly.v1+json"]
    slow = mimebundle(topology_figure(lab4(route=True), before=lab4()))[
        "application/vnd.plotly.v1+json"
    ]
    assert fast["layout"]["template"] == slow["layout"]["template"]
    assert [t["name"] for t in fast["data"]] == [t["name"] for t in slow["data"]]
    assert fast["data"][0]["x"] == slow["data"][0]["x"]


class _CountingEngine:
    def __init__(self, engine):
        self._engine, self.calls = engine, []

    def __getattr__(self, name):
        attr = getattr(self._engine, name)
        if not callable(attr) or name in ("info", "kind"):
            return attr

        def counted(*args, **kwargs):
            self.calls.append((name, args[0] if args else ""))
            return attr(*args, **kwargs)

        return counted


def test_a_lab_snapshot_reads_only_the_labs_networks(own_sim_engine):
    sim_engine = own_sim_engine
    from labkit.lab import Lab
    from labkit.progress import record_check

    mine, theirs = Lab(sim_engine, namespace="alice"), Lab(sim_engine, namespace="bob")
    for i in range(5):  # a shared engine: other students' networks and containers
        theirs.create_network(f"net{i}")
        theirs.start_app(f"web{i}", network=f"net{i}")
    mine.create_network("labnet")
    mine.start_app("myapp2")
    mine.start_app("web", network="labnet")
    record_check(mine, "01.port", True)
    from labkit.progress import flush

    assert flush()
    counting = _CountingEngine(sim_engine)
    mine.engine = counting
    snap = snapshot(mine, route=True)
    assert "networks" not in [name for name, _ in counting.calls]
    read = sorted(ref for name, ref in counting.calls if name == "network")
    assert read == ["alice-labnet", "bridge", "host", "none"]
    assert {c.name for c in snap.containers} == {"alice-myapp2", "alice-web"}  # no progress record
    # Reusing the networks of an earlier snapshot: only the containers are read again.
    counting.calls.clear()
    snapshot(mine, networks=snap.networks)
    assert [name for name, _ in counting.calls] == ["containers"]
