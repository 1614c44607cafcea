"""Input checks both engines run before touching anything, so both raise the same errors.

Each error also carries what Docker Engine 20.10 answers for it (``LabkitError.reply``: the
HTTP status and message, measured on the engine), which the simulator's API server sends.
"""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
from collections.abc import Mapping, Sequence

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
    PortInUse,
)
from labkit.generation import Generation

__all__ = [
    "check_name",
    "check_container_name",
    "check_ref",
    "check_ports",
    "check_subnet",
    "check_gateway",
    "check_labels",
    "check_aliases",
    "check_command",
    "check_seconds",
    "check_stop_timeout",
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
    "pools_used_up",
    "none_and_another",
    "host_network_is_fixed",
    "host_port_taken",
    "ephemeral_port_failed",
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


def no_such_program(
    container: str, program: str, generation: Generation = Generation.V20
) -> InvalidInput:
    """A command the image cannot run (the engine refuses to start it without an init)."""
    return InvalidInput(
        f"Cannot start {container!r}: the image has no program {program!r}",
        "the lab image is built from scratch with busybox alone; its programs are busybox applets",
        "run the applet through busybox, e.g. command=['/bin/busybox', 'sleep', '3600']",
    ).answering(400, generation.start_refused(program))


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


def pools_used_up(network: str) -> InvalidInput:
    """The engine has no default address pool left for a new network (30 of them by default)."""
    return InvalidInput(
        f"No free address pool for network {network!r}",
        "could not find an available, non-overlapping IPv4 address pool among the defaults",
        "remove networks you no longer need (lab.cleanup()) or give a "
        "subnet, e.g. '10.77.0.0/24'; for a class, give the engine more pools (README)",
    ).answering(
        404,
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
    )


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


def host_port_taken(container: str, port: int | None, by_container: bool) -> PortInUse:
    """A host port the student named is held (by a container's binding, or by any program)."""
    return PortInUse(
        f"Host port {port if port is not None else '?'} for {container!r} is already in use",
        "another container publishes it"
        if by_container
        else "another program or container holds it",
        "publish on another host port, or None for an ephemeral one (-p :80)",
    )


def ephemeral_port_failed(address: str, port: int | None, container: str = "") -> PortInUse:
    """An ephemeral port the engine could not publish: not the student's choice, so no advice to
    pick another. Engine 20.10 keeps one allocator per host address, so a port held on 127.0.0.1
    looks free to 0.0.0.0's; the bind fails, and after ten such tries in a row it gives up."""
    who = f" {container!r}" if container else ""
    return PortInUse(
        f"The engine could not publish{who} on an ephemeral host port (last tried "
        f"{address}:{port if port is not None else '?'})",
        "each port it picked was held on this host, e.g. by a port published on another address "
        "(Engine 20.10 counts ports for each host address apart)",
        "run it again (the engine moves on to later ports), or publish on 127.0.0.1 as the course "
        "does: port='auto'",
    )


# The engine's own rule for container names (labkit holds network names to it too). \Z, not $:
# '$' would let a name that ends in a newline through.
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
_MAX_NAME = 128


def _shown(value: object) -> str:
    """A value as an error message quotes it: repr, cut short, always one line."""
    text = repr(value)
    return text if len(text) <= 240 else text[:237] + "..."


def _not_text(value: object, what: str, example: str) -> InvalidInput:
    return InvalidInput(
        f"{what} must be text, not {type(value).__name__} ({_shown(value)})",
        "labkit passes names and commands to the engine as strings",
        f"write it in quotes, e.g. {example}",
    )


def check_name(name: str, kind: str = "container") -> str:
    """A name labkit may create an object under: the engine's rule, and at most 128 characters."""
    if not isinstance(name, str):
        raise InvalidName(
            f"Invalid {kind} name {_shown(name)}: a name is text, not {type(name).__name__}",
            "the engine names containers and networks with strings",
            f"write the name in quotes, e.g. 'myapp2' or 'labnet' for the {kind}",
        )
    if not _NAME.match(name) or len(name) > _MAX_NAME:
        why = (
            "a name cannot be empty"
            if not name
            else f"names are at most {_MAX_NAME} characters"
            if len(name) > _MAX_NAME
            else "names start with a letter or digit and use only letters, digits, '_', '.' and '-'"
        )
        raise InvalidName(
            f"Invalid {kind} name {_shown(name)}",
            why,
            f"pick a name like 'myapp2' or 'labnet' for the {kind}",
        ).answering(
            400, f"Invalid {kind} name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name


def check_container_name(name: str) -> str:
    """A name for a new container: ``check_name``'s rule and at least two characters (the
    engine's pattern for container names ends in ``+``; a network's name may be one letter)."""
    check_name(name)
    if len(name) < 2:
        raise InvalidName(
            f"Invalid container name {name!r}",
            "the engine wants at least two characters in a container's name",
            "pick a name like 'myapp2'",
        ).answering(
            400, f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name


def check_ref(ref: str, kind: str = "container") -> str:
    """A name or ID to look an object up by: what check_name admits (IDs are hex names), with
    the engine's optional leading '/' on container names."""
    bare = ref[1:] if isinstance(ref, str) and kind == "container" and ref[:1] == "/" else ref
    check_name(bare, kind)
    return ref


def check_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Labels as the engine stores them: text keys and text values."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidInput(
            f"Labels must be a mapping, not {type(labels).__name__} ({_shown(labels)})",
            "a label is a key and a value",
            "write them as a dict, e.g. {'course': 'lab4'}",
        )
    for key, value in labels.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(value, str):
            raise InvalidInput(
                f"Invalid label {_shown(key)}: {_shown(value)}",
                "label keys are non-empty text and label values are text",
                "write it like {'course': 'lab4'}",
            )
    return dict(labels)


def check_aliases(aliases: str | Sequence[str] | None) -> tuple[str, ...]:
    """Network aliases. One alias given as a string is that alias (not its letters)."""
    if aliases is None:
        return ()
    if isinstance(aliases, str):
        aliases = (aliases,)
    if not isinstance(aliases, Sequence):
        raise InvalidInput(
            f"Invalid aliases {_shown(aliases)}",
            "aliases are a list of names the container also answers to on that network",
            "write e.g. aliases=['web'] (or aliases='web' for one)",
        )
    for alias in aliases:
        check_name(alias, "alias")
    return tuple(aliases)


def check_command(command: str | Sequence[str] | None) -> list[str]:
    """A command to run: a list of words, or one string split as a shell splits it (as the
    Docker SDK does). Never the letters of a string."""
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise InvalidInput(
                f"Cannot read the command {_shown(command)}",
                f"{exc} (an unclosed quote?)",
                "close the quote, or give the command as a list, e.g. ['hostname']",
            ) from None
    elif isinstance(command, Sequence) and not isinstance(command, (bytes, bytearray)):
        words = list(command)
        for word in words:
            if not isinstance(word, str):
                raise _not_text(word, "Each word of a command", "['sleep', '1']")
    else:
        raise InvalidInput(
            f"Invalid command {_shown(command)}",
            "a command is a list of words (or one string of them)",
            "write e.g. ['hostname'] or ['ip', 'addr']",
        )
    if not words or not words[0].strip():
        raise InvalidInput(
            "No command to run",
            "the command is empty",
            "give one, e.g. lab.exec('myapp2', ['hostname'])",
        )
    return words


def check_seconds(value: float, what: str, *, most: float) -> float:
    """A time bound: a number of seconds above 0 and at most ``most``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(
            f"{what}={_shown(value)} is not a number of seconds",
            f"{what} is how long to wait, as a number",
            f"write it without quotes, e.g. {what}=1.5",
        )
    if math.isnan(value) or not 0 < value <= most:
        raise InvalidInput(
            f"{what}={value!r} is out of range",
            f"a wait must be more than 0 and at most {most:g} s, so that every call ends",
            f"use e.g. {what}=1.5 (labkit's default)",
        )
    return float(value)


def check_stop_timeout(value: object) -> int:
    """``docker restart -t``/``docker stop -t``: whole seconds, 0 (kill at once) to 300."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"timeout={_shown(value)} is not a whole number of seconds",
            "the engine waits that many seconds for the app to stop before it kills it",
            "write it without quotes, e.g. timeout=10",
        )
    if not 0 <= value <= 300:
        raise InvalidInput(
            f"timeout={value} is out of range",
            "the engine waits 0 to 300 s for the app to stop (a negative wait never ends)",
            "use e.g. timeout=10 (docker's default), or 0 to kill at once",
        )
    return value


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
    if ports is not None and not isinstance(ports, Mapping):
        raise InvalidPort(
            f"Invalid ports {_shown(ports)}",
            "ports map a container port to what it is published on",
            "write e.g. {'80/tcp': None} for an ephemeral host port (-p :80)",
        )
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
                if not isinstance(host_ip, str):
                    raise ValueError(host_ip)
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
    """A subnet for a new bridge network: IPv4, written with its prefix, host bits zero, room for
    a gateway and a container, and from the address ranges a network may use."""
    if subnet is None:
        return None
    bad = f"Invalid subnet {_shown(subnet)}"
    if not isinstance(subnet, str):
        raise InvalidInput(
            bad,
            f"a subnet is text like '172.30.0.0/16', not {type(subnet).__name__}",
            "write it in quotes with its prefix length, e.g. subnet='172.30.0.0/16'",
        )
    if "/" not in subnet:
        raise InvalidInput(
            bad,
            "a subnet needs its prefix length (how many leading bits name the network)",
            f"add one, e.g. '{subnet.strip() or '172.30.0.0'}/24'",
        )
    try:
        network = ipaddress.ip_network(subnet, strict=True)
    except ValueError:
        raise InvalidInput(
            bad,
            "a subnet is a network address with a prefix length, host bits zero",
            "write it like '172.30.0.0/16'",
        ) from None
    if network.version != 4:
        # The engine would quietly make an IPv4 network from its pools instead.
        raise InvalidInput(
            bad,
            "labkit's networks are IPv4 only (IPv6 needs enable_ipv6 on the engine)",
            "give an IPv4 subnet, e.g. '10.77.0.0/24'",
        )
    if network.prefixlen > 30:
        raise InvalidInput(
            bad,
            f"a /{network.prefixlen} has no room for a gateway and a container",
            "use /30 at the smallest (/24 is usual), e.g. '10.77.0.0/24'",
        )
    for kind, test in (
        ("the whole address space", network.prefixlen == 0),
        ("loopback (127.0.0.0/8: this machine's own addresses)", network.is_loopback),
        ("multicast, not addresses of hosts", network.is_multicast),
        ("link-local (169.254.0.0/16), which the host keeps for itself", network.is_link_local),
        ("reserved, not for networks", network.is_reserved or network.is_unspecified),
        ("in 0.0.0.0/8, which means this host", network.subnet_of(_THIS_HOST)),
    ):
        if test:
            raise InvalidInput(
                bad,
                f"it is {kind}",
                "use a private range, e.g. '172.30.0.0/16' or '10.77.0.0/24'",
            )
    return str(network)


_THIS_HOST = ipaddress.IPv4Network("0.0.0.0/8")


def check_gateway(gateway: str | None, subnet: str | None) -> str | None:
    """A gateway for a new network: an IPv4 host address inside the subnet it is given with."""
    if gateway is None:
        return None
    if subnet is None:
        raise InvalidInput(
            f"A gateway {_shown(gateway)} without a subnet",
            "a gateway is an address inside the network's subnet",
            "give the subnet too, or leave both out and let the engine pick",
        )
    try:
        address = ipaddress.IPv4Address(gateway) if isinstance(gateway, str) else None
    except ValueError:
        address = None
    net = ipaddress.IPv4Network(subnet)
    if (
        address is None
        or address not in net
        or address in (net.network_address, net.broadcast_address)
    ):
        raise InvalidInput(
            f"Invalid gateway {_shown(gateway)} for {subnet}",
            "a gateway is an IPv4 host address inside the subnet",
            f"leave it out (the engine takes the first address of {subnet}) or give one inside it",
        )
    return str(address)
