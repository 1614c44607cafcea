"""The real-lab figure as a pure function of LabHosts.snapshot() data (no root needed)."""

from labkit.labhosts import HostView
from labkit.notebook.labhosts_figure import labhosts_figure


def views(route=True, vxlan=None, hostgw=False):
    client_routes = ["198.18.0.0/24 dev eth1 proto kernel scope link src 198.18.0.10"]
    if route:
        client_routes.insert(0, "172.17.0.0/16 via 198.18.0.11 dev eth1")
    a1 = ["172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1"]
    if hostgw:
        a1.append("172.18.0.0/16 via 198.18.0.12 dev eth1")
    return (
        HostView("client", "198.18.0.10", tuple(client_routes)),
        HostView(
            "agent01",
            "198.18.0.11",
            tuple(a1),
            "172.17.0.1/16",
            True,
            (("myapp2", "172.17.0.2"),),
            vxlan,
        ),
        HostView(
            "agent02",
            "198.18.0.12",
            (),
            "172.18.0.1/16",
            True,
            (("web2", "172.18.0.2"),),
            vxlan,
            engine="28.5.2",
        ),
    )


def texts(fig):
    shown = [t for trace in fig.data for t in (trace.text or ())]
    return shown + [a.text for a in fig.layout.annotations]


def test_hosts_bridges_and_containers_are_drawn():
    shown = " ".join(texts(labhosts_figure(views())))
    for part in (
        "client",
        "agent01",
        "agent02",
        "198.18.0.11",
        "docker0 172.18.0.1/16",
        "myapp2<br>172.17.0.2",
    ):
        assert part in shown


def test_the_client_route_appears_only_once_added():
    assert any(
        "route 172.17.0.0/16 via 198.18.0.11" in t
        for t in texts(labhosts_figure(views(route=True)))
    )
    assert not any("route 172.17.0.0/16" in t for t in texts(labhosts_figure(views(route=False))))


def test_host_gw_route_and_vxlan_tunnel_are_drawn_with_counters():
    assert any(
        "route 172.18.0.0/16 via 198.18.0.12" in t
        for t in texts(labhosts_figure(views(hostgw=True)))
    )
    tunnel = [t for t in texts(labhosts_figure(views(vxlan=(7, 5)))) if "VXLAN" in t]
    assert tunnel and "7 packets sent, 5 received" in tunnel[0]


def test_same_input_same_figure():
    assert (
        labhosts_figure(views(vxlan=(1, 1))).to_json()
        == labhosts_figure(views(vxlan=(1, 1))).to_json()
    )


def test_an_agents_engine_version_is_in_its_bridges_hover():
    hovers = [h for trace in labhosts_figure(views()).data for h in (trace.hovertext or ())]
    assert "agent02's own engine: Docker Engine 28.5.2" in hovers
    assert "agent01's own engine" in hovers  # no version given: none shown
