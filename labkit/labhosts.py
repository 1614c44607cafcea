"""Real lab hosts: the lab text's client → agent01 / agent02 classroom on one Linux machine.

Each host is a network namespace on a lab bridge in the RFC 2544 test range (198.18.0.0/24,
never routed anywhere). Each agent runs its own dockerd — Engine 20.10 (the machine's) or 28+
(from a Debian sid root, ``labkit.engines``), its own docker0 172.17.0.1/16 (agent02 gets another
subnet for the multi-host lesson) and ip_forward on — reachable from the kernel as a
``DockerEngine`` over its own unix socket only (no TCP listener: one would hand root on this
machine to every lab container). The kernel stays in the root namespace; probes "from the
client" run on a thread that has entered the client's namespace.

What labkit makes is recorded in a state file after checking it did not exist and before making
it, so ``teardown()`` removes all of it — also after a crash — and nothing that was there before.
Engines are stopped by their pid files. Needs root on Linux; ``LabHostsUnavailable`` says why
otherwise, and the course falls back to the local engine or the simulator.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from labkit.errors import EngineUnavailable, InvalidInput, LabHostError
from labkit.generation import Generation
from labkit.models import ProbeResult

__all__ = [
    "lab_hosts",
    "LabHosts",
    "LabHost",
    "check_opening",
    "HostView",
    "LabHostsUnavailable",
    "available",
    "RouteStep",
    "RouteTry",
    "OPENINGS",
    "SUBNET",
    "AGENT_BRIDGES",
    "dropped_packets",
    "drop_rules",
]

ROOT = Path(os.environ.get("LABKIT_LABHOSTS_ROOT", "/var/lib/labkit/labhosts"))
SUBNET = "198.18.0.0/24"  # RFC 2544 benchmarking range: only our own namespaces use it
BRIDGE = "lkbr0"
ADDRESSES = {"client": "198.18.0.10", "agent01": "198.18.0.11", "agent02": "198.18.0.12"}
# Each agent's docker0; agent02 differs so routes between the two hosts make sense.
AGENT_BRIDGES = {"agent01": "172.17.0.1/16", "agent02": "172.18.0.1/16"}
VXLAN = {"agent01": "198.19.0.1", "agent02": "198.19.0.2"}  # the tunnel's own /24, also RFC 2544
VXLAN_PORT = 4789
_CLONE_NEWNET = 0x40000000
T = TypeVar("T")

# The lab text's route step on Engine 28, and the ways 28 offers to let routed traffic in: what
# each one opens (and so what it costs). Engine 20.10 needs none of them.
OPENINGS = {
    "none": "the route alone",
    "allow-direct-routing": (
        "daemon option --allow-direct-routing: every host with a route reaches the published "
        "ports of every container on this engine at the container's own address; unpublished "
        "ports stay closed"
    ),
    "trusted-host-interfaces": (
        "network option com.docker.network.bridge.trusted_host_interfaces=eth1: traffic that "
        "arrives on eth1 (the lab network) reaches that network's published ports at the "
        "containers' own addresses; unpublished ports stay closed"
    ),
    "nat-unprotected": (
        "network option com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected: every port "
        "of every container on that network answers any host with a route, published or not — "
        "nothing filters it"
    ),
}
_NETWORK_OPTIONS = {
    "trusted-host-interfaces": {"com.docker.network.bridge.trusted_host_interfaces": "eth1"},
    "nat-unprotected": {"com.docker.network.bridge.gateway_mode_ipv4": "nat-unprotected"},
}


def check_opening(opening: str, generation: Generation, *, fix_20: str) -> None:
    """An opening the route step knows, and one this engine generation has (20.10 drops no
    routed traffic, so it has nothing to open)."""
    if opening not in OPENINGS:
        raise InvalidInput(
            f"Unknown opening {opening!r}",
            "the route step knows " + ", ".join(OPENINGS),
            "pass one of those names",
        )
    if opening != "none" and not generation.drops_routed_traffic:
        raise InvalidInput(
            f"{opening!r} is an opening of Engine 28 and later",
            "Engine 20.10 forwards routed traffic without it",
            fix_20,
        )


def dropped_packets(listing: str, ips: set[str]) -> int:
    """Packets dropped for ``ips`` in ``iptables -t raw -L PREROUTING -v -n [-x]`` output."""
    dropped = 0
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "DROP" and fields[-1] in ips:
            dropped += _count(fields[0])
    return dropped


def _count(field: str) -> int:
    # Without -x, iptables abbreviates large counters (1500 → 1K).
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(field[-1:], 1)
    return int(field.rstrip("KMG") or 0) * scale


def drop_rules(specs: list[str], ips: set[str]) -> tuple[str, ...]:
    """The DROP rules for ``ips`` among ``iptables -t raw -S PREROUTING`` lines."""
    return tuple(r for r in specs if "DROP" in r and any(f"-d {ip}/32 " in f"{r} " for ip in ips))


class LabHostsUnavailable(LabHostError):
    pass


def lab_hosts(progress: Callable[[str], None] | None = None) -> tuple[LabHosts | None, str]:
    """The notebooks' entry: real lab hosts when asked for (LABKIT_LABHOSTS=1) and possible,
    built on first use; otherwise None and one line saying why the course falls back. The
    agents run the engine the hosts were built with, else LABKIT_LABHOSTS_ENGINE (20.10 or 28,
    default 20.10)."""
    if os.environ.get("LABKIT_LABHOSTS", "") in ("", "0"):
        return None, (
            "Real lab hosts are off (they start two extra Docker engines as root): set "
            "LABKIT_LABHOSTS=1 before starting JupyterLab to turn them on."
        )
    try:
        hosts = LabHosts(engine=None)
    except InvalidInput as exc:
        return None, f"Real lab hosts cannot be built: {exc.what}."
    ok, why = available(hosts.generation)
    if not ok:
        return None, f"Real lab hosts cannot be built here: {why}."
    try:
        hosts.build(progress)
    except (LabHostError, EngineUnavailable) as exc:
        hosts.teardown()  # half-built hosts help nobody: remove what this build made
        return None, f"Real lab hosts failed to start: {exc.what}: {exc.why}."
    return (
        hosts,
        "Real lab hosts: client, agent01 and agent02 run on this machine (network namespaces), "
        f"the agents on Docker Engine {hosts.engine('agent01').info().version}.",
    )


def available(engine: Generation = Generation.V20) -> tuple[bool, str]:
    """Whether real lab hosts with agents on ``engine`` can be built here, and why not."""
    if not sys.platform.startswith("linux"):
        return False, "real lab hosts need Linux network namespaces"
    if os.geteuid() != 0:
        return False, "building network namespaces and engines needs root"
    tools = ["ip", "iptables", "nsenter"]
    if engine is Generation.V28:
        from labkit.engines import SID_ROOT

        tools += ["unshare"] + ([] if (SID_ROOT / "usr/sbin/dockerd").exists() else ["debootstrap"])
    else:
        tools.append("dockerd")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        return False, f"missing tools: {', '.join(missing)}"
    return True, f"root on Linux with {', '.join(tools)}"


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    netns: str

    @property
    def netns_path(self) -> str:
        return f"/var/run/netns/{self.netns}"


@dataclass(frozen=True)
class HostView:
    """What one lab host looks like right now: plain data for tables and the figure."""

    name: str
    address: str
    routes: tuple[str, ...]
    bridge: str = ""  # the agent's docker0 address, "" for the client
    ip_forward: bool | None = None
    containers: tuple[tuple[str, str], ...] = ()  # (name, IP)
    vxlan: tuple[int, int] | None = None  # (sent, received) when a tunnel is up
    engine: str = ""  # the agent's Docker Engine version, "" for the client


@dataclass(frozen=True)
class RouteTry:
    """One container's address probed from the client, before and after the route."""

    container: str
    ip: str
    published: bool
    before: ProbeResult
    after: ProbeResult

    @property
    def answered(self) -> bool:
        """The container asked for answered (its page names its own IP and hostname)."""
        return self.after.ok and self.after.server_ip == self.ip


@dataclass(frozen=True)
class RouteStep:
    """The lab text's route step done for real: what was tried and what came back."""

    version: str  # the agent's Docker Engine
    opening: str  # a key of OPENINGS
    opens: str  # what that opening opens, in words
    network: str  # where the two containers ran: "bridge" or a network with the opening's option
    route: str  # the command run on the client
    via_port: ProbeResult  # the published port through the agent's address, for comparison
    tries: tuple[RouteTry, ...]  # the published container, then the unpublished one
    dropped: int  # packets Engine 28's raw-table rules dropped for them (0 on 20.10)
    raw_rules: tuple[str, ...]  # those rules, as `iptables -t raw -S PREROUTING` prints them

    @property
    def generation(self) -> Generation:
        from labkit.generation import generation_of

        return generation_of(self.version)


class LabHosts:
    """Build (idempotent) and tear down client, agent01 and agent02.

    ``engine`` is the agents' engine: "20.10" (the machine's dockerd) or "28" (Debian sid's);
    None takes the one the hosts were built with, else LABKIT_LABHOSTS_ENGINE, else 20.10."""

    def __init__(self, root: Path = ROOT, engine: Generation | str | None = None) -> None:
        self.root = Path(root)
        self.state_file = self.root / "state.json"
        self.hosts = {name: LabHost(name, addr, f"lk-{name}") for name, addr in ADDRESSES.items()}
        built_with = next((r["generation"] for r in self._records() if r["kind"] == "engine"), None)
        chosen = engine or built_with or os.environ.get("LABKIT_LABHOSTS_ENGINE") or "20.10"
        try:
            self.generation = Generation(chosen)
        except ValueError:
            raise InvalidInput(
                f"Unknown engine {chosen!r} for the lab hosts",
                "the agents run Engine 20.10 or 28",
                "pick 20.10 or 28",
            ) from None
        if built_with and built_with != self.generation.value:
            raise InvalidInput(
                f"The lab hosts are up with Engine {built_with}, not {self.generation.value}",
                "both agents run one engine",
                "run `labkit labhosts down` first",
            )

    # -- the record of what was made ------------------------------------------------------------

    def _records(self) -> list[dict]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return []

    def _record(self, **entry: object) -> None:
        records = self._records()
        if entry not in records:
            records.append(entry)
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(records, indent=1))
            tmp.replace(self.state_file)  # atomic: a crash leaves the old or the new record

    def _make(self, **entry: object) -> None:
        """Record an object about to be made: called only once it is known not to exist."""
        self._record(**entry)

    @property
    def built(self) -> bool:
        return (
            self.state_file.exists()
            and all(Path(h.netns_path).exists() for h in self.hosts.values())
            and all(self._engine_answers(a) for a in AGENT_BRIDGES)
        )

    # -- building --------------------------------------------------------------------------------

    def build(self, progress: Callable[[str], None] | None = None) -> LabHosts:
        ok, why = available(self.generation)
        if not ok:
            raise LabHostsUnavailable(
                "Real lab hosts cannot be built here",
                why,
                "the course uses the local engine or the simulator instead",
            )
        say = progress or (lambda _msg: None)
        if self.built:
            return self
        self._record(kind="engine", generation=self.generation.value)
        if self.generation is Generation.V28:
            from labkit.engines import sid_root

            sid_root(progress=say)  # cached; about a minute the first time
        say("lab bridge and hosts…")
        self._bridge()
        for host in self.hosts.values():
            self._namespace(host)
        self._forward_rule()
        for agent in AGENT_BRIDGES:
            say(f"{agent}: starting its own Docker engine ({self.generation.value})…")
            self._dockerd(agent)
        for agent in AGENT_BRIDGES:
            self._wait_engine(agent)
            say(f"{agent}: building the lab app image…")
            self.engine(agent).ensure_lab_image()
        return self

    def _bridge(self) -> None:
        if not _link_exists(BRIDGE):
            self._make(kind="link", name=BRIDGE)
            _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("link", "set", BRIDGE, "up")

    def _namespace(self, host: LabHost) -> None:
        if not Path(host.netns_path).exists():
            self._make(kind="netns", name=host.netns)
            _ip("netns", "add", host.netns)
        outer = f"lkv-{host.name}"[:15]
        if not _link_exists(outer):
            self._make(kind="link", name=outer)
            _ip("link", "add", outer, "type", "veth", "peer", "name", "eth1", "netns", host.netns)
            _ip("link", "set", outer, "master", BRIDGE, "up")
            self.run(host.name, "ip", "addr", "add", f"{host.address}/24", "dev", "eth1")
            self.run(host.name, "ip", "link", "set", "eth1", "up")
            self.run(host.name, "ip", "link", "set", "lo", "up")

    def _forward_rule(self) -> None:
        # The root engine sets FORWARD to DROP and bridged frames pass through iptables
        # (bridge-nf-call-iptables): let frames between the lab hosts cross the lab bridge.
        chain = (
            "DOCKER-USER"
            if _run(["iptables", "-n", "-L", "DOCKER-USER"], check=False).returncode == 0
            else "FORWARD"
        )
        rule = [chain, "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
        if _run(["iptables", "-C", *rule], check=False).returncode != 0:
            self._make(kind="iptables", rule=rule)
            _run(["iptables", "-I", *rule])

    def _folder(self, agent: str) -> Path:
        """The agent engine's data root, socket, pid file and log (``labkit.engines``)."""
        return self.root / agent

    def socket_url(self, agent: str) -> str:
        return f"unix://{self._folder(agent) / 'docker.sock'}"

    def _engine_answers(self, agent: str) -> bool:
        try:
            from labkit.engine.docker import DockerEngine

            DockerEngine(self.socket_url(agent), timeout=2).ping()
            return True
        except (EngineUnavailable, ImportError):
            return False

    def _dockerd(self, agent: str, options: tuple[str, ...] = ()) -> None:
        from labkit.engines import start_daemon

        folder = self._folder(agent)
        if self._engine_answers(agent):
            return
        if not folder.exists():
            self._make(kind="dir", path=str(folder))
            folder.mkdir(parents=True)
        self._record(kind="dockerd", agent=agent, folder=str(folder))
        # Its unix socket only: a TCP listener would give every lab container root here.
        start_daemon(
            folder,
            self.hosts[agent].netns_path,
            self.generation,
            (f"--bip={AGENT_BRIDGES[agent]}", *options),
            wait=False,
        )
        (folder / "options.json").write_text(json.dumps(list(options)))

    def _wait_engine(self, agent: str, timeout: float = 60) -> None:
        from labkit.engines import wait_for_daemon

        try:
            wait_for_daemon(self._folder(agent), timeout)
        except EngineUnavailable as exc:
            raise LabHostError(
                f"{agent}'s Docker engine did not start",
                exc.why,
                "run teardown() and build() again",
            ) from exc

    def engine_options(self, agent: str) -> tuple[str, ...]:
        """The daemon options the agent's engine runs with beyond its bridge address."""
        try:
            return tuple(json.loads((self._folder(agent) / "options.json").read_text()))
        except (OSError, ValueError):
            return ()

    def restart_engine(self, agent: str, options: tuple[str, ...] = ()) -> None:
        """Restart the agent's engine with these daemon options (its containers stop; images
        stay). On Engine 28, ``("--allow-direct-routing",)`` lets routed traffic reach
        published ports at the containers' addresses."""
        from labkit.engines import stop_daemon

        if options == self.engine_options(agent) and self._engine_answers(agent):
            return
        stop_daemon(self._folder(agent))
        self._dockerd(agent, options)
        self._wait_engine(agent)

    # -- using the hosts -------------------------------------------------------------------------

    def engine(self, agent: str):
        from labkit.engine.docker import DockerEngine

        return DockerEngine(self.socket_url(agent))

    def run(self, host: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """A command inside a host's network namespace (ip, cat /proc/sys/..., iptables)."""
        return _run(["ip", "netns", "exec", self.hosts[host].netns, *command], check=check)

    def address(self, host: str) -> str:
        return self.hosts[host].address

    def probe_from(self, host: str, address: str, port: int, *, via: str = "address"):
        """An HTTP probe of address:port sent from inside ``host`` (e.g. the client)."""
        from labkit.probe import probe_address

        return self.inside(host, lambda: probe_address(None, address, port, via=via))

    def ip_forward(self, host: str) -> bool:
        return self.run(host, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"

    def routes(self, host: str) -> list[str]:
        return [line for line in self.run(host, "ip", "route").stdout.splitlines() if line]

    def add_route(self, host: str, subnet: str, via: str) -> None:
        self.run(host, "ip", "route", "replace", subnet, "via", via)

    def delete_route(self, host: str, subnet: str) -> None:
        self.run(host, "ip", "route", "del", subnet, check=False)

    def snapshot(self) -> tuple[HostView, ...]:
        """client, agent01 and agent02 as they are now (routes, bridges, containers, tunnels)."""
        views = []
        for name, host in self.hosts.items():
            agent = name in AGENT_BRIDGES
            containers: tuple[tuple[str, str], ...] = ()
            if agent:
                containers = tuple(
                    (c.name, c.ip) for c in self.engine(name).containers() if c.running
                )
            tunnel = self.vxlan_packets(name) if agent else None
            up = (
                agent
                and self.run(name, "ip", "link", "show", "vxlan0", check=False).returncode == 0
            )
            views.append(
                HostView(
                    name=name,
                    address=host.address,
                    routes=tuple(self.routes(name)),
                    bridge=AGENT_BRIDGES.get(name, ""),
                    ip_forward=self.ip_forward(name),
                    containers=containers,
                    vxlan=tunnel if up else None,
                    engine=self.engine(name).info().version if agent else "",
                )
            )
        return tuple(views)

    # -- the lab text's route step -----------------------------------------------------------------

    def route_step(self, opening: str = "none", *, agent: str = "agent01") -> RouteStep:
        """The lab text's ``route add`` for real: on the agent, a container with a published
        port and one without (on the default bridge, or on a network carrying the opening's
        option); from the client, each container's address before and after a route to its
        subnet via the agent, and the published port through the agent's address. Then the
        route, containers and network are removed again.

        ``opening`` is a key of OPENINGS. Engine 20.10 forwards routed traffic and takes only
        "none"; on Engine 28 the route alone is dropped (``dropped`` counts the packets, and
        ``raw_rules`` shows the raw-table rules that did it). "allow-direct-routing" restarts the
        agent's engine with that daemon option (its other containers stop)."""
        from labkit.lab import LAB_DNS, Lab
        from labkit.probe import probe_address

        check_opening(
            opening,
            self.generation,
            fix_20="use opening='none', or lab hosts on Engine 28 (labkit labhosts up --engine 28)",
        )
        direct = ("--allow-direct-routing",) if opening == "allow-direct-routing" else ()
        if self.generation is Generation.V28:
            self.restart_engine(agent, direct)
        engine = self.engine(agent)
        lab = Lab(engine, namespace="route-step")
        via = self.address(agent)
        try:
            network = "bridge"
            if opening in _NETWORK_OPTIONS:
                network = engine.create_network(
                    lab.name(opening),
                    labels=lab.labels("route-step"),
                    options=_NETWORK_OPTIONS[opening],
                ).name
            image = engine.ensure_lab_image()
            kinds = (("published", True), ("unpublished", False))
            made = [
                engine.run(
                    image,
                    name=lab.name(short),
                    ports={"80/tcp": None} if published else None,
                    network=None if network == "bridge" else network,
                    labels=lab.labels("route-step"),
                    dns=LAB_DNS,
                )
                for short, published in kinds
            ]
            subnet = engine.network(network).subnet
            port = made[0].port(80).host_port or 0

            def from_client(ip: str, target_port: int, label: str) -> ProbeResult:
                return self.inside(
                    "client",
                    lambda: probe_address(None, ip, target_port, via=label, timeout=1.5),
                )

            before = [from_client(c.ip, 80, "bridge IP") for c in made]
            self.add_route("client", subnet, via)
            try:
                after = [from_client(c.ip, 80, "bridge IP, routed") for c in made]
                via_port = from_client(via, port, f"{agent}:{port}")
            finally:
                self.delete_route("client", subnet)
            ips = {c.ip for c in made}
            dropped, rules = self._raw_drops(agent, ips)
            return RouteStep(
                version=engine.info().version,
                opening=opening,
                opens=OPENINGS[opening],
                network=network,
                route=f"ip route add {subnet} via {via}",
                via_port=via_port,
                tries=tuple(
                    RouteTry(c.name, c.ip, published, b, a)
                    for c, (_, published), b, a in zip(made, kinds, before, after, strict=True)
                ),
                dropped=dropped,
                raw_rules=rules,
            )
        finally:
            lab.cleanup()

    def _raw_drops(self, agent: str, ips: set[str]) -> tuple[int, tuple[str, ...]]:
        """Engine 28's per-container DROP rules in the raw table's PREROUTING, and how many
        packets they dropped (``iptables -t raw -L PREROUTING -v -n -x``)."""
        listed = self.run(agent, "iptables", "-t", "raw", "-L", "PREROUTING", "-v", "-n", "-x")
        rules = self.run(agent, "iptables", "-t", "raw", "-S", "PREROUTING").stdout.splitlines()
        return dropped_packets(listed.stdout, ips), drop_rules(rules, ips)

    # -- between the agents: flannel's two ideas, by hand --------------------------------------

    def link_agents(self, mode: str) -> None:
        """Let containers on agent01 and agent02 reach each other by IP.

        ``host-gw``: a plain route on each agent to the other's container subnet via the other
        agent (flannel host-gw; needs both on one L2 segment). ``vxlan``: the same subnets routed
        into a VXLAN tunnel (UDP 4789) between the agents (flannel vxlan). ``none``: neither.

        Engine 28 drops traffic routed to its containers from elsewhere, the other agent too:
        linking restarts both agents' engines with ``--allow-direct-routing`` (once; the
        containers running there stop, so link before starting them), after which published
        ports answer across the link.
        """
        if mode not in ("none", "host-gw", "vxlan"):
            raise InvalidInput(
                f"Unknown mode {mode!r}",
                "agents link by 'host-gw' or 'vxlan', or 'none'",
                "pick one of those three",
            )
        if mode != "none" and self.generation.drops_routed_traffic:
            for agent in AGENT_BRIDGES:
                if "--allow-direct-routing" not in self.engine_options(agent):
                    self.restart_engine(agent, ("--allow-direct-routing",))
        for agent in AGENT_BRIDGES:
            self.delete_route(agent, _container_subnet(_other(agent)))
            self.run(agent, "ip", "link", "del", "vxlan0", check=False)
        for agent in AGENT_BRIDGES:
            peer = _other(agent)
            if mode == "host-gw":
                self.add_route(agent, _container_subnet(peer), self.hosts[peer].address)
            elif mode == "vxlan":
                self.run(
                    agent,
                    "ip",
                    "link",
                    "add",
                    "vxlan0",
                    "type",
                    "vxlan",
                    "id",
                    "42",
                    "dstport",
                    str(VXLAN_PORT),
                    "local",
                    self.hosts[agent].address,
                    "remote",
                    self.hosts[peer].address,
                    "dev",
                    "eth1",
                )
                self.run(agent, "ip", "addr", "add", f"{VXLAN[agent]}/24", "dev", "vxlan0")
                self.run(agent, "ip", "link", "set", "vxlan0", "up")
                self.add_route(agent, _container_subnet(peer), VXLAN[peer])

    def vxlan_packets(self, agent: str) -> tuple[int, int]:
        """(sent, received) packets on the agent's VXLAN link: the encapsulation made visible."""
        done = self.run(agent, "ip", "-s", "-j", "link", "show", "vxlan0", check=False)
        if done.returncode != 0:
            return (0, 0)
        stats = json.loads(done.stdout)[0]["stats64"]
        return stats["tx"]["packets"], stats["rx"]["packets"]

    def inside(self, host: str, action: Callable[[], T]) -> T:
        """Run ``action`` on a thread that has entered the host's network namespace: sockets it
        opens belong to that host, while the kernel itself stays where it is."""
        box: dict[str, object] = {}

        def worker() -> None:
            try:
                fd = os.open(self.hosts[host].netns_path, os.O_RDONLY)
                try:
                    if _libc().setns(fd, _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                box["value"] = action()
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
                box["error"] = exc

        # A fresh thread each time: it is never handed back to a pool while inside the namespace.
        thread = threading.Thread(target=worker, name=f"labkit-in-{host}", daemon=True)
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    # -- tearing down ------------------------------------------------------------------------------

    def teardown(self) -> list[str]:
        """Remove everything the record lists, newest first; return what was removed."""
        removed = []
        from labkit.engines import stop_daemon

        for entry in reversed(self._records()):
            kind = entry["kind"]
            if kind == "dockerd":
                folder = Path(entry.get("folder") or Path(entry["pidfile"]).parent)
                if stop_daemon(folder):
                    removed.append(f"dockerd of {entry['agent']}")
            elif kind == "iptables":
                if _run(["iptables", "-D", *entry["rule"]], check=False).returncode == 0:
                    removed.append("iptables " + " ".join(entry["rule"]))
            elif kind == "netns":
                if _run(["ip", "netns", "del", entry["name"]], check=False).returncode == 0:
                    removed.append(f"netns {entry['name']}")
            elif kind == "link":
                if _link_exists(entry["name"]):
                    _run(["ip", "link", "del", entry["name"]], check=False)
                    removed.append(f"link {entry['name']}")
            elif kind == "dir":
                path = Path(entry["path"])
                if path.exists():
                    _unmount_below(path)
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(f"dir {path}")
        self.state_file.unlink(missing_ok=True)
        if self.root.exists() and not any(self.root.iterdir()):
            self.root.rmdir()
        return removed


# -- small helpers -----------------------------------------------------------------------------------


def _other(agent: str) -> str:
    return "agent02" if agent == "agent01" else "agent01"


def _container_subnet(agent: str) -> str:
    import ipaddress

    return str(ipaddress.ip_interface(AGENT_BRIDGES[agent]).network)


def _run(command: list[str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise LabHostError(
            f"`{' '.join(command)}` failed",
            (done.stderr or done.stdout).strip()[:200],
            "run teardown() and build() again",
        )
    return done


def _ip(*args: str) -> None:
    _run(["ip", *args])


def _libc():
    return ctypes.CDLL("libc.so.6", use_errno=True)


def _link_exists(name: str) -> bool:
    # In this process's network namespace (/sys/class/net shows the one sysfs was mounted in).
    try:
        socket.if_nametoindex(name)
        return True
    except OSError:
        return False


def _unmount_below(path: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(path))), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
