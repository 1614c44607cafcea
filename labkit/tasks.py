"""Exercises done in a terminal and checked from the engine.

A notebook shows ``t = nb.terminal_task("03.connect_web2", lab)``: what to do, and the exact
command with the student's real (namespaced) names, to type in a JupyterLab terminal
(File → New → Terminal), which reaches the same engine. ``t.check();`` then reads the engine —
never the student's word — and says ✓ or what is still missing.

Notebook convention (the test harness relies on it): the cell showing the task is tagged
``terminal`` and names its variable in ``metadata.labkit.task``; the next cell starts with
``<variable>.check();``. To do the task as a student would, the harness inserts
``<variable>.run_in_terminal()`` between the two: it runs the printed command lines with a
shell, in the environment a terminal has (``DOCKER_HOST`` for the same engine).

The tasks create nothing (they connect, restart, disconnect what the notebook made), so the
notebook's clean-up, which removes only what carries labkit's labels, still removes everything.
"""

from __future__ import annotations

import html
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from labkit.check import Feedback, _show
from labkit.errors import InvalidInput, NotFound
from labkit.lab import Lab

__all__ = ["TerminalTask", "TaskSpec", "TASKS", "terminal_task", "task_ids"]

TERMINAL_TIMEOUT = 60.0


@dataclass(frozen=True)
class TaskSpec:
    """One terminal exercise: what to do, the command lines, and how the engine shows it done."""

    id: str
    prompt: str
    commands: Callable[[Lab], list[list[str]]]  # argv lists, with the student's real names
    done: Callable[[Lab], tuple[bool, str]]  # (done?, what the engine shows)
    explain: str


class TerminalTask:
    """A terminal exercise for one student's lab: shown as instructions, checked from the engine."""

    def __init__(self, spec: TaskSpec, lab: Lab, name: str) -> None:
        self.spec, self.lab, self.name = spec, lab, name

    @property
    def commands(self) -> list[str]:
        """The lines to type, exactly (the student's namespaced names)."""
        return [shlex.join(argv) for argv in self.spec.commands(self.lab)]

    def environment(self) -> dict[str, str]:
        """What a terminal needs to reach this lab's engine (empty: the default engine)."""
        return dict(self.lab.engine.cli_environment())  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"TerminalTask({self.spec.id!r})"

    def _repr_html_(self) -> str:
        env = self.environment()
        lines = "\n".join(f"$ {c}" for c in self.commands)
        where = (
            "If <code>docker ps</code> there does not list your containers, first type "
            f"<code>export DOCKER_HOST={html.escape(env['DOCKER_HOST'])}</code>."
            if env.get("DOCKER_HOST")
            else "The terminal's <code>docker</code> reaches the same engine as this notebook."
        )
        return (
            "<div class='labkit-question labkit-terminal' style='font-family:sans-serif;"
            "border-left:4px solid #555;padding:2px 8px'><b>Exercise in the terminal.</b> "
            f"{html.escape(self.spec.prompt)}<br>Open a terminal (File → New → Terminal) and "
            f"type:<pre style='background:#f7f7f7;padding:4px 6px;margin:4px 0'>"
            f"{html.escape(lines)}</pre>{where} Then run <code>{html.escape(self.name)}.check()"
            "</code> below.</div>"
        )

    def check(self) -> bool:
        """Read the engine: ✓ when the task is done, else what it shows instead."""
        from labkit import progress

        done, seen = self.spec.done(self.lab)
        if done:
            _show(Feedback("right", "Done: the engine shows it.", f"{seen} {self.spec.explain}"))
        else:
            _show(
                Feedback(
                    "wrong",
                    "Not done yet: the engine does not show it.",
                    f"{seen} Type in the terminal: " + " ; ".join(self.commands),
                )
            )
        try:
            progress.record_check(self.lab, self.spec.id, done, step=_step(self.spec.id))
        except Exception:  # noqa: BLE001 - recording progress must never spoil a check
            pass
        return done

    def run_in_terminal(self) -> None:
        """Do the task as a student does in a terminal: each printed line, run by a shell."""
        env = {**os.environ, **self.environment()}
        for line in self.commands:
            done = subprocess.run(
                ["sh", "-c", line],
                env=env,
                capture_output=True,
                text=True,
                timeout=TERMINAL_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
            print(f"$ {line}\n{done.stdout}{done.stderr}".rstrip())


_STEPS = {"03": "03-docker-networks", "04": "04-beyond-one-host"}


def _step(task_id: str) -> str:
    return _STEPS.get(task_id[:2], "")


def terminal_task(task_id: str, lab: Lab, *, name: str = "") -> TerminalTask:
    """The terminal exercise ``task_id`` for this student's ``lab``."""
    try:
        spec = TASKS[task_id]
    except KeyError:
        raise InvalidInput(
            f"No terminal exercise {task_id!r}",
            "terminal exercises are named by notebook and topic, like '03.connect_web2'",
            "use one of: " + ", ".join(TASKS),
        ) from None
    return TerminalTask(spec, lab, name or "t_" + task_id.split(".", 1)[1])


def task_ids(step: str | None = None) -> list[str]:
    return [i for i in TASKS if step is None or i[:2] == step[:2]]


# -- the tasks ---------------------------------------------------------------------------------


def _connect_with_alias(network: str, container: str) -> Callable[[Lab], list[list[str]]]:
    def commands(lab: Lab) -> list[list[str]]:
        return [
            [
                "docker",
                "network",
                "connect",
                "--alias",
                container,
                lab.name(network),
                lab.name(container),
            ]
        ]

    return commands


def _attached_with_alias(network: str, container: str) -> Callable[[Lab], tuple[bool, str]]:
    def done(lab: Lab) -> tuple[bool, str]:
        try:
            c = lab.container(container)
        except NotFound:
            return False, f"There is no container {lab.name(container)} (run the cells above)."
        att = c.attachment(lab.name(network))
        if att is None:
            on = ", ".join(a.network for a in c.networks) or "no network"
            return False, f"{c.name} is on {on}, not on {lab.name(network)}."
        if container not in att.aliases:
            return False, (
                f"{c.name} is on {lab.name(network)} ({att.ip}) but has no alias {container}: "
                f"disconnect it and connect it again with --alias {container}."
            )
        return True, f"{c.name} is on {lab.name(network)} at {att.ip}, alias {container}."

    return done


_LIST = [
    TaskSpec(
        "03.connect_web2",
        "Connect web2 to your network mynet, giving it the alias web2 there.",
        _connect_with_alias("mynet", "web2"),
        _attached_with_alias("mynet", "web2"),
        explain="Docker's DNS on mynet now answers for web2 with its address on mynet; "
        "the alias is known on that network only.",
    ),
    TaskSpec(
        "04.join_mesh",
        "Put web2 on the network mesh as well, with the alias web2.",
        _connect_with_alias("mesh", "web2"),
        _attached_with_alias("mesh", "web2"),
        explain="web1 and web2 now share one network and find each other by name, as "
        "containers on a Swarm overlay do across hosts.",
    ),
]

TASKS: dict[str, TaskSpec] = {s.id: s for s in _LIST}


# -- notebooks 00, 01 and 02 ---------------------------------------------------------------------
# Kept in their own block (helper n1), after the notebooks 03/04 block above.

_STEPS.update({"00": "00-start-here", "01": "01-ephemeral-ports", "02": "02-linux-bridge"})
BY_HAND = "myapp3"  # the container a student makes by hand in notebook 00


def _by_hand_commands(lab: Lab) -> list[list[str]]:
    # The namespace in the name keeps two students' hand-made containers apart on a shared
    # engine; no labels, so it is the student's own and labkit never changes it.
    return [
        ["docker", "run", "-d", "--name", lab.name(BY_HAND), "labkit/lab-app:1"],
        ["docker", "ps", "--filter", f"name={lab.name(BY_HAND)}"],
    ]


def _made_by_hand(lab: Lab) -> tuple[bool, str]:
    try:
        c = lab.engine.container(lab.name(BY_HAND))
    except NotFound:
        return False, f"There is no container {lab.name(BY_HAND)} on the engine yet."
    if lab.owns(c):
        return False, (
            f"{c.name} carries labkit's labels: it was made by %docker in the notebook, not by "
            "hand. Remove it (%docker rm -f myapp3) and type the command in the terminal."
        )
    return True, f"{c.name} is {c.status}, made outside labkit (it carries none of its labels)."


def _restart_commands(lab: Lab) -> list[list[str]]:
    name = lab.container("myapp2").name if _exists(lab, "myapp2") else lab.name("myapp2")
    return [["docker", "restart", name], ["docker", "port", name]]


def _exists(lab: Lab, short: str) -> bool:
    try:
        lab.container(short)
    except NotFound:
        return False
    return True


def _restarted(lab: Lab) -> tuple[bool, str]:
    """Started again since labkit first showed it: the engine's StartedAt is not the one seen
    then (``labkit.notebook.course.ports`` records it). A restart typed in a terminal does it."""
    from labkit.check import history

    try:
        c = lab.container("myapp2")
    except NotFound:
        return False, f"There is no container {lab.name('myapp2')} (run the cells above)."
    seen = history(lab, "myapp2.started_at")
    if not seen:
        return False, "labkit has not shown myapp2 yet: run the port table cell above first."
    if c.started_at == seen[0]:
        return False, (
            f"{c.name} is still the one started at {_clock(seen[0])}: it has not restarted."
        )
    binding = c.port(80)
    port = (binding.host_port or binding.ipv6_host_port) if binding else None
    return True, f"{c.name} started again at {_clock(c.started_at)}; its host port is now {port}."


def _clock(started_at: str) -> str:
    """The engine's StartedAt (2026-12-01T13:13:06.791576623Z) as a student reads a time."""
    time_of_day = started_at.partition("T")[2][:8]
    return f"{time_of_day} UTC" if len(time_of_day) == 8 else started_at


_LIST_01 = [
    TaskSpec(
        "00.by_hand",
        "Make a container by hand, without labkit: run the lab app under the name below.",
        _by_hand_commands,
        _made_by_hand,
        explain="labkit's views show it (its name carries your namespace), and labkit will "
        "never change or remove it: it is yours, not labkit's.",
    ),
    TaskSpec(
        "01.restart",
        "Restart myapp2 from a terminal, as the lab text does, and read its port there.",
        _restart_commands,
        _restarted,
        explain="The same engine, whichever window typed the command.",
    ),
    TaskSpec(
        "02.restart",
        "Restart myapp2 once more from a terminal (the lab text: 'Now run again').",
        _restart_commands,
        _restarted,
        explain="Now try both of the old ways in again, below.",
    ),
]
TASKS.update({s.id: s for s in _LIST_01})
