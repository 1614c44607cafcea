"""The lab's docker commands as a student types them, fitted to the student's namespace.

A class often shares one engine. Two students who both type ``docker run --name myapp2`` would
collide, and one student's ``docker rm -f myapp2`` would remove the other's container. The
course's ``%docker`` cell magic therefore passes the typed command through ``fit()`` before the
real docker CLI runs it:

- a name the student gives to something new (``run --name``, ``network create``) gets the
  namespace prefix (``alice-myapp2``), and the new object gets labkit's labels, so labkit's views,
  its Watch panel and its clean-up know it as the student's own;
- a name the student refers to (``docker port myapp2``) means their namespaced object when one
  exists, else the name as typed (a container they made by hand in a terminal);
- ``run`` gets ``--init`` (a restart takes 0.3 s instead of the stop timeout's 10 s) and the lab's
  resolver (``--dns 127.0.0.1``: lookups never leave the machine); ``-p :80`` binds loopback when
  the engine is on this machine, so the app is not opened to the student's whole network.

The command that really runs is shown in full, and what it prints is the docker CLI's own.
Pure: lookups go through the ``exists`` callback, so this module never talks to an engine.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from labkit.errors import InvalidInput

__all__ = ["Fitted", "fit", "Kind"]

Kind = Literal["container", "network"]
_BUILTIN_NETWORKS = ("bridge", "host", "none")

# Options that take a value, per command (the docker CLI's own option names). Anything else
# that starts with '-' is a flag without a value.
_RUN_VALUES = {
    "--name", "-p", "--publish", "--network", "--net", "-e", "--env", "--label", "-l",
    "--hostname", "-h", "--dns", "--network-alias", "--ip", "-v", "--volume", "-w", "--workdir",
    "--entrypoint", "--restart", "--stop-signal", "--stop-timeout", "-u", "--user", "--mount",
    "--add-host", "--platform", "--pull", "--cidfile", "--mac-address", "--expose", "--gw-priority",
    "-m", "--memory", "--cpus", "--env-file", "--label-file", "--log-driver", "--log-opt",
}  # fmt: skip
_VALUES = {
    "run": _RUN_VALUES,
    "create": _RUN_VALUES,
    "restart": {"-t", "--time", "-s", "--signal"},
    "stop": {"-t", "--time", "-s", "--signal"},
    "kill": {"-s", "--signal"},
    "logs": {"--tail", "-n", "--since", "--until"},
    "inspect": {"-f", "--format", "--type"},
    "exec": {"-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file", "--detach-keys"},
    "ps": {"-f", "--filter", "--format", "-n", "--last"},
    "port": set(),
    "start": {"--detach-keys"},
    "rm": set(),
    "top": set(),
    "images": {"-f", "--filter", "--format"},
    "events": {"-f", "--filter", "--format", "--since", "--until"},
    "version": {"-f", "--format"},
    "info": {"-f", "--format"},
    "network create": {
        "-d",
        "--driver",
        "--subnet",
        "--gateway",
        "--ip-range",
        "-o",
        "--opt",
        "--label",
        "--aux-address",
        "--ipam-driver",
        "--ipam-opt",
        "--scope",
        "--config-from",
    },  # fmt: skip
    "network connect": {
        "--alias",
        "--ip",
        "--ip6",
        "--link",
        "--link-local-ip",
        "--driver-opt",
        "--gw-priority",
    },  # fmt: skip
    "network disconnect": set(),
    "network rm": set(),
    "network inspect": {"-f", "--format"},
    "network ls": {"-f", "--filter", "--format"},
}
# Which positional arguments name a lab object: "c" a container, "n" a network; a last role
# with "*" repeats ("*" containers, "n*" networks, "any*" a container or else a network).
_POSITIONALS: Mapping[str, Sequence[str]] = {
    "port": ("c",),
    "restart": ("*",),
    "stop": ("*",),
    "start": ("*",),
    "kill": ("*",),
    "rm": ("*",),
    "logs": ("c",),
    "top": ("c",),
    "exec": ("c",),
    "inspect": ("any*",),
    "network connect": ("n", "c"),
    "network disconnect": ("n", "c"),
    "network rm": ("n*",),
    "network inspect": ("n*",),
}
_NEVER_IN_A_CELL = {"attach": "it waits for the container's output forever"}


@dataclass(frozen=True)
class Fitted:
    """A typed command and what it became: ``argv`` runs, ``added`` says what labkit changed."""

    typed: tuple[str, ...]
    argv: tuple[str, ...]
    added: tuple[str, ...] = field(default=())
    creates: Kind | None = None  # the command makes a new container or network
    containers: tuple[str, ...] = ()  # the containers it names (made or referred to), as run

    @property
    def shown(self) -> str:
        """The command as a shell line, without labkit's labels (``added`` mentions them)."""
        words: list[str] = []
        argv = list(self.argv)
        i = 0
        while i < len(argv):
            if argv[i] == "--label" and i + 1 < len(argv) and argv[i + 1].startswith("labkit."):
                i += 2
                continue
            words.append(argv[i])
            i += 1
        return "docker " + shlex.join(words)


def fit(
    typed: Sequence[str],
    *,
    namespace: str,
    labels: Mapping[str, str],
    exists: Callable[[Kind, str], bool],
    local: bool,
) -> Fitted:
    """The docker command ``typed`` (without the leading ``docker``) for this student.

    Raises InvalidInput for what cannot run in a notebook cell (an interactive ``-it``) or is
    not a docker command at all.
    """
    words = [str(w) for w in typed]
    if words[:1] == ["docker"]:
        words = words[1:]
    if not words:
        raise InvalidInput(
            "No docker command given",
            "%docker runs one docker CLI command, like the lab text's",
            "write it after the magic: %docker ps",
        )
    command, rest = _command(words)
    if command in _NEVER_IN_A_CELL:
        raise InvalidInput(
            f"`docker {command}` cannot run in a notebook cell",
            _NEVER_IN_A_CELL[command],
            "run it in a terminal (File → New → Terminal)",
        )
    values = _VALUES.get(command)
    if values is None:  # not one the course fits: run as typed
        return Fitted(tuple(words), tuple(words))
    # run IMAGE CMD... and exec CONTAINER CMD...: what follows the first positional is the
    # container's command, options and all.
    flags, positionals, cmd_tail = _split(
        rest, values, stop_after_first=command in ("run", "create", "exec")
    )
    _refuse_interactive(command, flags)
    prefix = f"{namespace}-"
    added: list[str] = []

    def own(name: str) -> str:
        return name if name.startswith(prefix) else prefix + name

    def ref(kind: Kind, name: str) -> str:
        if name in _BUILTIN_NETWORKS and kind == "network":
            return name
        if not name.startswith(prefix) and exists(kind, prefix + name):
            return prefix + name
        return name

    label_flags = [w for k, v in labels.items() for w in ("--label", f"{k}={v}")]
    creates: Kind | None = None
    if command in ("run", "create"):
        creates = "container"
        flags = _fit_run_flags(flags, own, ref, local, added)
        flags += label_flags
        added.append("labkit's labels")
    elif command == "network create":
        creates = "network"
        if len(positionals) != 1:
            raise InvalidInput(
                "`docker network create` takes one network name",
                f"got {len(positionals)}: {' '.join(positionals) or 'none'}",
                "name the network: %docker network create mynet",
            )
        if positionals[0] in _BUILTIN_NETWORKS:
            pass  # the engine refuses it in its own words
        elif not positionals[0].startswith(prefix):
            positionals = [own(positionals[0])]
            added.append(f"the namespace ({positionals[0]})")
        flags += label_flags
        added.append("labkit's labels")
    else:
        fitted_positionals = _fit_positionals(command, positionals, ref)
        if command == "network connect":
            flags += _alias_for_typed_name(flags, positionals, fitted_positionals, added)
        positionals = fitted_positionals
    argv = [*command.split(), *flags, *positionals, *cmd_tail]
    named = _named_containers(command, flags, positionals)
    return Fitted(tuple(words), tuple(argv), tuple(added), creates, named)


def _alias_for_typed_name(
    flags: list[str], typed: list[str], fitted: list[str], added: list[str]
) -> list[str]:
    """``network connect mynet web2`` → also ``--alias web2``: on the student's own network the
    name they typed answers in Docker's DNS (``nslookup web2``), not only ``alice-web2``. An
    alias is scoped to that one network, so two students' ``web2`` never meet."""
    if len(typed) != 2 or typed[1] == fitted[1]:
        return []
    if any(f.split("=", 1)[0] == "--alias" for f in flags):
        return []
    added.append(f"--alias {typed[1]}")
    return ["--alias", typed[1]]


def _named_containers(command: str, flags: list[str], positionals: list[str]) -> tuple[str, ...]:
    if command in ("run", "create"):
        return tuple(flags[i + 1] for i, f in enumerate(flags[:-1]) if f == "--name")
    shape = _POSITIONALS.get(command, ())
    names = []
    for i, word in enumerate(positionals):
        role = shape[i] if i < len(shape) else (shape[-1] if shape and shape[-1] == "*" else "")
        if role in ("c", "*"):
            names.append(word)
    return tuple(names)


def _command(words: list[str]) -> tuple[str, list[str]]:
    if words[0] == "network" and len(words) > 1:
        return f"network {words[1]}", words[2:]
    if words[0] == "container" and len(words) > 1:  # docker container ls | inspect | ...
        sub = {"ls": "ps", "list": "ps"}.get(words[1], words[1])
        return sub, words[2:]
    return words[0], words[1:]


def _split(
    rest: list[str], values: set[str], *, stop_after_first: bool
) -> tuple[list[str], list[str], list[str]]:
    """(flags with their values, positional arguments, the command after the first one)."""
    flags: list[str] = []
    positionals: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--":
            positionals += rest[i + 1 :]
            break
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            flags.append(word)
            if "=" not in word and name in values and i + 1 < len(rest):
                flags.append(rest[i + 1])
                i += 1
            i += 1
            continue
        positionals.append(word)
        i += 1
        if stop_after_first:
            return flags, positionals, rest[i:]
    return flags, positionals, []


def _refuse_interactive(command: str, flags: list[str]) -> None:
    shorts = "".join(f[1:] for f in flags if f.startswith("-") and not f.startswith("--"))
    interactive = "i" in shorts and "t" in shorts or "--interactive" in flags and "--tty" in flags
    if command in ("run", "exec", "start") and interactive:
        raise InvalidInput(
            f"`docker {command} -it` cannot run in a notebook cell",
            "-it gives the command a terminal to type into, and a cell has none",
            "run it in a terminal (File → New → Terminal), or leave out -it to run one command",
        )


def _fit_run_flags(
    flags: list[str],
    own: Callable[[str], str],
    ref: Callable[[Kind, str], str],
    local: bool,
    added: list[str],
) -> list[str]:
    out: list[str] = []
    i = 0
    has_init = any(f in ("--init",) for f in flags)
    has_dns = any(f.split("=", 1)[0] == "--dns" for f in flags)
    has_name = False
    while i < len(flags):
        word = flags[i]
        name, eq, inline = word.partition("=")
        value = inline if eq else (flags[i + 1] if i + 1 < len(flags) else "")
        step = 1 if eq else 2
        if name == "--name":
            has_name = True
            fitted = own(value)
            if fitted != value:
                added.append(f"the namespace ({fitted})")
            out += ["--name", fitted]
        elif name in ("--network", "--net"):
            out += ["--network", ref("network", value)]
        elif name in ("-p", "--publish"):
            out += ["-p", _loopback(value, local, added)]
        else:
            out.append(word)
            step = 1
        i += step
    if not has_name:
        raise InvalidInput(
            "Give the container a name with --name",
            "a lab container without a name gets a random one, and the lab's next steps refer to it by name",
            "add --name, as the lab text does: %docker run -d --name myapp2 -p :80 labkit/lab-app:1",
        )
    if not has_init:
        out.append("--init")
        added.append("--init")
    if not has_dns:
        out += ["--dns", "127.0.0.1"]
        added.append("--dns 127.0.0.1")
    return out


def _loopback(spec: str, local: bool, added: list[str]) -> str:
    """``:80`` / ``80`` / ``8080:80`` → the same on 127.0.0.1 when the engine is local."""
    if not local:
        return spec
    parts = spec.split(":")
    if len(parts) == 3:  # already names a host IP
        return spec
    if len(parts) == 1:
        fitted = f"127.0.0.1::{parts[0]}"
    else:
        fitted = f"127.0.0.1:{parts[0]}:{parts[1]}"
    if "loopback publishing" not in added:
        added.append("loopback publishing")
    return fitted


def _fit_positionals(
    command: str, positionals: list[str], ref: Callable[[Kind, str], str]
) -> list[str]:
    shape = _POSITIONALS.get(command, ())
    out: list[str] = []
    for i, word in enumerate(positionals):
        if i < len(shape):
            role = shape[i]
        else:  # a starred last role repeats; anything else past the shape is not a lab name
            role = shape[-1] if shape and shape[-1].endswith("*") else "rest"
        if role in ("c", "*"):
            out.append(ref("container", word))
        elif role in ("n", "n*"):
            out.append(ref("network", word))
        elif role == "any*":  # docker inspect: a container first, else a network
            fitted = ref("container", word)
            out.append(fitted if fitted != word else ref("network", word))
        else:
            out.append(word)
    return out
