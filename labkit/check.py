"""Check your answer: self-check exercises whose expected answer is the fact the student was shown.

::

    q = Question(
        "Which host port did myapp2 get after the restart?",
        expected=lambda: recall(lab, "myapp2.host_port"),
        hint="Look at the port table after the restart.",
        explain="The allocator hands out the next port after the last one it gave.",
        changed_by="the restart",
    )
    answer = None  # your answer here
    q.check(answer)          # shows ✓ or ✗ with a short why, returns True or False
    q.hint()                 # a nudge
    q.solution()             # the answer and why

The expected value is a callable, never a constant (every student's engine hands out its own
ports and addresses). It is read **when the question is shown** and kept: the student answers
what the table above the question said, even if a later cell (a restart, a squatter) has changed
the engine since. At check time it is read once more; where the fact has moved on, the feedback
says so ("that was right before the restart; now it is …") and the value of now counts as right
too. The course's questions live in ``labkit.exercises``, so no answer sits in a notebook cell.

The facts come from what labkit showed: ``remember(lab, key, value)`` (and
``remember_container``) record a value as it is shown, ``recall`` reads the last one, and
``history`` every value shown in turn. The panel records what it observes; step functions that
show a table record what they showed.

The type of the expected value decides what an answer may be: a whole number (digits in a string
and numpy integers are accepted too), a string (compared without case and surrounding blanks; IP
addresses and subnets compared as addresses), True/False, or a collection (compared as a set
unless ``ordered=True``). An answer of another type raises ``InvalidInput`` saying what the
question wants; ``None`` means "not answered yet".

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
import numbers
import re
import sys
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

from labkit.errors import InvalidInput, LabkitError

__all__ = [
    "Question",
    "Exercise",
    "Feedback",
    "NotAnswerable",
    "remember",
    "remember_container",
    "remember_network",
    "remember_probes",
    "recall",
    "history",
]

PLACEHOLDER = "answer = None  # your answer here"
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: '²' and '٣' are digits to str.isdigit(), not to int()


class NotAnswerable(LabkitError):
    """The expected answer cannot be read right now (nothing to check against)."""


# -- what labkit showed ------------------------------------------------------------------------

# One record per Lab object (a notebook's ``lab``), gone with it: key -> values shown, in order.
_SHOWN: weakref.WeakKeyDictionary[Any, dict[str, list[Any]]] = weakref.WeakKeyDictionary()


def remember(lab: Any, key: str, value: Any) -> None:
    """Record that ``value`` was shown for ``key`` ("myapp2.host_port"). A value equal to the
    last one shown is not repeated, so ``history`` lists what changed."""
    if value is None:
        return
    values = _SHOWN.setdefault(lab, {}).setdefault(key, [])
    if not values or values[-1] != value:
        values.append(value)


def recall(lab: Any, key: str, default: Any = None) -> Any:
    """The value last shown for ``key``, or ``default`` if labkit never showed one."""
    values = _SHOWN.get(lab, {}).get(key)
    return values[-1] if values else default


def history(lab: Any, key: str) -> list[Any]:
    """Every value shown for ``key``, oldest first (consecutive repeats folded)."""
    return list(_SHOWN.get(lab, {}).get(key, ()))


def remember_container(lab: Any, container: Any) -> None:
    """Record what a table or panel shows of a container, under its short lab name:
    ``<name>.host_port`` (port 80), ``<name>.ip``, ``<name>.ip@<network>``, ``<name>.status``."""
    short = _short_name(lab, container.name)
    binding = container.port(80)
    if binding is not None and binding.published:
        remember(lab, f"{short}.host_port", binding.host_port or binding.ipv6_host_port)
    remember(lab, f"{short}.status", container.status)
    if container.ip:
        remember(lab, f"{short}.ip", container.ip)
    for att in container.networks:
        if att.ip:
            remember(lab, f"{short}.ip@{_short_name(lab, att.network)}", att.ip)


def remember_network(lab: Any, network: Any) -> None:
    """Record what a table shows of a network: ``net:<name>.subnet``, ``.gateway``, ``.driver``."""
    short = _short_name(lab, network.name)
    remember(lab, f"net:{short}.subnet", network.subnet or None)
    remember(lab, f"net:{short}.gateway", network.gateway or None)
    remember(lab, f"net:{short}.driver", network.driver or None)


def remember_probes(lab: Any, results: Any, label: str = "") -> None:
    """Record probe results as shown: ``probe:<via>`` (``probe:host-port``), or with a label
    for a table of its own, ``probe:<label>:<via>`` (``probe:after restart:bridge-ip``)."""
    for r in results:
        remember(lab, f"probe:{label}:{r.via}" if label else f"probe:{r.via}", r)


def _short_name(lab: Any, name: str) -> str:
    prefix = f"{getattr(lab, 'namespace', '')}-"
    return name[len(prefix) :] if prefix != "-" and name.startswith(prefix) else name


# -- feedback ----------------------------------------------------------------------------------


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


# -- the question ------------------------------------------------------------------------------

_UNSET = object()


class Question:
    """One self-check exercise. ``expected`` is a callable, read when the question is shown.

    ``hint`` and ``explain`` are text or callables returning text. ``choices`` limits answers to
    a few strings. ``mistakes`` is a callable returning ``{wrong answer: why it is a tempting
    mistake}``, read at check time. ``changed_by`` names what may change the fact later ("the
    restart"), for the feedback. ``on_check(right)`` runs after each checked answer (labkit's
    exercises record progress with it).
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
        changed_by: str = "",
        on_check: Callable[[bool], None] | None = None,
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
                "expected answers are read from what the student's own engine showed, never "
                "written down (every engine hands out its own ports and addresses)",
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
        self.changed_by = changed_by
        self._on_check = on_check
        self.attempts = 0
        self._pinned: Any = _UNSET
        try:  # the fact as it stands now, when the student reads the question
            self._pin()
        except Exception:  # noqa: BLE001 - nothing to pin yet (a cell above not run, an object
            pass  # gone): pinned at the first check, where a failure is shown as it happens

    def __repr__(self) -> str:
        return f"Question({self.prompt!r})"

    def _repr_html_(self) -> str:
        options = ""
        if self.choices:
            options = "<br>Answer with one of: " + ", ".join(
                f"<code>{html.escape(repr(c))}</code>" for c in self.choices
            )
        elif isinstance(self._pinned, bool):  # a yes/no question: say how to write yes and no
            options = "<br>Answer with <code>True</code> or <code>False</code>."
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
        now = self._now(expected)
        right = self._equal(given, expected) or (now is not None and self._equal(given, now))
        if right:
            notes = [self._moved_note(given, expected, now), self._form_note(answer, expected)]
            detail = " ".join(x for x in (*notes, _text(self._explain)) if x)
            _show(Feedback("right", f"Right: {_fmt(given)}.", detail))
        else:
            _show(
                Feedback(
                    "wrong",
                    f"Not quite: {_fmt(given)} is not the answer.",
                    self._why_wrong(given, expected),
                )
            )
        if self._on_check is not None:
            try:
                self._on_check(right)
            except Exception:  # noqa: BLE001 - recording progress must never spoil a check
                pass
        return right

    def hint(self) -> None:
        """Show the hint."""
        text = _text(self._hint) or "Look again at the table or probe just above this exercise."
        _show(Feedback("hint", "Hint", text))

    def solution(self, show: bool = True) -> Any:
        """The answer (the fact as shown with the question); with ``show`` also display it."""
        expected = self.expected()
        if show:
            now = self._now(expected)
            moved = (
                f"Now it is {_fmt(now)}: {self.changed_by or 'something'} changed it since."
                if now is not None
                else ""
            )
            detail = " ".join(x for x in (moved, _text(self._explain)) if x)
            _show(Feedback("solution", f"Answer: {_fmt(expected)}", detail))
        return expected

    def expected(self) -> Any:
        """The right answer: the fact as it was when the question was shown."""
        if self._pinned is _UNSET:
            self._pin()
        return self._pinned

    # -- reading the fact ------------------------------------------------------------------------

    def _read(self) -> Any:
        value = self._expected()
        if value is None:
            raise NotAnswerable(
                f"There is nothing to check {self.prompt!r} against right now",
                "labkit has not shown that fact yet (was a cell above skipped, or the container removed?)",
                "run the notebook's cells above this exercise again, in order",
            )
        return _plain(value)

    def _pin(self) -> None:
        self._pinned = self._read()

    def _now(self, pinned: Any) -> Any:
        """The fact read again; None when it is unchanged or cannot be read now."""
        try:
            now = self._read()
        except Exception:  # noqa: BLE001 - a fact gone since (container removed) is no news
            return None
        try:
            return None if self._equal(now, pinned) else now
        except TypeError:
            return None

    def _moved_note(self, given: Any, pinned: Any, now: Any) -> str:
        if now is None:
            return ""
        since = f"before {self.changed_by}" if self.changed_by else "when this question was shown"
        if self._equal(given, pinned):
            return f"That was right {since}; now it is {_fmt(now)}."
        return f"That is so now; {since} it was {_fmt(pinned)}."

    def _form_note(self, answer: Any, expected: Any) -> str:
        # "172.17.0.1/16" for an address: right, and worth saying what the /16 is.
        if isinstance(expected, str) and isinstance(answer, str) and "/" in answer:
            if isinstance(_address(expected), ipaddress._BaseAddress):
                prefix = answer.strip().rsplit("/", 1)[1]
                return (
                    f"The address alone is {expected}: /{prefix} is the subnet's prefix length, "
                    "which docker network inspect shows with the Subnet, not with one address."
                )
        return ""

    # -- comparing -----------------------------------------------------------------------------

    def _kinds_hint(self) -> str:
        if self.choices:
            return "Answer with one of: " + ", ".join(repr(c) for c in self.choices) + "."
        return ""

    def _wrong_type(self, answer: Any, wants: str, example: str) -> InvalidInput:
        what = (
            f"Your answer {answer!r} is not {wants.split(',')[0]}"
            if isinstance(answer, str)
            else f"Your answer {answer!r} is a {type(answer).__name__}"
        )
        return InvalidInput(
            what,
            f"this question wants {wants}",
            f"set answer = {example} (your value), run that cell, then check again",
        )

    def _coerce(self, answer: Any, expected: Any) -> Any:
        answer = _plain(answer)
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
            wants = "a whole number, such as a port number, in the digits 0-9"
            if isinstance(answer, bool):
                raise self._wrong_type(answer, wants, "12345")
            if isinstance(answer, int):
                return answer
            if isinstance(answer, float) and answer.is_integer():
                return int(answer)
            if isinstance(answer, str) and _DIGITS.fullmatch(answer.strip()):
                return int(answer.strip())
            raise self._wrong_type(answer, wants, "12345")
        if isinstance(expected, str):
            if not isinstance(answer, str):
                # Examples that are never an answer here (192.0.2.0/24 is for documentation).
                example = repr("192.0.2.1" if _address(expected) is not None else "your answer")
                raise self._wrong_type(answer, "a string (text in quotes)", example)
            return answer
        if isinstance(expected, (list, tuple, set, frozenset)):
            if isinstance(answer, (str, bytes)) or not isinstance(
                answer, (list, tuple, set, frozenset)
            ):
                raise self._wrong_type(answer, "a list of values", "['a', 'b']")
            return [_plain(x) for x in answer]
        return answer

    def _equal(self, given: Any, expected: Any) -> bool:
        if isinstance(expected, str) and isinstance(given, str):
            a, b = _address(expected), _address(given)
            if isinstance(a, ipaddress._BaseAddress) and "/" in given:
                b = _interface_address(given)  # "172.17.0.1/16": the address, with its prefix
            if a is not None:
                return b is not None and a == b
            return _norm(given) == _norm(expected)
        if isinstance(expected, (list, tuple, set, frozenset)) and not isinstance(expected, str):
            if not isinstance(given, (list, tuple, set, frozenset)):
                return False
            left = [_norm(x) if isinstance(x, str) else x for x in given]
            right = [_norm(x) if isinstance(x, str) else x for x in expected]
            if self.ordered:
                return left == right
            try:
                return set(left) == set(right) and len(left) == len(set(left))
            except TypeError:
                return sorted(map(repr, left)) == sorted(map(repr, right))
        return bool(given == expected)

    def _why_wrong(self, given: Any, expected: Any) -> str:
        known = dict(self._mistakes()) if self._mistakes else {}
        for wrong, why in known.items():
            try:
                if self._equal(given, _plain(wrong)):
                    return f"{why} Try {self.name}.hint(), or {self.name}.solution() to see the answer."
            except Exception:  # noqa: BLE001 - a mistake entry of another type simply does not match
                continue
        if isinstance(expected, str) and _address(expected) is not None:
            why = _address_mistake(given, expected)
            if why:
                return f"{why} {self.name}.hint() gives a hint."
        return (
            f"Compare with what labkit showed above. {self.name}.hint() gives a hint; "
            f"{self.name}.solution() shows the answer."
        )


Exercise = Question


def _text(value: str | Callable[[], str]) -> str:
    return str(value() if callable(value) else value or "")


def _norm(text: str) -> str:
    return " ".join(text.strip().split()).lower()


def _plain(value: Any) -> Any:
    """numpy and pandas scalars (a value read from a table) as the Python value they hold."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if type(value).__name__ in ("bool_", "bool") and hasattr(value, "item"):
        return bool(value.item())
    if isinstance(value, numbers.Real):
        return float(value)
    return value


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


def _interface_address(text: str):
    try:
        return ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        return None


def _address_mistake(given: Any, expected: str) -> str:
    """A specific why for a well-formed address or subnet that is not the one asked for."""
    want, got = _address(expected), _address(given)
    if got is None:
        return "That is not an IP address or subnet."
    wants_address = isinstance(want, ipaddress._BaseAddress)
    if wants_address and isinstance(got, ipaddress._BaseNetwork) and want in got:
        if _interface_address(given) == got.network_address:
            return (
                f"{given.strip()} is the whole subnet (a network), and the question asks for "
                "one address in it."
            )
        return "That address is in the right subnet, but it is another one."
    if not wants_address and isinstance(got, ipaddress._BaseAddress):
        return "The question asks for a subnet: an address followed by /prefix length."
    if not wants_address and isinstance(got, ipaddress._BaseNetwork):
        if got.prefixlen != want.prefixlen and got.network_address == want.network_address:
            return f"The network address is right, the prefix length /{got.prefixlen} is not."
    return ""


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_fmt(v) for v in value)) + "}"
    return str(value)
