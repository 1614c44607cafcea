"""Container engines behind one protocol. Import backends from their modules:
``labkit.engine.docker`` (needs the Docker SDK) and ``labkit.engine.sim``."""

from labkit.engine.base import LAB_IMAGE, Engine, PortSpec

__all__ = ["Engine", "PortSpec", "LAB_IMAGE"]
