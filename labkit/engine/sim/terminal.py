"""An interactive busybox ``sh`` for ``docker exec -it`` (and ``-i``) in a simulated container.

It speaks to the client's terminal as busybox ash 1.35 does in the lab image, byte for byte as
measured on Engine 20.10: the banner, the ``/ # `` prompt followed by a cursor-position query
(``ESC[6n``, whose answer the terminal sends back and the shell swallows), typed characters
echoed, backspace as ``BS ESC[J``, Ctrl-C as ``^C`` and a new prompt, Ctrl-D on an empty line
as the end of the shell, ``exit [N]``. Each line runs through the model's ``sh -c`` (the
applets ``labkit.engine.sim.shell`` models). Without a terminal (``-i`` alone) the shell reads
commands from stdin silently, like ``sh < script``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from labkit.models import ExecResult

__all__ = ["Terminal", "is_interactive_shell", "BANNER", "PROMPT"]

BANNER = (
    "\r\n\r\nBusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) built-in shell (ash)\r\n"
    "Enter 'help' for a list of built-in commands.\r\n\r\n"
)
PROMPT = "/ # \x1b[6n"
_LINE_MAX = 4096
_EXIT = re.compile(r"^\s*exit(?:\s+(-?\d+))?\s*$")

RunLine = Callable[[str], ExecResult]


def is_interactive_shell(argv: Sequence[str]) -> bool:
    """``sh``, ``ash`` or ``busybox sh`` with no script: a shell that reads its commands."""
    words = list(argv)
    if words and words[0].rsplit("/", 1)[-1] == "busybox":
        words = words[1:]
    if not words or words[0].rsplit("/", 1)[-1] not in ("sh", "ash"):
        return False
    return "-c" not in words[1:]


class Terminal:
    """One shell session: ``start()`` gives what it prints first, ``feed(data)`` what it
    prints for the bytes typed, ``close_input()`` what it prints at end of input; ``done`` and
    ``exit_code`` say when and how it ended."""

    def __init__(self, run_line: RunLine, *, tty: bool) -> None:
        self._run = run_line
        self.tty = tty
        self._line = ""
        self._escape = ""  # an ESC sequence being read (a cursor report, an arrow key)
        self.done = False
        self.exit_code = 0
        self._last = 0

    def start(self) -> bytes:
        return (BANNER + PROMPT).encode() if self.tty else b""

    def feed(self, data: bytes) -> bytes:
        out: list[str] = []
        for char in data.decode("utf-8", "replace"):
            if self.done:
                break
            if self.tty:
                out.append(self._key(char))
            elif char == "\n":
                out.append(self._enter())
            else:
                self._line = (self._line + char)[:_LINE_MAX]
        return "".join(out).encode()

    def close_input(self) -> bytes:
        """The client closed stdin (it half-closed the stream): the shell reads EOF and exits."""
        if self.done:
            return b""
        out = "" if self.tty or not self._line.strip() else self._enter()
        if not self.done:
            self.done, self.exit_code = True, self._last
        return out.encode()

    # -- with a terminal: line editing as busybox's ----------------------------------------------

    def _key(self, char: str) -> str:
        if self._escape:
            self._escape += char
            # CSI sequences end with a letter or '~'; anything else after ESC is two bytes long.
            if (self._escape.startswith("\x1b[") and (char.isalpha() or char == "~")) or (
                len(self._escape) == 2 and char != "["
            ):
                self._escape = ""
            return ""
        if char == "\x1b":
            self._escape = char
            return ""
        if char in ("\r", "\n"):
            return "\r\n" + self._enter(echoed=True)
        if char in ("\x7f", "\x08"):
            if not self._line:
                return ""
            self._line = self._line[:-1]
            return "\x08\x1b[J"
        if char == "\x03":  # Ctrl-C: the line is dropped
            self._line = ""
            return "^C\r\n" + PROMPT
        if char == "\x04":  # Ctrl-D: the end of the shell on an empty line
            if self._line:
                return ""
            self.done, self.exit_code = True, self._last
            return "\r\n"
        if char < " " or len(self._line) >= _LINE_MAX:
            return ""  # Tab, Ctrl-L and the like: not modelled; a full line takes no more
        self._line += char
        return char

    def _enter(self, *, echoed: bool = False) -> str:
        line, self._line = self._line, ""
        ended = _EXIT.match(line)
        if ended:
            self.done = True
            self.exit_code = int(ended.group(1)) % 256 if ended.group(1) else self._last
            return ""
        text = ""
        if line.strip():
            result = self._run(line)
            self._last = result.exit_code
            text = result.output
            if result.exit_code == 137 and not text:  # the container stopped under the shell
                self.done, self.exit_code = True, 137
                return ""
        if self.tty:
            return text.replace("\r\n", "\n").replace("\n", "\r\n") + PROMPT
        return text
