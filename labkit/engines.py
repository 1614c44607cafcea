"""Docker engines labkit starts itself, each in a network namespace of its own.

Two generations run side by side on one Linux machine (root needed):

* **Engine 20.10** is the machine's own ``dockerd`` (Debian 12's docker.io).
* **Engine 28 and later** comes from a Debian sid root (``debootstrap``, cached in
  ``/var/cache/labkit/sid-root``), entered with ``pivot_root`` in a mount namespace of its own so
  that ``docker exec`` sees the container's files, not the machine's.

An engine's folder (``/var/lib/labkit/engines/NAME``) holds its data root, socket, pid file and
log; the socket is reachable from the machine (``DOCKER_HOST=unix://…/docker.sock``), but its
``docker0``, published ports and container addresses live in its network namespace: whatever
must reach them runs there (``nsenter --net=/var/run/netns/lk-NAME …``). Engines are stopped by
their pid file; ``down`` removes only what ``up`` made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import EngineUnavailable
from labkit.generation import Generation, generation_of

__all__ = [
    "SID_ROOT",
    "STATE_ROOT",
    "EngineDaemon",
    "EngineStatus",
    "sid_root",
    "build_sid_root",
    "start_daemon",
    "wait_for_daemon",
    "stop_daemon",
    "daemon_pid",
    "processes_of",
]

SID_ROOT = Path(os.environ.get("LABKIT_SID_ROOT", "/var/cache/labkit/sid-root"))
STATE_ROOT = Path(os.environ.get("LABKIT_ENGINES_ROOT", "/var/lib/labkit/engines"))
PACKAGES = "docker.io,iptables,iproute2,ca-certificates"
# Put in dockerd's environment: its containerd and shims inherit it, so what an engine left
# behind after an unclean death is found by this mark, never by a name pattern.
_MARK = "LABKIT_DOCKERD_FOLDER"

Progress = Callable[[str], None]

# Entering the sid root: a private mount namespace, the root a mount point of its own (else
# every container start fails: "remount /, flags: 0x84000"), the engine's folder bound at
# /state, then pivot_root (a plain chroot lets `docker exec` read the machine's /etc/hostname).
_ENTER_ROOT = """
root=$1; state=$2; shift 2
mount --make-rprivate /
mount --bind "$root" "$root"
mount --bind "$state" "$root/state"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
cd "$root"
pivot_root . .oldroot
umount -l /.oldroot
cd /
exec "$@"
"""


# -- the Debian sid root -------------------------------------------------------------------------


def sid_root(root: Path = SID_ROOT, progress: Progress | None = None) -> Path:
    """The cached sid root with Engine 28+, built on first use (about a minute)."""
    if _root_is_complete(root):
        return root
    build_sid_root(root, progress)
    return root


def _root_is_complete(root: Path) -> bool:
    # Built into a temporary folder and renamed, so a root that is there is whole.
    return (root / "usr/sbin/dockerd").exists()


def build_sid_root(target: Path, progress: Progress | None = None) -> float:
    """debootstrap Debian sid with docker.io into ``target`` (which must not exist yet);
    return the seconds it took. A killed build leaves only a temporary folder, removed by the
    next build."""
    say = progress or (lambda _line: None)
    _check_can_build(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(target)
    work = target.parent / f".{target.name}.building-{os.getpid()}"
    started = time.monotonic()
    say(f"Building Engine 28's root in {target} (debootstrap sid, about a minute)…")
    command = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "sid", str(work)]
    try:
        tail = _run_debootstrap(command, say, started)
        if not _root_is_complete(work):
            raise EngineUnavailable(
                "Building Engine 28's root failed",
                _debootstrap_why(tail),
                "check the network (Debian's mirror must answer) and run it again",
            )
        for archive in (work / "var/cache/apt/archives").glob("*.deb"):
            archive.unlink()  # ~100 MB of packages already unpacked
        for folder in ("state", ".oldroot"):
            (work / folder).mkdir(exist_ok=True)
        work.rename(target)
    finally:
        if work.exists():
            _remove_tree(work)
    seconds = time.monotonic() - started
    say(f"Engine 28's root is ready ({seconds:.0f} s).")
    return seconds


def _check_can_build(target: Path) -> None:
    if os.geteuid() != 0:
        raise EngineUnavailable(
            "Engine 28's root cannot be built", "debootstrap needs root", "run it as root (sudo)"
        )
    if shutil.which("debootstrap") is None:
        raise EngineUnavailable(
            "Engine 28's root cannot be built",
            "debootstrap is not installed",
            "apt-get install debootstrap",
        )
    if target.exists():
        raise EngineUnavailable(
            f"Cannot build Engine 28's root into {target}",
            "the folder exists already",
            "remove it, or build into a new folder",
        )


def _run_debootstrap(command: list[str], say: Progress, started: float) -> list[str]:
    tail: list[str] = []
    stages: set[str] = set()
    last = started
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PATH": _with_sbin(os.environ.get("PATH", ""))},
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-19:], line.rstrip()]
            verb = re.match(r"I: (\w+)", line)
            now = time.monotonic()
            # One line per stage (not one per package), and a sign of life every 15 s.
            if verb and (verb.group(1) not in stages or now - last > 15):
                stages.add(verb.group(1))
                last = now
                say(f"  {line[3:].strip()} ({now - started:.0f} s)")
    return tail


def _debootstrap_why(tail: Sequence[str]) -> str:
    text = "\n".join(tail)
    if re.search(
        r"Failed getting release file|Temporary failure resolving|Couldn't download", text
    ):
        return "Debian's mirror (deb.debian.org) cannot be reached from this machine"
    errors = [line for line in tail if line.startswith("E:")]
    return (errors or list(tail) or ["debootstrap printed nothing"])[-1][:200]


def _remove_abandoned_builds(target: Path) -> None:
    for work in target.parent.glob(f".{target.name}.building-*"):
        pid = work.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))):
            _remove_tree(work)


# -- one engine ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineStatus:
    name: str
    generation: Generation
    running: bool
    version: str = ""
    api_version: str = ""
    pid: int | None = None
    url: str = ""
    netns: str = ""

    def lines(self) -> list[str]:
        if not self.running:
            return [f"engine {self.name} ({self.generation.value}): down"]
        return [
            f"engine {self.name}: Docker Engine {self.version} (API {self.api_version}), "
            f"pid {self.pid}, network namespace {self.netns}",
            f"  DOCKER_HOST={self.url}",
            f"  reach its ports and bridge from inside: nsenter --net=/var/run/netns/{self.netns} …",
        ]


@dataclass(frozen=True)
class EngineDaemon:
    """A dockerd of labkit's own: ``up()`` starts it fresh, ``down()`` removes what up made.

    ``generation`` picks the binary (the machine's dockerd for 20.10, the sid root's for 28);
    ``name`` names its folder and its network namespace (``lk-NAME``); ``options`` are extra
    daemon options (``--allow-direct-routing``)."""

    name: str = "d28"
    generation: Generation = Generation.V28
    options: tuple[str, ...] = ()
    state_root: Path = STATE_ROOT
    root: Path = SID_ROOT

    @property
    def folder(self) -> Path:
        return self.state_root / self.name

    @property
    def netns(self) -> str:
        return f"lk-{self.name}"

    @property
    def netns_path(self) -> str:
        return f"/var/run/netns/{self.netns}"

    @property
    def url(self) -> str:
        return f"unix://{self.folder / 'docker.sock'}"

    def up(self, progress: Progress | None = None) -> EngineStatus:
        """Start the engine with a fresh data root (idempotent while it runs)."""
        _check_root_user()
        current = self.status()
        if current.running:
            return current
        made = self._record().get("made", [])
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            made.append("folder")
        if not Path(self.netns_path).exists():
            _sh(["ip", "netns", "add", self.netns])
            made.append("netns")
        self._save({"generation": self.generation.value, "made": made})
        _sh(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        shutil.rmtree(self.folder / "data", ignore_errors=True)  # fresh: as on a new machine
        start_daemon(
            self.folder,
            self.netns_path,
            self.generation,
            self.options,
            root=self.root,
            progress=progress,
        )
        return self.status()

    def down(self) -> list[str]:
        """Stop the engine by its pid file and remove the folder and namespace ``up`` made."""
        removed = []
        if stop_daemon(self.folder):
            removed.append(f"dockerd {self.name}")
        made = self._record().get("made", [])
        if "netns" in made and Path(self.netns_path).exists():
            _sh(["ip", "netns", "del", self.netns], check=False)
            removed.append(f"netns {self.netns}")
        if "folder" in made and self.folder.exists():
            _remove_tree(self.folder)
            removed.append(f"folder {self.folder}")
        elif self.folder.exists():
            _remove_tree(self.folder / "data")
            (self.folder / "engine.json").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.state_root.rmdir()  # only once no engine has a folder there
        return removed

    def status(self) -> EngineStatus:
        pid = daemon_pid(self.folder)
        base = EngineStatus(self.name, self.generation, False, netns=self.netns)
        if pid is None:
            return base
        try:
            from labkit.engine.docker import DockerEngine

            engine = DockerEngine(self.url, timeout=5)
            version = engine.client.version()
            engine.close()
        except (EngineUnavailable, ImportError):
            return base
        return EngineStatus(
            self.name,
            generation_of(str(version.get("Version", ""))),
            True,
            version=str(version.get("Version", "")),
            api_version=str(version.get("ApiVersion", "")),
            pid=pid,
            url=self.url,
            netns=self.netns,
        )

    def _record(self) -> dict:
        try:
            return json.loads((self.folder / "engine.json").read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, record: dict) -> None:
        (self.folder / "engine.json").write_text(json.dumps(record))


# -- starting and stopping a dockerd -------------------------------------------------------------


def start_daemon(
    folder: Path,
    netns_path: str,
    generation: Generation,
    options: Sequence[str] = (),
    *,
    root: Path = SID_ROOT,
    progress: Progress | None = None,
    timeout: float = 60,
    wait: bool = True,
) -> None:
    """Start dockerd in the network namespace at ``netns_path`` with its data root, socket, pid
    file and log in ``folder``, and (unless ``wait`` is False) wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    pidfile = folder / "docker.pid"
    if daemon_pid(folder) is not None:
        return
    pidfile.unlink(missing_ok=True)  # a dead engine's: the next dockerd would refuse to start
    if generation is Generation.V28:
        sid_root(root, progress)
        (root / "state").mkdir(exist_ok=True)
        (root / ".oldroot").mkdir(exist_ok=True)
        inner = Path("/state")
        prefix = ["unshare", "--mount", "sh", "-ec", _ENTER_ROOT, "sh", str(root), str(folder)]
        extra = []  # its exec root is on the root's own tmpfs /run
    else:
        if shutil.which("dockerd") is None:
            raise EngineUnavailable(
                "Engine 20.10 cannot start", "dockerd is not installed", "apt-get install docker.io"
            )
        inner, prefix = folder, []
        extra = ["--exec-root", str(_exec_root(folder))]
    command = [
        "nsenter",
        f"--net={netns_path}",
        *prefix,
        "dockerd",
        "--data-root",
        str(inner / "data"),
        *extra,
        "--pidfile",
        str(inner / "docker.pid"),
        "-H",
        f"unix://{inner / 'docker.sock'}",
        *options,
    ]
    if progress:
        progress(f"Starting Engine {generation.value} in {netns_path}…")
    with open(folder / "dockerd.log", "ab") as log:
        # A session of its own: the engine outlives the caller until it is stopped.
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={
                **os.environ,
                "PATH": _with_sbin(os.environ.get("PATH", "")),
                _MARK: str(folder.resolve()),
            },
        )
    # Recorded at once: a caller killed before dockerd writes its pid file can still stop it.
    (folder / "started.json").write_text(json.dumps({"pid": proc.pid, "since": _since(proc.pid)}))
    _children.append(proc)  # collected when it ends, so it never lingers as a zombie
    if wait:
        wait_for_daemon(folder, timeout)


_children: list[subprocess.Popen] = []


def wait_for_daemon(folder: Path, timeout: float = 60) -> None:
    """Wait (bounded) until the engine started in ``folder`` answers; if it dies or does not
    answer in time, stop it and say why from its log."""
    from labkit.engine.docker import DockerEngine

    url = f"unix://{folder / 'docker.sock'}"
    deadline = time.monotonic() + timeout
    died = False
    while time.monotonic() < deadline:
        for child in _children:
            child.poll()
        if daemon_pid(folder) is None:
            died = True
            break
        try:
            DockerEngine(url, timeout=2).ping()
            return
        except EngineUnavailable:
            time.sleep(0.2)
    log = (folder / "dockerd.log").read_text(errors="replace").strip().splitlines()
    last = log[-1][:200] if log else "it printed nothing"
    stop_daemon(folder)
    raise EngineUnavailable(
        f"The Docker engine in {folder} did not start" + ("" if died else f" within {timeout:g} s"),
        last,
        f"read {folder / 'dockerd.log'}",
    )


def daemon_pid(folder: Path) -> int | None:
    """The pid of the engine started in ``folder``, if it still runs: from dockerd's pid file,
    else from what ``start_daemon`` recorded (checked against the process's start time)."""
    try:
        pid = int((folder / "docker.pid").read_text().strip())
        if _alive(pid):
            return pid
    except (OSError, ValueError):
        pass
    try:
        started = json.loads((folder / "started.json").read_text())
        if _alive(started["pid"]) and _since(started["pid"]) == started["since"]:
            return int(started["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def stop_daemon(folder: Path, timeout: float = 30) -> bool:
    """Stop the engine started in ``folder`` by its pid (SIGTERM, then SIGKILL after
    ``timeout``) and, should it have died uncleanly, what it left running (its containerd,
    shims and their containers). True if anything was stopped."""
    stopped = False
    pid = daemon_pid(folder)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)  # dockerd stops its containers and its containerd
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        stopped = True
    for orphan in processes_of(folder):
        try:
            os.kill(orphan, signal.SIGKILL)
            stopped = True
        except ProcessLookupError:
            pass
    (folder / "started.json").unlink(missing_ok=True)
    (folder / "docker.pid").unlink(missing_ok=True)
    _unmount_below(folder)
    if _exec_root(folder).exists():
        _remove_tree(_exec_root(folder))
        with contextlib.suppress(OSError):
            _exec_root(folder).parent.rmdir()  # /run/labkit, once no engine uses it
    for child in _children:
        child.poll()
    return stopped


def processes_of(folder: Path) -> list[int]:
    """What runs of the engine started in ``folder``, children first: every process carrying
    the mark ``start_daemon`` put in dockerd's environment (dockerd, its containerd and shims
    inherit it), and everything below those (the containers' processes)."""
    mark = f"{_MARK}={folder.resolve()}".encode()
    table: dict[int, int] = {}  # pid -> parent
    marked = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            table[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                marked.add(int(entry.name))
        except (OSError, ValueError):
            continue

    def ancestors(pid: int) -> list[int]:
        chain: list[int] = []
        while pid in table and len(chain) < 64:
            pid = table[pid]
            chain.append(pid)
        return chain

    found = {pid for pid in table if pid in marked or marked & set(ancestors(pid))}
    found.discard(os.getpid())
    return sorted(found, key=lambda pid: len(ancestors(pid)), reverse=True)


# -- small helpers -------------------------------------------------------------------------------


def _with_sbin(path: str) -> str:
    """The caller's PATH plus the sbin folders dockerd and debootstrap need (a user's PATH
    under sudo may lack them)."""
    have = path.split(os.pathsep) if path else []
    wanted = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    return os.pathsep.join(have + [d for d in wanted if d not in have])


def _exec_root(folder: Path) -> Path:
    """Engine 20.10's exec root, short whatever ``folder`` is: its containerd's sockets live
    there, and a unix socket path longer than 107 bytes cannot be bound."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    return Path("/run/labkit") / f"engine-{digest}"


def _check_root_user() -> None:
    if os.geteuid() != 0:
        raise EngineUnavailable(
            "labkit cannot start an engine of its own here",
            "network namespaces and dockerd need root",
            "run it as root (sudo), or use the machine's engine",
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited: it only waits for its parent to collect it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _since(pid: int) -> int:
    """The process's start time in clock ticks after boot: tells a pid from a reused one."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return -1


def _sh(command: list[str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise EngineUnavailable(
            f"`{' '.join(command)}` failed",
            (done.stderr or done.stdout).strip()[:200],
            "run `labkit engine down` and try again",
        )
    return done


def _unmount_below(path: Path) -> None:
    prefix = str(path.resolve()).rstrip("/") + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _remove_tree(path: Path) -> None:
    _unmount_below(path)
    shutil.rmtree(path, ignore_errors=True)
