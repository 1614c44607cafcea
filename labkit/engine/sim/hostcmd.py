"""The simulated engine's host: the few commands the lab text runs on a Docker host, printed as
iproute2 6.1, net-tools 2.10 and procps print them on Debian 12.

The host has an uplink, ``eth0`` on ``UPLINK`` (a documentation address, RFC 5737: the machine's
own network is not modelled) with the default route, and what the engine made on it: ``lo``, the
``docker0`` bridge, one ``br-<id>`` bridge per user-defined network and a ``veth`` for each
running container's endpoint. A container on the host network sees the same links
(``host_links``). Modelled: ``ip addr``, ``ip link``,
``ip route``, ``ifconfig``, ``cat`` of ``/proc/sys/net/ipv4/ip_forward`` and
``ip_local_port_range``, ``sysctl net.ipv4.ip_forward`` and ``hostname``. The caller marks
the output SIMULATED.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from labkit.engine.sim.state import ContainerRec, NetworkDriver, NetworkRec
from labkit.engine.sim.world import bridge_name
from labkit.models import ExecResult

__all__ = [
    "HostWorld",
    "HostLink",
    "host_links",
    "host_routes",
    "link_local",
    "run_host_command",
    "MODELLED",
    "UPLINK",
    "UPLINK_GATEWAY",
]

# The simulated host's own network: the packets the lab text routes to 172.17.0.0/16 arrive here.
UPLINK = ipaddress.IPv4Interface("192.0.2.10/24")
UPLINK_GATEWAY = ipaddress.IPv4Address("192.0.2.1")

MODELLED = (
    "ip addr",
    "ip link",
    "ip route",
    "ifconfig",
    "cat /proc/sys/net/ipv4/ip_forward",
    "cat /proc/sys/net/ipv4/ip_local_port_range",
    "sysctl net.ipv4.ip_forward",
    "hostname",
)


class _Records(Protocol):
    @property
    def container_recs(self) -> Mapping[str, ContainerRec]: ...

    @property
    def network_recs(self) -> Mapping[str, NetworkRec]: ...


class HostWorld(_Records, Protocol):
    """What the host's commands read of the engine (the engine holds its lock)."""

    @property
    def host_hostname(self) -> str: ...

    @property
    def port_range(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class HostLink:
    index: int
    name: str
    mac: str
    up: bool  # has a carrier: the uplink, a bridge with a running member, a veth
    master: str = ""  # a veth's bridge
    peer: int = 0  # a veth's container-side index
    inet: ipaddress.IPv4Interface | None = None  # the uplink's address, a bridge's gateway
    uplink: bool = False  # a NIC's queue (fq_codel, 1000 packets), not a virtual link's


def run_host_command(argv: Sequence[str], world: HostWorld) -> ExecResult:
    words = [str(w) for w in argv]
    if not words:
        return ExecResult(1, "no command given\n")
    program, args = words[0].rsplit("/", 1)[-1], words[1:]
    if program == "ip":
        return _ip(args, world)
    if program == "ifconfig":
        return _ifconfig(args, world)
    if program == "cat":
        return _cat(args, world)
    if program == "sysctl":
        return _sysctl(args)
    if program == "hostname":
        return ExecResult(0, world.host_hostname + "\n")
    return ExecResult(
        127,
        f"{program}: not modelled on labkit's simulated host (it models: {', '.join(MODELLED)})\n",
    )


# -- the host's links ------------------------------------------------------------------------------


def _mac(seed: str, docker: bool) -> str:
    raw = hashlib.sha256(seed.encode()).digest()
    if docker:  # the bridges Docker makes have 02:42 MACs
        return "02:42:" + ":".join(f"{b:02x}" for b in raw[:4])
    first = (raw[0] | 0x02) & 0xFE  # locally administered, unicast, as the kernel picks
    return ":".join(f"{b:02x}" for b in (first, *raw[1:6]))


def host_links(world: _Records) -> list[HostLink]:
    """The host's links in index order: lo, the uplink, the bridges and the veths."""
    bridges = [
        n for n in world.network_recs.values() if n.driver is NetworkDriver.BRIDGE and n.pool
    ]
    bridges.sort(key=lambda n: (not n.predefined, n.created))
    links = [
        HostLink(1, "lo", "00:00:00:00:00:00", True),
        HostLink(2, "eth0", _mac("uplink", False), True, inet=UPLINK, uplink=True),
    ]
    veths: list[HostLink] = []
    for net in bridges:
        members = [world.container_recs.get(cid) for cid in net.members]
        running = [rec for rec in members if rec is not None and rec.running]
        index = net.ifindex  # numbered by the engine when it made the bridge
        assert net.pool is not None
        gateway = ipaddress.IPv4Interface(f"{net.pool.gateway}/{net.pool.subnet.prefixlen}")
        links.append(
            HostLink(index, bridge_name(net), _mac(net.id, True), bool(running), inet=gateway)
        )
        for rec in running:
            ep = rec.endpoints.get(net.id)
            if ep is None or not ep.endpoint_id:
                continue
            name = "veth" + hashlib.sha256(ep.endpoint_id.encode()).hexdigest()[:7]
            mac = _mac(ep.endpoint_id, False)
            host_index = ep.peer or ep.ifindex + 1
            veths.append(HostLink(host_index, name, mac, True, bridge_name(net), ep.ifindex))
    return sorted(links + veths, key=lambda link: link.index)


def link_local(mac: str) -> str:
    """The fe80:: address the kernel derives from a MAC (EUI-64)."""
    parts = [int(x, 16) for x in mac.split(":")]
    parts[0] ^= 0x02
    eui = parts[:3] + [0xFF, 0xFE] + parts[3:]
    value = int.from_bytes(bytes([0xFE, 0x80] + [0] * 6 + eui), "big")
    return str(ipaddress.IPv6Address(value))


def _find(links: list[HostLink], name: str) -> HostLink | None:
    return next((link for link in links if link.name == name), None)


# -- ip ----------------------------------------------------------------------------------------------


def _ip(args: list[str], world: HostWorld) -> ExecResult:
    family4 = "-4" in args
    words = [a for a in args if a not in ("-4", "-br", "-c")]
    what, rest = (words[0], words[1:]) if words else ("", [])
    if what in ("a", "addr", "address", "l", "link"):
        return _ip_show(what.startswith("l"), rest, world, family4)
    if what in ("r", "route", "ro"):
        return ExecResult(0, _ip_route(world))
    return ExecResult(
        1,
        "ip: only 'ip addr', 'ip link' and 'ip route' are modelled on labkit's simulated host\n",
    )


def _ip_show(link_only: bool, rest: list[str], world: HostWorld, family4: bool) -> ExecResult:
    rest = [w for w in rest if w not in ("show", "list", "ls", "s", "dev")]
    links = host_links(world)
    if rest:
        found = _find(links, rest[0])
        if found is None:
            return ExecResult(1, f'Device "{rest[0]}" does not exist.\n')
        links = [found]
    return ExecResult(0, "".join(_ip_block(link, link_only, family4) for link in links))


def _ip_block(link: HostLink, link_only: bool, family4: bool) -> str:
    if link.name == "lo":
        head = (
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN "
            f"{'mode DEFAULT ' if link_only else ''}group default qlen 1000\n"
        )
        body = "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
        inet = (
            "    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n"
        )
        inet6 = "    inet6 ::1/128 scope host \n       valid_lft forever preferred_lft forever\n"
    else:
        flags = (
            "<BROADCAST,MULTICAST,UP,LOWER_UP>"
            if link.up
            else "<NO-CARRIER,BROADCAST,MULTICAST,UP>"
        )
        state = "UP" if link.up else "DOWN"
        name = f"{link.name}@if{link.peer}" if link.peer else link.name
        master = f"master {link.master} " if link.master else ""
        mode = "mode DEFAULT " if link_only else ""
        qdisc, qlen = ("fq_codel", "qlen 1000") if link.uplink else ("noqueue", "")
        head = (
            f"{link.index}: {name}: {flags} mtu 1500 qdisc {qdisc} {master}state {state} "
            f"{mode}group default {qlen}\n"
        )
        netns = " link-netnsid 0" if link.peer else ""
        body = f"    link/ether {link.mac} brd ff:ff:ff:ff:ff:ff{netns}\n"
        inet = ""
        if link.inet is not None:
            inet = (
                f"    inet {link.inet.with_prefixlen} brd "
                f"{link.inet.network.broadcast_address} scope global {link.name}\n"
                "       valid_lft forever preferred_lft forever\n"
            )
        inet6 = (
            f"    inet6 {link_local(link.mac)}/64 scope link \n"
            "       valid_lft forever preferred_lft forever\n"
        )
    if link_only:
        return head + body
    if family4:
        return head + inet if inet else ""  # a link without an IPv4 address is left out
    return head + body + inet + inet6


def host_routes(world: _Records) -> list[tuple[HostLink, ipaddress.IPv4Interface]]:
    """The host's link routes, by address: each link with an address, and that address."""
    found = [(link, link.inet) for link in host_links(world) if link.inet is not None]
    return sorted(found, key=lambda route: route[1].network.network_address)


def _ip_route(world: HostWorld) -> str:
    lines = [f"default via {UPLINK_GATEWAY} dev eth0 \n"]
    for link, inet in host_routes(world):
        down = "" if link.up else " linkdown"
        lines.append(
            f"{inet.network} dev {link.name} proto kernel scope link src {inet.ip}{down} \n"
        )
    return "".join(lines)


# -- ifconfig (net-tools) -----------------------------------------------------------------------------


def _ifconfig(args: list[str], world: HostWorld) -> ExecResult:
    links = host_links(world)
    wanted = [a for a in args if not a.startswith("-")]
    if wanted:
        found = _find(links, wanted[0])
        if found is None:
            return ExecResult(
                1, f"{wanted[0]}: error fetching interface information: Device not found\n"
            )
        links = [found]
    return ExecResult(0, "".join(_ifconfig_block(link) for link in links))


_COUNTERS = (
    "        RX packets 0  bytes 0 (0.0 B)\n"
    "        RX errors 0  dropped 0  overruns 0  frame 0\n"
    "        TX packets 0  bytes 0 (0.0 B)\n"
    "        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n"
)


def _ifconfig_block(link: HostLink) -> str:
    if link.name == "lo":
        return (
            "lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\n"
            "        inet 127.0.0.1  netmask 255.0.0.0\n"
            "        inet6 ::1  prefixlen 128  scopeid 0x10<host>\n"
            "        loop  txqueuelen 1000  (Local Loopback)\n" + _COUNTERS
        )
    flags = "4163<UP,BROADCAST,RUNNING,MULTICAST>" if link.up else "4099<UP,BROADCAST,MULTICAST>"
    text = f"{link.name}: flags={flags}  mtu 1500\n"
    if link.inet is not None:
        text += (
            f"        inet {link.inet.ip}  netmask {link.inet.netmask}  broadcast "
            f"{link.inet.network.broadcast_address}\n"
        )
    text += f"        inet6 {link_local(link.mac)}  prefixlen 64  scopeid 0x20<link>\n"
    text += f"        ether {link.mac}  txqueuelen {1000 if link.uplink else 0}  (Ethernet)\n"
    return text + _COUNTERS


# -- files and sysctl --------------------------------------------------------------------------------


def _cat(args: list[str], world: HostWorld) -> ExecResult:
    files = {
        "/proc/sys/net/ipv4/ip_forward": "1\n",  # the engine turns it on when it starts
        "/proc/sys/net/ipv4/ip_local_port_range": "{}\t{}\n".format(*world.port_range),
    }
    out, code = [], 0
    for path in args:
        if path in files:
            out.append(files[path])
        else:
            out.append(f"cat: {path}: not modelled on labkit's simulated host\n")
            code = 1
    return ExecResult(code, "".join(out))


def _sysctl(args: list[str]) -> ExecResult:
    keys = [a for a in args if not a.startswith("-")]
    if keys == ["net.ipv4.ip_forward"]:
        return ExecResult(0, "1\n" if "-n" in args else "net.ipv4.ip_forward = 1\n")
    return ExecResult(
        1, "sysctl: only net.ipv4.ip_forward is modelled on labkit's simulated host\n"
    )
