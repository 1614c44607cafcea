"""Check your answer: self-check exercises whose expected answers are read live from the engine.

::

    q = Question(
        "Which host port did myapp2 get after the restart?",
        expected=lambda: lab.container("myapp2").port(80).host_port,
        hint="Look at the port table after the restart, or lab.container('myapp2').ports.",
        explain="The allocator hands out the next port after the last one it gave.",
    )
    answer = None  # your answer here
    q.check(answer)          # shows ✓ or ✗ with a short why, returns True or False
    q.hint()                 # a nudge
    q.solution()             # the answer (read from the engine now) and why

The expected value is a callable, run at check time, never a constant: every student's engine
hands out its own ports and addresses. The type of what it returns decides what an answer may
be: a whole number (a digit string is accepted too), a string (compared without case and
surrounding blanks; IP addresses and subnets compared as addresses), True/False, or a
collection (compared as a set unless ``ordered=True``). An answer of another type raises
``InvalidInput`` saying what the question wants; ``None`` means "not answered yet".

Notebook convention (tests rely on it): each exercise is a ``Question`` in a variable, a cell
tagged ``answer`` whose metadata ``labkit.question`` names that variable and whose source is
``answer = None  # your answer here``, and a cell calling ``<variable>.check(answer);`` (the
``;`` keeps the returned True or False from showing under the feedback). The test
harness replaces the answer cell's source with ``answer = <variable>.solution(show=False)``.

Pure Python: nothing heavy is imported here, so ``import labkit.check`` stays cheap.
"""

from __future__ import annotations

import html
import ipaddress
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any

from labkit.errors import InvalidInput, LabkitError

__all__ = ["Question", "Exercise", "Feedback", "NotAnswerable"]

PLACEHOLDER = "answer = None  # your answer here"


class NotAnswerable(LabkitError):
    """The expected answer cannot be read from the engine right now (nothing to check against)."""


class Feedback:
    """What a check, hint or solution shows: text in a terminal, coloured HTML in a notebook."""

    _STYLE = {
        "right": ("✓", "#1b5e20"),
        "wrong": ("✗", "#b00020"),
        "open": ("…", "#8a5a00"),
        "hint": ("💡", "#0d47a1"),
        "solution": ("🔑", "#4a148c"),
    }

    def __init__(self, kind: str, title: str, detail: str = "") -> None:
        self.kind, self.title, self.detail = kind, title, detail

    def __str__(self) -> str:
        mark, _ = self._STYLE[self.kind]
        return f"{mark} {self.title}" + (f"\n  {self.detail}" if self.detail else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        mark, colour = self._STYLE[self.kind]
        detail = (
            f"<br><span style='color:#333'>{html.escape(self.detail)}</span>" if self.detail else ""
        )
        return (
            f"<div class='labkit-check labkit-check-{self.kind}' style='font-family:sans-serif;"
            f"border-left:4px solid {colour};padding:2px 8px'><b style='color:{colour}'>{mark} "
            f"{html.escape(self.title)}</b>{detail}</div>"
        )


def _show(feedback: Feedback) -> None:
    # In a kernel, display() renders the HTML; elsewhere (tests, a terminal) print the text.
    # IPython is looked up, never imported: outside a kernel it may not even be installed.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(feedback)
    else:
        print(feedback)


class Question:
    """One self-check exercise. ``expected`` is a callable read at check time.

    ``hint`` and ``explain`` are text or callables returning text (so they can quote live
    values). ``choices`` limits answers to a few strings. ``mistakes`` is a callable returning
    ``{wrong answer: why it is a tempting mistake}``, also read at check time.
    """

    def __init__(
        self,
        prompt: str,
        expected: Callable[[], Any],
        *,
        hint: str | Callable[[], str] = "",
        explain: str | Callable[[], str] = "",
        choices: Collection[str] | None = None,
        mistakes: Callable[[], Mapping[Any, str]] | None = None,
        ordered: bool = False,
        name: str = "q",
    ) -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInput(
                "A question needs a prompt",
                "the prompt is what the student reads",
                'write Question("Which host port ...?", expected=lambda: ...)',
            )
        if not callable(expected):
            raise InvalidInput(
                f"The expected answer of {prompt!r} is not a callable",
                "expected answers are read from the live engine when the student checks, "
                "never written down (every engine hands out its own ports and addresses)",
                "pass expected=lambda: lab.container('myapp2').port(80).host_port or similar",
            )
        self.prompt = prompt
        self._expected = expected
        self._hint = hint
        self._explain = explain
        self.choices = tuple(choices) if choices is not None else None
        self._mistakes = mistakes
        self.ordered = ordered
        self.name = name  # the notebook variable, quoted in "try q.hint()"
        self.attempts = 0

    def __repr__(self) -> str:
        return f"Question({self.prompt!r})"

    def _repr_html_(self) -> str:
        options = ""
        if self.choices:
            options = "<br>Answer with one of: " + ", ".join(
                f"<code>{html.escape(repr(c))}</code>" for c in self.choices
            )
        return (
            "<div class='labkit-question' style='font-family:sans-serif;border-left:4px solid #555;"
            f"padding:2px 8px'><b>Exercise.</b> {html.escape(self.prompt)}{options}</div>"
        )

    # -- the student's three calls -------------------------------------------------------------

    def check(self, answer: Any) -> bool:
        """Show ✓ or ✗ with a short why, and return whether the answer is right."""
        if answer is None:
            _show(
                Feedback(
                    "open",
                    "Not answered yet.",
                    f"Replace None in the answer cell with your answer, run it, then check again. {self._kinds_hint()}",
                )
            )
            return False
        expected = self.expected()
        given = self._coerce(answer, expected)
        self.attempts += 1
        if self._equal(given, expected):
            _show(Feedback("right", f"Right: {_fmt(given)}.", _text(self._explain)))
            return True
        _show(
            Feedback(
                "wrong", f"Not quite: {_fmt(given)} is not the answer.", self._why_wrong(given)
            )
        )
        return False

    def hint(self) -> None:
        """Show the hint."""
        text = _text(self._hint) or "Look again at the table or probe just above this exercise."
        _show(Feedback("hint", "Hint", text))

    def solution(self, show: bool = True) -> Any:
        """The answer, read from the engine now; with ``show`` also display it and why."""
        expected = self.expected()
        if show:
            _show(Feedback("solution", f"Answer: {_fmt(expected)}", _text(self._explain)))
        return expected

    def expected(self) -> Any:
        """The right answer as the engine says it is at this moment."""
        value = self._expected()
        if value is None:
            raise NotAnswerable(
                f"There is nothing to check {self.prompt!r} against right now",
                "the engine reports no value for it (was a cell above skipped, or the container removed?)",
                "run the notebook's cells above this exercise again, in order",
            )
        return value

    # -- comparing -----------------------------------------------------------------------------

    def _kinds_hint(self) -> str:
        if self.choices:
            return "Answer with one of: " + ", ".join(repr(c) for c in self.choices) + "."
        return ""

    def _wrong_type(self, answer: Any, wants: str, example: str) -> InvalidInput:
        return InvalidInput(
            f"Your answer {answer!r} is a {type(answer).__name__}",
            f"this question wants {wants}",
            f"set answer = {example} (your value), run that cell, then check again",
        )

    def _coerce(self, answer: Any, expected: Any) -> Any:
        if self.choices is not None:
            if not isinstance(answer, str):
                raise self._wrong_type(answer, "one of the listed choices", repr(self.choices[0]))
            for choice in self.choices:
                if _norm(choice) == _norm(answer):
                    return choice
            raise InvalidInput(
                f"{answer!r} is not one of this question's choices",
                "the answer is picked from a short list",
                "answer with one of: " + ", ".join(repr(c) for c in self.choices),
            )
        if isinstance(expected, bool):
            if not isinstance(answer, bool):
                raise self._wrong_type(answer, "True or False", "True")
            return answer
        if isinstance(expected, int):
            if isinstance(answer, bool):
                raise self._wrong_type(answer, "a whole number", "32768")
            if isinstance(answer, int):
                return answer
            if isinstance(answer, float) and answer.is_integer():
                return int(answer)
            if isinstance(answer, str) and answer.strip().isdigit():
                return int(answer.strip())
            raise self._wrong_type(answer, "a whole number, such as a port number", "32768")
        if isinstance(expected, str):
            if not isinstance(answer, str):
                example = repr("172.17.0.1" if _address(expected) is not None else "bridge")
                raise self._wrong_type(answer, "a string (text in quotes)", example)
            return answer
        if isinstance(expected, (list, tuple, set, frozenset)):
            if isinstance(answer, (str, bytes)) or not isinstance(
                answer, (list, tuple, set, frozenset)
            ):
                raise self._wrong_type(answer, "a list of values", "['a', 'b']")
            return answer
        return answer

    def _equal(self, given: Any, expected: Any) -> bool:
        if isinstance(expected, str) and isinstance(given, str):
            a, b = _address(expected), _address(given)
            if a is not None:
                return b is not None and a == b
            return _norm(given) == _norm(expected)
        if isinstance(expected, (list, tuple, set, frozenset)) and not isinstance(expected, str):
            left = [_norm(x) if isinstance(x, str) else x for x in given]
            right = [_norm(x) if isinstance(x, str) else x for x in expected]
            if self.ordered:
                return left == right
            try:
                return set(left) == set(right) and len(left) == len(set(left))
            except TypeError:
                return sorted(map(repr, left)) == sorted(map(repr, right))
        return given == expected

    def _why_wrong(self, given: Any) -> str:
        known = dict(self._mistakes()) if self._mistakes else {}
        for wrong, why in known.items():
            try:
                if self._equal(given, wrong):
                    return f"{why} Try {self.name}.hint(), or {self.name}.solution() to see the answer."
            except Exception:  # noqa: BLE001 - a mistake entry of another type simply does not match
                continue
        expected = self.expected()
        if isinstance(expected, str) and _address(expected) is not None and _address(given) is None:
            return f"That is not an IP address or subnet. {self.name}.hint() gives a hint."
        return (
            f"Compare with what the engine shows above. {self.name}.hint() gives a hint; "
            f"{self.name}.solution() shows the answer."
        )


Exercise = Question


def _text(value: str | Callable[[], str]) -> str:
    return str(value() if callable(value) else value or "")


def _norm(text: str) -> str:
    return " ".join(text.strip().split()).lower()


def _address(text: Any):
    """An IP address or network parsed from text, or None."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    try:
        return (
            ipaddress.ip_network(text, strict=False) if "/" in text else ipaddress.ip_address(text)
        )
    except ValueError:
        return None


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_fmt(v) for v in value)) + "}"
    return str(value)
