"""The command a hub runs for each student: ``python -m labkit.hub.singleuser [server args]``.

Before the student's server starts it settles two things, then becomes ``jupyterhub-singleuser``
(or, when it started something to stop afterwards, runs it as its child, forwarding the hub's stop
signals, and stops that once the server exits):

- **The namespace** comes from the hub (``JUPYTERHUB_USER``). A labkit that reads it itself
  needs nothing; an older one that reads only the login name (``jovyan`` for everyone in a
  Kubernetes image) is given ``LABKIT_NAMESPACE``.
- **The engine.** One handed to the server (``DOCKER_HOST``, or ``LABKIT_ENGINE=docker``) is
  used as it is. Otherwise (``LABKIT_ENGINE=sim``, or no engine answering) the student gets a
  simulated engine of their own: ``labkit sim start`` gives a per-user daemon whose socket becomes
  ``DOCKER_HOST`` for every kernel and terminal of this server (the socket in the student's home,
  ``LABKIT_SIM_SOCKET``, since the servers of one hub may share a login). Where this labkit has no
  daemon, each kernel keeps its own in-process simulator, as labkit did before the daemon.

The server also loads labkit's extension (``GET /labkit/status``, see ``labkit.hub.extension``)
and talks to its kernels over unix sockets (``KERNEL_ARG``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "prepare_environment", "EXTENSION_ARG", "KERNEL_ARG"]

EXTENSION_ARG = "--ServerApp.jpserver_extensions=labkit.hub.extension=True"
# Kernels over unix sockets, not TCP: on a machine where many servers start kernels while
# simulated apps and docker-proxy take loopback ports from the same ephemeral range, a kernel's
# TCP port can be taken between the server choosing it and the kernel binding it (seen here: the
# kernel dies with "Address already in use" and its student waits).
KERNEL_ARG = "--KernelManager.transport=ipc"
_SIM_TIMEOUT = 60.0
_EXPORT = re.compile(r"^export DOCKER_HOST=(\S+)\s*$")


def _say(line: str) -> None:
    print(f"labkit hub: {line}", file=sys.stderr, flush=True)


def _namespace(env: dict[str, str]) -> None:
    user = env.get("JUPYTERHUB_USER")
    if not user or env.get("LABKIT_NAMESPACE"):
        return
    from labkit.lab import default_namespace

    saved = os.environ.copy()
    try:
        os.environ.clear()
        os.environ.update(env)
        with_hub = default_namespace()
        os.environ.pop("JUPYTERHUB_USER")
        without_hub = default_namespace()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if with_hub == without_hub:  # this labkit ignores JUPYTERHUB_USER: hand it over explicitly
        env["LABKIT_NAMESPACE"] = user


def _engine_handed(env: dict[str, str]) -> bool:
    wanted = env.get("LABKIT_ENGINE", "").strip().lower()
    if wanted == "docker" or (env.get("DOCKER_HOST") and wanted != "sim"):
        return True
    if wanted == "sim":
        return False
    try:  # auto: the machine's own engine, if one answers (as labkit.connect would choose)
        from labkit.engine.docker import DockerEngine

        DockerEngine(timeout=2.0).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means no engine answers
        return False


def _start_sim(env: dict[str, str]) -> bool:
    """``labkit sim start`` for this user; its last line exports DOCKER_HOST. False if none."""
    # The daemon's socket is per login (LABKIT_SIM_SOCKET, else XDG_RUNTIME_DIR, else the home),
    # and servers of one hub may share a login (root, jovyan): name it in this student's home.
    env.setdefault("LABKIT_SIM_SOCKET", str(_sim_socket(env)))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "labkit.cli", "sim", "start"],
            env=env,
            capture_output=True,
            text=True,
            timeout=_SIM_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        _say(
            f"`labkit sim start` did not finish within {_SIM_TIMEOUT:.0f} s; kernels simulate alone"
        )
        return False
    lines = done.stdout.strip().splitlines()
    found = _EXPORT.match(lines[-1]) if done.returncode == 0 and lines else None
    if found is None:
        reason = (done.stderr.strip().splitlines() or ["no `labkit sim` here"])[-1]
        _say(f"no per-user simulated engine ({reason}); each kernel simulates its own")
        return False
    env["DOCKER_HOST"] = found.group(1)
    env.setdefault("LABKIT_ENGINE", "sim")
    _say(f"simulated engine for {env.get('JUPYTERHUB_USER', 'this user')} at {found.group(1)}")
    return True


def _short_runtime_dir(env: dict[str, str]) -> Path | None:
    """A shorter JUPYTER_RUNTIME_DIR where the default one would make kernels' unix socket paths
    too long (107 bytes; a deep home, as under a test's folder). Returns the folder it made."""
    home = Path(env.get("HOME") or Path.home())
    data = env.get("JUPYTER_DATA_DIR") or str(
        Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "jupyter"
    )
    runtime = env.get("JUPYTER_RUNTIME_DIR") or str(Path(data) / "runtime")
    if len(runtime) + len("/kernel-") + 36 + len("-ipc-99") < 100:
        return None
    short = (
        Path(tempfile.gettempdir())
        / f"labkit-rt-{hashlib.sha1(str(home).encode()).hexdigest()[:10]}"
    )
    short.mkdir(mode=0o700, exist_ok=True)
    env["JUPYTER_RUNTIME_DIR"] = str(short)
    return short


def _sim_socket(env: dict[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.cwd())
    socket = home / ".labkit" / "sim.sock"
    if len(str(socket)) < 100:  # a unix socket's path has room for 107 bytes
        return socket
    digest = hashlib.sha1(str(home).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"labkit-sim-{digest}" / "sim.sock"


def prepare_environment(env: dict[str, str]) -> bool:
    """Set the namespace and the engine in ``env``; True when a per-user daemon was started."""
    _namespace(env)
    if _engine_handed(env):
        return False
    env.setdefault("LABKIT_ENGINE", "sim")
    return _start_sim(env)


def _stop_sim(env: dict[str, str]) -> None:
    try:
        subprocess.run(
            [sys.executable, "-m", "labkit.cli", "sim", "stop"],
            env=env,
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        _say("`labkit sim stop` did not finish within 30 s")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    started_sim = prepare_environment(env)
    runtime = _short_runtime_dir(env)
    exe = shutil.which("jupyterhub-singleuser", path=str(Path(sys.executable).parent))
    exe = exe or shutil.which("jupyterhub-singleuser")
    if exe is None:
        _say("jupyterhub-singleuser is not installed: pip install 'labkit[hub]'")
        return 1
    command = [exe, EXTENSION_ARG, KERNEL_ARG, *args]
    if not started_sim and runtime is None:  # nothing to stop afterwards: become the server
        os.execve(exe, command, env)
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        return child.wait()
    finally:
        if started_sim:
            _stop_sim(env)
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
