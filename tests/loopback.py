"""Checks on this machine's loopback that the engine tests share (no labkit code involved, so
they can judge what labkit reports)."""

from __future__ import annotations

import socket


def refused(port: int) -> bool:
    """True when nothing accepts a connection on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False
