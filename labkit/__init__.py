"""labkit: a hands-on Jupyter course on Docker networking, and the helpers behind it.

``import labkit`` stays cheap: the Docker SDK, pandas, plotly and ipywidgets load only when a
backend or ``labkit.notebook`` is used.
"""

from labkit.connect import choose, connect
from labkit.engine.base import LAB_IMAGE, Engine
from labkit.errors import (
    ContainerNotFound,
    EngineUnavailable,
    InvalidInput,
    LabkitError,
    NameInUse,
    NetworkInUse,
    NetworkNotFound,
    NotOwned,
)
from labkit.lab import CleanupPlan, Lab
from labkit.models import (
    Container,
    Endpoint,
    EngineInfo,
    Network,
    Outcome,
    PortBinding,
    ProbeResult,
)

__version__ = "0.1.0"

__all__ = [
    "Lab",
    "CleanupPlan",
    "connect",
    "choose",
    "Engine",
    "LAB_IMAGE",
    "Container",
    "PortBinding",
    "Network",
    "Endpoint",
    "EngineInfo",
    "ProbeResult",
    "Outcome",
    "LabkitError",
    "EngineUnavailable",
    "ContainerNotFound",
    "NetworkNotFound",
    "NameInUse",
    "NetworkInUse",
    "InvalidInput",
    "NotOwned",
    "__version__",
]
