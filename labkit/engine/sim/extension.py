"""labkit's extension of the Engine API: what Docker's API cannot carry, served by the simulator.

Unversioned, under ``/labkit/v1`` (``EXTENSION_PREFIX``). A real engine has none of it:
``DockerEngine`` calls it only when ``info()`` says the engine is simulated.

- ``GET /labkit/v1/info`` → ``{"Simulated": true, "Generation", "EngineVersion", "ApiVersion",
  "Pid", "PortRange", "PublishRange"}``: ``PortRange`` is the host's ephemeral range as
  ``docker info`` shows it, ``PublishRange`` the part of it this daemon hands host ports out from
- ``GET /labkit/v1/http?host=H&port=P&path=/`` → an HTTP GET to an address the model owns (a
  simulated bridge IP): ``{"Outcome": "reply", "Status", "Body", "LatencyMs"}``, or
  ``{"Outcome": "refused" | "unreachable"}``, or ``{"Outcome": "not-modelled"}`` (use the real
  network: published ports are real listeners on 127.0.0.1)
- ``POST /labkit/v1/host/exec`` with ``{"Cmd": ["ip", "addr", "show", "docker0"]}`` → a command on
  the simulated host (``labkit.engine.sim.hostcmd``): ``{"ExitCode", "Output"}``
- ``POST /labkit/v1/reset`` → 204: a fresh model (every container and network gone)

Each route is a function of the request handler (``labkit.engine.sim.api``), which routes to it.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from labkit.errors import InvalidInput

if TYPE_CHECKING:
    from labkit.engine.sim.api import Handler

__all__ = ["EXTENSION_PREFIX", "host_exec", "http_get", "info", "reset"]

EXTENSION_PREFIX = "/labkit/v1"


def info(h: Handler) -> None:
    """``GET /labkit/v1/info``: which engine this is and whose ports it hands out."""
    h.reply_json(
        200,
        {
            "Simulated": True,
            "Generation": h.generation.value,
            "EngineVersion": h.engine_version,
            "ApiVersion": h.max_api,
            "Pid": os.getpid(),
            "PortRange": list(h.engine.port_range),
            "PublishRange": list(h.engine.publish_range),
        },
    )


def http_get(h: Handler) -> None:
    """``GET /labkit/v1/http``: an HTTP GET to an address the model owns."""
    host = h.query.get("host", "")
    try:
        port = int(h.query.get("port") or 80)
    except ValueError:
        raise InvalidInput("Bad port", "", "").answering(400, "port must be a number") from None
    try:
        reply = h.engine.model_http(host, port, h.query.get("path") or "/")
    except ConnectionRefusedError:
        h.reply_json(200, {"Outcome": "refused"})
        return
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            h.reply_json(200, {"Outcome": "unreachable"})
            return
        raise
    if reply is None:
        h.reply_json(200, {"Outcome": "not-modelled"})
        return
    h.reply_json(
        200,
        {
            "Outcome": "reply",
            "Status": reply.status,
            "Body": reply.body,
            "LatencyMs": reply.latency_ms,
        },
    )


def host_exec(h: Handler) -> None:
    """``POST /labkit/v1/host/exec``: a command on the simulated host."""
    argv = h.json_body().get("Cmd") or []
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise InvalidInput("Bad command", "", "").answering(400, "Cmd must be a list of strings")
    result = h.engine.host_command(argv)
    h.reply_json(200, {"ExitCode": result.exit_code, "Output": result.output})


def reset(h: Handler) -> None:
    """``POST /labkit/v1/reset``: a fresh model."""
    h.server.reset()
    h.reply(204)
