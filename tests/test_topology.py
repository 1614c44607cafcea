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
