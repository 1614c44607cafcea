"""The course's typed commands: ``%docker …`` and ``%host …`` cell lines.

``%docker`` runs the real docker CLI against the student's engine (a real one or labkit's
simulated engine, which serves the same API), after ``labkit.commands.fit`` has fitted the typed
command to the student's namespace. Why a magic rather than ``!docker``: on an engine a class
shares, ``!docker run --name myapp2`` would collide with every other student's myapp2, and the
container would carry none of labkit's labels, so the course's views and clean-up could not tell
it is the student's. The magic shows the command that really runs, and prints the CLI's own output.

``%host`` runs a host command of the lab text (``ip addr show docker0``, ``ip route``,
``cat /proc/sys/net/ipv4/ip_forward``) on the engine's host: for real where the kernel runs on
that host, in the simulated host otherwise (marked SIMULATED).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING

from labkit.commands import Fitted, fit
from labkit.engine.base import LAB_IMAGE
from labkit.errors import InvalidInput, LabkitError, NotFound

if TYPE_CHECKING:
    from labkit.lab import Lab

__all__ = ["register", "docker", "host", "CLI_TIMEOUT", "EVENTS_WINDOW"]

CLI_TIMEOUT = 60.0  # a command of the lab takes well under a second; a minute means it hangs
EVENTS_WINDOW = 5.0  # `docker events` streams until stopped: a cell shows this many seconds


def register(lab: Lab, shell=None) -> None:  # noqa: ANN001 - IPython's InteractiveShell
    """Make ``%docker`` and ``%host`` available in the running IPython, bound to ``lab``."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
    if shell is None:
        return

    from IPython.core.magic import no_var_expand

    # The functions return None, so a cell shows the command's output and no Out[] value.
    # no_var_expand: IPython's own expansion would turn the Go templates of
    # `docker inspect -f '{{.NetworkSettings.IPAddress}}'` into '{...}'; a plain {name} of the
    # notebook's (an ID the student pasted into a variable) is still put in.
    @no_var_expand
    def docker_magic(line: str) -> None:
        docker(lab, expand_names(line, shell.user_ns))

    @no_var_expand
    def host_magic(line: str) -> None:
        host(lab, expand_names(line, shell.user_ns))

    shell.register_magic_function(docker_magic, "line", "docker")
    shell.register_magic_function(host_magic, "line", "host")


_NAME = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def expand_names(line: str, names: Mapping[str, object]) -> str:
    """``{answer}`` → the value of the notebook's variable ``answer``; ``{{.Go.Template}}`` and
    unknown names stay as typed."""
    return _NAME.sub(lambda m: str(names[m.group(1)]) if m.group(1) in names else m.group(0), line)


def docker(lab: Lab, line: str, *, step: str = "") -> int:
    """Run one typed docker command for ``lab``'s student; print what ran and its output.
    Returns the CLI's exit code (shown only when it failed)."""
    fitted = _fit(lab, line, step)
    if fitted.creates == "container" and LAB_IMAGE in fitted.argv:
        lab.engine.ensure_lab_image(progress=print)
    # What an exec prints on the simulator is its model of the container's busybox, not a
    # program's output: marked, as %host marks the simulated host's.
    modelled = fitted.argv[:1] == ("exec",) and lab.engine.info().simulated
    print(f"$ {fitted.shown}" + ("    # SIMULATED container" if modelled else ""))
    if fitted.added:
        print(f"  (labkit added: {', '.join(fitted.added)})")
    code, out = _run_cli(lab, fitted)
    if "--dns 127.0.0.1" in fitted.added:  # the CLI's warning about the resolver labkit chose
        out = "".join(line for line in out.splitlines(keepends=True) if "Localhost DNS" not in line)
    if out:
        print(out.rstrip("\n"))
    if code != 0:
        hint = _hint(lab, fitted, out)
        if hint:
            print(f"→ {hint}")
    else:
        _remember(lab, fitted)
    return code


def _remember(lab: Lab, fitted: Fitted) -> None:
    """What the command just showed of its containers is what the course's checks hold the
    student to (``labkit.check.remember_container``): read once, right after it ran."""
    from labkit.check import remember_container

    for name in fitted.containers:
        try:
            remember_container(lab, lab.engine.container(name))
        except NotFound:
            continue  # removed by this very command (rm -f)


def host(lab: Lab, line: str) -> None:
    """Run a host command of the lab text on the engine's host, or in the simulated host."""
    argv = shlex.split(line)
    if not argv:
        raise InvalidInput(
            "No host command given",
            "%host runs one command on the engine's host",
            "write it after the magic: %host ip addr show docker0",
        )
    result = lab.engine.host_command(argv)  # type: ignore[attr-defined]
    simulated = lab.engine.info().simulated
    print(f"$ {shlex.join(argv)}" + ("    # SIMULATED host" if simulated else ""))
    if result.output:
        print(result.output.rstrip("\n"))


def _fit(lab: Lab, line: str, step: str) -> Fitted:
    try:
        typed = shlex.split(line)
    except ValueError as exc:
        raise InvalidInput(
            "The docker command cannot be read", str(exc), "close the quote and run it again"
        ) from None

    def exists(kind: str, name: str) -> bool:
        try:
            (lab.engine.container if kind == "container" else lab.engine.network)(name)
        except NotFound:
            return False
        return True

    return fit(
        typed,
        namespace=lab.namespace,
        labels=lab.labels(step),
        exists=exists,  # type: ignore[arg-type]
        local=lab.engine.info().local,
    )


def _cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise LabkitError(
            "The docker CLI is not installed",
            "%docker runs the real docker command, and this machine has none on PATH",
            "install it (Debian: apt-get install docker.io or docker-cli); the course's "
            "lab.… calls work without it",
        )
    return path


def _run_cli(lab: Lab, fitted: Fitted) -> tuple[int, str]:
    env = {**os.environ, **lab.engine.cli_environment()}  # type: ignore[attr-defined]
    argv = [_cli(), *fitted.argv]
    streams = fitted.argv[:1] == ("events",) and not any(
        a.startswith("--until") for a in fitted.argv
    )
    timeout = EVENTS_WINDOW if streams else CLI_TIMEOUT
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        if streams:
            return 0, out + f"(docker events streams until stopped: {EVENTS_WINDOW:.0f} s shown)"
        raise LabkitError(
            f"`{fitted.shown}` did not finish within {CLI_TIMEOUT:.0f} s",
            "the engine or the command did not answer",
            "check the engine (labkit doctor); a command that runs forever belongs in a terminal",
        ) from None
    return done.returncode, done.stdout + done.stderr


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _hint(lab: Lab, fitted: Fitted, out: str) -> str:
    """One line that says what to do after the errors a student meets most."""
    if "is already in use by container" in out and fitted.creates == "container":
        name = fitted.argv[fitted.argv.index("--name") + 1]
        short = name.removeprefix(f"{lab.namespace}-")
        return f"a container called {name} exists: remove it first with %docker rm -f {short}"
    if "No such container" in out:
        return "list your containers with %docker ps -a (the name is the one after --name)"
    if "network with name" in out and "already exists" in out:
        return "that network exists already: use it, or remove it with %docker network rm NAME"
    return ""
