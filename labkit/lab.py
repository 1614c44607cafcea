"""The course's steps over any Engine, and the ownership rules that keep labkit to its own objects.

Every container and network labkit creates carries labels in the reserved ``labkit.`` namespace:
owner, session, namespace (one per student) and lab step. Destructive calls act only on objects
with those labels; names are prefixed with the namespace so students sharing an engine never
collide. A container whose labels came from its image (``docker commit`` of a lab container, then
``docker run`` of that image) is not labkit's: it was made by someone else.

Inputs are checked here, at the edge, so that a mistake ends in a labkit error that names it.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import socket
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from labkit import probe as _probe
from labkit.engine._checks import (
    check_aliases,
    check_command,
    check_labels,
    check_name,
    check_ref,
    check_seconds,
    check_stop_timeout,
    check_subnet,
)
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
    "KIND_LABEL",
    "default_namespace",
    "namespace_for",
    "run_namespace",
    "sweep_dead_runs",
    "run_is_over",
    "EXEC_TIMEOUT",
]

OWNER_LABEL = "labkit.owner"
SESSION_LABEL = "labkit.session"
NAMESPACE_LABEL = "labkit.namespace"
KIND_LABEL = (
    "labkit.kind"  # "progress" on the progress record (labkit.progress); lab objects have none
)
STEP_LABEL = "labkit.step"
_RESERVED = "labkit."
# Lab containers resolve through the engine only: a name lookup never leaves this machine.
LAB_DNS = ("127.0.0.1",)
_BUILTIN_NETWORKS = ("bridge", "host", "none")
# How long lab.exec waits for a command (ping -c 3 takes 2 s; `ping` alone never ends).
EXEC_TIMEOUT = 10.0
T = TypeVar("T")

# A namespace used as given: what a container name allows, at most 32 characters, and no "--",
# which marks the namespaces below (so a given name can never equal a made one).
_PLAIN_NAMESPACE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9_.]|-(?!-))*\Z")
# What namespace_for returns: a plain one, or a slug, "--" and ten hex digits.
_NAMESPACE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9_.]|-(?!-))*(?:--[0-9a-f]{10})?\Z")


def namespace_for(raw: str) -> str:
    """The namespace for a user name: the name itself when a container name allows it, else a
    readable slug, "--" and a hash of the whole name, so two names never share a namespace
    ('李' and '王' get 'u--…' with different hashes; 'José' gets 'Jose--…')."""
    if not isinstance(raw, str):
        raise InvalidInput(
            f"Invalid namespace {raw!r}: a namespace is text",
            "the namespace names a student's containers and networks",
            "write it in quotes, e.g. namespace='alice', or leave it out",
        )
    if len(raw) <= 32 and _PLAIN_NAMESPACE.match(raw):
        return raw
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-zA-Z0-9_.]+", "-", folded).strip("-_.")[:20].strip("-_.")
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug or 'u'}--{digest}"


def default_namespace() -> str:
    """LABKIT_NAMESPACE, else JUPYTERHUB_USER (on a hub every login is often 'jovyan'), else the
    login name; see ``namespace_for``."""
    raw = os.environ.get("LABKIT_NAMESPACE") or os.environ.get("JUPYTERHUB_USER") or _login_name()
    return namespace_for(raw)


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def run_namespace(kind: str) -> str:
    """A namespace for a run that may be killed (a benchmark, a test run): it names this host and
    this process, so that a later run can see the run is over and remove what it left."""
    return f"{kind}-{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def run_is_over(namespace: str, kind: str) -> bool:
    """Whether ``namespace`` is a ``run_namespace(kind)`` of this host whose process is gone."""
    pattern = rf"{re.escape(kind)}-{_host_tag()}-(\d+)-[0-9a-f]{{6}}\Z"
    found = re.match(pattern, namespace)
    return found is not None and not _alive(int(found.group(1)))


def sweep_dead_runs(engine: Engine, kind: str) -> CleanupPlan:
    """Remove what earlier runs of ``kind`` on this host left when they were killed: labkit's
    containers and networks in a ``run_namespace`` whose process no longer exists. Selected by
    labels (owner and namespace), never by name; a live run's objects are never touched."""
    dead = {
        ns
        for ns in {
            c.labels.get(NAMESPACE_LABEL, "")
            for c in engine.containers(labels={OWNER_LABEL: "labkit"})
        }
        | {n.labels.get(NAMESPACE_LABEL, "") for n in engine.networks()}
        if run_is_over(ns, kind)
    }
    removed_c: list[str] = []
    removed_n: list[str] = []
    records: list[str] = []
    for ns in sorted(dead):
        plan = Lab(engine, namespace=ns).cleanup()
        removed_c += plan.containers
        removed_n += plan.networks
        records += plan.records
    return CleanupPlan(
        containers=tuple(removed_c), networks=tuple(removed_n), done=True, records=tuple(records)
    )


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
    records: tuple[str, ...] = ()  # of the containers, labkit's records of progress

    def __str__(self) -> str:
        if not self.containers and not self.networks:
            return "Nothing of labkit's to remove."
        verb = "Removed" if self.done else "Would remove"
        parts = []
        apps = [c for c in self.containers if c not in self.records]
        if apps:
            parts.append(f"containers: {', '.join(apps)}")
        if self.networks:
            parts.append(f"networks: {', '.join(self.networks)}")
        if self.records:
            # Not a container the student made: say what it is, and what its removal costs.
            parts.append(
                f"labkit's record of your progress ({', '.join(self.records)}: the last step "
                "and the checks you passed, so the course starts over)"
            )
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
        if engine is not None and not isinstance(engine, Engine):
            raise InvalidInput(
                f"Lab(engine={engine!r:.60}) is not an engine",
                "a Lab runs on a container engine object, not a name or a URL",
                "write Lab() to pick one, or e.g. Lab(engine=DockerEngine('unix:///var/run/docker.sock'))",
            )
        if session is not None and (not isinstance(session, str) or not session.strip()):
            raise InvalidInput(
                f"Invalid session {session!r}",
                "a session is a short text that marks what one Lab created",
                "leave it out: labkit makes one",
            )
        if engine is None:
            from labkit.connect import connect

            engine = connect()
        self.engine = engine
        self.namespace = namespace_for(namespace) if namespace else default_namespace()
        self.session = session or uuid.uuid4().hex[:12]
        self._image_labels: dict[str, Mapping[str, str]] = {}

    # -- names and labels ----------------------------------------------------------------------

    def name(self, short: str) -> str:
        """The engine name of a lab object: the namespace, then the name the lab text uses."""
        check_name(short)
        prefix = f"{self.namespace}-"
        return short if short.startswith(prefix) else check_name(prefix + short)

    def labels(self, step: str = "", extra: Mapping[str, str] | None = None) -> dict[str, str]:
        if not isinstance(step, str):
            raise InvalidInput(
                f"Invalid step {step!r}: a step is text",
                "the step label says which notebook made an object",
                "write it in quotes, e.g. step='01-ephemeral-ports'",
            )
        extra = check_labels(extra)
        for key in extra:
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

    def owns(self, thing: Container | Network | Mapping[str, str]) -> bool:
        """Whether labkit made this container or network in this namespace (labels alone say
        less: a container run from a committed lab container inherits its labels)."""
        return self._labkits(thing, self.namespace)

    def _labkits(self, thing: Container | Network | Mapping[str, str], namespace: str) -> bool:
        labels = thing if isinstance(thing, Mapping) else thing.labels
        if (
            not namespace
            or not _NAMESPACE.match(namespace)  # labkit never writes such a namespace
            or labels.get(OWNER_LABEL) != "labkit"
            or labels.get(NAMESPACE_LABEL) != namespace
        ):
            return False
        return not (isinstance(thing, Container) and self._inherited(thing))

    def _inherited(self, container: Container) -> bool:
        """Labels that came with the image: labkit never puts ownership labels on an image, so an
        image that has them was committed from a lab container, and a container run from it
        carries the same session unless labkit gave it its own."""
        image_id = container.image_id
        lookup = getattr(self.engine, "image_labels", None)
        if not image_id or lookup is None:  # an engine without images of its own to commit
            return False
        if image_id not in self._image_labels:
            try:
                self._image_labels[image_id] = lookup(image_id)
            except NotFound:  # image removed: nothing inherited can be told; keep to the labels
                self._image_labels[image_id] = {}
        image = self._image_labels[image_id]
        return image.get(OWNER_LABEL) is not None and image.get(SESSION_LABEL) == (
            container.labels.get(SESSION_LABEL)
        )

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
        full = self.name(name)
        net = self._net_name(network)
        labels = self.labels(step)
        image = self.engine.ensure_lab_image(progress)
        if port == "auto":
            port = ("127.0.0.1", None) if self.engine.info().local else None
        ports: dict[str, PortSpec] | None = (
            None if network in ("host", "none") else {"80/tcp": port}  # type: ignore[dict-item]
        )
        started = self.engine.run(
            image,
            name=full,
            ports=ports,
            network=net,
            labels=labels,
            init=True,
            dns=LAB_DNS,
        )
        return until_listening(self.engine, started)  # a probe right after never meets a gap

    def _find(self, find: Callable[[str], T], name: str, kind: str = "container") -> T:
        """By the lab's short name first (namespaced), then as given (a full name or an ID)."""
        check_ref(name, kind)
        if name.startswith("/"):
            return find(name)
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
        """This student's lab containers (one engine round trip); not labkit's progress record,
        which is no lab container and is replaced in the background at any moment."""
        found = self.engine.containers(
            labels={OWNER_LABEL: "labkit", NAMESPACE_LABEL: self.namespace}
        )
        return [c for c in found if self.owns(c) and c.labels.get(KIND_LABEL) != "progress"]

    def _owned_container(self, name: str) -> Container:
        found = self.container(name)
        if not self.owns(found):
            raise NotOwned(
                f"Container {found.name!r} is not one of labkit's",
                f"labkit only changes containers it created in namespace {self.namespace!r}",
                "manage it with the docker CLI yourself, or start a lab container with lab.start_app()",
            )
        return found

    def restart(self, name: str, *, timeout: int = 10) -> Container:
        timeout = check_stop_timeout(timeout)
        restarted = self.engine.restart(self._owned_container(name).name, timeout=timeout)
        return until_listening(self.engine, restarted)

    def stop(self, name: str) -> Container:
        return self.engine.stop(self._owned_container(name).name)

    def start(self, name: str) -> Container:
        return until_listening(self.engine, self.engine.start(self._owned_container(name).name))

    def remove(self, name: str) -> None:
        self.engine.remove(self._owned_container(name).name, force=True)

    def exec(
        self, name: str, command: str | Sequence[str], *, timeout: float = EXEC_TIMEOUT
    ) -> ExecResult:
        """``docker exec NAME COMMAND``: a list of words, or one string split as a shell would.
        Bounded: a command still running after ``timeout`` seconds is an error."""
        argv = check_command(command)
        timeout = check_seconds(timeout, "timeout", most=600)
        return self.engine.exec(self._owned_container(name).name, argv, timeout=timeout)

    def probe(self, name: str, *, timeout: float = _probe.DEFAULT_TIMEOUT) -> list[ProbeResult]:
        """Probe the app both ways: via its published host port and via its bridge IP."""
        timeout = check_seconds(timeout, "timeout", most=_probe.MAX_TIMEOUT)
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
        return self._find(self.engine.network, name, "network")

    def networks(self) -> list[Network]:
        return self.engine.networks()

    def create_network(self, name: str, *, subnet: str | None = None, step: str = "") -> Network:
        full, subnet, labels = self.name(name), check_subnet(subnet), self.labels(step)
        return self.engine.create_network(full, subnet=subnet, labels=labels)

    def connect(self, network: str, container: str, *, aliases: str | Sequence[str] = ()) -> None:
        """``docker network connect [--alias A] NETWORK CONTAINER``; one alias may be a string."""
        names = check_aliases(aliases)
        net = self.network(network)
        self.engine.connect(net.name, self._owned_container(container).name, aliases=names)

    def disconnect(self, network: str, container: str) -> None:
        net = self.network(network)
        self.engine.disconnect(net.name, self._owned_container(container).name)

    def remove_network(self, name: str) -> None:
        net = self.network(name)
        if not self.owns(net):
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
        if not dry_run:
            # A progress record being rewritten in the background would race the removal (and
            # could come back after it): let the writers finish before the listing.
            from labkit.progress import flush

            flush(namespace=None if all_namespaces else self.namespace)
        # Both labels, always, and not inherited from an image (see owns()).
        containers = [
            c
            for c in self.engine.containers(labels=wanted)
            if self._labkits(c, c.labels.get(NAMESPACE_LABEL, ""))
        ]
        networks = [
            n
            for n in self.engine.networks()
            if self._labkits(n, n.labels.get(NAMESPACE_LABEL, ""))
            and all(n.labels.get(k) == v for k, v in wanted.items())
        ]
        plan = CleanupPlan(
            containers=tuple(sorted(c.name for c in containers)),
            networks=tuple(sorted(n.name for n in networks)),
            done=not dry_run,
            records=tuple(
                sorted(c.name for c in containers if c.labels.get(KIND_LABEL) == "progress")
            ),
        )
        if dry_run:
            return plan
        for c in containers:
            _ignore_gone(self.engine.remove, c.id)
        for n in networks:
            _ignore_gone(self.engine.remove_network, n.id)
        return plan


def _ignore_gone(remove: Callable[[str], None], ref: str) -> None:
    # Removed meanwhile (another cleanup, a student at the CLI): the goal is reached.
    try:
        remove(ref)
    except NotFound:
        pass
