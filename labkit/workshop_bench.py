"""``make bench-workshop``: a workshop of N students on a real JupyterHub, two ways, in one run.

A JupyterHub on loopback (``labkit.hub.local``) starts each student's server through its REST
API; in each server the benchmark opens kernels through the server's REST and websocket API (as
a browser does) and runs notebooks 01–03 cell by cell, whatever the cells say. Two modes:

``shared``  every server is handed the machine's one real engine (a local ``DOCKER_HOST``, else
            ``unix:///var/run/docker.sock``),
            students kept apart by namespace. Each server reaches it through an audit tap
            (``labkit.workshop_tap``) that records who sent which request, so a request touching
            another namespace's object is counted as a collision.
``sim``     no engine is handed to the servers: each student gets a simulated engine of their own
            (``labkit hub singleuser``).

For each mode, one student runs alone first (the baseline, in the same run), then N at once.
Reported: runs passed (all three notebooks without an error), collisions, objects left behind,
wall time of the N against the one, the p95 of a restart + probe (a cell the benchmark adds,
``RESTARTS`` times per student, while others work), and memory per student (RSS, and PSS, of the
student's server, kernels and engine processes, at its peak). A table on stdout and a JSON file.
A benchmark, not a test: nothing here asserts a time. Every wait is bounded; SIGINT or SIGTERM
stops the hub, its servers, kernels and engines, and removes what the run left on the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.engine.docker import TIMEOUT_VARIABLE, engine_address
from labkit.errors import HubError, LabkitError
from labkit.hub.client import UserServer
from labkit.hub.local import RUN_MARK, LocalHub
from labkit.lab import NAMESPACE_LABEL
from labkit.workshop_audit import EngineIndex, EngineTap, count_collisions, route

__all__ = ["main", "run_mode", "ModeReport", "StudentRun"]

_DEFAULT_ENGINE = "unix:///var/run/docker.sock"
NOTEBOOKS = ("01", "02", "03")
RESTARTS = 5
MARK = "LABKIT-BENCH "
# The per-namespace progress record (labkit.progress) is meant to stay: not "left behind".
PROGRESS_KIND = ("labkit.kind", "progress")
_ROOT = Path(__file__).resolve().parent.parent

PREAMBLE = f"""
import json as _j, os as _o
from labkit.lab import default_namespace as _dn
print({MARK!r} + _j.dumps({{"namespace": _dn(), "docker_host": _o.environ.get("DOCKER_HOST", ""),
      "engine": _o.environ.get("LABKIT_ENGINE", "")}}))
"""

# Whatever the notebook did: what labkit objects of this namespace still live in a simulated
# engine inside this kernel (none when the kernel reaches its engine over a socket).
KERNEL_LEFTOVERS = f"""
import gc as _gc, json as _j
_left, _why = [], ""
try:
    from labkit.engine.sim import SimulatedEngine as _S
    from labkit.lab import NAMESPACE_LABEL as _N, default_namespace as _dn
    for _e in [_o for _o in _gc.get_objects() if isinstance(_o, _S)]:
        _left += [_c.name for _c in _e.containers(labels={{_N: _dn()}})]
        _left += [_n.name for _n in _e.networks() if _n.labels.get(_N) == _dn()]
except Exception as _x:
    _why = repr(_x)
print({MARK!r} + _j.dumps({{"left_in_kernel": _left, "why": _why}}))
"""

RESTART_PROBE = f"""
import json as _j, time as _t
from labkit.lab import Lab as _Lab
from labkit.probe import probe_address as _pa
_out = {{"times": [], "not_ok": 0, "foreign": 0, "unknown": 0, "error": ""}}
_lab = _Lab(session="workshop-bench-" + __import__("uuid").uuid4().hex[:6])
try:
    _info = _lab.engine.info()
    _app = _lab.start_app("benchapp", step="workshop-bench")
    for _i in range({{restarts}}):
        _old = _app.port(80).host_port
        _s = _t.perf_counter()
        _app = _lab.restart("benchapp")
        _probes = _lab.probe("benchapp")
        _out["times"].append(_t.perf_counter() - _s)
        _out["not_ok"] += sum(
            1 for _p in _probes if not _p.ok and (_p.via != "bridge-ip" or _info.bridge_reachable)
        )
        # The old host port should now be refused; another student's app answering it is a
        # collision the lesson of notebook 01 cannot survive.
        _stale = _pa(_lab.engine, _info.host, _old, via="old host port")
        if _stale.ok:
            if not _stale.hostname:
                _out["unknown"] += 1
            elif not _app.id.startswith(_stale.hostname):
                _out["foreign"] += 1
except Exception as _x:
    _out["error"] = f"{{type(_x).__name__}}: {{_x}}"[:300]
finally:
    _lab.cleanup(session_only=True)
print({MARK!r} + _j.dumps(_out))
"""


def _marked(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    return {}


# -- one student ---------------------------------------------------------------------------------


@dataclass
class NotebookRun:
    notebook: str
    ok: bool
    seconds: float
    cells: int = 0
    failed_cell: int | None = None
    error: str = ""


@dataclass
class StudentRun:
    user: str
    namespace: str = ""
    docker_host: str = ""
    notebooks: list[NotebookRun] = field(default_factory=list)
    notebooks_seconds: float = 0.0
    finished_at: float = 0.0
    restart_probe: list[float] = field(default_factory=list)
    probe_not_ok: int = 0
    old_port_foreign: int = 0
    old_port_unknown: int = 0
    left_in_kernel: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.notebooks) and all(n.ok for n in self.notebooks) and not self.error


def _code_cells(path: Path) -> list[tuple[str, bool]]:
    """(source, may_raise) for each code cell, as nbclient would run them."""
    nb = json.loads(path.read_text())
    cells = []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        cells.append((source, "raises-exception" in tags))
    return cells


def run_student(
    server: UserServer,
    notebooks: Sequence[Path],
    *,
    cell_timeout: float,
    deadline: float,
    restarts: int,
) -> StudentRun:
    """Notebooks in order, each in a new kernel of the student's own server; then restart + probe."""
    run = StudentRun(server.name)

    def left() -> float:
        return max(1.0, min(cell_timeout, deadline - time.monotonic()))

    try:
        for path in notebooks:
            server.upload(path, f"notebooks/{path.name}")
        started = time.monotonic()
        for index, path in enumerate(notebooks):
            t0 = time.monotonic()
            result = NotebookRun(path.stem, ok=True, seconds=0.0)
            with server.kernel(f"notebooks/{path.name}", ready_timeout=left()) as kernel:
                if index == 0:
                    seen = _marked(kernel.execute(PREAMBLE, timeout=left()).stdout)
                    run.namespace = seen.get("namespace", "")
                    run.docker_host = seen.get("docker_host", "")
                for number, (source, may_raise) in enumerate(_code_cells(path)):
                    result.cells += 1
                    cell = kernel.execute(source, timeout=left())
                    if not cell.ok and not may_raise:
                        result.ok, result.failed_cell = False, number
                        result.error = f"{cell.ename}: {cell.evalue}"[:300]
                        break
                audit = _marked(kernel.execute(KERNEL_LEFTOVERS, timeout=left()).stdout)
                run.left_in_kernel += audit.get("left_in_kernel", [])
            result.seconds = time.monotonic() - t0
            run.notebooks.append(result)
            if not result.ok:
                break
        run.notebooks_seconds = time.monotonic() - started
        run.finished_at = time.monotonic()
        with server.kernel(ready_timeout=left()) as kernel:
            code = RESTART_PROBE.replace("{restarts}", str(restarts))
            out = _marked(kernel.execute(code, timeout=left()).stdout)
        run.restart_probe = [float(t) for t in out.get("times", [])]
        run.probe_not_ok = int(out.get("not_ok", 0))
        run.old_port_foreign = int(out.get("foreign", 0))
        run.old_port_unknown = int(out.get("unknown", 0))
        if out.get("error"):
            run.error = "restart + probe: " + out["error"]
    except LabkitError as exc:
        run.error = exc.message.splitlines()[0][:300]
    except Exception as exc:  # noqa: BLE001 - one student's failure must not stop the workshop
        run.error = f"{type(exc).__name__}: {exc}"[:300]
    if not run.finished_at:
        run.finished_at = time.monotonic()
    return run


# -- memory ----------------------------------------------------------------------------------------


class MemorySampler:
    """Every few seconds, the RSS and PSS summed over each student's processes (found by the
    hub run's mark and JUPYTERHUB_USER in their environment); keeps each student's peak."""

    def __init__(self, run_id: str, interval: float = 5.0) -> None:
        self.run_id, self.interval = run_id, interval
        self.peaks: dict[str, dict[str, float]] = {}
        self._cpu: dict[int, tuple[str, float]] = {}  # pid -> (user, CPU seconds so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="memory")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        import psutil

        per: dict[str, dict[str, float]] = {}
        for proc in psutil.process_iter():
            try:
                env = proc.environ()
                if env.get(RUN_MARK) != self.run_id or "JUPYTERHUB_USER" not in env:
                    continue
                mem = proc.memory_full_info()
                role = _role(proc.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
                continue
            times = proc.cpu_times()
            self._cpu[proc.pid] = (env["JUPYTERHUB_USER"], times.user + times.system)
            row = per.setdefault(env["JUPYTERHUB_USER"], {"rss_mb": 0.0, "pss_mb": 0.0})
            rss = mem.rss / 2**20
            row["rss_mb"] += rss
            row["pss_mb"] += getattr(mem, "pss", mem.rss) / 2**20
            row[f"{role}_rss_mb"] = row.get(f"{role}_rss_mb", 0.0) + rss
            row["processes"] = row.get("processes", 0) + 1
        for user, row in per.items():
            if row["rss_mb"] > self.peaks.get(user, {}).get("rss_mb", 0.0):
                self.peaks[user] = {k: round(v, 1) for k, v in row.items()}

    def cpu_seconds(self, user: str) -> float:
        """CPU time of the student's processes as last sampled (a process's last seconds before it
        exited are not seen: a lower bound)."""
        return sum(cpu for who, cpu in self._cpu.values() if who == user)


def _role(cmdline: Sequence[str]) -> str:
    """Which part of a student's footprint a process is."""
    line = " ".join(cmdline)
    if "labkit.hub.singleuser" in line:
        return "start_command"
    if "jupyterhub-singleuser" in line:
        return "server"
    if "ipykernel" in line:
        return "kernel"
    return "engine_other"  # the per-user simulated engine, a docker CLI a cell ran, ...


# -- one mode ----------------------------------------------------------------------------------------


@dataclass
class ModeReport:
    mode: str
    users: int
    passed: int = 0
    collisions: int | None = 0
    collision_examples: list[str] = field(default_factory=list)
    unresolved_requests: int = 0
    engine_requests: int = 0
    left_behind: int | None = 0
    progress_records: int = 0
    left_examples: list[str] = field(default_factory=list)
    alone_seconds: float | None = None
    wall_seconds: float | None = None
    wall_ratio: float | None = None
    servers_ready_seconds: float | None = None
    restart_probe_p95: float | None = None
    restart_probe_p95_alone: float | None = None
    probe_not_ok: int = 0
    old_port_foreign: int = 0
    memory_rss_mb_median: float | None = None
    memory_rss_mb_max: float | None = None
    memory_pss_mb_median: float | None = None
    processes_per_user: float | None = None
    memory_by_role_mb: dict[str, float] = field(default_factory=dict)
    cpu_seconds_median: float | None = None
    wall_ratio_cpu_floor: float | None = None
    engines_distinct: int | None = None
    stragglers: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    students: list[dict[str, Any]] = field(default_factory=list)


def _p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def shared_engine() -> str:
    """The machine's engine, which the shared mode hands to every server: where the docker CLI
    would go (DOCKER_HOST, else the current context) when that is a local socket (the tap in
    front of it is a unix socket too), else Docker's default."""
    try:
        host = engine_address()[0]
    except LabkitError:
        return _DEFAULT_ENGINE
    return host if host.startswith("unix://") else _DEFAULT_ENGINE


def _real_engine() -> Any:
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(shared_engine(), timeout=30)
    engine.ping()
    return engine


def run_mode(
    mode: str,
    users: int,
    *,
    workdir: Path,
    notebooks: Sequence[Path],
    cell_timeout: float = 300.0,
    mode_timeout: float = 3600.0,
    restarts: int = RESTARTS,
    say: Callable[[str], None] = print,
) -> ModeReport:
    report = ModeReport(mode, users)
    deadline = time.monotonic() + mode_timeout
    tag = uuid.uuid4().hex[:4]
    names = [f"wb{tag}-{mode[:2]}{i:02d}" for i in range(1, users + 1)]
    solo = f"wb{tag}-{mode[:2]}solo"
    tap = index = engine = None
    if mode == "shared":
        engine = _real_engine()
        engine.ensure_lab_image()
        tap = EngineTap(shared_engine().removeprefix("unix://"), workdir / "taps", [solo, *names])
        environment = {
            "LABKIT_ENGINE": "docker",
            "DOCKER_HOST": f"unix://{workdir / 'taps'}/{{username}}.sock",
            TIMEOUT_VARIABLE: "15",  # as the workshop guide says for a room's one engine
        }
        index = EngineIndex(engine)
    else:
        environment = {"LABKIT_ENGINE": "sim"}
    hub = LocalHub(workdir / "hub", environment=environment)
    sampler = MemorySampler(hub.run_id)
    pool = ThreadPoolExecutor(max_workers=max(users, 1), thread_name_prefix="student")
    runs: list[StudentRun] = []
    cpu_before: dict[str, float] = {}
    alone: StudentRun | None = None
    servers: dict[str, UserServer] = {}
    try:
        hub.start()
        sampler.start()
        client = hub.client(timeout=60)
        say(f"[{mode}] JupyterHub {client.version()} at {hub.url}; one student alone first")
        client.add_user(solo)
        servers[solo] = client.start_server(solo, timeout=300)
        alone = run_student(
            servers[solo],
            notebooks,
            cell_timeout=cell_timeout,
            deadline=deadline,
            restarts=restarts,
        )
        report.alone_seconds = round(alone.notebooks_seconds, 1) if alone.passed else None
        report.restart_probe_p95_alone = _round(_p95(alone.restart_probe))
        if not alone.passed:
            report.failures.append(f"{solo} (alone): {_why(alone)}")
        client.stop_server(solo)
        servers.pop(solo)
        say(
            f"[{mode}] alone: {alone.notebooks_seconds:.1f} s, {'passed' if alone.passed else 'FAILED'}"
        )

        t0 = time.monotonic()
        for user in names:
            client.add_user(user)

        def start(user: str) -> tuple[str, UserServer | str]:
            try:
                return user, client.start_server(
                    user, timeout=max(60.0, deadline - time.monotonic())
                )
            except HubError as exc:
                return user, exc.what

        for user, got in pool.map(start, names):
            if isinstance(got, UserServer):
                servers[user] = got
            else:
                report.failures.append(f"{user}: server: {got}")
        report.servers_ready_seconds = round(time.monotonic() - t0, 1)
        say(f"[{mode}] {len(servers)}/{users} servers ready in {report.servers_ready_seconds} s")

        sampler.sample()
        cpu_before = {u: sampler.cpu_seconds(u) for u in names}  # the servers' start-up
        t1 = time.monotonic()

        def work(user: str) -> StudentRun:
            return run_student(
                servers[user],
                notebooks,
                cell_timeout=cell_timeout,
                deadline=deadline,
                restarts=restarts,
            )

        ready = [u for u in names if u in servers]
        runs = list(pool.map(work, ready))
        # Until the last student was done with the notebooks, passed or failed.
        report.wall_seconds = round(max(r.finished_at for r in runs) - t1, 1) if runs else None
        if report.wall_seconds and report.alone_seconds:
            report.wall_ratio = round(report.wall_seconds / report.alone_seconds, 2)
        report.passed = sum(1 for r in runs if r.passed)
        report.failures += [f"{r.user}: {_why(r)}" for r in runs if not r.passed]
        say(f"[{mode}] {report.passed}/{users} passed; wall {report.wall_seconds} s")

        if mode == "sim":
            _sim_leftovers_and_engines(report, runs, servers)
        sampler.sample()
    except KeyboardInterrupt:
        report.notes.append("interrupted: stopped early, everything started was stopped")
        raise
    except LabkitError as exc:
        report.failures.append(exc.message.splitlines()[0])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        sampler.stop()
        try:
            for user in list(servers):
                try:
                    hub.client(timeout=30).stop_server(user, timeout=60)
                except LabkitError:
                    pass
        finally:
            report.stragglers = len(hub.stop())
            if tap is not None and index is not None and engine is not None:
                everyone = [*runs, *([alone] if alone else [])]
                _shared_audit(report, everyone, tap, index, engine)
                index.close()
                tap.close()
            if engine is not None:
                engine.close()
    _summarise(report, runs, sampler, cpu_before)
    return report


def _why(run: StudentRun) -> str:
    if run.error:
        return run.error
    bad = next((n for n in run.notebooks if not n.ok), None)
    return f"{bad.notebook} cell {bad.failed_cell}: {bad.error}" if bad else "did not run"


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _sim_leftovers_and_engines(
    report: ModeReport, runs: Sequence[StudentRun], servers: dict[str, UserServer]
) -> None:
    """Left behind, read by each student's own server (labkit's extension), and whether any two
    students shared one simulated engine (one socket for two namespaces is a collision)."""
    hosts = [r.docker_host for r in runs if r.docker_host]
    if hosts:
        report.engines_distinct = len(set(hosts))
        shared = len(hosts) - len(set(hosts))
        report.collisions = shared
        if shared:
            report.collision_examples.append(
                f"{shared} students shared a simulated engine's socket"
            )
    else:
        report.notes.append(
            "each kernel ran its own in-process simulator (no per-user daemon in this labkit): "
            "engines cannot be shared; left behind = what each notebook's kernel still held at its end"
        )
    left = sum(len(r.left_in_kernel) for r in runs)
    report.left_examples += [f"{r.user}: {n}" for r in runs for n in r.left_in_kernel][:5]
    unreadable = 0
    for run in runs:
        server = servers.get(run.user)
        if server is None or not run.docker_host:
            continue
        try:
            row = server.labkit_status()
        except HubError:
            unreadable += 1
            continue
        for key in ("containers", "networks"):
            objs = row.get(key) or []
            left += len(objs)
            report.left_examples += [f"{run.user}: {o.get('name', o)}" for o in objs][:3]
    if unreadable:
        report.notes.append(f"{unreadable} servers did not answer labkit/status")
    report.left_behind = left


def _shared_audit(
    report: ModeReport,
    runs: Sequence[StudentRun],
    tap: Any,
    index: EngineIndex,
    engine: Any,
) -> None:
    """Collisions from the taps' records; leftovers on the engine, then removed (labkit's only,
    plus unlabelled objects the taps saw a student create)."""
    from labkit.lab import Lab

    by_user = {r.user: r.namespace or r.user for r in runs}
    mine = set(by_user.values()) | set(tap.users())
    for user in tap.users():
        for r in tap.requests(user):
            parts, query = route(r.path)
            if parts[:2] in (["containers", "create"], ["networks", "create"]):
                body = r.body if isinstance(r.body, dict) else {}
                name = (query.get("name") or [body.get("Name", "")])[0]
                if name:
                    index.creators[name] = by_user.get(user) or user
    total = unresolved = 0
    examples: list[str] = []
    for user in tap.users():
        ns = by_user.get(user) or user
        report.engine_requests += tap.count(user)
        hits, unknown, ex = count_collisions(tap.requests(user), ns, index)
        total, unresolved = total + hits, unresolved + unknown
        examples += [f"{user}: {e}" for e in ex]
    report.collisions, report.unresolved_requests = total, unresolved
    report.collision_examples = examples[:10]
    left: list[tuple[str, str, str]] = []  # (kind, name, namespace)
    left_over_records: set[str] = set()
    api = engine.client.api
    for c in api.containers(all=True):
        name, labels = c["Names"][0].lstrip("/"), c.get("Labels") or {}
        ns = labels.get(NAMESPACE_LABEL) or index.creators.get(name)
        if ns in mine and labels.get(PROGRESS_KIND[0]) == PROGRESS_KIND[1]:
            report.progress_records += 1  # kept on purpose: the instructor's record of the student
            left_over_records.add(ns)
        elif ns in mine:
            left.append(("container", name, ns))
    for n in api.networks():
        ns = (n.get("Labels") or {}).get(NAMESPACE_LABEL) or index.creators.get(n["Name"])
        if ns in mine:
            left.append(("network", n["Name"], ns))
    report.left_behind = len(left)
    report.left_examples = [f"{kind} {name}" for kind, name, _ in left][:10]
    for ns in sorted({ns for _, _, ns in left} | left_over_records):
        Lab(engine, namespace=ns).cleanup()
    for kind, name, _ in left:  # unlabelled, but the taps saw one of this run's students make it
        try:
            if kind == "container":
                api.remove_container(name, force=True)
            else:
                api.remove_network(name)
        except Exception:  # noqa: BLE001 - already removed by the cleanup above
            pass


def _summarise(
    report: ModeReport,
    runs: Sequence[StudentRun],
    sampler: MemorySampler,
    cpu_before: dict[str, float],
) -> None:
    times = [t for r in runs for t in r.restart_probe]
    report.restart_probe_p95 = _round(_p95(times))
    report.probe_not_ok = sum(r.probe_not_ok for r in runs)
    report.old_port_foreign = sum(r.old_port_foreign for r in runs)
    if report.old_port_foreign:
        # A probe of a student's own (old) port answered by another student's app: that app was
        # touched from another namespace, whatever the engine API saw.
        report.collisions = (report.collisions or 0) + report.old_port_foreign
        report.collision_examples.append(
            f"{report.old_port_foreign} probes of a student's old host port answered by another "
            "student's app"
        )
    peaks = [sampler.peaks[r.user] for r in runs if r.user in sampler.peaks]
    if peaks:
        report.memory_rss_mb_median = round(statistics.median(p["rss_mb"] for p in peaks), 1)
        report.memory_rss_mb_max = round(max(p["rss_mb"] for p in peaks), 1)
        report.memory_pss_mb_median = round(statistics.median(p["pss_mb"] for p in peaks), 1)
        report.processes_per_user = round(statistics.median(p["processes"] for p in peaks), 1)
        report.cpu_seconds_median = round(
            statistics.median(sampler.cpu_seconds(r.user) for r in runs), 1
        )
        working = statistics.median(
            sampler.cpu_seconds(r.user) - cpu_before.get(r.user, 0.0) for r in runs
        )
        if report.alone_seconds:
            # N students' CPU for the notebooks on this machine's cores (their servers' and
            # engines' share; not the hub's, not the machine's other work): no schedule of the
            # notebooks ends sooner.
            floor = len(runs) * working / (os.cpu_count() or 1)
            report.wall_ratio_cpu_floor = round(floor / report.alone_seconds, 2)
        for role in ("start_command", "server", "kernel", "engine_other"):
            report.memory_by_role_mb[role] = round(
                statistics.median(p.get(f"{role}_rss_mb", 0.0) for p in peaks), 1
            )
    report.students = [
        {**asdict(r), "passed": r.passed, **sampler.peaks.get(r.user, {})} for r in runs
    ]


# -- the command -----------------------------------------------------------------------------------


def _table(reports: Sequence[ModeReport]) -> str:
    def show(value: Any, unit: str = "") -> str:
        return "n/a" if value is None else f"{value}{unit}"

    rows = [
        ("runs passed", lambda r: f"{r.passed}/{r.users}"),
        ("collisions", lambda r: show(r.collisions)),
        ("objects left behind", lambda r: show(r.left_behind)),
        ("progress records kept (removed after)", lambda r: show(r.progress_records)),
        ("one student alone (01–03)", lambda r: show(r.alone_seconds, " s")),
        ("N students, wall", lambda r: show(r.wall_seconds, " s")),
        ("wall ÷ alone (goal ≤ 4)", lambda r: show(r.wall_ratio, "×")),
        ("  floor from CPU (N × CPU ÷ cores)", lambda r: show(r.wall_ratio_cpu_floor, "×")),
        ("servers ready (N at once)", lambda r: show(r.servers_ready_seconds, " s")),
        ("restart + probe p95", lambda r: show(r.restart_probe_p95, " s")),
        ("restart + probe p95 alone", lambda r: show(r.restart_probe_p95_alone, " s")),
        ("probes not ok after restart", lambda r: show(r.probe_not_ok)),
        ("old port answered by another", lambda r: show(r.old_port_foreign)),
        ("memory/user RSS median", lambda r: show(r.memory_rss_mb_median, " MB")),
        ("memory/user RSS max", lambda r: show(r.memory_rss_mb_max, " MB")),
        ("memory/user PSS median", lambda r: show(r.memory_pss_mb_median, " MB")),
        ("  of which server", lambda r: show(r.memory_by_role_mb.get("server"), " MB")),
        ("  of which kernel", lambda r: show(r.memory_by_role_mb.get("kernel"), " MB")),
        ("  of which engine/other", lambda r: show(r.memory_by_role_mb.get("engine_other"), " MB")),
        (
            "  of which start command",
            lambda r: show(r.memory_by_role_mb.get("start_command"), " MB"),
        ),
        ("processes per user", lambda r: show(r.processes_per_user)),
        ("CPU per user (server start to end)", lambda r: show(r.cpu_seconds_median, " s")),
        ("leftover processes ended", lambda r: show(r.stragglers)),
    ]
    head = ["", *[f"{r.mode} ({r.users} users)" for r in reports]]
    body = [[label, *[get(r) for r in reports]] for label, get in rows]
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [head, *body]
    ]
    for r in reports:
        for failure in r.failures[:10]:
            lines.append(f"[{r.mode}] failed: {failure}")
        for ex in r.collision_examples[:5]:
            lines.append(f"[{r.mode}] collision: {ex}")
        for ex in r.left_examples[:5]:
            lines.append(f"[{r.mode}] left behind: {ex}")
        for note in r.notes:
            lines.append(f"[{r.mode}] note: {note}")
    return "\n".join(lines)


def _notebooks(prefixes: Sequence[str]) -> list[Path]:
    found = []
    for prefix in prefixes:
        matches = sorted((_ROOT / "notebooks").glob(f"{prefix}*.ipynb"))
        if not matches:
            raise SystemExit(f"labkit: no notebook {prefix}* in {_ROOT / 'notebooks'}")
        found.append(matches[0])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="labkit-bench-workshop", description="N students at once on a real JupyterHub"
    )
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--modes", default="shared,sim", help="shared, sim or both (comma)")
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS))
    parser.add_argument("--restarts", type=int, default=RESTARTS)
    parser.add_argument("--cell-timeout", type=float, default=300.0)
    parser.add_argument("--mode-timeout", type=float, default=3600.0)
    parser.add_argument("--json", default="bench-results/workshop.json")
    parser.add_argument("--keep", action="store_true", help="keep the hubs' folders and logs")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a run failed, a namespace was touched by another, or objects were left",
    )
    args = parser.parse_args(argv)
    notebooks = _notebooks(args.notebooks.split(","))

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    reports: list[ModeReport] = []
    base = Path(tempfile.mkdtemp(prefix="labkit-workshop-"))
    try:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            if mode not in ("shared", "sim"):
                parser.error(f"unknown mode {mode!r}")
            if mode == "shared":
                try:
                    _real_engine().close()
                except LabkitError as exc:
                    report = ModeReport(
                        mode, args.users, passed=0, collisions=None, left_behind=None
                    )
                    report.notes.append(f"not run: no real engine at {shared_engine()} ({exc.why})")
                    reports.append(report)
                    continue
            reports.append(
                run_mode(
                    mode,
                    args.users,
                    workdir=base / mode,
                    notebooks=notebooks,
                    cell_timeout=args.cell_timeout,
                    mode_timeout=args.mode_timeout,
                    restarts=args.restarts,
                )
            )
    except KeyboardInterrupt:
        print(
            "labkit: interrupted; the hub, its servers and their objects were stopped and removed"
        )
        return 130
    finally:
        if args.keep:
            print(f"hub folders and logs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(_table(reports))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "notebooks": [p.stem for p in notebooks]}
    out.write_text(
        json.dumps({"machine": machine, "modes": [asdict(r) for r in reports]}, indent=2)
    )
    print(f"(JSON: {out})")
    ran = [r for r in reports if not any(n.startswith("not run:") for n in r.notes)]
    missed = [
        f"{r.mode}: {what}"
        for r in ran
        for what, bad in (
            (f"{r.users - r.passed} runs failed", r.passed < r.users),
            (f"{r.collisions} collisions", bool(r.collisions)),
            (f"{r.left_behind} objects left behind", bool(r.left_behind)),
        )
        if bad
    ]
    for line in missed:
        print(f"goal missed: {line}")
    # Not a timing verdict: --strict fails a workshop that did not run clean (a failed run, a
    # collision, an object left behind); without it, only a benchmark that could not run fails.
    if args.strict and missed:
        return 1
    return 0 if all(r.failures == [] or r.passed for r in ran) else 1


if __name__ == "__main__":
    raise SystemExit(main())
