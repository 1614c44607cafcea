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
    if report.ok:
        report.brief = f"labkit: the course runs on the {mode}: {info.description}"
    else:
        report.brief = "labkit: the course cannot run here yet: see `labkit doctor`"
    engine.close()
    return report
