"""The engine contract: one suite, run unchanged on the simulator and on a real Docker engine.

Every test uses the ``engine`` fixture (conftest.py), so it runs twice; the docker parameter is
marked ``docker`` and must pass in CI. Objects are named ``simtest-<tag>-...``, carry a
``simtest`` label and are removed by the fixture that made them.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import time
import uuid
import warnings

import pytest
from loopback import refused

from labkit.app import parse_page
from labkit.engine.base import HOST_PORTS_DISCARDED, LAB_IMAGE
from labkit.engine.sim.ports import port_is_free
from labkit.errors import (
    Conflict,
    ContainerNotFound,
    ContainerNotRunning,
    ImageNotFound,
    InvalidInput,
    InvalidName,
    NameInUse,
    NetworkInUse,
    NetworkNotFound,
    NotFound,
)
from labkit.models import Outcome
from labkit.probe import probe_bridge_ip

LOOPBACK = {"80/tcp": ("127.0.0.1", None)}
DEFAULT_POOLS = [ipaddress.ip_network(f"172.{n}.0.0/16") for n in range(18, 32)] + list(
    ipaddress.ip_network("192.168.0.0/16").subnets(new_prefix=20)
)


class Made:
    """What one test made on the engine, so the fixture removes exactly that."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.tag = uuid.uuid4().hex[:6]
        self.containers: list[str] = []
        self.networks: list[str] = []

    def name(self, short: str) -> str:
        return f"simtest-{self.tag}-{short}"

    def run(self, short: str, **kw):
        kw.setdefault("ports", LOOPBACK)
        kw["labels"] = {"simtest": self.tag, **kw.get("labels", {})}
        container = self.engine.run(LAB_IMAGE, name=self.name(short), **kw)
        self.containers.append(container.id)
        return container

    def network(self, short: str, **kw):
        kw["labels"] = {"simtest": self.tag, **kw.get("labels", {})}
        net = self.engine.create_network(self.name(short), **kw)
        self.networks.append(net.id)
        return net

    def cleanup(self) -> None:
        for cid in self.containers:
            try:
                self.engine.remove(cid, force=True)
            except NotFound:
                pass
        for nid in self.networks:
            try:
                self.engine.remove_network(nid)
            except NotFound:
                pass


@pytest.fixture
def made(engine):
    engine.ensure_lab_image()
    tracker = Made(engine)
    yield tracker
    tracker.cleanup()


def http_get(port: int, timeout: float = 3.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/")
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    finally:
        conn.close()


def get_when_ready(port: int, deadline: float = 3.0) -> tuple[int, str]:
    # A real engine's proxy may answer a moment after start; bounded polling.
    end = time.monotonic() + deadline
    while True:
        try:
            return http_get(port)
        except (ConnectionError, http.client.HTTPException, OSError):
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


# -- engine and image --------------------------------------------------------------------------


def test_info_and_ping(engine):
    engine.ping()
    info = engine.info()
    assert info.kind == engine.kind in ("docker", "sim")
    assert info.simulated == (engine.kind == "sim")
    low, high = info.port_range
    assert 1 <= low < high <= 65535
    assert info.bridge_name == "docker0" and info.description


def test_lab_image_and_unknown_images(made):
    assert made.engine.ensure_lab_image() == LAB_IMAGE
    with pytest.raises(ImageNotFound, match="nope/nothing:1"):
        made.engine.run("nope/nothing:1", name=made.name("x"))
    with pytest.raises(ContainerNotFound):
        made.engine.container(made.name("x"))


# -- ports and the lab text's restart ------------------------------------------------------------


def test_ephemeral_port_on_all_interfaces_has_an_ipv6_twin(made):
    c = made.run("allif", ports={"80/tcp": None})
    binding = c.port(80)
    assert (binding.host_ip, binding.ipv6_host_ip) == ("0.0.0.0", "::")
    assert binding.ipv6_differs == (binding.host_port != binding.ipv6_host_port)
    low, high = made.engine.info().port_range
    assert low <= binding.host_port <= high and low <= binding.ipv6_host_port <= high
    raw = made.engine.inspect_container(c.id)["NetworkSettings"]["Ports"]["80/tcp"]
    assert raw == [
        {"HostIp": "0.0.0.0", "HostPort": str(binding.host_port)},
        {"HostIp": "::", "HostPort": str(binding.ipv6_host_port)},
    ]


def test_a_port_busy_for_ipv4_alone_moves_ipv4_on_and_leaves_ipv6_behind(made):
    """A port some program holds on IPv4 only (an outgoing connection's local port, a listener
    on 127.0.0.1) is skipped. On 20.10 each family has its own round robin, so it is skipped for
    IPv4 alone and the twins part; on 28 both families get one port, free in both."""
    first = made.run("first", ports={"80/tcp": None}).port(80)
    info = made.engine.info()
    low, high = info.port_range

    def after(port: int) -> int:
        return low + (port - low + 1) % (high - low + 1)

    def next_free(port: int, *families: str) -> int:  # what the engine should hand out next
        port = after(port)
        while not all(port_is_free(port, "tcp", family) for family in families):
            port = after(port)
        return port

    blocked = after(first.host_port)
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with contextlib.suppress(OSError):  # already busy on this machine: just as good
        blocker.bind(("127.0.0.1", blocked))
        blocker.listen()
    try:
        if info.generation.same_port_twins:
            both = next_free(first.host_port, "0.0.0.0", "::")
            expected = (both, both)
        else:
            expected = (
                next_free(first.host_port, "0.0.0.0"),
                next_free(first.ipv6_host_port, "::"),
            )
        second = made.run("second", ports={"80/tcp": None}).port(80)
    finally:
        blocker.close()
    assert second.host_port != blocked
    assert (second.host_port, second.ipv6_host_port) == expected
    assert second.ipv6_differs == (second.host_port != second.ipv6_host_port)


def test_the_lab_texts_restart_moves_the_port_and_keeps_the_bridge_ip(made):
    c = made.run("myapp2")
    old = c.port().host_port
    status, body = get_when_ready(old)
    page = parse_page(body)
    assert status == 200 and page["server_ip"] == c.ip
    assert re.fullmatch(r"\[::ffff:172\.17\.0\.1\]:\d+", page["client_addr"])
    after = made.engine.restart(c.id)
    new = after.port().host_port
    assert after.running and new != old
    assert refused(old)
    status, body = get_when_ready(new)
    assert status == 200 and parse_page(body)["hostname"] == c.id[:12]
    bridge = probe_bridge_ip(made.engine, after)
    assert bridge.outcome == Outcome.OK and bridge.server_ip == after.ip
    assert bridge.simulated == (made.engine.kind == "sim")


def test_a_second_run_gets_a_later_port(made):
    first = made.run("one").port().host_port
    second = made.run("two").port().host_port
    assert second != first


def test_stop_start_and_not_running(made):
    c = made.run("s")
    stopped = made.engine.stop(c.id, timeout=2)
    assert stopped.status == "exited" and stopped.exit_code == 143
    assert stopped.ports == () and stopped.ip == ""
    assert made.engine.stop(c.id).status == "exited"  # a no-op
    with pytest.raises(ContainerNotRunning):
        made.engine.exec(c.id, ["hostname"])
    started = made.engine.start(c.id)
    assert started.running and started.port().published
    assert made.engine.start(c.id).running  # a no-op


def test_remove(made):
    c = made.run("r")
    made.engine.remove(c.id, force=True)
    with pytest.raises(ContainerNotFound):
        made.engine.container(c.id)
    with pytest.raises(ContainerNotFound):
        made.engine.remove(c.id)


# -- containers and lists --------------------------------------------------------------------------


def test_lookups_by_name_id_and_short_id(made):
    c = made.run("look")
    for ref in (c.name, c.id, c.id[:12]):
        assert made.engine.container(ref).id == c.id
    assert c.image == LAB_IMAGE and c.labels["simtest"] == made.tag


def test_containers_filters_by_label_and_state(made):
    a = made.run("a", labels={"simtest.role": "web"})
    made.run("b")
    made.engine.stop(made.name("b"), timeout=2)
    everything = made.engine.containers(labels={"simtest": made.tag})
    assert {c.name for c in everything} == {made.name("a"), made.name("b")}
    running = made.engine.containers(labels={"simtest": made.tag}, all=False)
    assert [c.name for c in running] == [made.name("a")]
    web = made.engine.containers(labels={"simtest": made.tag, "simtest.role": "web"})
    assert [c.id for c in web] == [a.id]
    assert web[0].ip == a.ip and web[0].port().host_port == a.port().host_port


# -- what a container's command does as PID 1 ----------------------------------------------------

BUSYBOX = "/bin/busybox"


def settled(made, container, *, wait_s: float = 5.0):
    """The container once its command has had time to end (bounded); on the engine a command
    that ends at once dies a moment after start."""
    deadline = time.monotonic() + wait_s
    seen = made.engine.container(container.id)
    while seen.status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = made.engine.container(container.id)
    return seen


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ([BUSYBOX, "hostname"], ("exited", 0)),
        (["/bin/hostname"], ("exited", 0)),
        ([BUSYBOX, "false"], ("exited", 1)),
        ([BUSYBOX, "nosuchapplet"], ("exited", 127)),
        (["sleep", "300"], ("exited", 127)),  # not linked in the image: docker-init says 127
        (["/bin/sleep", "300"], ("exited", 127)),
    ],
)
def test_a_command_that_ends_at_once_takes_its_container_down(made, command, expected):
    c = settled(made, made.run("once", command=command, ports=None))
    assert (c.status, c.exit_code) == expected
    assert not c.ip and c.ports == ()


@pytest.mark.parametrize("command", [[BUSYBOX, "sleep", "300"], [BUSYBOX, "nc", "-l", "-p", "81"]])
def test_a_foreground_command_keeps_its_container_running(made, command):
    c = made.run("fg", command=command, ports=None)
    time.sleep(0.3)  # long enough for a command that ends at once to have ended on the engine
    assert made.engine.container(c.id).status == "running"


def test_without_init_a_missing_program_refuses_to_start_and_leaves_nothing(made):
    with pytest.raises(
        InvalidInput, match=r"(?s)no program 'sleep'.*busybox.*'/bin/busybox', 'sleep'"
    ):
        made.run("noinit", command=["sleep", "300"], init=False, ports=None)
    with pytest.raises(ContainerNotFound):
        made.engine.container(made.name("noinit"))


def test_probing_a_container_whose_command_is_missing_says_so(made):
    from labkit.probe import probe

    c = settled(made, made.run("missing", command=["sleep", "300"]))
    [via_port, via_bridge] = probe(made.engine, c)
    assert via_port.outcome == via_bridge.outcome == Outcome.NOT_RUNNING
    assert "code 127: its command is not in the image" in via_port.detail


# -- networks -------------------------------------------------------------------------------------


def assert_mac(made, mac: str, ip: str) -> None:
    """20.10 derives a container's MAC from its IP (02:42 + the four bytes); 28 makes it random:
    locally administered, unicast."""
    derived = "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)
    if made.engine.info().generation.random_macs:
        first = int(mac.split(":")[0], 16)
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) and first & 0b11 == 0b10, mac
    else:
        assert mac == derived


def test_default_bridge(made):
    c = made.run("b0")
    ip = ipaddress.ip_address(c.ip)
    assert ip in ipaddress.ip_network("172.17.0.0/16")
    att = c.attachment("bridge")
    mode = made.engine.info().generation.default_network_mode
    assert (att.gateway, att.prefix_len, c.network_mode) == ("172.17.0.1", 16, mode)
    assert_mac(made, att.mac, c.ip)
    bridge = made.engine.network("bridge")
    assert (bridge.subnet, bridge.bridge_name, bridge.driver) == (
        "172.17.0.0/16",
        "docker0",
        "bridge",
    )
    endpoint = [e for e in bridge.endpoints if e.container_id == c.id][0]
    assert endpoint.ipv4 == f"{c.ip}/16" and endpoint.mac == att.mac
    names = [n.name for n in made.engine.networks()]
    assert {"bridge", "host", "none"} <= set(names) and names == sorted(names)


def test_user_network_from_the_default_pools(made):
    net = made.network("net")
    subnet = ipaddress.ip_network(net.subnet)
    assert subnet in DEFAULT_POOLS
    assert net.gateway == str(next(subnet.hosts()))
    a = made.run("a", network=net.name)
    b = made.run("b", network=net.name)
    hosts = list(subnet.hosts())
    assert (a.ip, b.ip) == (str(hosts[1]), str(hosts[2]))
    dns_names = made.engine.inspect_container(a.id)["NetworkSettings"]["Networks"][net.name]
    if made.engine.info().generation.lists_dns_names:  # 28: name and short ID, apart
        assert a.attachment(net.name).aliases == ()
        assert dns_names["DNSNames"] == [a.name, a.id[:12]]
    else:
        assert a.attachment(net.name).aliases == (a.id[:12],) and "DNSNames" not in dns_names
    assert a.network_mode == net.name
    assert [e.container_name for e in made.engine.network(net.id).endpoints] == sorted(
        [a.name, b.name]
    )


def test_user_network_with_a_subnet(made):
    net = made.network("mine", subnet="10.213.7.0/24")
    assert net.subnet == "10.213.7.0/24"
    # The engine leaves Gateway out of the IPAM config it was given; .1 is what it assigns.
    assert net.gateway == made.engine.network(net.name).gateway == "10.213.7.1"
    c = made.run("m", network=net.name)
    assert c.ip == "10.213.7.2" and c.attachment(net.name).gateway == "10.213.7.1"
    assert_mac(made, c.attachment(net.name).mac, "10.213.7.2")


def test_connect_disconnect_and_name_resolution(made):
    net = made.network("dns")
    a = made.run("a")
    made.run("b", network=net.name)
    made.run("c")
    made.engine.connect(net.name, a.id, aliases=["web"])
    a = made.engine.container(a.id)
    assert [x.network for x in a.networks] == sorted(["bridge", net.name])
    assert a.attachment(net.name).aliases[0] == "web"
    found = made.engine.exec(made.name("b"), ["nslookup", "web"])
    assert found.exit_code == 0 and f"Address: {a.attachment(net.name).ip}" in found.output
    pinged = made.engine.exec(made.name("b"), ["ping", "-c", "1", made.name("a")])
    assert pinged.exit_code == 0 and "1 packets received" in pinged.output
    page = made.engine.exec(made.name("a"), ["wget", "-qO-", f"http://{made.name('b')}/"])
    assert page.exit_code == 0 and parse_page(page.output)["client_addr"].startswith(
        f"[::ffff:{a.attachment(net.name).ip}]:"
    )
    # The default bridge has no DNS for container names.
    lost = made.engine.exec(made.name("c"), ["ping", "-c", "1", made.name("a")])
    assert lost.exit_code == 1 and f"bad address '{made.name('a')}'" in lost.output
    made.engine.disconnect(net.name, a.id)
    assert [x.network for x in made.engine.container(a.id).networks] == ["bridge"]
    with pytest.raises(InvalidInput):
        made.engine.disconnect(net.name, a.id)


@pytest.mark.parametrize("action", ["created", "removed"])
def test_the_engines_own_networks_cannot_be_created_or_removed(made, action):
    for name in ("bridge", "host", "none"):
        with pytest.raises(InvalidInput) as info:
            if action == "created":
                made.engine.create_network(name)
            else:
                made.engine.remove_network(name)
        assert (
            info.value.what
            == f"{name!r} is one of the engine's own networks and cannot be {action}"
        )


def test_a_name_the_embedded_dns_does_not_know_is_not_found_by_a_lab_container(made):
    """Lab containers name 127.0.0.1 as their resolver. 20.10's embedded DNS asks the
    container's own loopback, where nothing answers: the lookup times out. 28's asks the engine
    host's loopback (nothing listens on 127.0.0.1:53 in the engines these tests run): it fails
    at once."""
    net = made.network("fwd")
    made.run("asker", network=net.name, dns=["127.0.0.1"])
    nobody = made.name("nobody")
    lost = made.engine.exec(made.name("asker"), ["nslookup", nobody])
    if made.engine.info().generation.dns_forwards_to_host_loopback:
        assert (lost.exit_code, lost.output) == (
            1,
            "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n"
            + f"** server can't find {nobody}: SERVFAIL\n\n" * 2,
        )
    else:
        assert (lost.exit_code, lost.output) == (
            1,
            ";; connection timed out; no servers could be reached\n\n",
        )


def test_published_ports_follow_the_network_that_carries_them(made):
    """The engine publishes through one endpoint: when it leaves, the ports are published anew
    through the next network (a new host port); with no network left, nothing is published."""
    net = made.network("carrier")
    c = made.run("moving")
    first = c.port(80).host_port
    made.engine.connect(net.name, c.id)
    assert made.engine.container(c.id).port(80).host_port == first
    made.engine.disconnect("bridge", c.id)
    second = made.engine.container(c.id).port(80).host_port
    assert second not in (None, first) and refused(first)
    assert get_when_ready(second)[0] == 200
    made.engine.disconnect(net.name, c.id)
    assert made.engine.container(c.id).ports == () and refused(second)
    assert made.engine.inspect_container(c.id)["NetworkSettings"]["Ports"] == {}
    made.engine.connect(net.name, c.id)
    third = made.engine.container(c.id).port(80).host_port
    assert third not in (None, first, second) and get_when_ready(third)[0] == 200


def test_the_network_whose_name_sorts_first_is_the_gateway(made):
    """The engine's gateway endpoint is the one on the network whose name sorts first (at equal
    gateway priority): it takes the default route and the published ports (which move to a new
    host port). Interfaces keep their names until a restart; 20.10 then names them in that
    order, 28 does not."""
    first = made.engine.create_network(f"a-{made.tag}", labels={"simtest": made.tag})
    made.networks.append(first.id)
    c = made.run("gw")
    before = c.port(80).host_port
    made.engine.connect(first.name, c.id)
    c = made.engine.container(c.id)
    moved = c.port(80).host_port
    assert moved != before and refused(before) and get_when_ready(moved)[0] == 200
    routes = made.engine.exec(c.id, ["ip", "route"]).output.splitlines()
    gw = c.attachment(first.name).gateway
    assert routes[0].strip() == f"default via {gw} dev eth1"
    # Link routes by address; which of the two subnets is lower depends on the engine's pools.
    subnets = [line.split()[0] for line in routes[1:]]
    assert subnets == sorted(subnets, key=lambda net: ipaddress.ip_network(net).network_address)
    c = made.engine.restart(c.id, timeout=1)
    routes = made.engine.exec(c.id, ["ip", "route"]).output.splitlines()
    device = re.fullmatch(rf"default via {re.escape(gw)} dev (eth\d+)", routes[0].strip())
    assert device, routes
    shown = made.engine.exec(c.id, ["ip", "-4", "addr", "show", device.group(1)]).output
    assert f"inet {c.attachment(first.name).ip}/" in shown  # the gateway network's interface
    if made.engine.info().generation.orders_interfaces_on_restart:
        assert device.group(1) == "eth0"
    page = parse_page(get_when_ready(c.port(80).host_port)[1])
    assert page["client_addr"].startswith(f"[::ffff:{gw}]:")  # the proxy comes in through it


def test_a_host_network_container_sees_the_hosts_links_and_routes(made):
    """A container on the host network has the host's addresses and routes, as the host's own
    `ip` shows them (`%host`: for real on a real engine's host, else the simulated host's),
    docker0 and a bridge per network among them."""
    net = made.network("hostview")
    made.run("member", network=net.name)
    h = made.run("h", network="host", ports=None, command=["/bin/busybox", "sleep", "600"])

    def addresses(text: str) -> dict[str, str]:
        return dict(re.findall(r"(?m)^\d+: ([\w.-]+)[:@].*\n(?:.*\n)*?    inet (\S+)", text))

    def routes(text: str) -> list[str]:
        return sorted(line.split()[0] for line in text.splitlines() if line.strip())

    seen = addresses(made.engine.exec(h.id, ["ip", "-4", "addr"]).output)
    assert seen == addresses(made.engine.host_command(["ip", "-4", "addr"]).output)
    bridge = ipaddress.ip_network(made.engine.network("bridge").subnet)
    subnet = ipaddress.ip_network(net.subnet)
    assert seen["lo"] == "127.0.0.1/8" and seen["docker0"].endswith(f"/{bridge.prefixlen}")
    assert seen[net.bridge_name] == f"{next(subnet.hosts())}/{subnet.prefixlen}"
    table = routes(made.engine.exec(h.id, ["ip", "route"]).output)
    assert table == routes(made.engine.host_command(["ip", "route"]).output)
    assert {str(bridge), str(subnet)} <= set(table)
    if made.engine.info().simulated:  # the simulated host has an uplink with the default route
        assert "default" in table and "eth0" in seen


def test_host_and_none(made):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = made.run("h", network="host", ports={"80/tcp": None})
    assert any(HOST_PORTS_DISCARDED in str(w.message) for w in caught)
    assert h.ports == () and h.attachment("host").ip == "" and h.network_mode == "host"
    n = made.run("n", network="none", ports=None)
    assert n.ip == "" and n.ports == ()
    addrs = made.engine.exec(n.id, ["ip", "addr"]).output
    assert re.findall(r"inet (\S+)", addrs) == ["127.0.0.1/8"]
    # The app still runs there, reachable on the one interface it has: the loopback.
    page = made.engine.exec(n.id, ["wget", "-qO-", "http://127.0.0.1/"])
    assert page.exit_code == 0 and parse_page(page.output)["hostname"] == n.id[:12]
    # One message from both engines (labkit.engine._checks).
    with pytest.raises(InvalidInput, match="cannot be on the none network and another network"):
        made.engine.connect("bridge", n.id)
    with pytest.raises(InvalidInput, match="cannot join or leave the host network"):
        made.engine.connect(made.network("x").name, h.id)
    with pytest.raises(InvalidInput, match="cannot join or leave the host network"):
        made.engine.connect("host", made.run("b").id)


# -- exec -----------------------------------------------------------------------------------------


def test_exec_of_the_lab_texts_commands(made):
    c = made.run("x")
    assert made.engine.exec(c.id, ["hostname"]).output.strip() == c.id[:12]
    assert made.engine.exec(c.id, ["cat", "/proc/sys/net/ipv4/ip_forward"]).output.strip() in (
        "0",
        "1",
    )
    hosts = made.engine.exec(c.id, ["cat", "/etc/hosts"]).output
    assert f"{c.ip}\t{c.id[:12]}" in hosts
    ip_addr = made.engine.exec(c.id, ["ip", "addr"]).output
    assert re.findall(r"inet (\S+)", ip_addr) == ["127.0.0.1/8", f"{c.ip}/16"]
    missing = made.engine.exec(c.id, ["getent", "hosts", "x"])
    assert missing.exit_code == made.engine.info().generation.missing_program_exit_code
    assert "executable file not found" in missing.output


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda m: m.run("dup"), NameInUse),
        (lambda m: m.engine.restart(m.name("ghost")), ContainerNotFound),
        (lambda m: m.engine.network(m.name("ghostnet")), NetworkNotFound),
        (lambda m: m.run("x", network=m.name("ghostnet")), NetworkNotFound),
        (lambda m: m.engine.connect(m.name("net"), m.name("member")), Conflict),
        (lambda m: m.engine.connect("none", m.name("dup")), InvalidInput),
        (lambda m: m.engine.disconnect(m.name("net"), m.name("dup")), InvalidInput),
        (lambda m: m.engine.create_network(m.name("net")), NameInUse),
        (lambda m: m.engine.create_network(m.name("o"), subnet="172.17.0.0/16"), Conflict),
        (lambda m: m.engine.create_network(m.name("d"), driver="nosuchdriver"), InvalidInput),
        (lambda m: m.engine.remove_network(m.name("net")), NetworkInUse),
        (lambda m: m.engine.remove_network("bridge"), InvalidInput),
        (lambda m: m.engine.create_network("bridge"), InvalidInput),
        (lambda m: m.engine.create_network("none"), InvalidInput),
        (lambda m: m.engine.remove(m.name("dup"), force=False), InvalidInput),
    ],
)
def test_bad_calls(made, call, error):
    net = made.network("net")
    made.run("member", network=net.name)
    made.run("dup")
    with pytest.raises(error) as info:
        call(made)
    assert info.value.why and info.value.fix and len(str(info.value).splitlines()) <= 2


# -- events ----------------------------------------------------------------------------------------


def test_watch_sees_a_restart(made):
    ordered = made.engine.info().generation.orders_restart_events
    seen = []
    stop = made.engine.watch(seen.append, labels={"simtest": made.tag})
    try:
        c = made.run("w")
        made.engine.restart(c.id, timeout=2)
        wanted = ["kill", "die", "stop", "start", "restart"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            actions = [e.action for e in seen if e.container_id == c.id]
            if sorted(actions[-5:]) == sorted(wanted):
                break
            time.sleep(0.05)
        actions = [e.action for e in seen if e.container_id == c.id]
        if not ordered and actions[3:5] == ["stop", "die"]:  # 28: either order
            actions[3:5] = ["die", "stop"]
        assert actions == ["create", "start", *wanted]
        assert all(e.name == c.name for e in seen if e.container_id == c.id)
    finally:
        stop()


def test_a_container_name_has_two_characters_at_least_and_a_network_name_one(made):
    """The engine's pattern for container names is [a-zA-Z0-9][a-zA-Z0-9_.-]+ (seen on 20.10 and
    28.5.2: `docker run --name x` is refused); a network may be called `y`."""
    with pytest.raises(InvalidName, match="at least two characters") as refused:
        made.engine.run(LAB_IMAGE, name="x", ports=None)
    assert refused.value.reply == (
        400,
        "Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
    )
    net = made.engine.create_network("y", labels={"simtest": made.tag})
    made.networks.append(net.id)
    assert net.name == "y"
