"""The instructor's view of a hub's room: each student's namespace, objects and progress.

``labkit hub status --url URL`` (token from ``--token`` or ``JUPYTERHUB_API_TOKEN``; a token
with ``list:users``, ``read:users`` and ``access:servers``, e.g. a service's) asks every running
server for its row (``GET /user/NAME/labkit/status``, ``labkit.hub.extension``) in parallel, each
bounded, and prints one line per student. It works the same with one shared engine and with an
engine per student: each server reads the engine its own kernels use.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from labkit.errors import HubError
from labkit.hub.client import Hub

__all__ = ["room", "room_rows", "format_room"]


def room(hub: Hub, *, workers: int = 8) -> list[dict[str, Any]]:
    """One status dict per hub user: what their server reported, or why there is none."""
    users = sorted(hub.users(), key=lambda u: u["name"])

    def ask(user: Mapping[str, Any]) -> dict[str, Any]:
        name = user["name"]
        server = user.get("servers", {}).get("")
        if not server or not server.get("ready"):
            return {"user": name, "error": "no server running"}
        try:
            found = hub.server(name)
            if found is None:
                return {"user": name, "error": "no server running"}
            return {"user": name, **found.labkit_status()}
        except HubError as exc:
            return {"user": name, "error": exc.what}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(ask, users))


def room_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A server's report (``labkit.hub.extension``) as a table row."""
    user = report.get("user", "")
    if "error" in report:
        return [{"user": user, "namespace": "", "note": report["error"]}]
    containers = report.get("containers")
    networks = report.get("networks")
    return [
        {
            "user": user,
            "namespace": report.get("namespace", ""),
            "containers": "?" if containers is None else _count(containers),
            "networks": "?" if networks is None else str(len(networks)),
            "last step": report.get("last_step") or "",
            "checks passed": _checks(report.get("checks_passed")),
            "note": "" if containers is not None else str(report.get("engine", "")),
        }
    ]


def _count(containers: list[Any]) -> str:
    running = sum(1 for c in containers if isinstance(c, dict) and c.get("status") == "running")
    return f"{running}/{len(containers)} running"


def _checks(passed: Any) -> str:
    if passed is None:
        return ""
    if isinstance(passed, (list, tuple)):
        return str(len(passed))
    return str(passed)


def format_room(reports: list[dict[str, Any]]) -> str:
    rows = [row for report in reports for row in room_rows(report)]
    if not rows:
        return "No users on this hub."
    columns = ["user", "namespace", "containers", "networks", "last step", "checks passed", "note"]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    for r in rows:
        lines.append("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns).rstrip())
    return "\n".join(lines)
