"""Wait, bounded, for a just-started lab app to listen before anyone probes it.

``docker start`` and ``docker restart`` return once the container's process runs, and the
engine's port proxy accepts connections from that moment; the app inside needs a few more
milliseconds to call ``listen()``. A probe in that gap sees "connection reset" via the host port
and "refused" via the bridge IP on a healthy container (3 of 50 scripted restart + probe rounds
on Engine 20.10 here), which contradicts what the course teaches. So every start waits here.
"""

from __future__ import annotations

import time

from labkit.engine.base import Engine
from labkit.models import Container, Outcome
from labkit.probe import probe_address

__all__ = ["until_listening", "READY_TIMEOUT"]

READY_TIMEOUT = 3.0  # a lab app listens within ~50 ms of its start; this only bounds a broken one
_ATTEMPT_TIMEOUT = 0.5
_PAUSE = 0.01
# What a probe sees while nothing listens yet: the proxy resets, the container's stack refuses.
_NOT_YET = {Outcome.REFUSED, Outcome.NOT_HTTP}


def until_listening(
    engine: Engine, container: Container, port: int = 80, *, timeout: float = READY_TIMEOUT
) -> Container:
    """Return ``container`` once its app answers on ``port`` (or after ``timeout``).

    Asks the way that costs least: the bridge IP where this machine routes to it, else the
    published host port. No engine call is made (the simulator answers its own addresses in
    ``model_http``). A stopped container, or one that publishes and routes nothing, returns at
    once; a probe that times out or finds no route also returns: waiting would not help.
    """
    target = _target(engine, container, port)
    if target is None:
        return container
    host, target_port = target
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        result = probe_address(
            engine, host, target_port, via="ready", timeout=max(0.05, min(_ATTEMPT_TIMEOUT, left))
        )
        if result.outcome not in _NOT_YET or time.monotonic() + _PAUSE >= deadline:
            return container
        time.sleep(_PAUSE)


def _target(engine: Engine, container: Container, port: int) -> tuple[str, int] | None:
    if not container.running:
        return None
    info = engine.info()
    att = container.attachment()
    if info.bridge_reachable and att is not None and att.ip:
        return att.ip, port
    binding = container.port(port)
    if binding is None or not binding.published:
        return None
    host_port = binding.host_port or binding.ipv6_host_port
    if not host_port:
        return None
    if not info.local:
        return info.host, int(host_port)
    host_ip = binding.host_ip if binding.host_ip not in (None, "", "0.0.0.0", "::") else None
    return host_ip or "127.0.0.1", int(host_port)
