"""The simulated two-host model: real header sizes give the real MTUs; paths and routes agree."""

import pytest

from labkit.errors import InvalidInput
from labkit.multihost import MODES, TwoHosts


@pytest.mark.parametrize(
    ("mode", "overhead", "mtu"),
    [("host-gw", 0, 1500), ("udp", 28, 1472), ("vxlan", 50, 1450), ("overlay", 50, 1450)],
)
def test_overhead_and_mtu_follow_from_the_headers(mode, overhead, mtu):
    model = TwoHosts(mode)
    assert model.overhead() == overhead and model.mtu() == mtu


def test_host_gw_routes_via_the_other_host_and_adds_no_header():
    model = TwoHosts("host-gw")
    assert "10.244.2.0/24 via 192.0.2.102 dev eth1" in model.routes("agent01")
    assert model.next_hop("agent01") == "192.0.2.102"
    assert not any(h.outer for h in model.wire_headers())
    assert [h.layer for h in model.wire_headers()] == ["Ethernet", "IPv4", "TCP"]


@pytest.mark.parametrize("mode", ["udp", "vxlan", "overlay"])
def test_encapsulated_modes_carry_the_container_packet_inside_host_to_host_udp(mode):
    headers = TwoHosts(mode).wire_headers()
    outer_ip = next(h for h in headers if h.layer == "IPv4")
    inner_ip = [h for h in headers if h.layer == "IPv4"][-1]
    assert outer_ip.outer and "192.0.2.101 → 192.0.2.102" in outer_ip.fields
    assert not inner_ip.outer and inner_ip.fields.startswith(("10.244.1.2", "10.0.1.3"))
    assert any(h.layer == "UDP" and str(MODES[mode].udp_port) in h.fields for h in headers)


def test_the_model_never_uses_the_lab_texts_classroom_addresses():
    for mode in MODES:
        model = TwoHosts(mode)
        text = repr([model.routes(h.name) for h in model.hosts]) + repr(model.path())
        assert "10.1.20." not in text


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(InvalidInput) as caught:
        TwoHosts("geneve")
    assert "'vxlan'" in caught.value.fix


def test_figures_say_simulated():
    pytest.importorskip("plotly")
    from labkit.notebook.multihost_figure import (
        modes_table,
        packet_path_figure,
        wire_headers_figure,
    )

    for mode in MODES:
        assert packet_path_figure(mode).layout.title.text.startswith("SIMULATED")
    assert wire_headers_figure().layout.title.text.startswith("SIMULATED")
    assert list(modes_table()["bytes added"]) == [0, 28, 50, 50]
