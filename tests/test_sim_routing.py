"""The lab text's route step on the simulator: a GET from another host through a route to the
engine's networks, and the raw-table rules that decide it. Expectations are what real engines
did (a client namespace routed through the engine's namespace, 2 s client timeout)."""

from __future__ import annotations

import pytest

from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import SimulatedEngine
from labkit.engine.sim.routing import GATEWAY_MODE, TRUSTED_INTERFACES, syn_packets
from labkit.errors import InvalidInput
from labkit.generation import Generation
from labkit.models import Outcome

V20, V28 = Generation.V20, Generation.V28
HEADER = " pkts bytes target     prot opt in     out     source               destination         "


@pytest.fixture
def classroom(request):
    """Three containers on the default bridge: published on all interfaces, unpublished,
    published on 127.0.0.1 (as labkit publishes on a local engine)."""
    engine = SimulatedEngine(generation=request.param)
    for name, ports in (
        ("pub", {"80/tcp": None}),
        ("unpub", None),
        ("lo", {"80/tcp": ("127.0.0.1", None)}),
    ):
        engine.run(LAB_IMAGE, name=name, ports=ports)
    yield engine
    engine.close()


def ip(engine, name):
    return engine.container(name).networks[0].ip


def lines(engine):
    return engine.raw_prerouting().splitlines()


@pytest.mark.parametrize("classroom", [V20], indirect=True)
def test_20_10_forwards_routed_traffic_to_every_container(classroom):
    for name in ("pub", "unpub", "lo"):
        result = classroom.routed_http(ip(classroom, name))
        assert result.outcome == Outcome.OK and result.via == "routed" and result.simulated
        assert result.server_ip == ip(classroom, name)
        assert result.client_addr.startswith("[::ffff:198.18.0.10]:")  # the real client
    assert lines(classroom) == ["Chain PREROUTING (policy ACCEPT 27 packets, 1617 bytes)", HEADER]
    assert classroom.raw_rules() == "-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n"
    with pytest.raises(InvalidInput, match="no --allow-direct-routing"):
        classroom.set_allow_direct_routing()


@pytest.mark.parametrize("classroom", [V28], indirect=True)
def test_28_drops_it_with_a_raw_rule_per_container(classroom):
    port = classroom.container("lo").port().host_port
    assert classroom.raw_rules().splitlines() == [
        "-P PREROUTING ACCEPT",
        "-P OUTPUT ACCEPT",
        "-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP",
        "-A PREROUTING -d 172.17.0.3/32 ! -i docker0 -j DROP",
        "-A PREROUTING -d 172.17.0.4/32 ! -i docker0 -j DROP",
        f"-A PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport {port} -j DROP",
    ]
    for name in ("pub", "unpub", "lo"):
        result = classroom.routed_http(ip(classroom, name))
        assert result.outcome == Outcome.TIMEOUT and "raw-table rule" in result.detail
    assert lines(classroom) == [
        "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)",
        HEADER,
        "    2   120 DROP       all  --  !docker0 *       0.0.0.0/0            172.17.0.2          ",
        "    2   120 DROP       all  --  !docker0 *       0.0.0.0/0            172.17.0.3          ",
        "    2   120 DROP       all  --  !docker0 *       0.0.0.0/0            172.17.0.4          ",
        "    0     0 DROP       tcp  --  !lo    *       0.0.0.0/0            127.0.0.1            "
        f"tcp dpt:{port}",
    ]
    # From the engine's own host the addresses still answer.
    assert classroom.model_http(ip(classroom, "unpub"), 80).status == 200
    # A longer client timeout: more SYNs (measured: 12 for three 3.5 s tries).
    for _ in range(3):
        classroom.routed_http(ip(classroom, "pub"), timeout=3.5)
    assert lines(classroom)[2].startswith("   14   840 DROP")


@pytest.mark.parametrize("classroom", [V28], indirect=True)
def test_28_rules_follow_the_containers(classroom):
    classroom.routed_http(ip(classroom, "pub"))
    classroom.stop("unpub")
    classroom.restart("pub", timeout=0)  # a new rule at the end, its counter at 0
    rules = classroom.raw_rules().splitlines()[2:]
    assert rules[0] == "-A PREROUTING -d 172.17.0.4/32 ! -i docker0 -j DROP"
    assert "--dport" in rules[1]
    assert rules[2] == "-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP"
    assert lines(classroom)[-1].startswith("    0     0 DROP")
    # The stopped container's address has no rule: the filter table drops the request.
    result = classroom.routed_http("172.17.0.3")
    assert result.outcome == Outcome.TIMEOUT and "filter table" in result.detail


@pytest.mark.parametrize("classroom", [V28], indirect=True)
def test_28_allow_direct_routing_opens_published_ports_only(classroom):
    classroom.routed_http(ip(classroom, "pub"))
    classroom.set_allow_direct_routing()
    port = classroom.container("lo").port().host_port
    assert classroom.raw_rules().splitlines()[2:] == [
        f"-A PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport {port} -j DROP"
    ]
    assert classroom.routed_http(ip(classroom, "pub")).outcome == Outcome.OK
    assert classroom.routed_http(ip(classroom, "lo")).outcome == Outcome.OK  # 127.0.0.1 too
    unpublished = classroom.routed_http(ip(classroom, "unpub"))
    assert unpublished.outcome == Outcome.TIMEOUT and "DOCKER chain" in unpublished.detail
    assert lines(classroom)[0] == "Chain PREROUTING (policy ACCEPT 20 packets, 1198 bytes)"
    assert classroom.routed_http(ip(classroom, "pub"), port=81).outcome == Outcome.TIMEOUT


def test_28_gateway_mode_nat_unprotected_opens_every_container_of_its_network():
    engine = SimulatedEngine(generation=V28)
    try:
        engine.create_network("open", options={GATEWAY_MODE: "nat-unprotected"})
        engine.run(LAB_IMAGE, name="pub", network="open", ports={"80/tcp": None})
        engine.run(LAB_IMAGE, name="unpub", network="open")
        engine.run(LAB_IMAGE, name="closed")  # the default bridge stays closed
        assert engine.raw_rules().splitlines()[2:] == [
            "-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP"
        ]
        for name in ("pub", "unpub"):
            assert engine.routed_http(ip(engine, name)).outcome == Outcome.OK
        assert engine.routed_http(ip(engine, "pub"), port=81).outcome == Outcome.REFUSED
        assert engine.routed_http("172.18.0.99").outcome == Outcome.UNREACHABLE
        assert engine.routed_http(ip(engine, "closed")).outcome == Outcome.TIMEOUT
    finally:
        engine.close()


def test_28_trusted_host_interfaces_open_published_ports_through_them():
    engine = SimulatedEngine(generation=V28)
    try:
        net = engine.create_network("trust", options={TRUSTED_INTERFACES: "h2agent:eth9"})
        engine.run(LAB_IMAGE, name="pub", network="trust", ports={"80/tcp": None})
        engine.run(LAB_IMAGE, name="unpub", network="trust")
        bridge = f"br-{net.id[:12]}"
        assert engine.raw_rules().splitlines()[2:5] == [
            "-A PREROUTING -d 172.18.0.2/32 -i h2agent -j ACCEPT",
            "-A PREROUTING -d 172.18.0.2/32 -i eth9 -j ACCEPT",
            f"-A PREROUTING -d 172.18.0.2/32 ! -i {bridge} -j DROP",
        ]
        assert engine.routed_http("172.18.0.2", in_interface="h2agent").outcome == Outcome.OK
        assert engine.routed_http("172.18.0.3", in_interface="h2agent").outcome == Outcome.TIMEOUT
        assert engine.routed_http("172.18.0.2", in_interface="eth0").outcome == Outcome.TIMEOUT
        listed = lines(engine)
        assert listed[2] == (
            "    9   539 ACCEPT     all  --  h2agent *       0.0.0.0/0            172.18.0.2          "
        )
        assert listed[4].startswith("    2   120 DROP       all  --  !br-")
        assert listed[5].startswith("    2   120 ACCEPT     all  --  h2agent")  # then dropped
    finally:
        engine.close()


def test_the_options_change_nothing_on_20_10():
    engine = SimulatedEngine(generation=V20)
    try:
        engine.create_network("trust", options={TRUSTED_INTERFACES: "eth9"})
        engine.run(LAB_IMAGE, name="unpub", network="trust")
        assert engine.routed_http("172.18.0.2").outcome == Outcome.OK
        assert engine.routed_http("172.18.0.2", port=81).outcome == Outcome.REFUSED
        assert engine.routed_http("172.18.0.1").outcome == Outcome.REFUSED  # the host itself
    finally:
        engine.close()


def test_requests_outside_the_engines_networks_are_a_labkit_error():
    engine = SimulatedEngine()
    try:
        with pytest.raises(InvalidInput, match="No network of the simulated engine has"):
            engine.routed_http("10.99.0.2")
        with pytest.raises(InvalidInput, match="not a container address"):
            engine.routed_http("web")
    finally:
        engine.close()


def test_syn_retries_as_a_linux_client_sends_them():
    # Measured: 2 SYNs in 2 s, 4 in 3.5 s (Linux 6.5+: four retries 1 s apart, then doubling).
    assert [syn_packets(t) for t in (0.5, 2, 3.5, 5, 10)] == [1, 2, 4, 5, 6]


def test_counters_print_as_iptables_shortens_them():
    from labkit.engine.sim.routing import _num

    assert [_num(n) for n in (0, 99999, 100000, 33767000)] == [
        "    0",
        "99999",
        " 100K",
        "  34M",
    ]


@pytest.mark.parametrize("classroom", [V20, V28], indirect=True)
def test_the_published_port_on_the_engine_host_answers_on_both(classroom):
    # Measured on both: http://<agent>:<port> from the other host returns the page, with the
    # client's own address; a port published on 127.0.0.1 is not there for it.
    published = classroom.container("pub").port().host_port
    result = classroom.routed_http("198.18.0.11", published)
    assert result.outcome == Outcome.OK and result.server_ip == ip(classroom, "pub")
    assert result.client_addr.startswith("[::ffff:198.18.0.10]:")
    loopback = classroom.container("lo").port().host_port
    assert classroom.routed_http("198.18.0.11", loopback).outcome == Outcome.REFUSED
    assert lines(classroom)[0] == "Chain PREROUTING (policy ACCEPT 10 packets, 606 bytes)"
