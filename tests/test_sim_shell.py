"""`docker exec` on the simulator: the lab image's commands, name resolution and reachability,
for each engine generation it models (outputs measured on 20.10.24 and 28.5.2)."""

from __future__ import annotations

import re

import pytest

from labkit.app import APPLETS, parse_page
from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import SimulatedEngine
from labkit.generation import Generation

V20, V28 = Generation.V20, Generation.V28


@pytest.fixture(params=list(Generation), ids=lambda g: f"v{g.value}")
def sim(request):
    engine = SimulatedEngine(generation=request.param)
    yield engine
    engine.close()


@pytest.fixture
def sim28():
    engine = SimulatedEngine(generation=V28)
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
    run(sim, "aa")
    run(sim, "bb", network="labnet")
    run(sim, "cc")
    sim.connect("labnet", "aa", aliases=["web"])
    return sim


def test_bare_commands_need_the_images_applet_links(sim):
    run(sim, "xx")
    assert "hostname" in APPLETS
    code, text = out(sim, "xx", "hostname")
    assert code == 0 and text == sim.container("xx").id[:12] + "\n"
    code, text = out(sim, "xx", "getent", "hosts", "xx")
    lacks = {V20: 126, V28: 127}[sim.generation]  # measured on each
    suffix = {V20: ": unknown", V28: ""}[sim.generation]
    assert (code, text) == (
        lacks,
        'OCI runtime exec failed: exec failed: unable to start container process: exec: "getent": '
        f"executable file not found in $PATH{suffix}\r\n",
    )
    assert out(sim, "xx", "/bin/busybox", "getent") == (127, "getent: applet not found\n")
    assert out(sim, "xx", "sh", "-c", "getent hosts x") == (127, "sh: getent: not found\n")
    code, text = out(sim, "xx", "/usr/bin/hostname")
    assert code == lacks
    assert text.endswith(
        f'exec: "/usr/bin/hostname": stat /usr/bin/hostname: no such file or directory{suffix}\r\n'
    )


def test_the_same_command_three_ways(sim):
    run(sim, "xx", hostname="box")
    for argv in (["hostname"], ["/bin/busybox", "hostname"], ["sh", "-c", "hostname"]):
        assert out(sim, "xx", *argv) == (0, "box\n")
    assert out(sim, "xx", "sh", "-c", "hostname; echo done") == (0, "box\ndone\n")


def test_real_applets_the_model_lacks_say_so(sim):
    run(sim, "xx")
    code, text = out(sim, "xx", "/bin/busybox", "vi")
    assert code == 127 and "not modelled" in text


def test_files(sim):
    c = run(sim, "xx")
    assert out(sim, "xx", "cat", "/proc/sys/net/ipv4/ip_forward") == (0, "1\n")
    code, hosts = out(sim, "xx", "cat", "/etc/hosts")
    assert code == 0 and hosts.startswith("127.0.0.1\tlocalhost\n")
    assert hosts.endswith(f"172.17.0.2\t{c.id[:12]}\n")
    assert out(sim, "xx", "cat", "/nope") == (
        1,
        "cat: can't open '/nope': No such file or directory\n",
    )
    assert "nameserver 127.0.0.11" not in out(sim, "xx", "cat", "/etc/resolv.conf")[1]


def test_ip_addr_lists_each_network_in_join_order(pair):
    code, text = out(pair, "aa", "ip", "addr")
    assert code == 0
    assert re.findall(r"inet (\S+)", text) == ["127.0.0.1/8", "172.17.0.2/16", "172.18.0.3/16"]
    mac = pair.container("aa").attachment("bridge").mac
    assert f"link/ether {mac}" in text and "eth1@" in text
    assert (mac == "02:42:ac:11:00:02") == (pair.generation is V20)
    assert "default via 172.17.0.1 dev eth0" in out(pair, "aa", "ip", "route")[1]
    assert (
        out(pair, "aa", "ifconfig", "eth1")[1]
        .splitlines()[1]
        .strip()
        .startswith("inet addr:172.18.0.3")
    )


def test_ip_addr_as_each_generation_prints_it(sim):
    run(sim, "xx")
    text = out(sim, "xx", "ip", "addr")[1]
    mac = sim.container("xx").attachment("bridge").mac
    eth0 = (
        "<BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue \n"
        f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff\n"
        "    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0\n"
        "       valid_lft forever preferred_lft forever\n"
    )
    lo = (
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\n"
        "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
        "    inet 127.0.0.1/8 scope host lo\n"
        "       valid_lft forever preferred_lft forever\n"
    )
    lo6 = "    inet6 ::1/128 scope host \n       valid_lft forever preferred_lft forever\n"
    if sim.generation is V20:  # numbered on the host, in pairs: 18: eth0@if19 was seen
        assert re.fullmatch(re.escape(lo) + r"(\d+): eth0@if(\d+): " + re.escape(eth0), text)
        index, peer = map(int, re.match(re.escape(lo) + r"(\d+): eth0@if(\d+)", text).groups())
        assert peer == index + 1
    else:  # made in the container's namespace: 2: eth0@if<host's number>; lo keeps ::1
        assert re.fullmatch(re.escape(lo + lo6) + r"2: eth0@if\d+: " + re.escape(eth0), text)
    ipv4_only = out(sim, "xx", "ip", "-4", "addr")[1]
    assert "inet6" not in ipv4_only and "valid_lft" in ipv4_only
    one_line = out(sim, "xx", "ip", "-o", "addr")[1].splitlines()
    assert len(one_line) == {V20: 2, V28: 3}[sim.generation]
    hosts = out(sim, "xx", "cat", "/etc/hosts")[1]
    short = {V20: "fe00::0\tip6-localnet\nff00::0\t", V28: "fe00::\tip6-localnet\nff00::\t"}
    assert short[sim.generation] in hosts
    assert ("inet6 addr: ::1/128 Scope:Host" in out(sim, "xx", "ifconfig")[1]) == (
        sim.generation is V28
    )


def test_on_28_a_peer_number_that_is_also_a_local_interface_shows_its_name(sim28):
    # Seen on 28.5.2 in a fresh engine namespace: "2: eth0@eth1: <BROADCAST,...,LOWER_UP>"
    # (busybox looks the host-side number up in the container's namespace, where 3 is eth1).
    # The host's links share one count in the order they are made (seen on 28.5.2: veth 9,
    # then the network's bridge 10, then the second veth 11).
    sim28._host_ifindex = iter(range(3, 100))
    run(sim28, "xx")  # its veth: 3
    sim28.create_network("labnet")  # the bridge: 4
    sim28.connect("labnet", "xx")  # the second veth: 5
    text = out(sim28, "xx", "ip", "addr")[1]
    assert "2: eth0@eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500" in text
    assert "3: eth1@if5: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500" in text


def interface_networks(engine, name):
    """eth0, eth1, ... → network, from `ip -o -4 addr`, and the default route's device."""
    names = {a.ip: a.network for a in engine.container(name).networks}
    devices = {}
    for line in out(engine, name, "ip", "-o", "-4", "addr")[1].splitlines():
        fields = line.split()
        if fields[1] != "lo":
            devices[fields[1]] = names[fields[3].split("/")[0]]
    route = out(engine, name, "ip", "route")[1].splitlines()[0]
    return [devices[d] for d in sorted(devices)], route.split(" dev ")[1].strip()


@pytest.fixture
def quiet28():
    """Engine 28 with a probe that finds every port free: the machine's own busy ports must
    not move the host-port count."""
    engine = SimulatedEngine(generation=V28, port_probe=lambda port, proto, ip: True)
    yield engine
    engine.close()


def test_after_a_restart_28_names_interfaces_in_a_rotation_of_the_connect_order(quiet28):
    # Measured on 28.5.2 (bridge, then zzz, aaa, mmm connected; 8 restarts): eth0..eth3 were
    # bridge zzz aaa mmm 5 times, aaa mmm bridge zzz twice, zzz aaa mmm bridge once; the
    # default route and the ports stayed with bridge, the name that sorts first; each restart
    # moved the host port on by 4, 5 and 6 for those orders.
    # (Their names sort after "bridge", as the measured ones did: they had a prefix.)
    sim28 = quiet28  # its container serves nothing, so no real listener is opened either
    for net in ("x-zzz", "x-aaa", "x-mmm"):
        sim28.create_network(net)
    run(sim28, "cc", ports={"80/tcp": None}, command=["/bin/busybox", "sleep", "3600"])
    for net in ("x-zzz", "x-aaa", "x-mmm"):
        sim28.connect(net, "cc")
    connected = ["bridge", "x-zzz", "x-aaa", "x-mmm"]
    assert interface_networks(sim28, "cc") == (connected, "eth0")
    sim28.rng.seed(7)
    seen, port = {}, sim28.container("cc").port().host_port
    for _ in range(64):
        sim28.restart("cc", timeout=0)
        order, device = interface_networks(sim28, "cc")
        assert order in [connected[n:] + connected[:n] for n in range(4)]
        assert order[int(device[3:])] == "bridge"  # the gateway endpoint stays bridge
        new = sim28.container("cc").port().host_port
        gateway_changes = sum(
            1 for n in range(1, 4) if min(order[: n + 1]) == order[n] != min(order[:n])
        )
        assert new - port == 3 + 1 + gateway_changes  # 3 leaves, 1 first join, the changes
        port = new
        seen[order[0]] = seen.get(order[0], 0) + 1
    assert set(seen) == set(connected) and seen["bridge"] > 64 * 0.4  # 5 in 8 expected


def test_20_10_names_interfaces_in_network_name_order_after_a_restart():
    engine = SimulatedEngine(generation=V20)
    try:
        for net in ("x-zzz", "x-aaa"):
            engine.create_network(net)
        run(engine, "cc")
        engine.connect("x-zzz", "cc")
        engine.connect("x-aaa", "cc")
        assert interface_networks(engine, "cc") == (["bridge", "x-zzz", "x-aaa"], "eth0")
        engine.restart("cc", timeout=0)  # measured on 20.10: eth0 bridge, eth1 aaa, eth2 zzz
        assert interface_networks(engine, "cc") == (["bridge", "x-aaa", "x-zzz"], "eth0")
    finally:
        engine.close()


def test_names_resolve_on_user_networks_only(pair):
    code, text = out(pair, "aa", "nslookup", "bb")
    assert (
        code == 0 and "Server:\t\t127.0.0.11" in text and "Name:\tbb\nAddress: 172.18.0.2\n" in text
    )
    # By alias and by short ID, as Docker's embedded DNS answers.
    assert "Address: 172.18.0.3" in out(pair, "bb", "nslookup", "web")[1]
    short = pair.container("aa").id[:12]
    assert "Address: 172.18.0.3" in out(pair, "bb", "nslookup", short)[1]
    # The default bridge has no DNS for container names.
    code, text = out(pair, "cc", "nslookup", "aa")
    assert code == 1 and "** server can't find aa: NXDOMAIN" in text
    assert out(pair, "cc", "ping", "-c", "1", "aa") == (1, "ping: bad address 'aa'\n")
    assert out(pair, "bb", "ping", "-c", "1", "cc") == (1, "ping: bad address 'cc'\n")


def test_ping_reaches_containers_on_a_shared_network(pair):
    code, text = out(pair, "aa", "ping", "-c", "2", "bb")
    assert code == 0 and text.startswith("PING bb (172.18.0.2): 56 data bytes\n")
    assert "2 packets transmitted, 2 packets received, 0% packet loss" in text
    assert out(pair, "cc", "ping", "-c", "1", "172.17.0.2")[0] == 0  # same default bridge, by IP
    code, text = out(pair, "cc", "ping", "-c", "1", "172.18.0.2")  # another bridge: isolated
    assert code == 1 and "100% packet loss" in text


def test_wget_gets_the_app_page_from_a_neighbour(pair):
    code, text = out(pair, "aa", "wget", "-qO-", "http://bb/")
    assert code == 0
    page = parse_page(text)
    assert page["server_ip"] == "172.18.0.2" and page["hostname"] == pair.container("bb").id[:12]
    assert re.fullmatch(r"\[::ffff:172\.18\.0\.3\]:\d+", page["client_addr"])
    code, text = out(pair, "cc", "wget", "-qO-", "http://172.17.0.2/")
    assert code == 0 and parse_page(text)["client_addr"].startswith("[::ffff:172.17.0.3]:")
    assert out(pair, "cc", "wget", "-qO-", "http://172.17.0.2:81/") == (
        1,
        "wget: can't connect to remote host (172.17.0.2): Connection refused\n",
    )
    assert out(pair, "cc", "wget", "-qO-", "http://bb/") == (1, "wget: bad address 'bb'\n")
    assert out(pair, "cc", "wget", "-qO-", "-T", "2", "http://172.18.0.2/") == (
        1,
        "wget: download timed out\n",
    )
    assert (
        out(pair, "aa", "wget", "-qO-", "http://bb/missing")[1]
        == "wget: server returned error: HTTP/1.1 404 Not Found\n"
    )


def test_a_stopped_neighbour_leaves_dns_and_its_address(pair):
    pair.stop("bb")
    assert out(pair, "aa", "nslookup", "bb")[0] == 1
    assert "Host is unreachable" in out(pair, "aa", "wget", "-qO-", "http://172.18.0.2/")[1]


def test_none_and_host_containers(sim):
    run(sim, "nn", network="none")
    assert out(sim, "nn", "cat", "/etc/hosts")[1].count("\n") == 6  # no address line
    assert out(sim, "nn", "wget", "-qO-", "http://172.17.0.2/") == (1, "wget: download timed out\n")
    run(sim, "hh", network="host")
    assert out(sim, "hh", "hostname") == (0, sim.host_hostname + "\n")
    run(sim, "tt")
    code, text = out(sim, "hh", "wget", "-qO-", "http://172.17.0.2/")  # the host reaches bridge IPs
    assert code == 0 and "Client: [::ffff:172.17.0.1]:" in text


def test_resolv_conf_and_unknown_names_as_each_generation_writes_them(sim):
    sim.create_network("labnet")
    run(sim, "uu", network="labnet", dns=["127.0.0.1"])
    run(sim, "dd")
    user = out(sim, "uu", "cat", "/etc/resolv.conf")[1]
    bridge = out(sim, "dd", "cat", "/etc/resolv.conf")[1]
    code, text = out(sim, "uu", "nslookup", "nosuchname")
    assert code == 1
    if sim.generation is V20:
        assert user == "nameserver 127.0.0.11\noptions ndots:0\n"
        assert bridge == f"nameserver {sim.host_nameserver}\n"
        assert text == ";; connection timed out; no servers could be reached\n\n"
    else:  # 28.5.2's words
        assert user.startswith("# Generated by Docker Engine.\n")
        assert "\nnameserver 127.0.0.11\noptions ndots:0\n\n" in user
        assert user.endswith(
            "# Based on host file: '/etc/resolv.conf' (internal resolver)\n"
            "# ExtServers: [127.0.0.1]\n# Overrides: [nameservers]\n"
            "# Option ndots from: internal\n"
        )
        assert f"\nnameserver {sim.host_nameserver}\n\n" in bridge
        assert bridge.endswith("(legacy)\n# Overrides: []\n")
        assert text == (
            "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n"
            + "** server can't find nosuchname: SERVFAIL\n\n" * 2
        )


def test_the_hosts_links_have_one_number_each_and_containers_name_their_peer(sim):
    run(sim, "aa")
    sim.create_network("labnet")
    run(sim, "bb", network="labnet")
    sim.connect("labnet", "aa")
    sim.create_network("other")
    run(sim, "cc", network="other")
    links = sim.host_command(["ip", "link"]).output
    numbers = [int(n) for n in re.findall(r"(?m)^(\d+): ", links)]
    assert len(numbers) == len(set(numbers)) == 2 + 3 + 4, links  # lo, eth0; 3 bridges; 4 veths
    # One count for the links made on the host, in order (seen on 20.10.24 and 28.5.2); on 20.10
    # a veth pair takes two numbers there, and its container end leaves the host.
    expected = {V20: [1, 2, 3, 5, 6, 8, 10, 11, 13], V28: list(range(1, 10))}
    assert numbers == expected[sim.generation], links
    peers = dict(re.findall(r"(?m)^(\d+): veth\w+@if(\d+):", links))
    for name in ("aa", "bb", "cc"):
        for index, peer in re.findall(
            r"(?m)^(\d+): eth\d+@if(\d+):", out(sim, name, "ip", "addr")[1]
        ):
            assert peers[peer] == index  # the host end's number, and its own there
