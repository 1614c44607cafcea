"""The simulated engine, where no engine answers (Binder, locked-down laptops): ``SimulatedEngine``
models Docker Engine 20.10 or 28 in memory (``LABKIT_SIM_VERSION``); ``api`` serves it as Docker's
Engine API on a unix socket and ``daemon`` runs that server as one process per user
(``labkit sim``). Clients reach it through ``labkit.engine.docker.DockerEngine``, as they reach a
real engine."""

from labkit.engine.sim.engine import SimulatedEngine

__all__ = ["SimulatedEngine"]
