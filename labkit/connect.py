"""Choosing the engine: Docker when one answers within about 2 s, else the simulator.

``LABKIT_ENGINE=docker|sim`` forces a choice; forcing docker with no engine is an error, never
a silent fallback. An engine that is there but does not answer in time (hung, overloaded) is
skipped out loud: the reason says so, and an EngineWarning is shown.
"""

from __future__ import annotations

import os
import warnings

from labkit.engine.base import Engine
from labkit.errors import EngineNotResponding, EngineUnavailable, EngineWarning, InvalidInput

__all__ = ["connect", "choose", "PING_TIMEOUT"]

PING_TIMEOUT = 2.0


def choose() -> tuple[Engine, str]:
    """The engine to use and one line saying why."""
    wanted = os.environ.get("LABKIT_ENGINE", "").strip().lower()
    if wanted not in ("", "auto", "docker", "sim"):
        raise InvalidInput(
            f"LABKIT_ENGINE={wanted!r} is not a known engine",
            "labkit knows 'docker' (a real engine) and 'sim' (the simulated engine)",
            "set LABKIT_ENGINE=docker or LABKIT_ENGINE=sim, or unset it to pick automatically",
        )
    if wanted == "sim":
        return _sim("LABKIT_ENGINE=sim asks for it"), "LABKIT_ENGINE=sim"
    try:
        engine = _docker()
    except EngineUnavailable as exc:
        if wanted == "docker":
            fix = (
                "wait and try again, or restart the engine; or unset LABKIT_ENGINE to use the "
                "simulated engine"
                if isinstance(exc, EngineNotResponding)
                else "start Docker, or unset LABKIT_ENGINE to use the simulated engine"
            )
            raise type(exc)(exc.what, exc.why, fix) from exc
        if isinstance(exc, EngineNotResponding):
            why = f"skipped a Docker engine that did not answer: {exc.what} (hung or overloaded)"
            warnings.warn(f"labkit {why}; using the simulated engine", EngineWarning, stacklevel=2)
        elif exc.what.startswith("No Docker engine answers"):
            why = f"no Docker engine answered ({exc.why})"
        else:
            why = f"no usable Docker engine: {exc.what} ({exc.why})"
        return _sim(why), why
    return engine, "a Docker engine answered" + (
        " (LABKIT_ENGINE=docker)" if wanted == "docker" else ""
    )


def connect(*, verbose: bool = False) -> Engine:
    engine, why = choose()
    if verbose:
        print(f"labkit: {engine.info().description} — {why}")
    return engine


def _docker() -> Engine:
    try:
        from labkit.engine.docker import DockerEngine
    except ImportError as exc:  # the SDK is a dependency, but a broken install should still teach
        raise EngineUnavailable(
            "The Docker SDK for Python is not installed", str(exc), "pip install docker"
        ) from exc
    # Ping with a short time-out so a dead or hung engine costs ~2 s, not the SDK's 60 s.
    pinged = DockerEngine(timeout=PING_TIMEOUT)
    try:
        pinged.ping()
    finally:
        pinged.close()
    return DockerEngine()


def _sim(reason: str) -> Engine:
    from labkit.engine.sim import SimulatedEngine

    return SimulatedEngine(reason=reason)
