"""labkit's Jupyter server extension: ``GET <server>/labkit/status``, one student's room row.

Loaded into each student's server by ``labkit hub singleuser``. It answers the instructor's
``labkit hub status`` (through the hub, with a token that may access the servers) with this
server's namespace, engine, labkit objects and progress, read in a child process
(``python -m labkit.hub.extension``) with the server's own environment, so it reads the engine
the student's kernels and terminals use:

- with ``labkit.progress`` (the checks record progress on the engine, and in
  ``LABKIT_PROGRESS_DIR`` where that is set): ``labkit.progress.status`` for the namespace, as
  ``labkit status`` shows it: containers, networks, the last lab step and the checks passed;
- without it: the namespace's labkit containers and networks, by label, and no progress.

A simulator living inside each kernel (a labkit without the per-user daemon) cannot be read from
outside: the row says so. The reading is bounded (``READ_TIMEOUT``) and changes nothing.
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
    """This server's row, read by a child process with the server's environment."""
    base = {
        "user": os.environ.get("JUPYTERHUB_USER", ""),
        "docker_host": os.environ.get("DOCKER_HOST", ""),
    }
    row, error = _run_json(["-m", "labkit.hub.extension"])
    if row is None:
        return {**base, "error": error}
    return {**base, **row}


def collect() -> dict[str, Any]:
    """The namespace's labkit objects and progress on this server's engine."""
    from labkit.lab import NAMESPACE_LABEL, OWNER_LABEL, STEP_LABEL, default_namespace

    namespace = default_namespace()
    row: dict[str, Any] = {"namespace": namespace, "containers": None, "networks": None}
    if os.environ.get("LABKIT_ENGINE", "").lower() == "sim" and not _has_daemon():
        row["engine"] = "simulated inside each kernel: nothing to read from outside"
        return row
    from labkit.connect import choose

    engine, why = choose()
    try:
        info = engine.info()
        row["engine"] = f"{info.description} ({why})"
        row["simulated"] = info.simulated
        try:
            from labkit.progress import status
        except ImportError:  # a labkit that records no progress: objects by label only
            mine = {OWNER_LABEL: "labkit", NAMESPACE_LABEL: namespace}
            row["containers"] = [
                {"name": c.name, "status": c.status, "step": c.labels.get(STEP_LABEL, "")}
                for c in engine.containers(labels=mine)
            ]
            row["networks"] = [
                {"name": n.name}
                for n in engine.networks()
                if all(n.labels.get(k) == v for k, v in mine.items())
            ]
            row["source"] = "labels (this labkit records no progress)"
            return row
        found = status(engine, namespace)
        mine_status = found[0] if found else None
        row["containers"] = [
            {"name": name, "status": state}
            for name, state in (mine_status.containers if mine_status else ())
        ]
        row["networks"] = [{"name": n} for n in (mine_status.networks if mine_status else ())]
        row["last_step"] = mine_status.last_step if mine_status else ""
        row["checks_passed"] = list(mine_status.passed) if mine_status else []
        row["source"] = "labkit.progress"
    finally:
        engine.close()
    return row


def _has_daemon() -> bool:
    """Whether the start command gave this server a per-user simulator (a socket to read)."""
    return bool(os.environ.get("DOCKER_HOST"))


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
