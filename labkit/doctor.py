"""``labkit doctor``: what this environment lets the course show, and what to do where it can't."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from labkit import host
from labkit.app import static_busybox
from labkit.connect import choose
from labkit.errors import LabkitError

__all__ = ["diagnose", "Report"]


@dataclass
class Report:
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    brief: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def diagnose() -> Report:
    report = Report()
    add = report.lines.append
    try:
        engine, why = choose()
    except LabkitError as exc:
        report.ok = False
        report.brief = f"labkit: no engine: {exc.what}"
        add(f"engine         ✗ {exc.message}")
        return report
    info = engine.info()
    # The simulator's description already says why it runs: say the reason once.
    said = info.description if why in info.description else f"{info.description} ({why})"
    add(f"engine         {said}")
    expected = _docker_expected() if info.simulated else None
    if expected and os.environ.get("LABKIT_ENGINE", "").strip().lower() != "sim":
        # A Docker engine was asked for (or is installed) and is not usable: not a healthy
        # machine, even though the course could run on the simulator.
        report.ok = False
        add(f"docker         ✗ {expected}, but labkit cannot use it (see above)")
    if os.environ.get("DOCKER_HOST"):
        add(f"DOCKER_HOST    {os.environ['DOCKER_HOST']}")
    if info.simulated:
        reach = "modelled (SIMULATED)"
    else:
        reach = "reachable" if info.bridge_reachable else "not reachable"
    add(f"bridge IPs     {reach}: {info.bridge_reason}")
    forward = {True: "on (1)", False: "off (0)", None: "unknown here"}[info.ip_forward]
    add(f"ip_forward     {forward}{' (SIMULATED)' if info.simulated else ''}")
    low, high = info.port_range
    add(f"ephemeral ports {low}–{high} (ip_local_port_range)")
    if info.kind == "docker":
        busybox = static_busybox()
        how = (
            f"FROM scratch with {busybox}" if busybox else "on busybox:1.36, pulled from a registry"
        )
        try:
            engine.ensure_lab_image()
            add(f"lab app image  ready ({how})")
        except LabkitError as exc:
            report.ok = False
            add(f"lab app image  ✗ cannot be built ({how}): {exc.message}")
    prefix = host.proxy_prefix()
    add(
        f"browser links  {'through jupyter-server-proxy at ' + prefix + 'proxy/<port>/' if prefix else 'http://localhost:<port>/'}"
    )
    mode = "simulated engine" if info.simulated else "real engine"
    if expected and not report.ok:
        report.brief = f"labkit: {expected}, but it does not work: see `labkit doctor`"
    elif report.ok:
        report.brief = f"labkit: the course runs on the {mode}: {info.description}"
    else:
        report.brief = "labkit: the course cannot run here yet: see `labkit doctor`"
    engine.close()
    return report


def _docker_expected() -> str | None:
    """Why a Docker engine should be here: it was configured, or its socket exists."""
    try:
        from labkit.engine.docker import engine_address
    except ImportError:  # no SDK: nothing can be expected of it
        return None
    try:
        where, source, _params = engine_address()
    except LabkitError:
        return "DOCKER_HOST is set"
    if source != "the default socket":
        return f"{source} names an engine at {where}"
    path = where.removeprefix("unix://")
    if where.startswith("unix://") and os.path.exists(path):
        return f"a Docker socket exists at {path}"
    return None
