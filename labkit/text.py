"""Text from an engine or an app, made safe to print: no terminal escapes, no control characters.

A reply's body or a fake engine's version string may carry ``ESC [ … m`` sequences that recolour
or rewrite a student's terminal; labkit prints what such text says, never what it does.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), other two-byte ESC sequences, then any C0/C1
# control character left (newlines and tabs included: a field is one line).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|[\x00-\x1f\x7f-\x9f]"
)


def printable(text: object, limit: int = 200) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    return _ESCAPES.sub("", str(text))[:limit]
