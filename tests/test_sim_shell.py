"""`docker exec` on the simulator: the lab image's commands, name resolution and reachability."""

from __future__ import annotations

import re

import pytest

from labkit.app import APPLETS, parse_page
from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import SimulatedEngine


@pytest.fixture
def sim():
    engine = SimulatedEngine()
    yield engine
    engine.close()


def run(engine, name, **kw):
    return engine.run(LAB_IMAGE, name=name, **kw)


def out(engine, name, *argv):
    result = engine.exec(name, list(argv))
    return result.exit_code, result.output


@pytest.fixture
def pair(sim):
    """a and b on a user network (a also on the default bridge), c on the default bridge only."""
    sim.create_network("labnet")
    run(sim, "a")
    run(sim, "b", network="labnet")
    run(sim, "c")
    sim.connect("labnet", "a", aliases=["web"])
    return sim


def test_bare_commands_need_the_images_applet_links(sim):
    run(sim, "x")
    assert "hostname" in APPLETS
    code, text = out(sim, "x", "hostname")
    assert code == 0 and text == sim.container("x").id[:12] + "\n"
    code, text = out(sim, "x", "getent", "hosts", "x")
    assert code == 126 and 'exec: "getent": executable file not found in $PATH' in text
    assert out(sim, "x", "/bin/busybox", "getent") == (127, "getent: applet not found\n")
    assert out(sim, "x", "sh", "-c", "getent hosts x") == (127, "sh: getent: not found\n")
    assert out(sim, "x", "/usr/bin/hostname")[0] == 126


def test_the_same_command_three_ways(sim):
    run(sim, "x", hostname="box")
    for argv in (["hostname"], ["/bin/busybox", "hostname"], ["sh", "-c", "hostname"]):
        assert out(sim, "x", *argv) == (0, "box\n")
    assert out(sim, "x", "sh", "-c", "hostname; echo done") == (0, "box\ndone\n")


def test_real_applets_the_model_lacks_say_so(sim):
    run(sim, "x")
    code, text = out(sim, "x", "/bin/busybox", "vi")
    assert code == 127 and "not modelled" in text


def test_files(sim):
    c = run(sim, "x")
    assert out(sim, "x", "cat", "/proc/sys/net/ipv4/ip_forward") == (0, "1\n")
    code, hosts = out(sim, "x", "cat", "/etc/hosts")
    assert code == 0 and hosts.startswith("127.0.0.1\tlocalhost\n")
    assert hosts.endswith(f"172.17.0.2\t{c.id[:12]}\n")
    assert out(sim, "x", "cat", "/nope") == (
        1,
        "cat: can't open '/nope': No such file or directory\n",
    )
    assert "nameserver 127.0.0.11" not in out(sim, "x", "cat", "/etc/resolv.conf")[1]


def test_ip_addr_lists_each_network_in_join_order(pair):
    code, text = out(pair, "a", "ip", "addr")
    assert code == 0
    assert re.findall(r"inet (\S+)", text) == ["127.0.0.1/8", "172.17.0.2/16", "172.18.0.3/16"]
    assert "link/ether 02:42:ac:11:00:02" in text and "eth1@if" in text
    assert "default via 172.17.0.1 dev eth0" in out(pair, "a", "ip", "route")[1]
    assert (
        out(pair, "a", "ifconfig", "eth1")[1]
        .splitlines()[1]
        .strip()
        .startswith("inet addr:172.18.0.3")
    )


def test_names_resolve_on_user_networks_only(pair):
    code, text = out(pair, "a", "nslookup", "b")
    assert (
        code == 0 and "Server:\t\t127.0.0.11" in text and "Name:\tb\nAddress: 172.18.0.2\n" in text
    )
    # By alias and by short ID, as Docker's embedded DNS answers.
    assert "Address: 172.18.0.3" in out(pair, "b", "nslookup", "web")[1]
    short = pair.container("a").id[:12]
    assert "Address: 172.18.0.3" in out(pair, "b", "nslookup", short)[1]
    # The default bridge has no DNS for container names.
    code, text = out(pair, "c", "nslookup", "a")
    assert code == 1 and "** server can't find a: NXDOMAIN" in text
    assert out(pair, "c", "ping", "-c", "1", "a") == (1, "ping: bad address 'a'\n")
    assert out(pair, "b", "ping", "-c", "1", "c") == (1, "ping: bad address 'c'\n")


def test_ping_reaches_containers_on_a_shared_network(pair):
    code, text = out(pair, "a", "ping", "-c", "2", "b")
    assert code == 0 and text.startswith("PING b (172.18.0.2): 56 data bytes\n")
    assert "2 packets transmitted, 2 packets received, 0% packet loss" in text
    assert out(pair, "c", "ping", "-c", "1", "172.17.0.2")[0] == 0  # same default bridge, by IP
    code, text = out(pair, "c", "ping", "-c", "1", "172.18.0.2")  # another bridge: isolated
    assert code == 1 and "100% packet loss" in text


def test_wget_gets_the_app_page_from_a_neighbour(pair):
    code, text = out(pair, "a", "wget", "-qO-", "http://b/")
    assert code == 0
    page = parse_page(text)
    assert page["server_ip"] == "172.18.0.2" and page["hostname"] == pair.container("b").id[:12]
    assert re.fullmatch(r"\[::ffff:172\.18\.0\.3\]:\d+", page["client_addr"])
    code, text = out(pair, "c", "wget", "-qO-", "http://172.17.0.2/")
    assert code == 0 and parse_page(text)["client_addr"].startswith("[::ffff:172.17.0.3]:")
    assert out(pair, "c", "wget", "-qO-", "http://172.17.0.2:81/") == (
        1,
        "wget: can't connect to remote host (172.17.0.2): Connection refused\n",
    )
    assert out(pair, "c", "wget", "-qO-", "http://b/") == (1, "wget: bad address 'b'\n")
    assert out(pair, "c", "wget", "-qO-", "-T", "2", "http://172.18.0.2/") == (
        1,
        "wget: download timed out\n",
    )
    assert (
        out(pair, "a", "wget", "-qO-", "http://b/missing")[1]
        == "wget: server returned error: HTTP/1.1 404 Not Found\n"
    )


def test_a_stopped_neighbour_leaves_dns_and_its_address(pair):
    pair.stop("b")
    assert out(pair, "a", "nslookup", "b")[0] == 1
    assert "Host is unreachable" in out(pair, "a", "wget", "-qO-", "http://172.18.0.2/")[1]


def test_none_and_host_containers(sim):
    run(sim, "n", network="none")
    assert out(sim, "n", "cat", "/etc/hosts")[1].count("\n") == 6  # no address line
    assert out(sim, "n", "wget", "-qO-", "http://172.17.0.2/") == (1, "wget: download timed out\n")
    run(sim, "h", network="host")
    assert out(sim, "h", "hostname") == (0, sim.host_hostname + "\n")
    run(sim, "t")
    code, text = out(sim, "h", "wget", "-qO-", "http://172.17.0.2/")  # the host reaches bridge IPs
    assert code == 0 and "Client: [::ffff:172.17.0.1]:" in text
