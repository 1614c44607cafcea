"""Real lab hosts in network namespaces: the lab text's route lesson and multi-host, for real.

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

from labkit.lab import Lab
from labkit.labhosts import ADDRESSES, BRIDGE, LabHosts, LabHostsUnavailable, available
from labkit.models import Outcome
from labkit.probe import probe_address

pytestmark = pytest.mark.labhosts


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
    procs = subprocess.run(["pgrep", "-af", str(hosts.root)], capture_output=True, text=True).stdout
    found += [f"process {line}" for line in procs.splitlines() if "pgrep" not in line]
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
LabHosts(root=sys.argv[1]).build(progress=lambda m: print(m, flush=True))
"""


def test_teardown_after_a_crash_mid_build(tmp_path):
    ok, why = available()
    if not ok:
        unavailable("labhosts", why)
    root = tmp_path / "crashed"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(root)], stdout=subprocess.PIPE, text=True
    )
    for line in proc.stdout:  # kill it once the first engine is on its way
        if "starting its own Docker engine" in line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    hosts = LabHosts(root=root)
    hosts.teardown()
    assert leftovers(hosts) == []


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    ok, why = available()
    if not ok:
        unavailable("labhosts", why)
    built = LabHosts(root=tmp_path_factory.mktemp("labhosts"))
    try:
        built.build()
        yield built
    finally:
        built.teardown()
        assert leftovers(built) == []


def from_client(hosts: LabHosts, address: str, port: int):
    return hosts.inside("client", lambda: probe_address(None, address, port, timeout=1.5))


def test_the_route_lesson_for_real(hosts):
    agent01 = ADDRESSES["agent01"]
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


def test_agents_link_by_host_gw_and_by_vxlan(hosts):
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

        hosts.link_agents("none")
        assert fetch().exit_code != 0
        hosts.link_agents("host-gw")
        assert f"Server IP: {target.ip}" in fetch().output
        assert hosts.vxlan_packets("agent01") == (0, 0)
        hosts.link_agents("vxlan")
        assert f"Server IP: {target.ip}" in fetch().output
        sent, received = hosts.vxlan_packets("agent01")
        assert sent > 0 and received > 0, "the reply came back through the tunnel"
    finally:
        hosts.link_agents("none")
        one.cleanup()
        two.cleanup()


def test_building_is_idempotent(hosts):
    started = time.monotonic()
    hosts.build()
    assert time.monotonic() - started < 5 and hosts.built
