"""The simulated engine: Docker Engine 20.10 or 28 modelled in-process (``LABKIT_SIM_VERSION``),
labkit's embedded default where no engine answers (Binder, locked-down laptops). See
``SimulatedEngine``."""

from labkit.engine.sim.engine import SimulatedEngine

__all__ = ["SimulatedEngine"]
