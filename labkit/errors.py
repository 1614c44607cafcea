"""labkit's errors: one root, translated from engine errors at one boundary per backend.

Every message says what happened, why, and what to do, in words a student reads::

    LabkitError                     the root; catch this one
    ├── EngineUnavailable           no engine answers (dockerd stopped, bad DOCKER_HOST)
    │   └── EngineNotResponding     an engine is there but did not answer in time (hung, slow)
    ├── NotFound
    │   ├── ContainerNotFound
    │   ├── NetworkNotFound
    │   └── ImageNotFound
    ├── Conflict
    │   ├── NameInUse               a container or network of that name exists
    │   ├── PortInUse               a host port is taken by another process
    │   └── NetworkInUse            a network still has containers attached
    ├── InvalidInput                a bad name, port, option or answer type
    │   ├── InvalidName
    │   └── InvalidPort
    ├── NotOwned                    refused: the object was not created by labkit
    ├── ContainerNotRunning         exited, crash-looping, or never started
    ├── CommandTimeout              a command in a container outlived its bound
    ├── ImageBuildFailed
    ├── LabHostError                the multi-host lab topology could not be built
    └── HubError                    a JupyterHub (or a user's server on it) refused or did not answer

Engines raise these ``from`` the underlying exception so a developer can still see the cause;
the notebook layer shows only the message.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = [
    "LabkitError",
    "EngineUnavailable",
    "EngineNotResponding",
    "NotFound",
    "ContainerNotFound",
    "NetworkNotFound",
    "ImageNotFound",
    "Conflict",
    "NameInUse",
    "PortInUse",
    "NetworkInUse",
    "InvalidInput",
    "InvalidName",
    "InvalidPort",
    "NotOwned",
    "ContainerNotRunning",
    "CommandTimeout",
    "ImageBuildFailed",
    "LabHostError",
    "HubError",
    "EngineWarning",
]


class EngineWarning(UserWarning):
    """Something the engine warns about and then does anyway (the docker CLI's "WARNING:")."""


_E = TypeVar("_E", bound="LabkitError")


class LabkitError(Exception):
    """Base of every error labkit raises.

    ``what`` names the failure and the object; ``why`` explains it; ``fix`` says what to do.
    ``reply`` is what a Docker daemon answers for the same failure, (HTTP status, message): the
    simulator's API server sends exactly that, so the docker CLI prints Docker's own words.
    """

    reply: tuple[int, str] | None = None

    def __init__(self, what: str, why: str = "", fix: str = "") -> None:
        self.what, self.why, self.fix = what, why, fix
        super().__init__(self.message)

    def answering(self: _E, status: int, message: str) -> _E:
        """This error, carrying the daemon's answer for it (see ``reply``)."""
        self.reply = (status, message)
        return self

    @property
    def message(self) -> str:
        first = f"{self.what}: {self.why}" if self.why else self.what
        return f"{first}\n  → {self.fix}" if self.fix else first

    def __str__(self) -> str:
        return self.message


class EngineUnavailable(LabkitError):
    pass


class EngineNotResponding(EngineUnavailable):
    """The engine accepted the connection, then sent no reply within labkit's bound."""


class NotFound(LabkitError):
    pass


class ContainerNotFound(NotFound):
    pass


class NetworkNotFound(NotFound):
    pass


class ImageNotFound(NotFound):
    pass


class Conflict(LabkitError):
    pass


class NameInUse(Conflict):
    pass


class PortInUse(Conflict):
    pass


class NetworkInUse(Conflict):
    pass


class InvalidInput(LabkitError, ValueError):
    pass


class InvalidName(InvalidInput):
    pass


class InvalidPort(InvalidInput):
    pass


class NotOwned(LabkitError):
    pass


class ContainerNotRunning(LabkitError):
    pass


class CommandTimeout(LabkitError):
    pass


class ImageBuildFailed(LabkitError):
    pass


class LabHostError(LabkitError):
    pass


class HubError(LabkitError):
    """A JupyterHub, its proxy or a user's server refused, failed or did not answer in time."""
