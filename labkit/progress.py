"""Where each student is in the course, recorded where an instructor's command can read it.

On a JupyterHub whose students share one Docker engine, the instructor cannot read the students'
home folders, but can read the engine. So progress lives on the engine: the labels of one small
container per namespace, ``<namespace>-labkit-progress``, which runs ``true`` on no network and
exits at once (no process, no address, no port; a few KB of metadata). Labels cannot change
after creation, so an update replaces the container. It carries labkit's ownership labels, so
``labkit cleanup --namespace NAME`` resets a student's progress with the student's objects.

Where each student has an engine of their own (a simulated engine per user), nothing on it
outlives the student's server: set ``LABKIT_PROGRESS_DIR`` to a folder the instructor can read
(and every student can write), and each namespace also keeps ``<namespace>.json`` there.

``labkit status`` reads both. Recording never stops a check: a failure is one warning line.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.engine.base import Engine
from labkit.errors import EngineWarning, LabkitError, NotFound
from labkit.lab import KIND_LABEL, NAMESPACE_LABEL, OWNER_LABEL, SESSION_LABEL, STEP_LABEL, Lab

__all__ = [
    "record_check",
    "record_step",
    "flush",
    "problem",
    "status",
    "format_status",
    "NamespaceStatus",
    "KIND_LABEL",
    "PASSED_LABEL",
    "PROGRESS_DIR_ENV",
    "marker_name",
    "is_marker",
]

PASSED_LABEL = "labkit.progress.passed"  # exercise ids, comma-separated, in the order passed
UPDATED_LABEL = "labkit.progress.updated"  # ISO time of the last record
PROGRESS_DIR_ENV = "LABKIT_PROGRESS_DIR"
_MARKER_COMMAND = ("/bin/busybox", "true")


def marker_name(namespace: str) -> str:
    return f"{namespace}-labkit-progress"


def is_marker(labels: Mapping[str, str]) -> bool:
    """True for the progress record, which tables and diagrams of a lab leave out."""
    return labels.get(KIND_LABEL) == "progress"


@dataclass
class _Record:
    step: str = ""
    passed: list[str] = field(default_factory=list)
    loaded: bool = False
    dirty: bool = False  # changed since the engine last got it
    writer: threading.Thread | None = None
    problem: str = ""  # why the engine did not get the last record, if it did not


_RECORDS: weakref.WeakKeyDictionary[Lab, _Record] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_WRITERS: set[threading.Thread] = set()


def record_step(lab: Lab, step: str) -> None:
    """Note that the student is at ``step`` (a notebook's name, "02-linux-bridge")."""
    _update(lab, step=step)


def record_check(lab: Lab, exercise: str, right: bool, *, step: str = "") -> None:
    """Note a checked answer; a right one adds ``exercise`` to the checks passed."""
    if right:
        _update(lab, passed=exercise, step=step)


def _update(lab: Lab, *, step: str = "", passed: str = "") -> None:
    with _LOCK:
        record = _RECORDS.setdefault(lab, _Record())
        if not record.loaded:
            _load(lab, record)
        changed = False
        if step and step != record.step:
            record.step, changed = step, True
        if passed and passed not in record.passed:
            record.passed.append(passed)
            changed = True
        if not changed:
            return
        _write_file(lab.namespace, record)
        record.dirty = True
        # Replacing the record container takes ~0.4 s on a real engine: a check's feedback
        # does not wait for it. One writer per lab; it writes the latest state, then stops.
        if record.writer is None:
            record.writer = threading.Thread(
                target=_write_until_clean, args=(lab, record), name="labkit-progress", daemon=True
            )
            _WRITERS.add(record.writer)
            record.writer.start()


def _write_until_clean(lab: Lab, record: _Record) -> None:
    try:
        while True:
            with _LOCK:
                if not record.dirty:
                    # Said under the lock: an update from now on starts a writer of its own.
                    record.writer = None
                    return
                record.dirty = False
                snapshot = _Record(step=record.step, passed=list(record.passed), loaded=True)
            try:
                problem = _write_engine(lab, snapshot)
            except LabkitError as exc:
                problem = exc.what
            record.problem = problem
            if problem:
                with _LOCK:
                    record.writer = None  # the next record tries again
                warnings.warn(
                    f"labkit could not record progress on the engine: {problem}",
                    EngineWarning,
                    stacklevel=2,
                )
                return
    finally:
        _WRITERS.discard(threading.current_thread())


def flush(timeout: float = 10.0, *, namespace: str | None = None) -> bool:
    """Wait until the progress records (of labs in ``namespace``, else every one) have reached
    their engine; True if they did in time."""
    with _LOCK:
        if namespace is None:
            writers = list(_WRITERS)
        else:
            writers = [
                r.writer for lab, r in _RECORDS.items() if r.writer and lab.namespace == namespace
            ]
    deadline = time.monotonic() + timeout
    for writer in writers:
        writer.join(max(0.0, deadline - time.monotonic()))
    return not any(w.is_alive() for w in writers)


atexit.register(flush, 5.0)  # a kernel shut down right after a check still records it


def _load(lab: Lab, record: _Record) -> None:
    """Carry on from an earlier kernel of the same student: read the record already there."""
    record.loaded = True
    try:
        marker = lab.engine.container(marker_name(lab.namespace))
    except LabkitError:
        return
    if lab.owns(marker.labels) and is_marker(marker.labels):
        record.step = marker.labels.get(STEP_LABEL, "")
        record.passed = _split(marker.labels.get(PASSED_LABEL, ""))


def _write_engine(lab: Lab, record: _Record) -> str:
    """Replace the record container; return why not, or "" when done."""
    engine = lab.engine
    name = marker_name(lab.namespace)
    try:
        old = engine.container(name)
    except NotFound:
        old = None
    if old is not None:
        if not (lab.owns(old.labels) and is_marker(old.labels)):
            # Not labkit's record: leave it be, and say so.
            return f"a container named {name!r} that labkit did not make is in the way"
        engine.remove(old.id, force=True)
    labels = {
        **lab.labels(record.step),
        # Not this kernel's session: a notebook's closing cleanup(session_only=True) keeps it.
        SESSION_LABEL: "progress",
        KIND_LABEL: "progress",
        PASSED_LABEL: ",".join(record.passed),
        UPDATED_LABEL: time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    engine.run(
        engine.ensure_lab_image(),
        name=name,
        network="none",
        command=list(_MARKER_COMMAND),
        labels=labels,
    )
    return ""


def problem(lab: Lab) -> str:
    """Why the last progress record did not reach the engine, or "" (after ``flush``)."""
    record = _RECORDS.get(lab)
    return record.problem if record is not None else ""


def _progress_dir() -> Path | None:
    folder = os.environ.get(PROGRESS_DIR_ENV)
    return Path(folder) if folder else None


def _write_file(namespace: str, record: _Record) -> None:
    folder = _progress_dir()
    if folder is None:
        return
    data = {
        "namespace": namespace,
        "step": record.step,
        "passed": record.passed,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{namespace}.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(folder / f"{namespace}.json")  # readers never see half a file
    except OSError as exc:
        warnings.warn(
            f"labkit could not write progress to {folder}: {exc.strerror or exc}",
            EngineWarning,
            stacklevel=4,
        )


def _split(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


# -- reading: labkit status ----------------------------------------------------------------------


@dataclass(frozen=True)
class NamespaceStatus:
    """One student's objects and progress, as ``labkit status`` shows them."""

    namespace: str
    containers: tuple[tuple[str, str], ...] = ()  # (name without the namespace, status)
    networks: tuple[str, ...] = ()
    last_step: str = ""
    passed: tuple[str, ...] = ()
    updated: str = ""


def status(engine: Engine, namespace: str | None = None) -> list[NamespaceStatus]:
    """Every namespace's status (``namespace=None``), or one namespace's. Two engine reads:
    the containers by label, then the networks; plus the files of ``LABKIT_PROGRESS_DIR``."""
    wanted = {OWNER_LABEL: "labkit"}
    if namespace is not None:
        wanted[NAMESPACE_LABEL] = namespace
    containers = [
        c for c in engine.containers(labels=wanted) if NAMESPACE_LABEL in c.labels
    ]  # both labels, always, as cleanup does
    networks = [
        n
        for n in engine.networks()
        if NAMESPACE_LABEL in n.labels and all(n.labels.get(k) == v for k, v in wanted.items())
    ]
    found: dict[str, dict[str, Any]] = {}

    def entry(ns: str) -> dict[str, Any]:
        return found.setdefault(
            ns,
            {"containers": [], "networks": [], "step": "", "passed": [], "updated": "", "at": ""},
        )

    for c in sorted(containers, key=lambda c: c.name):
        ns = c.labels[NAMESPACE_LABEL]
        e = entry(ns)
        if is_marker(c.labels):
            e["step"] = c.labels.get(STEP_LABEL, "") or e["step"]
            e["passed"] = _merge(e["passed"], _split(c.labels.get(PASSED_LABEL, "")))
            e["updated"] = c.labels.get(UPDATED_LABEL, "")
            e["marked"] = True
            continue
        e["containers"].append((_short(c.name, ns), c.status))
        step = c.labels.get(STEP_LABEL, "")
        # Without a record, the step of the container started last says where the student is.
        if step and not e.get("marked") and c.started_at >= e["at"]:
            e["at"], e["step"] = c.started_at, step
    for n in sorted(networks, key=lambda n: n.name):
        entry(n.labels[NAMESPACE_LABEL])["networks"].append(
            _short(n.name, n.labels[NAMESPACE_LABEL])
        )
    for data in _files(namespace):
        e = entry(data["namespace"])
        e["passed"] = _merge(e["passed"], data.get("passed", []))
        if data.get("updated", "") >= e["updated"]:
            e["step"] = data.get("step") or e["step"]
            e["updated"] = data.get("updated", "")
    return [
        NamespaceStatus(
            namespace=ns,
            containers=tuple(e["containers"]),
            networks=tuple(e["networks"]),
            last_step=e["step"],
            passed=tuple(e["passed"]),
            updated=e["updated"],
        )
        for ns, e in sorted(found.items())
    ]


def _files(namespace: str | None) -> Iterable[dict[str, Any]]:
    folder = _progress_dir()
    if folder is None or not folder.is_dir():
        return []
    paths = [folder / f"{namespace}.json"] if namespace else sorted(folder.glob("*.json"))
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # missing, or a student's half-written or broken file: skip it
        if isinstance(data, dict) and isinstance(data.get("namespace"), str):
            out.append(data)
    return out


def _merge(first: Sequence[str], more: Iterable[str]) -> list[str]:
    merged = list(first)
    merged += [x for x in more if isinstance(x, str) and x not in merged]
    return merged


def _short(name: str, namespace: str) -> str:
    prefix = f"{namespace}-"
    return name[len(prefix) :] if name.startswith(prefix) else name


def format_status(rows: Sequence[NamespaceStatus], *, total_checks: int | None = None) -> str:
    """The table ``labkit status`` prints: one line per namespace."""
    if not rows:
        return "No labkit objects or progress on this engine."
    head = ("namespace", "containers", "networks", "last step", "checks passed")
    lines = []
    for r in rows:
        containers = ", ".join(f"{name} ({state})" for name, state in r.containers) or "—"
        count = f"{len(r.passed)}" + (f"/{total_checks}" if total_checks else "")
        passed = f"{count}: {' '.join(r.passed)}" if r.passed else "0"
        lines.append(
            (r.namespace, containers, ", ".join(r.networks) or "—", r.last_step or "—", passed)
        )
    widths = [max(len(str(x[i])) for x in (head, *lines)) for i in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    return "\n".join(fmt.format(*row) for row in (head, *lines))
