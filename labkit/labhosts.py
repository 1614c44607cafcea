"""Real lab hosts: the lab text's client → agent01 / agent02 classroom on one Linux machine.

Each host is a network namespace on a lab bridge in the RFC 2544 test range (198.18.0.0/24,
never routed anywhere). Each agent runs its own dockerd — its own docker0 172.17.0.1/16 (agent02
gets another subnet for the multi-host lesson) and ip_forward on — reachable from the kernel as a
``DockerEngine`` over its own unix socket. The kernel stays in the root namespace; probes "from
the client" run on a thread that has entered the client's namespace.

Everything built is recorded in a state file *before* it is made, so ``teardown()`` removes it
all — also after a crash — and nothing else. Needs root on Linux; ``LabHostsUnavailable`` says
why otherwise, and the course falls back to the local engine or the simulator.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from labkit.errors import EngineUnavailable, InvalidInput, LabHostError

__all__ = [
    "lab_hosts",
    "LabHosts",
    "LabHost",
    "HostView",
    "LabHostsUnavailable",
    "available",
    "SUBNET",
    "AGENT_BRIDGES",
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


class LabHostsUnavailable(LabHostError):
    pass


def lab_hosts(progress: Callable[[str], None] | None = None) -> tuple[LabHosts | None, str]:
    """The notebooks' entry: real lab hosts when asked for (LABKIT_LABHOSTS=1) and possible,
    built on first use; otherwise None and one line saying why the course falls back."""
    if os.environ.get("LABKIT_LABHOSTS", "") in ("", "0"):
        return None, (
            "Real lab hosts are off (they start two extra Docker engines as root): set "
            "LABKIT_LABHOSTS=1 before starting JupyterLab to turn them on."
        )
    ok, why = available()
    if not ok:
        return None, f"Real lab hosts cannot be built here: {why}."
    hosts = LabHosts()
    try:
        hosts.build(progress)
    except LabHostError as exc:
        return None, f"Real lab hosts failed to start: {exc.what}."
    return (
        hosts,
        "Real lab hosts: client, agent01 and agent02 run on this machine (network namespaces).",
    )


def available() -> tuple[bool, str]:
    """Whether real lab hosts can be built here, and why not."""
    if not sys.platform.startswith("linux"):
        return False, "real lab hosts need Linux network namespaces"
    if os.geteuid() != 0:
        return False, "building network namespaces and engines needs root"
    missing = [
        tool for tool in ("ip", "iptables", "nsenter", "dockerd") if shutil.which(tool) is None
    ]
    if missing:
        return False, f"missing tools: {', '.join(missing)}"
    return True, "root on Linux with ip, iptables, nsenter and dockerd"


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


class LabHosts:
    """Build (idempotent) and tear down client, agent01 and agent02."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = Path(root)
        self.state_file = self.root / "state.json"
        self.hosts = {name: LabHost(name, addr, f"lk-{name}") for name, addr in ADDRESSES.items()}

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

    @property
    def built(self) -> bool:
        return (
            self.state_file.exists()
            and all(Path(h.netns_path).exists() for h in self.hosts.values())
            and all(self._engine_answers(a) for a in AGENT_BRIDGES)
        )

    # -- building --------------------------------------------------------------------------------

    def build(self, progress: Callable[[str], None] | None = None) -> LabHosts:
        ok, why = available()
        if not ok:
            raise LabHostsUnavailable(
                "Real lab hosts cannot be built here",
                why,
                "the course uses the local engine or the simulator instead",
            )
        say = progress or (lambda _msg: None)
        if self.built:
            return self
        say("lab bridge and hosts…")
        self._bridge()
        for host in self.hosts.values():
            self._namespace(host)
        self._forward_rule()
        for agent in AGENT_BRIDGES:
            say(f"{agent}: starting its own Docker engine…")
            self._dockerd(agent)
        for agent in AGENT_BRIDGES:
            self._wait_engine(agent)
            say(f"{agent}: building the lab app image…")
            self.engine(agent).ensure_lab_image()
        return self

    def _bridge(self) -> None:
        self._record(kind="link", name=BRIDGE)
        if not Path("/sys/class/net", BRIDGE).exists():
            _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("link", "set", BRIDGE, "up")

    def _namespace(self, host: LabHost) -> None:
        self._record(kind="netns", name=host.netns)
        if not Path(host.netns_path).exists():
            _ip("netns", "add", host.netns)
        outer = f"lkv-{host.name}"[:15]
        self._record(kind="link", name=outer)
        if not Path("/sys/class/net", outer).exists():
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
        self._record(kind="iptables", rule=rule)
        if _run(["iptables", "-C", *rule], check=False).returncode != 0:
            _run(["iptables", "-I", *rule])

    def _paths(self, agent: str) -> dict[str, Path]:
        base = self.root / agent
        return {
            "base": base,
            "data": base / "data",
            "exec": base / "exec",
            "pid": base / "docker.pid",
            "sock": base / "docker.sock",
        }

    def socket_url(self, agent: str) -> str:
        return f"unix://{self._paths(agent)['sock']}"

    def _engine_answers(self, agent: str) -> bool:
        try:
            from labkit.engine.docker import DockerEngine

            DockerEngine(self.socket_url(agent), timeout=2).ping()
            return True
        except (EngineUnavailable, ImportError):
            return False

    def _dockerd(self, agent: str) -> None:
        paths = self._paths(agent)
        self._record(kind="dir", path=str(paths["base"]))
        self._record(kind="dockerd", agent=agent, pidfile=str(paths["pid"]))
        if self._engine_answers(agent):
            return
        paths["base"].mkdir(parents=True, exist_ok=True)
        _remove_stale_pidfile(paths["pid"])
        host = self.hosts[agent]
        command = [
            "nsenter",
            f"--net={host.netns_path}",
            "dockerd",
            "--data-root",
            str(paths["data"]),
            "--exec-root",
            str(paths["exec"]),
            "--pidfile",
            str(paths["pid"]),
            "-H",
            self.socket_url(agent),
            "-H",
            f"tcp://{host.address}:2375",
            f"--bip={AGENT_BRIDGES[agent]}",
        ]
        log = open(paths["base"] / "dockerd.log", "ab")
        # A session of its own: the engine outlives neither teardown nor a crash unnoticed.
        subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)

    def _wait_engine(self, agent: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._engine_answers(agent):
                return
            time.sleep(0.25)
        log = (self._paths(agent)["base"] / "dockerd.log").read_text(errors="replace")[-400:]
        raise LabHostError(
            f"{agent}'s Docker engine did not start within {timeout:g} s",
            log.strip().splitlines()[-1] if log else "no log",
            "run teardown() and build() again",
        )

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
                )
            )
        return tuple(views)

    # -- between the agents: flannel's two ideas, by hand --------------------------------------

    def link_agents(self, mode: str) -> None:
        """Let containers on agent01 and agent02 reach each other by IP.

        ``host-gw``: a plain route on each agent to the other's container subnet via the other
        agent (flannel host-gw; needs both on one L2 segment). ``vxlan``: the same subnets routed
        into a VXLAN tunnel (UDP 4789) between the agents (flannel vxlan). ``none``: neither.
        """
        if mode not in ("none", "host-gw", "vxlan"):
            raise InvalidInput(
                f"Unknown mode {mode!r}",
                "agents link by 'host-gw' or 'vxlan', or 'none'",
                "pick one of those three",
            )
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
        for entry in reversed(self._records()):
            kind = entry["kind"]
            if kind == "dockerd":
                if _stop_dockerd(Path(entry["pidfile"]), Path(entry["pidfile"]).parent):
                    removed.append(f"dockerd of {entry['agent']}")
            elif kind == "iptables":
                if _run(["iptables", "-D", *entry["rule"]], check=False).returncode == 0:
                    removed.append("iptables " + " ".join(entry["rule"]))
            elif kind == "netns":
                if _run(["ip", "netns", "del", entry["name"]], check=False).returncode == 0:
                    removed.append(f"netns {entry['name']}")
            elif kind == "link":
                if Path("/sys/class/net", entry["name"]).exists():
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


def _pid_of(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _remove_stale_pidfile(pidfile: Path) -> None:
    if pidfile.exists() and _pid_of(pidfile) is None:
        pidfile.unlink()


def _stop_dockerd(pidfile: Path, base: Path) -> bool:
    pid = _pid_of(pidfile)
    stopped = False
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _pid_of(pidfile) == pid and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped = True
    # Whatever still runs from this agent's folders (a containerd orphaned by a crash).
    if _run(["pkill", "-f", f"{base}/"], check=False).returncode == 0:
        stopped = True
    return stopped


def _unmount_below(path: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(path))), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
