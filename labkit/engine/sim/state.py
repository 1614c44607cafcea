"""The simulator's mutable records. Only the engine changes them, under its lock; everything
that leaves the engine is converted to labkit's frozen models first."""

from __future__ import annotations

import enum
import ipaddress
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from labkit.engine.sim.ipam import AddressPool

if TYPE_CHECKING:
    from labkit.generation import Generation

__all__ = [
    "StrEnum",
    "ContainerStatus",
    "NetworkDriver",
    "WaitCondition",
    "World",
    "NetworkRec",
    "EndpointRec",
    "ContainerRec",
    "ExecRec",
    "LogLine",
    "now_iso",
    "ZERO_TIME",
]

ZERO_TIME = "0001-01-01T00:00:00Z"

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # Python 3.10: the same behaviour (members are their values in str(), f-strings, JSON)

    class StrEnum(str, enum.Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class ContainerStatus(StrEnum):
    """The states the simulator models, as ``State.Status`` shows them (the engine's others,
    paused, restarting, removing and dead, do not occur here)."""

    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"


class NetworkDriver(StrEnum):
    """The network drivers the simulator has: user networks are bridges; host and none are
    the predefined networks of the host and null drivers."""

    BRIDGE = "bridge"
    HOST = "host"
    NULL = "null"


class WaitCondition(StrEnum):
    """``POST /containers/{id}/wait?condition=``: what the client waits for."""

    NOT_RUNNING = "not-running"
    NEXT_EXIT = "next-exit"
    REMOVED = "removed"


def now_iso(stamp: float) -> str:
    """The engine's timestamp format: RFC 3339 in UTC with nanoseconds."""
    import time

    whole = int(stamp)
    nanos = int((stamp - whole) * 1e9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


@dataclass
class NetworkRec:
    id: str
    name: str
    driver: NetworkDriver
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    pool: AddressPool | None = None  # bridge networks only
    gateway_given: bool = True  # user-given subnets show no Gateway unless one was given
    predefined: bool = False
    ifindex: int = 3  # a bridge's number among the host's links (docker0: 3, after lo and eth0)
    # container IDs with an active endpoint, in the order they joined
    members: dict[str, None] = field(default_factory=dict)

    @property
    def subnet(self) -> ipaddress.IPv4Network | None:
        return self.pool.subnet if self.pool else None

    @property
    def addresses(self) -> AddressPool:
        """The pool of a network that has addresses (a bridge); for callers that checked."""
        if self.pool is None:
            raise ValueError(f"network {self.name} has no addresses (driver {self.driver})")
        return self.pool

    @property
    def user_defined(self) -> bool:
        """User-defined bridges have the embedded DNS; the default bridge, host and none do not."""
        return self.driver is NetworkDriver.BRIDGE and not self.predefined


@dataclass
class EndpointRec:
    """A container's place on a network. Address fields are empty while it is stopped."""

    network_id: str
    aliases: list[str] | None = None
    endpoint_id: str = ""
    ip: ipaddress.IPv4Address | None = None
    mac: str = ""
    ifindex: int = 0  # the container side of the veth pair, as `ip addr` numbers it
    peer: int = 0  # the host side's number, as `ip addr` shows it after the @ (ifN)
    dev: str = ""  # its name in the container: eth0, eth1, ... in the order they were made
    seq: int = 0  # when it joined, in the engine's order of events (orders Engine 28's raw rules)


@dataclass(frozen=True)
class LogLine:
    """One write of a container's PID 1, as `docker logs` replays it."""

    stream: int  # 1 stdout, 2 stderr (the attach protocol's stream numbers)
    time: float
    text: str


@dataclass
class ContainerRec:
    id: str
    name: str
    image: str
    image_id: str
    created: str
    labels: dict[str, str]
    port_specs: dict[tuple[int, str], tuple[str, int | None]]  # (port, proto) -> (host_ip, port)
    exposed: list[tuple[int, str]]
    network_mode: str  # "default", "host", "none" or a network name, as HostConfig shows it
    init: bool
    cmd: list[str]
    hostname: str
    dns: list[str] | None = None  # HostConfig.Dns
    status: ContainerStatus = ContainerStatus.CREATED
    pid: int = 0
    exit_code: int = 0
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    restart_count: int = 0
    sandbox_id: str = ""
    endpoints: dict[str, EndpointRec] = field(default_factory=dict)  # network ID -> endpoint
    # (port, proto) -> [(host_ip, host_port)] while running, as NetworkSettings.Ports shows it
    published: dict[tuple[int, str], list[tuple[str, int]]] = field(default_factory=dict)
    listening: list[int] = field(default_factory=list)  # host ports with a real listener
    # The network whose endpoint carries the published ports (the engine's gateway endpoint).
    port_network: str = ""
    next_dev: int = 0  # the N of the next ethN; the engine counts up until the next start
    # Engine 28 makes each interface inside the container's own network namespace, which
    # numbers them from 2 (lo is 1) anew at every start.
    next_ifindex: int = 2
    publish_seq: int = 0  # when its ports were last published (orders Engine 28's raw rules)
    # What the Engine API adds to the model: `docker run --rm`, `-it`, `logs` and `wait`.
    auto_remove: bool = False
    tty: bool = False
    open_stdin: bool = False
    logs: list[LogLine] = field(default_factory=list)  # what PID 1 wrote, oldest first
    exits: int = 0  # how many times it has exited (for `wait?condition=next-exit`)
    removed: bool = False

    @property
    def running(self) -> bool:
        return self.status is ContainerStatus.RUNNING

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass
class ExecRec:
    """One `docker exec`: created, then started once; its exit code stays readable after."""

    id: str
    container_id: str
    argv: list[str]
    tty: bool = False
    stdin: bool = False
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0


class World(Protocol):
    """What the modelled commands and the routing model may read of the engine's state (the
    engine holds its lock while they do). Read-only: they never change the engine."""

    @property
    def container_recs(self) -> Mapping[str, ContainerRec]: ...

    @property
    def network_recs(self) -> Mapping[str, NetworkRec]: ...

    @property
    def port_range(self) -> tuple[int, int]: ...

    @property
    def generation(self) -> Generation: ...

    @property
    def host_hostname(self) -> str: ...

    @property
    def host_nameserver(self) -> str: ...

    def serves_app(self, rec: ContainerRec) -> bool: ...

    def page(self, rec: ContainerRec, client: str) -> str: ...
