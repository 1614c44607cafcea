"""One simulated engine per user, shared by every kernel and terminal: the ``labkit sim`` daemon.

``labkit sim start`` starts it (or finds it running) and prints, as its last line,
``export DOCKER_HOST=unix://…``, so ``eval "$(labkit sim start)"`` points the docker CLI at it;
its other lines go to stderr. ``labkit sim status``, ``stop`` and ``reset`` do what they say.

The socket is ``$LABKIT_SIM_SOCKET`` if set, else ``$XDG_RUNTIME_DIR/labkit/sim.sock`` (when that
directory is the user's), else ``~/.labkit/sim.sock``; its directory is made mode 0700 and holds
``sim.pid`` and ``sim.log`` beside it. The daemon is a process of its own session, so it
outlives the kernel or terminal that started it. A socket nobody answers on, or a daemon that
died or hangs, is found and replaced, with one line saying so. Published ports stay real
listeners on 127.0.0.1, owned by the daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import EngineUnavailable

__all__ = [
    "socket_path",
    "url",
    "DaemonStatus",
    "status",
    "ensure",
    "stop",
    "reset",
    "main",
    "START_TIMEOUT",
]

START_TIMEOUT = 10.0  # seconds a start waits for the new daemon to answer
_PING_TIMEOUT = 2.0
_DAEMON_ARG = "labkit.engine.sim.daemon"

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def socket_path() -> Path:
    """Where this user's simulator listens (see the module docstring)."""
    given = os.environ.get("LABKIT_SIM_SOCKET")
    if given:
        return Path(given).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid():
        return Path(runtime) / "labkit" / "sim.sock"
    return Path.home() / ".labkit" / "sim.sock"


def url(path: Path | None = None) -> str:
    return f"unix://{path or socket_path()}"


def _pid_file(path: Path) -> Path:
    return path.with_name(path.stem + ".pid")


def _log_file(path: Path) -> Path:
    return path.with_name(path.stem + ".log")


def _lock_file(path: Path, what: str) -> Path:
    return path.with_name(f"{path.stem}.{what}.lock")


def _private_dir(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)


# -- talking to a daemon -------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _request(
    path: Path, method: str, target: str, body: Any = None, timeout: float = _PING_TIMEOUT
) -> tuple[int, Any]:
    conn = _UnixConnection(path, timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, target, body=data, headers=headers)
        reply = conn.getresponse()
        raw = reply.read()
        return reply.status, json.loads(raw) if raw.strip() else None
    finally:
        conn.close()


def _probe(path: Path) -> str:
    """``answers``, ``absent`` (no socket), ``stale`` (nobody listens) or ``hung``."""
    if not path.exists():
        return "absent"
    try:
        status, data = _request(path, "GET", "/labkit/v1/info")
    except (ConnectionRefusedError, FileNotFoundError):
        return "stale"
    except TimeoutError:
        return "hung"
    except (OSError, http.client.HTTPException, ValueError):
        return "stale"
    return (
        "answers" if status == 200 and isinstance(data, dict) and data.get("Simulated") else "stale"
    )


@dataclass(frozen=True)
class DaemonStatus:
    running: bool
    socket: Path
    pid: int | None = None
    generation: str = ""
    engine_version: str = ""
    api_version: str = ""
    containers: int = 0

    @property
    def url(self) -> str:
        return url(self.socket)

    def __str__(self) -> str:
        if not self.running:
            return f"labkit sim: not running (its socket would be {self.socket})"
        return (
            f"labkit sim: running (pid {self.pid}) at {self.url}: models Docker Engine "
            f"{self.engine_version} (API {self.api_version}), {self.containers} container"
            f"{'' if self.containers == 1 else 's'}"
        )


def status(path: Path | None = None) -> DaemonStatus:
    path = path or socket_path()
    if _probe(path) != "answers":
        return DaemonStatus(False, path)
    _, info = _request(path, "GET", "/labkit/v1/info")
    _, listed = _request(path, "GET", "/containers/json?all=1")
    return DaemonStatus(
        True,
        path,
        pid=info.get("Pid"),
        generation=info.get("Generation", ""),
        engine_version=info.get("EngineVersion", ""),
        api_version=info.get("ApiVersion", ""),
        containers=len(listed or []),
    )


# -- starting, stopping ----------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    """One starter at a time (two kernels opening at once must not start two daemons)."""
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recorded_pid(path: Path) -> int | None:
    try:
        return int(_pid_file(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_daemon(pid: int) -> bool:
    """Whether ``pid`` is a simulator daemon of this user (never signal anything else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        owner = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return False
    return owner == os.getuid() and _DAEMON_ARG.encode() in cmdline


def _end(pid: int, grace: float = 3.0) -> None:
    """Stop our daemon ``pid``: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if not _is_our_daemon(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid) and _is_our_daemon(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child that died) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def ensure(
    path: Path | None = None, *, say: Say = _stderr, timeout: float = START_TIMEOUT
) -> DaemonStatus:
    """The running daemon, started if need be (idempotent). A stale socket, a daemon that died
    or one that does not answer is replaced, with one line through ``say``; raises
    EngineUnavailable when a new daemon does not answer within ``timeout`` seconds."""
    path = path or socket_path()
    _private_dir(path)
    with _locked(_lock_file(path, "start")):
        state = _probe(path)
        if state == "answers":
            return status(path)
        pid = _recorded_pid(path)
        if state == "hung":
            say(
                f"labkit: the simulated engine at {path} did not answer: replacing it "
                "(the simulated containers it had are gone)"
            )
            if pid is not None:
                _end(pid)
        elif state == "stale":
            died = f" (its daemon, pid {pid}, is gone)" if pid and not _alive(pid) else ""
            say(
                f"labkit: the simulator's socket {path} was stale{died}: starting a new one "
                "(the simulated containers it had are gone)"
            )
        elif pid is not None and not _alive(pid):
            say(f"labkit: the simulated engine (pid {pid}) had stopped: starting a new one")
        elif pid is not None and _is_our_daemon(pid):
            say(f"labkit: the simulator's socket {path} was removed: restarting its daemon")
        if pid is not None and _alive(pid) and _is_our_daemon(pid):
            _end(pid)  # alive without its socket: it cannot serve anyone
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _spawn(path, timeout)
        return status(path)


def _spawn(path: Path, timeout: float) -> None:
    log = open(_log_file(path), "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", _DAEMON_ARG, "serve", "--socket", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own session: it outlives the kernel or terminal
            close_fds=True,
            cwd=str(path.parent),
        )
    finally:
        log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _probe(path) == "answers":
            return
        if child.poll() is not None:
            break
        time.sleep(0.03)
    tail = _tail(_log_file(path))
    if child.poll() is None:
        child.kill()
    raise EngineUnavailable(
        "labkit's simulated engine did not start",
        f"no answer at {path} within {timeout:g} s" + (f": {tail}" if tail else ""),
        f"see {_log_file(path)}; `labkit sim stop` and try again",
    )


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def stop(path: Path | None = None, *, say: Say = _stderr) -> bool:
    """Stop the daemon; False when none was running."""
    path = path or socket_path()
    pid = _recorded_pid(path)
    if pid is None or not _is_our_daemon(pid):
        with contextlib.suppress(FileNotFoundError):
            if _probe(path) != "answers":
                path.unlink()
        return False
    _end(pid)
    say(f"labkit sim: stopped (pid {pid})")
    return True


def reset(path: Path | None = None, *, say: Say = _stderr) -> bool:
    """Remove every simulated container and network (a fresh model); False when not running."""
    path = path or socket_path()
    if _probe(path) != "answers":
        return False
    _request(path, "POST", "/labkit/v1/reset", timeout=30)
    say("labkit sim: reset: every simulated container and network is gone")
    return True


# -- the daemon process ------------------------------------------------------------------------------


def _serve(path: Path) -> int:
    from labkit.engine.sim import portslice
    from labkit.engine.sim.api import ApiServer
    from labkit.engine.sim.engine import SimulatedEngine
    from labkit.engine.sim.ports import read_port_range

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr, force=True
    )
    _private_dir(path)
    lock = open(_lock_file(path, "daemon"), "a+")  # noqa: SIM115 - held for the daemon's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            logging.info("labkit sim: another daemon serves %s", path)
            return 3
        raise
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # no daemon holds the lock: whatever socket is there is stale
    kernel = read_port_range()
    ports = portslice.claim(kernel)  # apart from other students' daemons on this machine
    old_mask = os.umask(0o177)  # the socket is the user's alone
    try:
        server = ApiServer(
            str(path), lambda: SimulatedEngine(port_range=kernel, publish_range=ports.port_range)
        )
    finally:
        os.umask(old_mask)
    _pid_file(path).write_text(f"{os.getpid()}\n")

    def finish(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    logging.info(
        "labkit sim: serving %s (pid %d), host ports %d-%d%s",
        path,
        os.getpid(),
        *ports.port_range,
        " (shared with other daemons)" if ports.shared else "",
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()  # closes the model too: its listeners go
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # ours: no other daemon can bind here while we hold the lock
        if _recorded_pid(path) == os.getpid():
            _pid_file(path).unlink()
        logging.info("labkit sim: stopped")
    return 0


# -- `labkit sim ...` ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="labkit sim",
        description="labkit's simulated Docker engine: one per user, on a unix socket that the "
        "docker CLI, docker-py and labkit all use",
    )
    parser.add_argument(
        "action",
        choices=("start", "status", "stop", "reset", "serve"),
        help='start prints `export DOCKER_HOST=...` last: eval "$(labkit sim start)"',
    )
    parser.add_argument("--socket", help="the socket path (default: see LABKIT_SIM_SOCKET)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    path = Path(args.socket) if args.socket else socket_path()
    if args.action == "serve":
        return _serve(path)
    try:
        if args.action == "start":
            found = ensure(path)
            _stderr(str(found))
            print(f"export DOCKER_HOST={found.url}")
            return 0
        if args.action == "status":
            found = status(path)
            print(found)
            return 0 if found.running else 1
        if args.action == "stop":
            if not stop(path, say=print):
                print("labkit sim: not running")
            return 0
        if not reset(path, say=print):
            print("labkit sim: not running (nothing to reset)")
        return 0
    except EngineUnavailable as exc:
        print(f"labkit: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
