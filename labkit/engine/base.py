"""The Engine protocol: what a lab needs from a container engine.

``DockerEngine`` implements it over the Engine API, for a real dockerd and for labkit's simulator
alike (``labkit sim``, which serves the API from ``SimulatedEngine``, the model; that model also
implements this protocol in-process, for its own tests). Everything above the engine — lab
steps, probes, tables, diagrams, widgets, notebooks — is written once against this.

Container and network arguments (``ref``) accept a name or an ID, as the docker CLI does.
Engines raise only ``labkit.errors`` types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, Union, runtime_checkable

from labkit.models import Container, EngineInfo, Event, ExecResult, HttpReply, Network

__all__ = ["Engine", "PortSpec", "LAB_IMAGE", "HOST_PORTS_DISCARDED"]

# What to publish a container port on: None = an ephemeral port on all interfaces (``-p :80``),
# an int = that host port, (host_ip, host_port_or_None) = a given interface.
PortSpec = Union[None, int, tuple[str, Union[int, None]]]

# The lab app image, the course's stand-in for the lab text's mycontainer:5.6.
LAB_IMAGE = "labkit/lab-app:1"

# The engine's warning when a host-network container asks to publish ports; both engines give it.
HOST_PORTS_DISCARDED = "Published ports are discarded when using host network mode"


@runtime_checkable
class Engine(Protocol):
    @property
    def kind(self) -> str:
        """``docker`` or ``sim`` (``info().kind``)."""

    def info(self) -> EngineInfo: ...

    def ping(self) -> None:
        """Return when the engine answers; raise EngineUnavailable otherwise."""

    # images
    def ensure_lab_image(self, progress: Callable[[str], None] | None = None) -> str:
        """Make the lab app image available (built on first use), return its tag."""

    # containers
    def run(
        self,
        image: str,
        *,
        name: str,
        ports: Mapping[str, PortSpec] | None = None,
        network: str | None = None,
        labels: Mapping[str, str] | None = None,
        init: bool = True,
        command: Sequence[str] | None = None,
        hostname: str | None = None,
        dns: Sequence[str] | None = None,
    ) -> Container:
        """``docker run -d``. ``dns`` sets the container's resolvers (labkit passes 127.0.0.1 so
        a lab's name lookups never leave the machine; container names still resolve through
        the engine's embedded DNS on user-defined networks)."""

    def container(self, ref: str) -> Container: ...

    def containers(
        self, *, labels: Mapping[str, str] | None = None, all: bool = True
    ) -> list[Container]:
        """All containers (one round trip), optionally only those carrying every given label."""

    def restart(self, ref: str, *, timeout: int = 10) -> Container: ...

    def stop(self, ref: str, *, timeout: int = 10) -> Container: ...

    def start(self, ref: str) -> Container: ...

    def remove(self, ref: str, *, force: bool = True) -> None: ...

    def exec(self, ref: str, command: Sequence[str], *, timeout: float = 10.0) -> ExecResult:
        """``docker exec``; a command still running after ``timeout`` s raises CommandTimeout."""

    def inspect_container(self, ref: str) -> dict:
        """The raw JSON ``docker inspect`` prints for the container."""

    # networks
    def networks(self) -> list[Network]:
        """What ``docker network ls`` lists, with each network's endpoints (one round trip)."""

    def network(self, ref: str) -> Network: ...

    def create_network(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
    ) -> Network: ...

    def connect(self, network: str, container: str, *, aliases: Sequence[str] = ()) -> None: ...

    def disconnect(self, network: str, container: str) -> None: ...

    def remove_network(self, ref: str) -> None: ...

    def inspect_network(self, ref: str) -> dict:
        """The raw JSON ``docker network inspect`` prints for the network."""

    # watching and the network the engine models
    def watch(
        self, callback: Callable[[Event], None], *, labels: Mapping[str, str] | None = None
    ) -> Callable[[], None]:
        """Call ``callback`` from a background thread for each container event; return a stop
        function. Used by the widgets to follow a ``docker restart`` typed in a terminal."""

    def model_http(self, host: str, port: int, path: str = "/") -> HttpReply | None:
        """Answer an HTTP GET to an address the engine models rather than routes (the
        simulator's bridge IPs). None means: use the real network."""

    def host_command(self, argv: Sequence[str]) -> ExecResult:
        """A command on the engine's host (``ip addr show docker0``, ``ip route``,
        ``cat /proc/sys/net/ipv4/ip_forward``): for real where the engine is this machine's,
        modelled on a simulated engine (``info().simulated``: the caller marks it SIMULATED)."""

    def close(self) -> None: ...
