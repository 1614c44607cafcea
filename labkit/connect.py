"""Choosing the engine: Docker when one answers within about 2 s, else labkit's simulator.

Both are reached the same way, through ``DockerEngine`` over the Engine API: the simulator is a
daemon per user (``labkit sim``, ``labkit.engine.sim.daemon``), started here when no engine
answers and reused by every kernel and terminal after that. The decision:

1. ``LABKIT_ENGINE=sim``: the user's simulator (started if need be).
2. Otherwise the engine DOCKER_HOST (or the docker context) names, if it answers — a real
   dockerd, or the simulator itself when ``eval "$(labkit sim start)"`` set DOCKER_HOST.
3. If none answers: ``LABKIT_ENGINE=docker`` makes that an error, never a silent fallback;
   otherwise the user's simulator.

An engine that is there but does not answer in time (hung, overloaded) is skipped out
loud: the reason says so, and an EngineWarning is shown.
"""

from __future__ import annotations

import os
import sys
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
        return _sim(), "LABKIT_ENGINE=sim"
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
        return _sim(), why
    if engine.info().simulated:
        return engine, "DOCKER_HOST names labkit's simulated engine"
    return engine, "a Docker engine answered" + (
        " (LABKIT_ENGINE=docker)" if wanted == "docker" else ""
    )


def connect(*, verbose: bool = False) -> Engine:
    engine, why = choose()
    if verbose:
        print(f"labkit: {engine.info().description} — {why}")
    return engine


def _docker_engine():  # -> type[DockerEngine]
    try:
        from labkit.engine.docker import DockerEngine
    except ImportError as exc:  # the SDK is a dependency, but a broken install should still teach
        raise EngineUnavailable(
            "The Docker SDK for Python is not installed", str(exc), "pip install docker"
        ) from exc
    return DockerEngine


def _docker() -> Engine:
    docker_engine = _docker_engine()
    # Ping with a short time-out so a dead or hung engine costs ~2 s, not the SDK's 60 s.
    pinged = docker_engine(timeout=PING_TIMEOUT)
    try:
        pinged.ping()
    finally:
        pinged.close()
    return docker_engine()


def _sim() -> Engine:
    """The user's simulator daemon (started or reused), through the one Engine API client."""
    from labkit.engine.sim import daemon

    def say(line: str) -> None:  # a replaced daemon is worth one line, even in a notebook
        print(line, file=sys.stderr)

    found = daemon.ensure(say=say)
    return _docker_engine()(base_url=found.url)
