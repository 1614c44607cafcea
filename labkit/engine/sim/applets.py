"""The busybox applets the simulator models in a lab app container (``labkit.engine.sim.shell``
runs them): the container's network as ``ip``, ``ifconfig``, ``route`` and ``netstat`` show it,
its files (``cat``, ``ls``), names and reachability (``nslookup``, ``ping``, ``wget``), with
the output the real image prints. Addresses and routes follow ``labkit.engine.sim.world``."""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from labkit.app import APPLETS
from labkit.engine.sim.hostcmd import UPLINK_GATEWAY, HostLink, host_links, host_routes, link_local
from labkit.engine.sim.state import ContainerRec, EndpointRec, NetworkRec, StrEnum, World
from labkit.engine.sim.world import gateway_endpoint, interfaces, who_answers
from labkit.generation import Generation
from labkit.models import ExecResult

__all__ = ["HANDLERS", "DNS_SERVER", "Reach"]

DNS_SERVER = "127.0.0.11"  # Docker's embedded DNS, inside every user-defined network

_HOSTS_HEAD = (
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
)
_LO = (
    "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\n"
    "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
    "    inet 127.0.0.1/8 scope host lo\n"
    "       valid_lft forever preferred_lft forever\n"
)
# Engine 28 leaves IPv6 on in the container's loopback (20.10 switches it off), and writes
# the IPv6 names of /etc/hosts in their short form.
_LO_INET6 = "    inet6 ::1/128 scope host \n       valid_lft forever preferred_lft forever\n"
_HOSTS_HEAD_28 = _HOSTS_HEAD.replace("fe00::0", "fe00::").replace("ff00::0", "ff00::")

IPv4 = ipaddress.IPv4Address


# -- views of the container's network ------------------------------------------------------------


def _interfaces(rec: ContainerRec, world: World) -> list[tuple[str, EndpointRec, NetworkRec]]:
    """(ethN, endpoint, network) in `ip addr` order: see ``labkit.engine.sim.world``."""
    return interfaces(rec, world.network_recs)


def _routes(rec: ContainerRec, world: World) -> tuple[tuple[str, NetworkRec] | None, list]:
    """The default route (device, network) — through the engine's gateway endpoint — and the
    link routes (device, endpoint, network) by address."""
    ifaces = [i for i in _interfaces(rec, world) if i[2].pool is not None]
    gateway_ep = gateway_endpoint((ep for _dev, ep, _net in ifaces), world.network_recs)
    gateway = next((i for i in ifaces if i[1] is gateway_ep), None)
    links = sorted(ifaces, key=lambda i: i[2].addresses.subnet.network_address)
    return ((gateway[0], gateway[2]) if gateway else None), links


def _hostname(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    if "-i" in args:  # the address /etc/hosts gives the name first
        for line in _hosts_file(rec, world).splitlines():
            fields = line.split()
            if rec.hostname in fields[1:]:
                return ExecResult(0, fields[0] + "\n")
        return ExecResult(1, f"hostname: {rec.hostname}: Host name lookup failure\n")
    return ExecResult(0, rec.hostname + "\n")


def _ip(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    words = [a for a in args if a not in ("-4", "-o")]
    what, rest = (words[0], words[1:]) if words else ("", [])
    if what in ("a", "addr", "address", "l", "link"):
        return _ip_show(rec, what, rest, args, world)
    if what in ("r", "route"):
        return _ip_route(rec, rest, world)
    if what in ("n", "neigh", "neighbour"):
        return ExecResult(0, "")  # the container has not spoken to a neighbour yet
    return ExecResult(
        1,
        "ip: only 'ip addr', 'ip link', 'ip route' and 'ip neigh' are modelled by labkit's "
        "simulated engine\n",
    )


def _ip_show(
    rec: ContainerRec, what: str, rest: list[str], args: list[str], world: World
) -> ExecResult:
    """`ip addr` and `ip link`, for all interfaces or the one named."""
    rest = [w for w in rest if w not in ("s", "show", "list", "ls", "dev")]
    device = rest[0] if rest else None
    if "-o" in args and what.startswith("a"):  # one line per address, as the CGI reads them
        blocks = [
            "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
        ]
        if world.generation is Generation.V28 and "-4" not in args:
            blocks[0] += (
                "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n"
            )
        blocks += [
            f"{ep.ifindex}: {dev}    inet {ep.ip}/{net.pool.subnet.prefixlen} brd "
            f"{net.pool.subnet.broadcast_address} "
            f"scope global {dev}\\       valid_lft forever preferred_lft forever\n"
            for dev, ep, net in _interfaces(rec, world)
            if net.pool is not None
        ]
    else:
        blocks = re.split(r"(?m)^(?=\d+: )", _ip_addr(rec, world))[1:]
    if device is not None:
        blocks = [b for b in blocks if re.match(rf"\d+: {re.escape(device)}[:@ ]", b)]
        if not blocks:
            return ExecResult(1, f"ip: can't find device '{device}'\n")
    text = "".join(blocks)
    if what.startswith("l"):  # ip link: the interfaces without their addresses
        text = "".join(
            line for line in text.splitlines(True) if line.startswith(("    link/", *"0123456789"))
        )
    elif "-4" in args and "-o" not in args:
        text = "".join(_inet_only(block) for block in re.split(r"(?m)^(?=\d+: )", text))
    return ExecResult(0, text)


def _inet_only(block: str) -> str:
    """A link as `ip -4 addr` prints it: its first line and its IPv4 addresses; nothing for a
    link without one."""
    if not block:
        return ""
    head, *lines = block.splitlines(True)
    kept, keep = [head], False
    for line in lines:
        if not line.startswith("       "):  # a new item, not an address's lifetimes
            keep = line.startswith("    inet ")
        if keep:
            kept.append(line)
    return "".join(kept) if len(kept) > 1 else ""


def _ip_route(rec: ContainerRec, rest: list[str], world: World) -> ExecResult:
    if rec.network_mode == "host":  # the host's routes, as busybox prints them
        lines = [f"default via {UPLINK_GATEWAY} dev eth0 "]
        lines += [
            f"{inet.network} dev {link.name} scope link  src {inet.ip} "
            for link, inet in host_routes(world)
        ]
        return ExecResult(0, "".join(line + "\n" for line in lines))
    gateway, links = _routes(rec, world)
    if rest[:1] == ["get"] and len(rest) > 1:
        return _ip_route_get(rest[1], gateway, links)
    lines = []
    if gateway:
        lines.append(f"default via {gateway[1].addresses.gateway} dev {gateway[0]} ")
    for dev, ep, net in links:
        lines.append(f"{net.pool.subnet} dev {dev} scope link  src {ep.ip} ")
    return ExecResult(0, "".join(line + "\n" for line in lines))


def _ip_route_get(target: str, gateway, links) -> ExecResult:
    try:
        address = IPv4(target)
    except ValueError:
        return ExecResult(1, f"ip: can't resolve '{target}'\n")
    for dev, ep, net in links:
        if address in net.pool.subnet:
            return ExecResult(0, f"{address} dev {dev}  src {ep.ip} \n")
    if gateway:
        dev, net = gateway
        source = next(ep.ip for d, ep, _n in links if d == dev)
        return ExecResult(0, f"{address} via {net.pool.gateway} dev {dev}  src {source} \n")
    return ExecResult(2, "ip: RTNETLINK answers: Network unreachable\n")


def _ip_addr(rec: ContainerRec, world: World) -> str:
    if rec.network_mode == "host":  # the host's own links, as the host's `ip addr` has them
        return _LO + _LO_INET6 + "".join(_host_link(link) for link in host_links(world)[1:])
    text = _lo(world)
    interfaces = _interfaces(rec, world)
    local = {1: "lo", **{ep.ifindex: dev for dev, ep, _net in interfaces}}
    for dev, ep, net in interfaces:
        assert net.pool is not None and ep.ip is not None
        # busybox ip looks the peer's number up in the container's own namespace: a host-side
        # number that happens to be a local interface's shows that name (and its flags).
        peer = ep.peer or ep.ifindex + 1
        link, flags = (local[peer], "") if peer in local else (f"if{peer}", ",M-DOWN")
        text += (
            f"{ep.ifindex}: {dev}@{link}: <BROADCAST,MULTICAST,UP,LOWER_UP{flags}> "
            "mtu 1500 qdisc noqueue \n"
            f"    link/ether {ep.mac} brd ff:ff:ff:ff:ff:ff\n"
            f"    inet {ep.ip}/{net.pool.subnet.prefixlen} brd "
            f"{net.pool.subnet.broadcast_address} scope global {dev}\n"
            "       valid_lft forever preferred_lft forever\n"
        )
    return text


def _host_link(link: HostLink) -> str:
    """One of the host's links as busybox `ip addr` prints it (no state, no queue length)."""
    flags = "BROADCAST,MULTICAST,UP,LOWER_UP" if link.up else "NO-CARRIER,BROADCAST,MULTICAST,UP"
    name = f"{link.name}@if{link.peer}" if link.peer else link.name
    master = f"master {link.master} " if link.master else ""
    qdisc = "fq_codel" if link.uplink else "noqueue"
    text = (
        f"{link.index}: {name}: <{flags}> mtu 1500 qdisc {qdisc} {master}\n"
        f"    link/ether {link.mac} brd ff:ff:ff:ff:ff:ff\n"
    )
    if link.inet is not None:
        text += (
            f"    inet {link.inet.with_prefixlen} brd {link.inet.network.broadcast_address} "
            f"scope global {link.name}\n       valid_lft forever preferred_lft forever\n"
        )
    return text + (
        f"    inet6 {link_local(link.mac)}/64 scope link \n"
        "       valid_lft forever preferred_lft forever\n"
    )


def _lo(world: World) -> str:
    return _LO + (_LO_INET6 if world.generation is Generation.V28 else "")


def _mask(prefix: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)


def _ifconfig(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    blocks = []
    for dev, ep, net in _interfaces(rec, world):
        assert net.pool is not None
        blocks.append(
            f"{dev:<10}Link encap:Ethernet  HWaddr {ep.mac.upper()}  \n"
            f"          inet addr:{ep.ip}  Bcast:{net.pool.subnet.broadcast_address}  "
            f"Mask:{_mask(net.pool.subnet.prefixlen)}\n"
            "          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n"
            "          RX packets:0 errors:0 dropped:0 overruns:0 frame:0\n"
            "          TX packets:0 errors:0 dropped:0 overruns:0 carrier:0\n"
            "          collisions:0 txqueuelen:0 \n"
            "          RX bytes:0 (0.0 B)  TX bytes:0 (0.0 B)\n\n"
        )
    inet6 = (
        "          inet6 addr: ::1/128 Scope:Host\n" if world.generation is Generation.V28 else ""
    )
    blocks.append(
        "lo        Link encap:Local Loopback  \n"
        "          inet addr:127.0.0.1  Mask:255.0.0.0\n"
        f"{inet6}"
        "          UP LOOPBACK RUNNING  MTU:65536  Metric:1\n"
        "          RX packets:0 errors:0 dropped:0 overruns:0 frame:0\n"
        "          TX packets:0 errors:0 dropped:0 overruns:0 carrier:0\n"
        "          collisions:0 txqueuelen:1000 \n"
        "          RX bytes:0 (0.0 B)  TX bytes:0 (0.0 B)\n\n"
    )
    wanted = [a for a in args if not a.startswith("-")]
    if wanted:
        chosen = [b for b in blocks if b.split(" ", 1)[0] == wanted[0]]
        if not chosen:
            return ExecResult(
                1,
                f"ifconfig: {wanted[0]}: error fetching interface information: Device not found\n",
            )
        blocks = chosen
    return ExecResult(0, "".join(blocks))


def _route_cmd(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    numeric = "-n" in args
    rows = [
        "Kernel IP routing table",
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface",
    ]
    gateway, links = _routes(rec, world)
    if gateway:
        dest = "0.0.0.0" if numeric else "default"
        rows.append(
            f"{dest:<16}{str(gateway[1].addresses.gateway):<16}0.0.0.0         UG    0      0        "
            f"0 {gateway[0]}"
        )
    for dev, _ep, net in links:
        gw = "0.0.0.0" if numeric else "*"
        dest, mask = str(net.pool.subnet.network_address), _mask(net.pool.subnet.prefixlen)
        rows.append(f"{dest:<16}{gw:<16}{mask:<16}U     0      0        0 {dev}")
    return ExecResult(0, "".join(r + "\n" for r in rows))


def _netstat(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    rows = [
        "Active Internet connections (only servers)",
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       ",
    ]
    if _on_user_network(rec, world):
        rows.append(
            f"tcp        0      0 {DNS_SERVER + ':33441':<24}0.0.0.0:*               LISTEN      "
        )
    if world.serves_app(rec):
        rows.append(
            "tcp        0      0 :::80                   :::*                    LISTEN      "
        )
    return ExecResult(0, "".join(r + "\n" for r in rows))


def _ps(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    cmd = " ".join(rec.cmd)
    rows = ["PID   USER     COMMAND"]
    if rec.init:
        rows += [
            f"    1 0        /sbin/docker-init -- {cmd}",
            f"    7 0        {cmd}",
            "   39 0        ps",
        ]
    else:
        rows += [f"    1 0        {cmd}", "   39 0        ps"]
    return ExecResult(0, "".join(r + "\n" for r in rows))


def _ls(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    tree = {
        "/": "bin dev etc proc sbin sys www",
        "/www": "cgi-bin",
        "/www/cgi-bin": "index.cgi",
        "/bin": " ".join(sorted(("busybox", *APPLETS))),
    }
    paths = [a.rstrip("/") or "/" for a in args if not a.startswith("-")] or ["/"]
    out, code = [], 0
    for path in paths:
        if path in tree:
            out.append("".join(name + "\n" for name in tree[path].split()))
        else:
            out.append(f"ls: {path}: No such file or directory\n")
            code = 1
    return ExecResult(code, "".join(out))


def _hosts_file(rec: ContainerRec, world: World) -> str:
    if rec.network_mode == "host":
        try:
            with open("/etc/hosts", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return f"127.0.0.1\tlocalhost\n127.0.0.1\t{rec.hostname}\n"
    lines = [f"{ep.ip}\t{rec.hostname}\n" for _dev, ep, _net in _interfaces(rec, world)]
    head = _HOSTS_HEAD_28 if world.generation is Generation.V28 else _HOSTS_HEAD
    return head + "".join(lines)


def _on_user_network(rec: ContainerRec, world: World) -> bool:
    return any(net.user_defined for _d, _e, net in _interfaces(rec, world))


_RESOLV_HEAD_28 = (
    "# Generated by Docker Engine.\n"
    "# This file can be edited; Docker Engine will not make further changes once it\n"
    "# has been modified.\n\n"
)


def _resolv_conf(rec: ContainerRec, world: World) -> str:
    """20.10 writes the bare lines; 28 wraps them in comments saying where they came from
    (both measured, with and without --dns, on the default bridge and a user network)."""
    overrides = "[nameservers]" if rec.dns else "[]"
    if _on_user_network(rec, world):
        lines = f"nameserver {DNS_SERVER}\noptions ndots:0\n"
        if world.generation is Generation.V20:
            return lines
        upstream = " ".join(rec.dns) if rec.dns else f"host({world.host_nameserver})"
        return (
            _RESOLV_HEAD_28
            + lines
            + "\n# Based on host file: '/etc/resolv.conf' (internal resolver)\n"
            f"# ExtServers: [{upstream}]\n# Overrides: {overrides}\n"
            "# Option ndots from: internal\n"
        )
    servers = rec.dns or [world.host_nameserver]
    lines = "".join(f"nameserver {server}\n" for server in servers)
    if world.generation is Generation.V20:
        return lines
    return (
        _RESOLV_HEAD_28
        + lines
        + f"\n# Based on host file: '/etc/resolv.conf' (legacy)\n# Overrides: {overrides}\n"
    )


def _cat(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    files = {
        "/etc/hosts": lambda: _hosts_file(rec, world),
        "/etc/hostname": lambda: rec.hostname + "\n",
        "/etc/resolv.conf": lambda: _resolv_conf(rec, world),
        "/proc/sys/net/ipv4/ip_forward": lambda: "1\n",
        "/proc/sys/net/ipv4/ip_local_port_range": lambda: "{}\t{}\n".format(*world.port_range),
    }
    out, code = [], 0
    for path in args:
        reader = files.get(path)
        if reader is None:
            out.append(f"cat: can't open '{path}': No such file or directory\n")
            code = 1
        else:
            out.append(reader())
    return ExecResult(code, "".join(out))


def _echo(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    if args and args[0] == "-n":
        return ExecResult(0, " ".join(args[1:]))
    return ExecResult(0, " ".join(args) + "\n")


# -- names and reachability ----------------------------------------------------------------------


def _dns(rec: ContainerRec, name: str, world: World) -> IPv4 | None:
    """Docker's embedded DNS: running containers' names and aliases on the user-defined
    networks ``rec`` shares with them (the default bridge has no such DNS)."""
    for _dev, _ep, net in _interfaces(rec, world):
        if not net.user_defined:
            continue
        for cid in net.members:
            other = world.container_recs.get(cid)
            other_ep = other.endpoints.get(net.id) if other else None
            if other is None or other_ep is None or other_ep.ip is None or not other.running:
                continue
            if name == other.name or name in (other_ep.aliases or ()):
                return other_ep.ip
    return None


def _resolve(rec: ContainerRec, name: str, world: World) -> IPv4 | None:
    try:
        return IPv4(name)
    except ValueError:
        pass
    if name == "localhost":
        return IPv4("127.0.0.1")
    if name == rec.hostname:
        ifaces = _interfaces(rec, world)
        return ifaces[0][1].ip if ifaces else IPv4("127.0.0.1")
    return _dns(rec, name, world)


class Reach(StrEnum):
    """How a packet from a container fares: it stays in the container, a container or the
    gateway (the engine host) answers, nobody has the address, or Docker's isolation drops it."""

    SELF = "self"
    CONTAINER = "container"
    GATEWAY = "gateway"
    ABSENT = "absent"
    ISOLATED = "isolated"


def _route(
    rec: ContainerRec, target: IPv4, world: World
) -> tuple[Reach, ContainerRec | None, IPv4 | None]:
    """How a packet from ``rec`` to ``target`` fares, the container answering, the source
    address it sees."""
    if target.is_loopback:
        return Reach.SELF, rec, IPv4("127.0.0.1")
    ifaces = _interfaces(rec, world)
    for _dev, ep, _net in ifaces:
        if ep.ip == target:
            return Reach.SELF, rec, target
    net, other, _ep = who_answers(target, world.container_recs, world.network_recs)
    if net is None:
        return Reach.ISOLATED, None, None  # outside every network: nowhere to go
    pool = net.addresses
    source = next((ep.ip for _d, ep, n in ifaces if n.id == net.id), None)
    if rec.network_mode == "host":
        source = pool.gateway
    if source is None:
        return Reach.ISOLATED, None, None  # another bridge: Docker's isolation rules drop it
    if target == pool.gateway:
        return Reach.GATEWAY, None, source
    if other is not None:
        return Reach.CONTAINER, other, source
    return Reach.ABSENT, None, source


def _nslookup(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    names = [a for a in args if not a.startswith("-")]
    if not names:
        return ExecResult(1, "Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]\n")
    name = names[0]
    embedded = _on_user_network(rec, world)
    default = DNS_SERVER if embedded else (rec.dns or [world.host_nameserver])[0]
    server = names[1] if len(names) > 1 else default
    head = f"Server:\t\t{server}\nAddress:\t{server}:53\n\n"
    if rec.network_mode == "none":
        return ExecResult(1, ";; connection timed out; no servers could be reached\n\n")
    if server.startswith("127.") and not (embedded and server == DNS_SERVER):
        # Nothing answers DNS on the container's loopback but Docker's embedded server, and
        # that exists only on user-defined networks.
        return ExecResult(
            1,
            # stderr and stdout interleave in either order on the engine
            f"nslookup: write to '{server}': Connection refused\n"
            ";; connection timed out; no servers could be reached\n\n",
        )
    address = _resolve(rec, name, world)
    if address is None and server == DNS_SERVER and rec.dns and rec.dns[0].startswith("127."):
        # The embedded server passes names it does not know on to the --dns server; labkit's
        # lab containers name 127.0.0.1. 20.10 asks the container's loopback, where nothing
        # answers (it gives up after 5 s); 28 asks the engine host's and fails at once.
        if world.generation.dns_forwards_to_host_loopback:
            fail = f"** server can't find {name}: SERVFAIL\n\n"
            return ExecResult(1, head + fail + fail)
        return ExecResult(1, ";; connection timed out; no servers could be reached\n\n")
    if address is None:
        miss = f"** server can't find {name}: NXDOMAIN\n\n"
        return ExecResult(1, head + miss + miss)
    # The A and AAAA replies race on the engine; the A answer usually comes first.
    return ExecResult(
        0,
        head + f"Non-authoritative answer:\nName:\t{name}\nAddress: {address}\n\n"
        "Non-authoritative answer:\n\n",
    )


def _ping(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    count, hosts, i = 4, [], 0
    while i < len(args):
        if args[i] == "-c" and i + 1 < len(args):
            count = max(1, int(args[i + 1])) if args[i + 1].isdigit() else 1
            i += 2
            continue
        if args[i].startswith("-c") and args[i][2:].isdigit():
            count = max(1, int(args[i][2:]))
        elif args[i] in ("-W", "-w", "-s", "-i") and i + 1 < len(args):
            i += 1
        elif not args[i].startswith("-"):
            hosts.append(args[i])
        i += 1
    if not hosts:
        return ExecResult(1, "BusyBox v1.35.0 multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n")
    name = hosts[0]
    address = _resolve(rec, name, world)
    if address is None:
        return ExecResult(1, f"ping: bad address '{name}'\n")
    verdict, _other, _source = _route(rec, address, world)
    head = f"PING {name} ({address}): 56 data bytes\n"
    if verdict in (Reach.SELF, Reach.CONTAINER, Reach.GATEWAY):
        times = [round(random.uniform(0.05, 0.4), 3) for _ in range(count)]
        lines = "".join(
            f"64 bytes from {address}: seq={n} ttl=64 time={t:.3f} ms\n"
            for n, t in enumerate(times)
        )
        stats = (
            f"\n--- {name} ping statistics ---\n{count} packets transmitted, {count} packets "
            "received, 0% packet loss\n"
            f"round-trip min/avg/max = {min(times):.3f}/{sum(times) / count:.3f}/{max(times):.3f} "
            "ms\n"
        )
        return ExecResult(0, head + lines + stats)
    stats = (
        f"\n--- {name} ping statistics ---\n"
        f"{count} packets transmitted, 0 packets received, 100% packet loss\n"
    )
    return ExecResult(1, head + stats)


def _wget(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    quiet, to_stdout, url, i = False, False, "", 0
    while i < len(args):
        arg = args[i]
        if arg in ("-O", "-T", "-U", "--header", "-Y") and i + 1 < len(args):
            if arg == "-O":
                to_stdout = args[i + 1] == "-"
            i += 2
            continue
        if arg.startswith("-") and not arg.startswith("--"):
            quiet = quiet or "q" in arg
            if "O" in arg:
                to_stdout = arg.endswith("O-")
        elif not arg.startswith("-"):
            url = arg
        i += 1
    if not url:
        return ExecResult(
            1, "BusyBox v1.35.0 multi-call binary.\n\nUsage: wget [-cqS] [-O FILE] URL\n"
        )
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme != "http":
        return ExecResult(1, f"wget: not an http or ftp url: {url}\n")
    host = parts.hostname or ""
    try:
        port = parts.port or 80
    except ValueError:
        return ExecResult(1, f"wget: bad port spec '{parts.netloc}'\n")
    address = _resolve(rec, host, world)
    if address is None:
        return ExecResult(1, f"wget: bad address '{host}'\n")
    verdict, other, source = _route(rec, address, world)
    if verdict is Reach.ISOLATED:
        return ExecResult(1, "wget: download timed out\n")
    if verdict is Reach.ABSENT:
        return ExecResult(
            1, f"wget: can't connect to remote host ({address}): Host is unreachable\n"
        )
    if other is None or port != 80 or not world.serves_app(other):
        return ExecResult(
            1, f"wget: can't connect to remote host ({address}): Connection refused\n"
        )
    path = parts.path or "/"
    if path not in ("/", "/cgi-bin/index.cgi"):
        return ExecResult(1, "wget: server returned error: HTTP/1.1 404 Not Found\n")
    low, high = world.port_range
    body = world.page(other, f"[::ffff:{source}]:{random.randint(low, high)}")
    progress = "" if quiet else f"Connecting to {host} ({address}:{port})\n"
    if to_stdout:
        return ExecResult(0, progress + body + ("" if quiet else "written to stdout\n"))
    return ExecResult(0, progress + ("" if quiet else "saving to 'index.html'\n"))


def _true(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    return ExecResult(0, "")


def _false(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    return ExecResult(1, "")


HANDLERS: dict[str, Callable[[ContainerRec, list[str], World], ExecResult]] = {
    "hostname": _hostname,
    "ip": _ip,
    "cat": _cat,
    "nslookup": _nslookup,
    "ping": _ping,
    "wget": _wget,
    "echo": _echo,
    "true": _true,
    "false": _false,
    "ifconfig": _ifconfig,
    "route": _route_cmd,
    "netstat": _netstat,
    "ps": _ps,
    "ls": _ls,
}
