"""Plain, frozen data that crosses the engine boundary. No SDK object ever leaves an engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from labkit.generation import Generation, generation_of

__all__ = [
    "PortBinding",
    "Attachment",
    "Container",
    "Endpoint",
    "Network",
    "ExecResult",
    "EngineInfo",
    "HttpReply",
    "ProbeResult",
    "Event",
    "Outcome",
]


@dataclass(frozen=True)
class PortBinding:
    """One container port as ``docker port`` shows it, with the IPv4/IPv6 pair collapsed.

    ``host_port`` is None for a port that is exposed but not published.
    """

    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None
    host_port: int | None = None
    ipv6_host_ip: str | None = None
    ipv6_host_port: int | None = None

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.protocol}"

    @property
    def published(self) -> bool:
        return self.host_port is not None or self.ipv6_host_port is not None

    @property
    def ipv6_differs(self) -> bool:
        """Some engines give the IPv6 twin its own host port; tables flag it."""
        return (
            self.host_port is not None
            and self.ipv6_host_port is not None
            and self.host_port != self.ipv6_host_port
        )

    def docker_port_lines(self) -> list[str]:
        """The lines ``docker port NAME`` prints for this port."""
        lines = []
        if self.host_port is not None:
            lines.append(f"{self.key} -> {self.host_ip}:{self.host_port}")
        if self.ipv6_host_port is not None:
            lines.append(f"{self.key} -> [{self.ipv6_host_ip}]:{self.ipv6_host_port}")
        return lines


@dataclass(frozen=True)
class Attachment:
    """A container's place on one network: its address, gateway and MAC there."""

    network: str
    network_id: str = ""
    ip: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac: str = ""
    ipv6: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image: str
    status: str  # created | running | restarting | exited | paused | dead
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ports: tuple[PortBinding, ...] = ()
    networks: tuple[Attachment, ...] = ()
    network_mode: str = "bridge"
    exit_code: int = 0
    restart_count: int = 0
    started_at: str = ""
    image_id: str = ""  # the image's ID ("sha256:…"), where the engine says it
    hostname: str = ""  # Config.Hostname, where the engine says it (inspect, not the list)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.status == "running"

    def attachment(self, network: str | None = None) -> Attachment | None:
        """The attachment on ``network`` (by name or ID), or the first one."""
        for att in self.networks:
            if network is None or network in (att.network, att.network_id):
                return att
        return None

    @property
    def ip(self) -> str:
        att = self.attachment()
        return att.ip if att else ""

    def port(self, container_port: int = 80, protocol: str = "tcp") -> PortBinding | None:
        for binding in self.ports:
            if binding.container_port == container_port and binding.protocol == protocol:
                return binding
        return None


@dataclass(frozen=True)
class Endpoint:
    """A container as ``docker network inspect`` lists it under ``Containers``."""

    container_id: str
    container_name: str
    ipv4: str  # with its prefix, as the engine prints it: 172.17.0.2/16
    ipv6: str = ""
    mac: str = ""

    @property
    def ip(self) -> str:
        return self.ipv4.split("/")[0]


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    driver: str
    scope: str = "local"
    subnet: str = ""
    gateway: str = ""
    internal: bool = False
    ipv6: bool = False
    created: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    options: Mapping[str, str] = field(default_factory=dict, hash=False)
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def bridge_name(self) -> str:
        """The Linux bridge behind a bridge network: docker0 for the default one, else br-<id>."""
        if self.driver != "bridge":
            return ""
        return self.options.get("com.docker.network.bridge.name") or f"br-{self.id[:12]}"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


@dataclass(frozen=True)
class EngineInfo:
    """What the course needs to know about the engine and the machine it runs on."""

    kind: str  # docker | sim
    version: str
    description: str  # one line for the banner: "Docker Engine 20.10 on this machine"
    local: bool  # engine on this machine (unix socket or loopback)
    host: str  # where published ports are reached: 127.0.0.1 or DOCKER_HOST's host
    bridge_name: str = "docker0"
    bridge_address: str = ""  # 172.17.0.1/16
    ip_forward: bool | None = None
    port_range: tuple[int, int] = (32768, 60999)
    bridge_reachable: bool = False
    bridge_reason: str = ""  # why bridge IPs are (not) reachable from the kernel's machine
    simulated: bool = False

    @property
    def generation(self) -> Generation:
        """Which engine generation's behaviour holds here (20.10, or 28 and later)."""
        return generation_of(self.version)


@dataclass(frozen=True)
class HttpReply:
    """An HTTP answer that an engine models instead of the network (the simulator's bridge)."""

    status: int
    body: str
    latency_ms: float = 0.0


class Outcome:
    OK = "ok"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    NOT_HTTP = "not-http"
    NOT_RUNNING = "not-running"  # the container exited or is restarting: nothing to probe
    TAKEN = "taken"  # the port is someone else's now (after a restart): not probed
    WRONG_CONTAINER = "wrong-container"  # an app answered, but not this container's
    ERROR = "error"


@dataclass(frozen=True)
class ProbeResult:
    via: str  # host-port | bridge-ip
    target: str  # host:port
    url: str
    outcome: str  # one of Outcome
    status: int | None = None
    latency_ms: float = 0.0
    server_ip: str | None = None
    hostname: str | None = None
    client_addr: str | None = None
    body: str = ""
    simulated: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK


@dataclass(frozen=True)
class Event:
    """A container lifecycle event (start, die, restart, ...), as the engine reports it."""

    action: str
    container_id: str
    name: str
    time: float
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
