"""Each simulator daemon on a machine publishes from a slice of the ephemeral range of its own.

Docker's allocator is one per engine, so a port a restart frees goes to the next container of the
same engine, which ``docker ps`` shows. Simulator daemons are one per student: on a hub that runs
every student's server on one machine, a port one student's restart freed could be handed to
another student's app by another daemon, and the old port would answer with someone else's page.
A slice held by a lock for the daemon's life keeps them apart; a student alone gets the first
slice, which starts where Docker's range starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

__all__ = ["SLICE_SIZE", "LOCK_DIR", "PortSlice", "claim"]

SLICE_SIZE = 500  # ports per daemon: hours of restarts before the round robin wraps
LOCK_DIR = Path("/tmp/labkit-sim-ports")  # one per machine, shared by every user's daemon


class PortSlice:
    """A claimed range, held until ``release`` (or the daemon's exit, which drops the lock)."""

    def __init__(self, port_range: tuple[int, int], handle: IO[bytes] | None) -> None:
        self.port_range = port_range
        self._handle = handle

    @property
    def shared(self) -> bool:
        """True when no slice could be held and the daemon publishes from the whole range."""
        return self._handle is None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim(
    whole: tuple[int, int], *, size: int = SLICE_SIZE, lock_dir: Path = LOCK_DIR
) -> PortSlice:
    """The first free slice of ``whole``; the whole range when every slice is held or the lock
    folder cannot be used (then the course's old-port probe still tells another's port apart)."""
    low, high = whole
    try:
        _shared_folder(lock_dir)
    except OSError:
        return PortSlice(whole, None)
    for start in range(low, high - size + 2, size):
        try:
            handle = _open(lock_dir / f"{start}.lock")
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return PortSlice((start, start + size - 1), handle)
    return PortSlice(whole, None)


def _shared_folder(path: Path) -> None:
    """A folder every user may create lock files in, as /tmp is (sticky, world-writable)."""
    if not path.is_dir():
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            path.chmod(0o1777)
    if not path.is_dir():
        raise NotADirectoryError(str(path))


def _open(path: Path) -> IO[bytes]:
    """The lock file, created readable by all: another user's daemon only needs to read it to
    take its lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o444)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    return os.fdopen(fd, "rb")
