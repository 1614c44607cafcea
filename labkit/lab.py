"""The course's steps over any Engine, and the ownership rules that keep labkit to its own objects.

Every container and network labkit creates carries labels in the reserved ``labkit.`` namespace:
owner, session, namespace (one per student) and lab step. Destructive calls act only on objects
with those labels; names are prefixed with the namespace so students sharing an engine never
collide.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from labkit import probe as _probe
from labkit.engine.base import Engine, PortSpec
from labkit.errors import (
    InvalidInput,
    NotFound,
    NotOwned,
)
from labkit.models import Container, ExecResult, Network, ProbeResult
from labkit.ready import until_listening

__all__ = [
    "Lab",
    "CleanupPlan",
    "OWNER_LABEL",
    "NAMESPACE_LABEL",
    "SESSION_LABEL",
    "STEP_LABEL",
    "default_namespace",
]

OWNER_LABEL = "labkit.owner"
SESSION_LABEL = "labkit.session"
NAMESPACE_LABEL = "labkit.namespace"
STEP_LABEL = "labkit.step"
_RESERVED = "labkit."
# Lab containers resolve through the engine only: a name lookup never leaves this machine.
LAB_DNS = ("127.0.0.1",)
_BUILTIN_NETWORKS = ("bridge", "host", "none")
T = TypeVar("T")


def default_namespace() -> str:
    """LABKIT_NAMESPACE, else the login name, cut to what a container name allows."""
    raw = os.environ.get("LABKIT_NAMESPACE") or _login_name()
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]", "-", raw).strip("-_.") or "student"
    return cleaned[:32]


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "student"


@dataclass(frozen=True)
class CleanupPlan:
    """What a cleanup removes (or, in a dry run, would remove)."""

    containers: tuple[str, ...]
    networks: tuple[str, ...]
    done: bool

    def __str__(self) -> str:
        if not self.containers and not self.networks:
            return "Nothing of labkit's to remove."
        verb = "Removed" if self.done else "Would remove"
        parts = []
        if self.containers:
            parts.append(f"containers: {', '.join(self.containers)}")
        if self.networks:
            parts.append(f"networks: {', '.join(self.networks)}")
        return f"{verb} " + "; ".join(parts)


class Lab:
    """One student's lab on one engine: ``Lab(engine=SimulatedEngine())`` or ``Lab()`` to pick
    the engine with ``labkit.connect()``."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        namespace: str | None = None,
        session: str | None = None,
    ) -> None:
        if engine is None:
            from labkit.connect import connect

            engine = connect()
        self.engine = engine
        self.namespace = namespace or default_namespace()
        self.session = session or uuid.uuid4().hex[:12]

    # -- names and labels ----------------------------------------------------------------------

    def name(self, short: str) -> str:
        """The engine name of a lab object: the namespace, then the name the lab text uses."""
        prefix = f"{self.namespace}-"
        return short if short.startswith(prefix) else prefix + short

    def labels(self, step: str = "", extra: Mapping[str, str] | None = None) -> dict[str, str]:
        for key in extra or {}:
            if key.startswith(_RESERVED):
                raise InvalidInput(
                    f"Label {key!r} is in labkit's reserved namespace",
                    "labels starting with 'labkit.' mark what labkit owns",
                    "pick a label without the 'labkit.' prefix",
                )
        return {
            **dict(extra or {}),
            OWNER_LABEL: "labkit",
            SESSION_LABEL: self.session,
            NAMESPACE_LABEL: self.namespace,
            STEP_LABEL: step,
        }

    def owns(self, labels: Mapping[str, str]) -> bool:
        return labels.get(OWNER_LABEL) == "labkit" and labels.get(NAMESPACE_LABEL) == self.namespace

    # -- containers ------------------------------------------------------------------------------

    def start_app(
        self,
        name: str = "myapp2",
        *,
        network: str | None = None,
        port: PortSpec | str = "auto",
        step: str = "",
        progress: Callable[[str], None] | None = None,
    ) -> Container:
        """``docker run -d --name myapp2 -p :80 mycontainer:5.6``, the lab text's first step.

        ``port='auto'`` publishes an ephemeral port on loopback for a local engine (safe default)
        and on all interfaces for a remote one; None publishes on all interfaces like ``-p :80``.
        """
        image = self.engine.ensure_lab_image(progress)
        if port == "auto":
            port = ("127.0.0.1", None) if self.engine.info().local else None
        ports = None if network in ("host", "none") else {"80/tcp": port}
        net = self._net_name(network)
        started = self.engine.run(
            image,
            name=self.name(name),
            ports=ports,
            network=net,
            labels=self.labels(step),
            init=True,
            dns=LAB_DNS,
        )
        return until_listening(self.engine, started)  # a probe right after never meets a gap

    def _find(self, find: Callable[[str], T], name: str) -> T:
        """By the lab's short name first (namespaced), then as given (a full name or an ID)."""
        try:
            return find(self.name(name))
        except NotFound:
            if self.name(name) == name:
                raise
            return find(name)

    def container(self, name: str) -> Container:
        """A lab container by its short name, or any container by full name or ID."""
        return self._find(self.engine.container, name)

    def containers(self) -> list[Container]:
        """This student's lab containers (one engine round trip)."""
        return self.engine.containers(
            labels={OWNER_LABEL: "labkit", NAMESPACE_LABEL: self.namespace}
        )

    def _owned_container(self, name: str) -> Container:
        found = self.container(name)
        if not self.owns(found.labels):
            raise NotOwned(
                f"Container {found.name!r} is not one of labkit's",
                f"labkit only changes containers it created in namespace {self.namespace!r}",
                "manage it with the docker CLI yourself, or start a lab container with lab.start_app()",
            )
        return found

    def restart(self, name: str, *, timeout: int = 10) -> Container:
        restarted = self.engine.restart(self._owned_container(name).name, timeout=timeout)
        return until_listening(self.engine, restarted)

    def stop(self, name: str) -> Container:
        return self.engine.stop(self._owned_container(name).name)

    def start(self, name: str) -> Container:
        return until_listening(self.engine, self.engine.start(self._owned_container(name).name))

    def remove(self, name: str) -> None:
        self.engine.remove(self._owned_container(name).name, force=True)

    def exec(self, name: str, command: Sequence[str]) -> ExecResult:
        return self.engine.exec(self._owned_container(name).name, command)

    def probe(self, name: str, *, timeout: float = _probe.DEFAULT_TIMEOUT) -> list[ProbeResult]:
        """Probe the app both ways: via its published host port and via its bridge IP."""
        return _probe.probe(self.engine, self.container(name), timeout=timeout)

    # -- networks --------------------------------------------------------------------------------

    def _net_name(self, network: str | None) -> str | None:
        if network is None or network in _BUILTIN_NETWORKS:
            return network
        return self.network(network).name

    def network(self, name: str) -> Network:
        """A network by short lab name, or any network by full name or ID (bridge, host, none)."""
        if name in _BUILTIN_NETWORKS:
            return self.engine.network(name)
        return self._find(self.engine.network, name)

    def networks(self) -> list[Network]:
        return self.engine.networks()

    def create_network(self, name: str, *, subnet: str | None = None, step: str = "") -> Network:
        return self.engine.create_network(self.name(name), subnet=subnet, labels=self.labels(step))

    def connect(self, network: str, container: str, *, aliases: Sequence[str] = ()) -> None:
        net = self.network(network)
        self.engine.connect(net.name, self._owned_container(container).name, aliases=aliases)

    def disconnect(self, network: str, container: str) -> None:
        net = self.network(network)
        self.engine.disconnect(net.name, self._owned_container(container).name)

    def remove_network(self, name: str) -> None:
        net = self.network(name)
        if not self.owns(net.labels):
            raise NotOwned(
                f"Network {net.name!r} is not one of labkit's",
                "labkit never removes networks it did not create",
                "remove it with `docker network rm` yourself if you really mean to",
            )
        self.engine.remove_network(net.name)

    # -- cleanup ---------------------------------------------------------------------------------

    def cleanup(
        self, *, dry_run: bool = False, all_namespaces: bool = False, session_only: bool = False
    ) -> CleanupPlan:
        """Remove labkit's containers and networks in this namespace (or all, for an instructor;
        or only this Lab's session, for a notebook that removes just what it created).

        Selected by label, never by name pattern: a user's own objects are never touched.
        """
        wanted = (
            {OWNER_LABEL: "labkit"}
            if all_namespaces
            else {OWNER_LABEL: "labkit", NAMESPACE_LABEL: self.namespace}
        )
        if session_only:
            wanted[SESSION_LABEL] = self.session
        # Both labels, always: owner alone could come from somewhere else (an image's labels).
        containers = [
            c for c in self.engine.containers(labels=wanted) if NAMESPACE_LABEL in c.labels
        ]
        networks = [
            n
            for n in self.engine.networks()
            if NAMESPACE_LABEL in n.labels and all(n.labels.get(k) == v for k, v in wanted.items())
        ]
        plan = CleanupPlan(
            containers=tuple(sorted(c.name for c in containers)),
            networks=tuple(sorted(n.name for n in networks)),
            done=not dry_run,
        )
        if dry_run:
            return plan
        for c in containers:
            _ignore_gone(lambda c=c: self.engine.remove(c.id, force=True))
        for n in networks:
            _ignore_gone(lambda n=n: self.engine.remove_network(n.id))
        return plan


def _ignore_gone(action: Callable[[], None]) -> None:
    # Removed meanwhile (another cleanup, a student at the CLI): the goal is reached.
    try:
        action()
    except NotFound:
        pass
