"""Traffic routed to a container from another host, the lab text's ``route add`` step, as each
engine generation treats it, and the raw-table rules a student lists to see why.

The lab text has a client add ``ip route add 172.17.0.0/16 via <engine host>`` and then fetch
``http://172.17.0.2/`` directly. Measured on real engines (a client network namespace routed
through the engine's namespace; 2 s client timeout):

- **20.10** forwards it: every running app container answers, published or not; the raw table
  has no rules.
- **28** drops it: a raw-table rule ``-A PREROUTING -d <ip>/32 ! -i <bridge> -j DROP`` per
  container endpoint, in the order the endpoints joined (2 SYNs dropped per 2 s request), plus
  ``-d 127.0.0.1/32 ! -i lo -p tcp --dport <port> -j DROP`` per port published on 127.0.0.1.
  Openings, each measured:

  - daemon option ``--allow-direct-routing``: no per-container rules; a container with any
    published port (also on 127.0.0.1) answers; an unpublished one still times out (the
    filter table's ``DOCKER`` chain drops it, the raw counters stay 0);
  - network option ``com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected``: no rules
    for that network's containers; published and unpublished answer;
  - network option ``com.docker.network.bridge.trusted_host_interfaces=<if>[:<if>...]``:
    ``-A PREROUTING -d <ip>/32 -i <if> -j ACCEPT`` before the DROP; a published container
    answers through that interface, an unpublished one times out in the filter table (its
    ACCEPT rule still counts the SYNs).

  From the engine's own host, container addresses answer on both generations (``model_http``).

Packets are counted as a Linux 6.5+ client sends them (a SYN, then retries 1 s apart, four
times), and an answered GET of the lab page as the 9 packets measured for one. The policy
counter counts only the modelled requests, not the rest of a real host's traffic.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from labkit.app import parse_page
from labkit.engine.sim.listener import SERVED_PATHS
from labkit.engine.sim.state import ContainerRec, NetworkRec, World
from labkit.engine.sim.world import bridge_name, live_endpoints, who_answers
from labkit.errors import InvalidInput
from labkit.generation import Generation
from labkit.models import Outcome, ProbeResult

__all__ = [
    "GATEWAY_MODE",
    "TRUSTED_INTERFACES",
    "DEFAULT_CLIENT",
    "DEFAULT_INTERFACE",
    "DEFAULT_AGENT",
    "DirectRouting",
    "RawRule",
    "check_network_options",
    "raw_rules",
    "raw_listing",
    "raw_specs",
    "routed_get",
    "syn_packets",
]

GATEWAY_MODE = "com.docker.network.bridge.gateway_mode_ipv4"
TRUSTED_INTERFACES = "com.docker.network.bridge.trusted_host_interfaces"
# The other host of the lab text (labkit's lab hosts use these), and the engine host's
# interface its packets arrive on.
DEFAULT_CLIENT = "198.18.0.10"
DEFAULT_AGENT = "198.18.0.11"  # the engine's host, as the other host reaches it
DEFAULT_INTERFACE = "eth0"

_MODELLED_MODES = ("nat", "nat-unprotected")
_KNOWN_MODES = (*_MODELLED_MODES, "routed", "isolated")
_SYN_BYTES = 60  # IPv4 20 + TCP 40 (with options)
_SEGMENT_BYTES = 52  # IPv4 20 + TCP 32 (timestamps)
_ANSWERED_PACKETS = 9  # a GET of the lab page, client to server, as measured


@dataclass
class DirectRouting:
    """The daemon option and the raw table's counters (rules themselves follow the engine's
    state). A daemon restart flushes Docker's rules, so their counters start again at 0; the
    chain's policy counter survives it, as on the engine."""

    allow_direct_routing: bool = False
    counters: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    policy: list[int] = field(default_factory=lambda: [0, 0])

    def count(self, key: tuple[str, ...] | None, packets: int, size: int) -> None:
        slot = self.policy if key is None else self.counters.setdefault(key, [0, 0])
        slot[0] += packets
        slot[1] += size


@dataclass(frozen=True)
class RawRule:
    """One rule of the raw table's PREROUTING chain, as Engine 28 writes it."""

    key: tuple[str, ...]  # identity: an endpoint (or a published port) and what the rule is
    target: str  # DROP | ACCEPT
    destination: str  # an address, no prefix
    in_interface: str  # "docker0", "lo", ...
    negated: bool  # ! -i
    dport: int | None = None  # tcp rules only

    def matches(self, destination: str, interface: str, port: int) -> bool:
        if destination != self.destination:
            return False
        if (interface == self.in_interface) == self.negated:
            return False
        return self.dport is None or self.dport == port

    @property
    def spec(self) -> str:
        """The rule as ``iptables -t raw -S`` prints it."""
        where = f"{'! ' if self.negated else ''}-i {self.in_interface}"
        if self.dport is None:
            return f"-A PREROUTING -d {self.destination}/32 {where} -j {self.target}"
        return (
            f"-A PREROUTING -d {self.destination}/32 {where} -p tcp -m tcp --dport {self.dport} "
            f"-j {self.target}"
        )


def check_network_options(options: Mapping[str, str], generation: Generation) -> dict[str, str]:
    """``-o`` options for a new bridge network: every one is kept and shown in inspect. 20.10
    knows none of the routing options and ignores them, as the engine does; on 28 a gateway mode
    must be one the engine knows, and one the simulator models."""
    result = {str(k): str(v) for k, v in (options or {}).items()}
    mode = result.get(GATEWAY_MODE)
    if mode is None or generation is Generation.V20:
        return result
    if mode not in _KNOWN_MODES:
        raise InvalidInput(
            f"Unknown gateway mode {mode!r}",
            f"{GATEWAY_MODE} takes one of {', '.join(_KNOWN_MODES)}",
            "use nat (the default) or nat-unprotected",
        )
    if mode not in _MODELLED_MODES:
        raise InvalidInput(
            f"Gateway mode {mode!r} is not modelled by labkit's simulated engine",
            "it models the default (nat) and nat-unprotected; routed and isolated change how "
            "ports are published, which the simulator does not follow",
            "use nat-unprotected, or a real Docker engine for this mode",
        )
    return result


def raw_rules(world: World, state: DirectRouting) -> list[RawRule]:
    """The raw PREROUTING rules the engine has now, in the order it wrote them."""
    if world.generation is Generation.V20:
        return []
    ordered: list[tuple[int, list[RawRule]]] = []
    for rec, ep, net in live_endpoints(world.container_recs, world.network_recs):
        ip = str(ep.ip)
        mode = net.options.get(GATEWAY_MODE, "nat")
        if not state.allow_direct_routing and mode == "nat":
            rules = [
                RawRule((ep.endpoint_id, "accept", iface), "ACCEPT", ip, iface, False)
                for iface in net.options.get(TRUSTED_INTERFACES, "").split(":")
                if iface
            ]
            rules.append(RawRule((ep.endpoint_id, "drop"), "DROP", ip, bridge_name(net), True))
            ordered.append((ep.seq, rules))
        if rec.port_network == net.id:
            loopback = [
                RawRule((ep.endpoint_id, "lo", str(port)), "DROP", host_ip, "lo", True, port)
                for (_port, proto), bindings in sorted(rec.published.items())
                for host_ip, port in bindings
                if proto == "tcp" and host_ip.startswith("127.")
            ]
            if loopback:
                ordered.append((rec.publish_seq, loopback))
    ordered.sort(key=lambda item: item[0])
    return [rule for _seq, rules in ordered for rule in rules]


def raw_specs(world: World, state: DirectRouting) -> str:
    """What ``iptables -t raw -S`` prints."""
    lines = ["-P PREROUTING ACCEPT", "-P OUTPUT ACCEPT"]
    lines += [rule.spec for rule in raw_rules(world, state)]
    return "".join(line + "\n" for line in lines)


def _num(value: int) -> str:
    """A counter as ``iptables -L -v`` prints it: up to 99999 as is, then K, M, G, T."""
    if value <= 99999:
        return f"{value:5d}"
    for unit in ("K", "M", "G"):
        value = (value + 500) // 1000
        if value <= 9999:
            return f"{value:4d}{unit}"
    return f"{(value + 500) // 1000:4d}T"


def raw_listing(world: World, state: DirectRouting) -> str:
    """What ``iptables -t raw -L PREROUTING -v -n`` prints: the rules and their counters."""
    lines = [
        f"Chain PREROUTING (policy ACCEPT {state.policy[0]} packets, {state.policy[1]} bytes)",
        " pkts bytes target     prot opt in     out     source               destination         ",
    ]
    for rule in raw_rules(world, state):
        packets, size = state.counters.get(rule.key, (0, 0))
        interface = ("!" if rule.negated else "") + rule.in_interface
        prot = "tcp" if rule.dport is not None else "all"
        extra = f" tcp dpt:{rule.dport}" if rule.dport is not None else ""
        lines.append(
            f"{_num(packets)} {_num(size)} {rule.target:<10} {prot:<4} --  {interface:<6} "
            f"{'*':<6}  {'0.0.0.0/0':<20} {rule.destination:<20}{extra}"
        )
    return "".join(line + "\n" for line in lines)


def syn_packets(timeout: float) -> int:
    """How many SYNs a Linux 6.5+ client sends before it gives up after ``timeout`` seconds:
    one at once, four retries 1 s apart (``tcp_syn_linear_timeouts``), then doubling waits."""
    sent, at, retry = 1, 1.0, 1
    while at < timeout:
        sent += 1
        retry += 1
        at += 1.0 if retry <= 4 else 2.0 ** (retry - 4)
    return sent


def _request_bytes(path: str, host: str) -> int:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n"
    return _SYN_BYTES + (_ANSWERED_PACKETS - 2) * _SEGMENT_BYTES + _SEGMENT_BYTES + len(request)


def routed_get(
    world: World,
    state: DirectRouting,
    host: str,
    port: int = 80,
    path: str = "/",
    *,
    client: str = DEFAULT_CLIENT,
    agent: str = DEFAULT_AGENT,
    in_interface: str = DEFAULT_INTERFACE,
    timeout: float = 2.0,
) -> ProbeResult:
    """An HTTP GET of ``http://host:port/path`` from another host (``client``) whose route to
    the engine's networks goes through the engine's host (``agent``, reached on its
    ``in_interface``).

    ``host`` is an address in one of the engine's networks, or ``agent`` itself with a
    published host port (the lab text's ``http://<agent>:32768``, which both generations
    answer for ports published on all interfaces). Nothing waits: a request the engine drops
    comes back at once as a TIMEOUT after ``timeout`` seconds of model time, and the raw
    table's counters move as the real ones do.
    """
    try:
        target = ipaddress.IPv4Address(host)
    except ValueError:
        raise InvalidInput(
            f"{host!r} is not a container address",
            "a request routed from another host names the container by its IPv4 address",
            "use the address from lab.ip(...) or docker inspect, e.g. 172.17.0.2",
        ) from None
    url = f"http://{host}:{port}{path}" if port != 80 else f"http://{host}{path}"
    result = _Result(f"{host}:{port}", url, float(timeout))
    if host == agent:
        return _published_port(world, state, result, port, path, client)
    net, rec, ep = who_answers(target, world.container_recs, world.network_recs)
    if net is None:
        raise InvalidInput(
            f"No network of the simulated engine has the address {host}",
            "the route from the other host leads into the engine's own networks only",
            "use an address inside one of them, e.g. 172.17.0.2 on the default bridge",
        )
    syns = syn_packets(timeout)
    generation = world.generation
    rule = None
    if generation.drops_routed_traffic:
        rule = next(
            (r for r in raw_rules(world, state) if r.matches(host, in_interface, port)), None
        )
        if rule is not None and rule.target == "DROP":
            state.count(rule.key, syns, syns * _SYN_BYTES)
            return result.timeout(
                f"dropped by the raw-table rule {rule.spec[3:]} (Engine 28 drops traffic "
                "routed from another host to a container address)"
            )
    gateway_open = generation is Generation.V20 or (
        net.options.get(GATEWAY_MODE, "nat") == "nat-unprotected"
    )
    answered = (
        rec is not None
        and ep is not None
        and port == 80
        and world.serves_app(rec)
        and (gateway_open or _published_here(rec, net, port))
    )
    key = rule.key if rule is not None else None
    if target == net.addresses.gateway:  # the engine host itself: nothing listens there
        state.count(key, 1, _SYN_BYTES)
        return result.refused(f"{host} is the engine host's own address on {bridge_name(net)}")
    if answered:
        assert rec is not None
        state.count(key, _ANSWERED_PACKETS, _request_bytes(path, host))
        low, high = world.port_range
        body = world.page(rec, f"[::ffff:{client}]:{random.randint(low, high)}")
        if path.split("?", 1)[0] not in SERVED_PATHS:
            return result.reply(404, "", "HTTP 404: the app serves / only")
        return result.reply(200, body, "forwarded through the engine's host")
    if not gateway_open:
        state.count(key, syns, syns * _SYN_BYTES)
        what = "no published port" if rec is not None else "no running container there"
        return result.timeout(
            f"dropped in the filter table's DOCKER chain ({what}: Engine 28 forwards routed "
            "traffic only to published container ports)"
        )
    if rec is None:
        arp = syn_packets(min(timeout, 3.0))
        state.count(key, arp, arp * _SYN_BYTES)
        return result.unreachable(f"no container has {host}: the bridge finds no one there")
    state.count(key, 1, _SYN_BYTES)
    return result.refused(f"nothing listens on port {port} in the container")


def _published_port(
    world: World, state: DirectRouting, result: _Result, port: int, path: str, client: str
) -> ProbeResult:
    """The engine host's own address and a host port: the published port's NAT (and proxy)
    forward it to the container on both generations, when it is published on all interfaces
    (or on that address); one published on 127.0.0.1 is not there for another host."""
    for rec in world.container_recs.values():
        if not rec.running:
            continue
        for (container_port, proto), bindings in rec.published.items():
            hit = [ip for ip, host_port in bindings if host_port == port and proto == "tcp"]
            if not any(ip in ("0.0.0.0", "::") for ip in hit):
                continue
            state.count(None, _ANSWERED_PACKETS, _request_bytes(path, result.target))
            if container_port != 80 or not world.serves_app(rec):
                return result.refused(f"nothing listens on port {container_port} in the container")
            low, high = world.port_range
            body = world.page(rec, f"[::ffff:{client}]:{random.randint(low, high)}")
            if path.split("?", 1)[0] not in SERVED_PATHS:
                return result.reply(404, "", "HTTP 404: the app serves / only")
            return result.reply(200, body, f"through the published port {port}")
    state.count(None, 1, _SYN_BYTES)
    return result.refused(
        f"no container publishes port {port} on the engine host's addresses (one published on "
        "127.0.0.1 is reachable from that host only)"
    )


def _published_here(rec: ContainerRec, net: NetworkRec, port: int) -> bool:
    """Engine 28's filter table accepts routed traffic to a container port published through
    this network's endpoint (any host address, 127.0.0.1 too)."""
    return rec.port_network == net.id and any(
        container_port == port and proto == "tcp" and bindings
        for (container_port, proto), bindings in rec.published.items()
    )


@dataclass(frozen=True)
class _Result:
    target: str
    url: str
    seconds: float  # the client's timeout

    def _make(self, outcome: str, detail: str, **fields: object) -> ProbeResult:
        return ProbeResult(
            via="routed",
            target=self.target,
            url=self.url,
            outcome=outcome,
            simulated=True,
            detail=detail,
            **fields,  # type: ignore[arg-type]
        )

    def timeout(self, why: str) -> ProbeResult:
        return self._make(
            Outcome.TIMEOUT,
            f"timed out after {self.seconds:g} s: {why}",
            latency_ms=self.seconds * 1000,
        )

    def refused(self, why: str) -> ProbeResult:
        return self._make(Outcome.REFUSED, f"connection refused: {why}", latency_ms=0.3)

    def unreachable(self, why: str) -> ProbeResult:
        return self._make(
            Outcome.UNREACHABLE,
            f"host unreachable: {why}",
            latency_ms=min(self.seconds, 3.0) * 1000,
        )

    def reply(self, status: int, body: str, why: str) -> ProbeResult:
        page = parse_page(body) if body else {}
        return self._make(
            Outcome.OK if status == 200 else Outcome.ERROR,
            why,
            status=status,
            latency_ms=round(random.uniform(0.3, 0.9), 3),
            server_ip=page.get("server_ip"),
            hostname=page.get("hostname"),
            client_addr=page.get("client_addr"),
            body=body,
        )
