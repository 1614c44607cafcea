"""Real lab hosts in network namespaces: the lab text's route lesson and multi-host, for real,
with the agents on Engine 20.10 and on Engine 28 (one after the other: the names are fixed).

Traffic goes only to the lab namespaces' own addresses (198.18.0.0/24, 198.19.0.0/24 and the
agents' container subnets), from inside those namespaces.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import unavailable

from labkit.engines import processes_of
from labkit.errors import InvalidInput
from labkit.generation import Generation
from labkit.lab import NAMESPACE_LABEL, Lab
from labkit.labhosts import (
    ADDRESSES,
    AGENT_BRIDGES,
    BRIDGE,
    OPENINGS,
    LabHosts,
    LabHostsUnavailable,
    available,
)
from labkit.models import Outcome
from labkit.probe import probe_address

pytestmark = pytest.mark.labhosts
ENGINES = [Generation.V20, Generation.V28]


def leftovers(hosts: LabHosts) -> list[str]:
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {h.netns}" for h in hosts.hosts.values() if h.netns in netns]
    found += [
        f"link {name}"
        for name in (BRIDGE, *(f"lkv-{h}" for h in ADDRESSES))
        if Path("/sys/class/net", name).exists()
    ]
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    found += [f"rule {line}" for line in rules.splitlines() if BRIDGE in line]
    for agent in AGENT_BRIDGES:  # found by the mark labkit puts on its engines, not by name
        found += [f"process {pid} of {agent}" for pid in processes_of(hosts.root / agent)]
    if hosts.root.exists():
        found.append(f"folder {hosts.root}")
    return found


# These two run first, before the module's lab hosts exist (the namespace names are fixed).


def test_refuses_clearly_without_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabHostsUnavailable, match="needs root"):
        LabHosts().build()


CRASHER = """
import sys
from labkit.labhosts import LabHosts
LabHosts(root=sys.argv[1], engine=sys.argv[2]).build(progress=lambda m: print(m, flush=True))
"""


@pytest.mark.parametrize("engine", ENGINES, ids=lambda g: g.value)
def test_teardown_after_a_crash_mid_build(tmp_path, engine):
    ok, why = available(engine)
    if not ok:
        unavailable("labhosts", why)
    root = tmp_path / "crashed"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(root), engine.value], stdout=subprocess.PIPE, text=True
    )
    for line in proc.stdout:  # kill it once the first engine is on its way
        if "starting its own Docker engine" in line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    hosts = LabHosts(root=root)
    assert hosts.generation is engine  # read back from the record
    hosts.teardown()
    assert leftovers(hosts) == []


def test_teardown_leaves_what_was_there_before(tmp_path):
    """A lab bridge and a client namespace that existed before `up` are used and left alone."""
    ok, why = available()
    if not ok:
        unavailable("labhosts", why)
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "netns", "add", "lk-client"], check=True)
    hosts = LabHosts(root=tmp_path / "theirs")
    try:
        try:
            hosts.build()
        finally:
            removed = hosts.teardown()
        assert f"link {BRIDGE}" not in removed and "netns lk-client" not in removed
        assert Path("/sys/class/net", BRIDGE).exists()
        assert (
            "lk-client"
            in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        )
    finally:
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        subprocess.run(["ip", "netns", "del", "lk-client"], capture_output=True)
    assert leftovers(hosts) == []


@pytest.fixture(scope="module", params=ENGINES, ids=lambda g: g.value)
def hosts(tmp_path_factory, request):
    ok, why = available(request.param)
    if not ok:
        unavailable("labhosts", why)
    built = LabHosts(root=tmp_path_factory.mktemp("labhosts"), engine=request.param)
    try:
        built.build()
        yield built
    finally:
        built.teardown()
        assert leftovers(built) == []


def from_client(hosts: LabHosts, address: str, port: int):
    return hosts.inside("client", lambda: probe_address(None, address, port, timeout=1.5))


def test_the_route_lesson_for_real(hosts):
    """The lab text's lesson; on Engine 28 with direct routing allowed (the route alone is
    dropped there: test_the_route_step)."""
    agent01 = ADDRESSES["agent01"]
    if hosts.generation.drops_routed_traffic:
        hosts.restart_engine("agent01", ("--allow-direct-routing",))
    lab = Lab(hosts.engine("agent01"), namespace="lesson")
    try:
        app = lab.start_app("myapp2", port=None)
        port = app.port(80).host_port
        via_port = from_client(hosts, agent01, port)
        assert via_port.ok and via_port.server_ip == app.ip
        assert hosts.ip_forward("agent01") is True

        assert from_client(hosts, app.ip, 80).outcome in (Outcome.UNREACHABLE, Outcome.TIMEOUT)
        hosts.add_route("client", "172.17.0.0/16", agent01)
        routed = from_client(hosts, app.ip, 80)
        assert routed.ok and routed.client_addr and ADDRESSES["client"] in routed.client_addr

        moved = lab.restart("myapp2")
        assert moved.port(80).host_port != port
        assert from_client(hosts, agent01, port).outcome == Outcome.REFUSED
        assert from_client(hosts, moved.ip, 80).ok
    finally:
        hosts.delete_route("client", "172.17.0.0/16")
        lab.cleanup()
        hosts.restart_engine("agent01", ())


# What answers through the client's route, (published, unpublished), for each opening.
ROUTED = {
    (Generation.V20, "none"): (True, True),
    (Generation.V28, "none"): (False, False),
    (Generation.V28, "allow-direct-routing"): (True, False),
    (Generation.V28, "trusted-host-interfaces"): (True, False),
    (Generation.V28, "nat-unprotected"): (True, True),
}


@pytest.mark.parametrize("opening", list(OPENINGS))
def test_the_route_step(hosts, opening):
    if (hosts.generation, opening) not in ROUTED:
        with pytest.raises(InvalidInput, match="an opening of Engine 28"):
            hosts.route_step(opening)
        return
    step = hosts.route_step(opening)
    assert step.generation is hosts.generation and step.opens == OPENINGS[opening]
    published, unpublished = step.tries
    assert step.via_port.ok and step.via_port.server_ip == published.ip
    assert step.route.startswith("ip route add ") and step.route.endswith(" via 198.18.0.11")
    assert all(t.before.outcome == Outcome.UNREACHABLE for t in step.tries), "no route yet"
    assert (published.answered, unpublished.answered) == ROUTED[hosts.generation, opening]
    for t in step.tries:
        if t.answered:  # routed, not NATed: the app sees the client's own address
            assert ADDRESSES["client"] in (t.after.client_addr or "")
        else:
            assert t.after.outcome == Outcome.TIMEOUT  # dropped, not refused
    if hosts.generation.drops_routed_traffic and opening == "none":
        assert step.dropped > 0
        assert step.raw_rules == tuple(
            f"-A PREROUTING -d {t.ip}/32 ! -i docker0 -j DROP" for t in step.tries
        )
    elif opening != "trusted-host-interfaces":
        assert (step.dropped, step.raw_rules) == (0, ())
    else:
        assert step.dropped == 0  # its rules stay, yet eth1 is let in before them
    assert not hosts.engine("agent01").containers(labels={NAMESPACE_LABEL: "route-step"})


def test_the_agents_engines_listen_on_their_unix_socket_only(hosts):
    """A TCP listener on the lab network would let any lab container drive the engine."""
    for agent, address in ADDRESSES.items():
        if agent == "client":
            continue
        assert ":2375" not in hosts.run(agent, "ss", "-ltn").stdout
        assert from_client(hosts, address, 2375).outcome == Outcome.REFUSED


def test_agents_link_by_host_gw_and_by_vxlan(hosts):
    """Linked first: on Engine 28 linking restarts the agents' engines (direct routing)."""
    hosts.link_agents("host-gw")
    one, two = (
        Lab(hosts.engine("agent01"), namespace="mh"),
        Lab(hosts.engine("agent02"), namespace="mh"),
    )
    try:
        one.start_app("web1", port=None)
        target = two.start_app("web2", port=None)
        assert target.ip.startswith("172.18."), "agent02 has its own container subnet"

        def fetch():
            return one.exec(
                "web1", ["timeout", "3", "wget", "-q", "-O", "-", f"http://{target.ip}/"]
            )

        assert f"Server IP: {target.ip}" in fetch().output
        assert hosts.vxlan_packets("agent01") == (0, 0)
        hosts.link_agents("vxlan")
        assert f"Server IP: {target.ip}" in fetch().output
        sent, received = hosts.vxlan_packets("agent01")
        assert sent > 0 and received > 0, "the reply came back through the tunnel"
        hosts.link_agents("none")
        assert fetch().exit_code != 0
    finally:
        hosts.link_agents("none")
        one.cleanup()
        two.cleanup()


def test_building_is_idempotent(hosts):
    started = time.monotonic()
    hosts.build()
    assert time.monotonic() - started < 5 and hosts.built
