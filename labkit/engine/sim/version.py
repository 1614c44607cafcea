"""Which engine generation the simulator models: ``LABKIT_SIM_VERSION=20.10|28`` (default 28,
what students install today), or ``SimulatedEngine(generation=...)``, which wins."""

from __future__ import annotations

import os

from labkit.errors import InvalidInput
from labkit.generation import Generation

__all__ = ["SIM_VERSION_ENV", "DEFAULT_GENERATION", "sim_generation"]

SIM_VERSION_ENV = "LABKIT_SIM_VERSION"
DEFAULT_GENERATION = Generation.V28
_CHOICES = ", ".join(g.value for g in Generation)


def sim_generation(value: Generation | str | None = None) -> Generation:
    """The generation to model: ``value`` if given, else ``$LABKIT_SIM_VERSION``, else 28.

    A value that names no generation is a labkit error, not a silent default: a course that
    asked for 20.10 must not quietly show 28's behaviour.
    """
    from_env = value is None
    if from_env:
        value = os.environ.get(SIM_VERSION_ENV, "").strip() or DEFAULT_GENERATION
    if isinstance(value, Generation):
        return value
    for generation in Generation:
        if str(value).strip() == generation.value:
            return generation
    where = f"{SIM_VERSION_ENV}={value!r}" if from_env else f"generation={value!r}"
    raise InvalidInput(
        f"{where} names no engine generation the simulator models",
        f"the simulated engine models Docker Engine {_CHOICES} (28 stands for 28 and later)",
        f"use one of {_CHOICES}, or unset {SIM_VERSION_ENV} for the default "
        f"({DEFAULT_GENERATION.value})",
    )
