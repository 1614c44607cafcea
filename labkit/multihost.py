"""Beyond one host: a simulated two-host lab (agent01, agent02) and a packet's path between them.

Pure Python and entirely a model — nothing here touches an engine or a network. It stands for the
lab text's last paragraph: Docker Swarm's overlay network and flannel's three backends (host-gw,
UDP, VXLAN), which need two machines that a single notebook does not have.

The hosts use RFC 5737 documentation addresses (192.0.2.0/24), which no real machine answers on,
never the lab text's classroom addresses. Header sizes are the real ones, so the MTU each mode
leaves for a container (1500, 1472, 1450) comes out of the model rather than being written down.

    model = TwoHosts("vxlan")
    model.path()            # the hops of web1 -> web2, each with the headers on the packet there
    model.routes("agent01") # the routing table flannel installs
    model.overhead()        # bytes of encapsulation: 50
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.errors import InvalidInput

__all__ = ["MODES", "Mode", "Host", "Box", "Header", "Hop", "TwoHosts", "UNDERLAY_MTU"]

UNDERLAY_MTU = 1500  # the hosts' own Ethernet network

# Header sizes in bytes (no options): what each encapsulation adds.
_SIZE = {"Ethernet": 14, "IPv4": 20, "UDP": 8, "VXLAN": 8, "TCP": 20}


@dataclass(frozen=True)
class Mode:
    key: str
    title: str
    summary: str
    device: str  # the interface that takes the packet off the bridge on its way out
    encapsulation: str  # "" for none
    udp_port: int | None = None
    vni: int | None = None


MODES: dict[str, Mode] = {
    "host-gw": Mode(
        "host-gw",
        "flannel host-gw",
        "Plain routing: each host has a route to the other hosts' container subnets via that host. "
        "No extra header, full MTU, but every host must sit on one Layer-2 network (the next hop "
        "must be directly reachable).",
        device="eth1",
        encapsulation="",
    ),
    "udp": Mode(
        "udp",
        "flannel UDP",
        "The kernel hands the packet to the TUN device flannel0; the flanneld process wraps the "
        "whole IP packet in a UDP datagram to the other host. Works over any IP network, but every "
        "packet crosses into user space and back: the slowest backend, meant for debugging.",
        device="flannel0",
        encapsulation="UDP",
        udp_port=8285,
    ),
    "vxlan": Mode(
        "vxlan",
        "flannel VXLAN",
        "The kernel's VXLAN device flannel.1 wraps the container's Ethernet frame in UDP (VNI 1). "
        "Works over any IP network and stays in the kernel; flannel's default backend.",
        device="flannel.1",
        encapsulation="VXLAN",
        udp_port=8472,  # flannel's Linux default; the IANA VXLAN port is 4789
        vni=1,
    ),
    "overlay": Mode(
        "overlay",
        "Docker Swarm overlay",
        "One Layer-2 network stretched over both hosts: the containers share a subnet. Each host "
        "keeps the overlay in its own network namespace (bridge br0 + VXLAN device); Swarm's "
        "gossip (port 7946) tells every host which MAC lives behind which host.",
        device="vxlan0",
        encapsulation="VXLAN",
        udp_port=4789,
        vni=4097,
    ),
}


@dataclass(frozen=True)
class Host:
    name: str
    ip: str  # underlay address on eth1
    mac: str
    subnet: str  # the container subnet this host hands out (flannel lease, or the overlay's)
    bridge: str  # the Linux bridge the containers hang off
    bridge_ip: str


@dataclass(frozen=True)
class Box:
    """A container in the model."""

    name: str
    host: str
    ip: str
    mac: str


@dataclass(frozen=True)
class Header:
    layer: str  # Ethernet | IPv4 | UDP | VXLAN | TCP
    fields: str
    outer: bool = False  # added by the encapsulation, removed at the other end

    @property
    def size(self) -> int:
        return _SIZE[self.layer]

    def __str__(self) -> str:
        return f"{self.layer} {self.fields}"


@dataclass(frozen=True)
class Hop:
    step: int
    where: str  # a host name, or "wire"
    device: str
    action: str
    headers: tuple[Header, ...]  # outermost first
    rule: str = ""  # the route or table entry that decides this hop

    @property
    def encapsulated(self) -> bool:
        return any(h.outer for h in self.headers)


class TwoHosts:
    """agent01 and agent02, one container on each (web1, web2), in one of ``MODES``."""

    def __init__(self, mode: str = "host-gw") -> None:
        if mode not in MODES:
            raise InvalidInput(
                f"Unknown multi-host mode {mode!r}",
                "the model knows flannel's host-gw, udp and vxlan backends and Swarm's overlay",
                "use one of: " + ", ".join(repr(m) for m in MODES),
            )
        self.mode = MODES[mode]
        overlay = mode == "overlay"
        self.hosts = (
            Host(
                "agent01",
                "192.0.2.101",
                "02:00:c0:00:02:65",
                "10.0.1.0/24" if overlay else "10.244.1.0/24",
                "br0" if overlay else "cni0",
                "10.0.1.1" if overlay else "10.244.1.1",
            ),
            Host(
                "agent02",
                "192.0.2.102",
                "02:00:c0:00:02:66",
                "10.0.1.0/24" if overlay else "10.244.2.0/24",
                "br0" if overlay else "cni0",
                "10.0.1.1" if overlay else "10.244.2.1",
            ),
        )
        self.boxes = (
            Box("web1", "agent01", "10.0.1.3" if overlay else "10.244.1.2", "02:42:0a:00:01:03"),
            Box("web2", "agent02", "10.0.1.4" if overlay else "10.244.2.3", "02:42:0a:00:01:04"),
        )
        self.network = "10.0.1.0/24" if overlay else "10.244.0.0/16"

    def __repr__(self) -> str:
        return f"TwoHosts({self.mode.key!r})"

    # -- lookups -------------------------------------------------------------------------------

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise InvalidInput(
            f"No host {name!r} in the model",
            "the model has agent01 and agent02",
            "use 'agent01' or 'agent02'",
        )

    def box(self, name: str) -> Box:
        for b in self.boxes:
            if b.name == name:
                return b
        raise InvalidInput(
            f"No container {name!r} in the model",
            "the model has web1 and web2",
            "use 'web1' or 'web2'",
        )

    def _other(self, host: Host) -> Host:
        return self.hosts[1] if host is self.hosts[0] else self.hosts[0]

    # -- what the hosts are configured with ------------------------------------------------------

    def routes(self, host: str) -> list[str]:
        """The host's routing table as ``ip route`` prints it (container-related lines)."""
        me = self.host(host)
        peer = self._other(me)
        underlay = "192.0.2.0/24 dev eth1 proto kernel scope link src " + me.ip
        key = self.mode.key
        if key == "overlay":
            # The overlay lives in its own namespace; the host table only needs the underlay.
            return [
                underlay,
                "(overlay 10.0.1.0/24: inside the overlay's network namespace, not here)",
            ]
        local = f"{me.subnet} dev {me.bridge} proto kernel scope link src {me.bridge_ip}"
        if key == "host-gw":
            remote = f"{peer.subnet} via {peer.ip} dev eth1"
        elif key == "udp":
            remote = f"{self.network} dev flannel0"
        else:
            remote = f"{peer.subnet} via {peer.subnet.split('/')[0]} dev flannel.1 onlink"
        return [underlay, local, remote]

    def next_hop(self, host: str = "agent01") -> str:
        """Where ``host`` sends a packet for the other host's containers: an address or a device."""
        me = self.host(host)
        peer = self._other(me)
        key = self.mode.key
        if key == "host-gw":
            return peer.ip
        if key == "udp":
            return "flannel0"
        if key == "vxlan":
            return "flannel.1"
        return "vxlan0"

    def overhead(self) -> int:
        """Bytes the encapsulation takes from the container's MTU (0 for plain routing)."""
        wire = next(h for h in self.path() if h.where == "wire")
        # Everything the encapsulation adds except the outermost Ethernet header, which the
        # underlay's 1500-byte MTU does not count; VXLAN also carries the inner Ethernet frame.
        extra = [h for h in wire.headers[1:] if h.outer]
        inner_ethernet = [h for h in wire.headers[1:] if h.layer == "Ethernet" and not h.outer]
        return sum(h.size for h in extra) + sum(h.size for h in inner_ethernet)

    def mtu(self) -> int:
        """The MTU a container gets in this mode on a 1500-byte underlay."""
        return UNDERLAY_MTU - self.overhead()

    # -- the packet's path -----------------------------------------------------------------------

    def path(self, src: str = "web1", dst: str = "web2") -> list[Hop]:
        """Each hop of an HTTP request from ``src`` to ``dst`` with the headers it carries there."""
        a, b = self.box(src), self.box(dst)
        ha, hb = self.host(a.host), self.host(b.host)
        if ha is hb:
            raise InvalidInput(
                f"{src} and {dst} are on the same host",
                "this model is about traffic between two hosts",
                "trace web1 -> web2 (agent01 -> agent02)",
            )
        m = self.mode
        ip = Header("IPv4", f"{a.ip} → {b.ip}")
        tcp = Header("TCP", "→ :80")
        overlay = m.key == "overlay"
        gw_mac = "bridge" if not overlay else b.mac
        first = (Header("Ethernet", f"{a.mac} → {gw_mac}"), ip, tcp)
        hops: list[Hop] = [
            Hop(
                1,
                ha.name,
                f"{a.name} eth0",
                f"{a.name} sends to {b.ip}"
                + (
                    " — same subnet, so straight to its MAC (the overlay answers ARP for it)"
                    if overlay
                    else f" via its gateway {ha.bridge_ip} ({ha.bridge})"
                ),
                first,
                rule=f"default via {ha.bridge_ip}" if not overlay else f"{self.network} dev eth0",
            ),
        ]
        outer_ip = Header("IPv4", f"{ha.ip} → {hb.ip}", outer=True)
        outer_eth = Header("Ethernet", f"{ha.mac} → {hb.mac}", outer=True)
        if m.key == "host-gw":
            route = self.routes(ha.name)[-1]
            hops.append(
                Hop(
                    2,
                    ha.name,
                    ha.bridge,
                    "ip_forward=1: the host routes the packet; no wrapping",
                    first,
                    rule=route,
                )
            )
            wire: tuple[Header, ...] = (Header("Ethernet", f"{ha.mac} → {hb.mac}"), ip, tcp)
            hops.append(
                Hop(
                    3,
                    "wire",
                    "eth1 → eth1",
                    "the container's own IP packet crosses the wire as is",
                    wire,
                    rule="needs agent02 on the same Layer-2 network as agent01",
                )
            )
            hops.append(
                Hop(
                    4,
                    hb.name,
                    "eth1",
                    f"{b.ip} is on a local bridge: forward it",
                    wire,
                    rule=self.routes(hb.name)[1],
                )
            )
        elif m.key == "udp":
            udp = Header("UDP", f"→ :{m.udp_port} (flanneld)", outer=True)
            hops.append(
                Hop(
                    2,
                    ha.name,
                    "flannel0 (TUN) → flanneld",
                    "the kernel routes the packet into the TUN "
                    "device; flanneld reads it in user space and looks up agent02's subnet lease",
                    (ip, tcp),
                    rule=self.routes(ha.name)[-1],
                )
            )
            wire = (outer_eth, outer_ip, udp, ip, tcp)
            hops.append(
                Hop(
                    3,
                    "wire",
                    "eth1 → eth1",
                    "the whole IP packet rides inside a UDP datagram",
                    wire,
                    rule=f"flanneld: {hb.subnet} is leased to {hb.ip}",
                )
            )
            hops.append(
                Hop(
                    4,
                    hb.name,
                    "flanneld → flannel0 (TUN)",
                    "flanneld unwraps it and writes the inner "
                    "packet to flannel0; the kernel routes it on",
                    (ip, tcp),
                    rule=self.routes(hb.name)[1],
                )
            )
        else:
            udp = Header("UDP", f"→ :{m.udp_port}", outer=True)
            vx = Header("VXLAN", f"VNI {m.vni}", outer=True)
            # Swarm's overlay is one Layer-2 segment: web1's own frame travels. flannel routes
            # first, so its inner frame goes from agent01's VTEP to agent02's.
            inner_eth = Header(
                "Ethernet",
                f"{a.mac} → {b.mac}" if overlay else f"{ha.name} {m.device} → {hb.name} {m.device}",
            )
            where = (
                f"{m.device} (VXLAN, kernel)"
                if not overlay
                else f"br0 → {m.device} (overlay namespace)"
            )
            rule = (
                self.routes(ha.name)[-1]
                if not overlay
                else f"FDB: {b.mac} dst {hb.ip} (learned by Swarm's gossip)"
            )
            hops.append(
                Hop(
                    2,
                    ha.name,
                    where,
                    "the kernel wraps the whole Ethernet frame in VXLAN + UDP",
                    (inner_eth, ip, tcp),
                    rule=rule,
                )
            )
            wire = (outer_eth, outer_ip, udp, vx, inner_eth, ip, tcp)
            hops.append(
                Hop(
                    3,
                    "wire",
                    "eth1 → eth1",
                    "the container's frame rides inside UDP between the hosts",
                    wire,
                    rule=f"UDP port {m.udp_port} open between the hosts",
                )
            )
            hops.append(
                Hop(
                    4,
                    hb.name,
                    where.replace("→", "←"),
                    "the kernel unwraps it (VNI matches) and hands the inner frame to the bridge",
                    (inner_eth, ip, tcp),
                    rule=self.routes(hb.name)[1] if not overlay else "overlay bridge br0",
                )
            )
        hops.append(
            Hop(
                5,
                hb.name,
                f"{hb.bridge} → {b.name} eth0",
                f"{b.name} receives the request from {a.ip}",
                (Header("Ethernet", f"{hb.bridge} → {b.mac}"), ip, tcp),
                rule=f"{hb.subnet} dev {hb.bridge}",
            )
        )
        return hops

    def wire_headers(self) -> tuple[Header, ...]:
        """The headers on the packet between the hosts, outermost first."""
        return next(h for h in self.path() if h.where == "wire").headers
