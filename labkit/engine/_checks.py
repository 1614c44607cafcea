"""Input checks both engines run before touching anything, so both raise the same errors.

Each error also carries what Docker Engine 20.10 answers for it (``LabkitError.reply``: the
HTTP status and message, measured on the engine), which the simulator's API server sends.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from labkit.errors import (
    Conflict,
    ContainerNotFound,
    ContainerNotRunning,
    InvalidInput,
    InvalidName,
    InvalidPort,
    NameInUse,
    NetworkInUse,
    NetworkNotFound,
)

__all__ = [
    "check_name",
    "check_ports",
    "check_subnet",
    "split_port_key",
    "no_such_container",
    "no_such_network",
    "no_such_program",
    "predefined_network",
    "name_in_use",
    "already_connected",
    "not_connected",
    "network_in_use",
    "not_running",
    "subnet_overlaps",
    "none_and_another",
    "host_network_is_fixed",
    "PREDEFINED_NETWORKS",
]

PREDEFINED_NETWORKS = ("bridge", "host", "none")


def no_such_container(ref: str) -> ContainerNotFound:
    """The error both engines raise for an unknown container, word for word."""
    return ContainerNotFound(
        f"No container {ref!r}",
        "the engine has no container of that name or ID (it may have been removed)",
        "list them with `docker ps -a`, or start it again with lab.start_app()",
    ).answering(404, f"No such container: {ref}")


def no_such_network(ref: str) -> NetworkNotFound:
    return NetworkNotFound(
        f"No network {ref!r}",
        "the engine has no network of that name or ID",
        "list them with `docker network ls` (labkit: lab.networks())",
    ).answering(404, f"network {ref} not found")


def no_such_program(container: str, program: str) -> InvalidInput:
    """A command the image cannot run (the engine refuses to start it without an init)."""
    return InvalidInput(
        f"Cannot start {container!r}: the image has no program {program!r}",
        "the lab image is built from scratch with busybox alone; its programs are busybox applets",
        "run the applet through busybox, e.g. command=['/bin/busybox', 'sleep', '3600']",
    ).answering(
        400,
        "failed to create shim task: OCI runtime create failed: runc create failed: unable to "
        f'start container process: exec: "{program}": executable file not found in $PATH: unknown',
    )


def predefined_network(name: str, action: str) -> InvalidInput:
    """Creating or removing bridge, host or none: the engine refuses either."""
    return InvalidInput(
        f"{name!r} is one of the engine's own networks and cannot be {action}",
        "bridge, host and none exist on every Docker engine, made by the engine itself",
        "create and remove networks of your own, e.g. lab.create_network('labnet')",
    ).answering(
        403,
        f"{name} is a pre-defined network and cannot be removed"
        if action == "removed"
        else f"operation is not permitted on predefined {name} network ",
    )


def name_in_use(kind: str, name: str, holder: str = "") -> NameInUse:
    """``holder``: the ID of the container that has the name (the daemon's message names it)."""
    error = NameInUse(
        f"The {kind} name {name!r} is already in use",
        "names are unique on an engine",
        f"remove the old {kind} (lab.cleanup()) or choose another name",
    )
    if kind == "network":
        return error.answering(409, f"network with name {name} already exists")
    return error.answering(
        409,
        f'Conflict. The container name "/{name}" is already in use by container "{holder}". '
        "You have to remove (or rename) that container to be able to reuse that name.",
    )


def already_connected(container: str, network: str) -> Conflict:
    return Conflict(
        f"{container!r} is already connected to {network!r}",
        "a container joins a network once",
        "nothing to do: it is already there (see lab.container(...).networks)",
    ).answering(403, f"endpoint with name {container} already exists in network {network}")


def not_connected(container: str, network: str, container_id: str = "") -> InvalidInput:
    return InvalidInput(
        f"{container!r} is not connected to {network!r}",
        "there is nothing to disconnect",
        "see lab.container(...).networks",
    ).answering(500, f"container {container_id or container} is not connected to network {network}")


def network_in_use(network: str, members: str = "", network_id: str = "") -> NetworkInUse:
    return NetworkInUse(
        f"Network {network!r} still has containers attached" + (f" ({members})" if members else ""),
        "the engine refuses to remove a network in use",
        "disconnect or remove its containers first (lab.disconnect(...))",
    ).answering(
        403,
        f"error while removing network: network {network} id {network_id or network} has "
        "active endpoints",
    )


def not_running(container: str, container_id: str = "") -> ContainerNotRunning:
    return ContainerNotRunning(
        f"Container {container!r} is not running",
        "commands and probes need a running container",
        "start it again (lab.start(...)) and look at its logs if it keeps exiting",
    ).answering(409, f"Container {container_id or container} is not running")


def subnet_overlaps(network: str) -> Conflict:
    return Conflict(
        f"The subnet for {network!r} overlaps a network that exists",
        "two networks on one host cannot share addresses",
        "choose another subnet (e.g. 172.30.0.0/16), or none and let the engine pick",
    ).answering(403, "Pool overlaps with other one on this address space")


def none_and_another(container: str) -> InvalidInput:
    return InvalidInput(
        f"{container!r} cannot be on the none network and another network at once",
        "`none` means loopback only: no interface to share",
        "run the container on bridge or a user-defined network instead",
    ).answering(
        400,
        "container cannot be connected to multiple networks with one of the networks in private "
        "(none) mode",
    )


def host_network_is_fixed(container: str, *, joining_other: bool = False) -> InvalidInput:
    """``joining_other``: a host-network container asked to join another network (the daemon
    words that case apart)."""
    return InvalidInput(
        f"{container!r} cannot join or leave the host network",
        "a host-network container uses the host's own network stack, chosen at `docker run`",
        "run a new container with network='host' instead",
    ).answering(
        400,
        "container sharing network namespace with another container or host cannot be connected "
        "to any other network"
        if joining_other
        else "container cannot be disconnected from host network or connected to host network",
    )


# The engine's own rule for container and network names.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def check_name(name: str, kind: str = "container") -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 128:
        raise InvalidName(
            f"Invalid {kind} name {name!r}",
            "names start with a letter or digit and use only letters, digits, '_', '.' and '-'",
            f"pick a name like 'myapp2' or 'labnet' for the {kind}",
        ).answering(
            400, f"Invalid {kind} name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name


def split_port_key(key: str) -> tuple[int, str]:
    """'80/tcp' -> (80, 'tcp'); '80' -> (80, 'tcp')."""
    text = str(key)
    port_text, _, proto = text.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp") or not port_text.isdigit():
        raise InvalidPort(
            f"Invalid container port {key!r}",
            "a container port is a number with an optional protocol, like '80/tcp'",
            "write the port as '80/tcp' (or 80)",
        )
    return _in_range(int(port_text), key), proto


def _in_range(port: int, shown: object) -> int:
    if not 1 <= port <= 65535:
        raise InvalidPort(
            f"Port {shown!r} is out of range",
            "TCP and UDP ports run from 1 to 65535",
            "use a port in that range, or None for an ephemeral host port (-p :80)",
        )
    return port


def check_ports(
    ports: Mapping[str, object] | None,
) -> dict[tuple[int, str], tuple[str, int | None]]:
    """Normalise a ports mapping to {(port, proto): (host_ip, host_port_or_None)}.

    host_ip '' means all interfaces, as the engine reads it.
    """
    result: dict[tuple[int, str], tuple[str, int | None]] = {}
    for key, spec in (ports or {}).items():
        port, proto = split_port_key(key)
        host_ip, host_port = "", None
        if isinstance(spec, tuple):
            if len(spec) != 2:
                raise InvalidPort(
                    f"Invalid binding {spec!r} for {key}",
                    "a binding is None, a host port, or (host_ip, host_port)",
                    "write e.g. ('127.0.0.1', None) for an ephemeral port on loopback",
                )
            host_ip, host_port = spec[0] or "", spec[1]
            try:
                ipaddress.ip_address(host_ip or "0.0.0.0")
            except ValueError:
                raise InvalidPort(
                    f"Invalid host IP {host_ip!r} for {key}",
                    "the host side of a binding must be an IP address",
                    "use '127.0.0.1' (this machine only) or '0.0.0.0' (all interfaces)",
                ) from None
        elif spec is not None:
            host_port = spec  # type: ignore[assignment]
        if host_port is not None:
            if isinstance(host_port, bool) or not isinstance(host_port, int):
                if isinstance(host_port, str) and host_port.isdigit():
                    host_port = int(host_port)
                else:
                    raise InvalidPort(
                        f"Invalid host port {host_port!r} for {key}",
                        "a host port is a whole number from 1 to 65535",
                        "give a number, or None to let the engine pick an ephemeral port",
                    )
            host_port = _in_range(host_port, host_port)
        result[(port, proto)] = (host_ip, host_port)
    return result


def check_subnet(subnet: str | None) -> str | None:
    if subnet is None:
        return None
    try:
        network = ipaddress.ip_network(subnet, strict=True)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"Invalid subnet {subnet!r}",
            "a subnet is a network address with a prefix length, host bits zero",
            "write it like '172.30.0.0/16'",
        ) from None
    if network.version != 4:
        # The engine would quietly make an IPv4 network from its pools instead.
        raise InvalidInput(
            f"Invalid subnet {subnet!r}",
            "labkit's networks are IPv4 only (IPv6 needs enable_ipv6 on the engine)",
            "give an IPv4 subnet, e.g. '10.77.0.0/24'",
        )
    return str(network)
