"""labkit's Jupyter server extension: ``GET <server>/labkit/status``, one student's room row.

Loaded into each student's server by ``labkit hub singleuser``. It answers the instructor's
``labkit hub status`` (through the hub, with a token that may access the servers) with this
server's namespace, engine, labkit objects and progress, read in a child process with the
server's own environment, so it sees the engine the student's kernels and terminals see:

- ``labkit status --json`` when this labkit has it (the checks record progress where it reads it);
  its JSON is passed on under ``"status"``; the room view reads, per namespace, ``containers``,
  ``networks``, ``last_step`` and ``checks_passed``.
- otherwise this module's own reading (``python -m labkit.hub.extension``): the labkit containers
  and networks of the namespace, by label; no progress. A simulator that lives inside each kernel
  (a labkit without the per-user daemon) cannot be read from outside: it says so.

The reading is bounded (``READ_TIMEOUT``) and never changes anything.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

__all__ = ["read_status", "collect", "READ_TIMEOUT"]

READ_TIMEOUT = 30.0


def _run_json(args: list[str]) -> tuple[dict[str, Any] | None, str]:
    try:
        done = subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=READ_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"`{' '.join(args)}` gave no answer within {READ_TIMEOUT:.0f} s"
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    try:
        return json.loads(done.stdout), ""
    except ValueError:
        return None, "its output is not JSON"


def read_status() -> dict[str, Any]:
    """This server's row: ``labkit status --json`` where it exists, else ``collect()``'s."""
    base = {
        "user": os.environ.get("JUPYTERHUB_USER", ""),
        "docker_host": os.environ.get("DOCKER_HOST", ""),
    }
    status, why = _run_json(["-m", "labkit.cli", "status", "--json"])
    if status is not None:
        return {**base, "source": "labkit status --json", "status": status}
    own, error = _run_json(["-m", "labkit.hub.extension"])
    if own is None:
        return {**base, "source": "labkit.hub.extension", "error": error}
    return {**base, **own, "source": f"labkit.hub.extension (no labkit status --json: {why})"}


def collect() -> dict[str, Any]:
    """The namespace's labkit objects on this server's engine, by label; no progress record."""
    from labkit.lab import NAMESPACE_LABEL, OWNER_LABEL, STEP_LABEL, default_namespace

    namespace = default_namespace()
    row: dict[str, Any] = {"namespace": namespace, "containers": None, "networks": None}
    if os.environ.get("LABKIT_ENGINE", "").lower() == "sim" and not os.environ.get("DOCKER_HOST"):
        row["engine"] = "simulated inside each kernel: nothing to read from outside"
        return row
    from labkit.connect import choose

    engine, why = choose()
    try:
        info = engine.info()
        row["engine"] = f"{info.description} ({why})"
        row["simulated"] = info.simulated
        mine = {OWNER_LABEL: "labkit", NAMESPACE_LABEL: namespace}
        row["containers"] = [
            {"name": c.name, "status": c.status, "step": c.labels.get(STEP_LABEL, "")}
            for c in engine.containers(labels=mine)
        ]
        row["networks"] = [
            {"name": n.name, "step": n.labels.get(STEP_LABEL, "")}
            for n in engine.networks()
            if all(n.labels.get(k) == v for k, v in mine.items())
        ]
    finally:
        engine.close()
    return row


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "labkit.hub.extension"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.base.handlers import APIHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    class StatusHandler(APIHandler):
        @web.authenticated
        async def get(self) -> None:
            row = await asyncio.get_running_loop().run_in_executor(None, read_status)
            self.finish(json.dumps(row))

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, "labkit/status"), StatusHandler)])


if __name__ == "__main__":
    print(json.dumps(collect()))
