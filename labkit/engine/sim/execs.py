"""``docker exec``: an exec is created, started once (to its end, or as an interactive
session a terminal drives line by line) and stays readable after, as the engine keeps it.
The commands themselves are modelled in ``labkit.engine.sim.shell``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from labkit.engine._checks import not_running
from labkit.engine.sim.core import EngineCore
from labkit.engine.sim.ipam import new_id
from labkit.engine.sim.shell import missing_program, run_command
from labkit.engine.sim.state import ContainerRec, ExecRec
from labkit.errors import InvalidInput
from labkit.models import ExecResult

__all__ = ["Execs"]

_EXECS = 256  # finished execs kept for `GET /exec/{id}/json`


class Execs(EngineCore):
    def exec(self, ref: str, command: Sequence[str], *, timeout: float = 10.0) -> ExecResult:
        # ``timeout`` is the protocol's bound; modelled commands end at once.
        with self._lock:
            return self.exec_start(self.exec_create(ref, command))

    def exec_create(
        self, ref: str, command: Sequence[str], *, tty: bool = False, stdin: bool = False
    ) -> str:
        """``POST /containers/{id}/exec``: the exec's ID; it runs at ``exec_start``."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running:
                raise not_running(ref, rec.id)
            argv = [str(part) for part in (command or ())]
            if not argv or not argv[0]:
                raise InvalidInput(
                    f"No command to run in {rec.name!r}",
                    "No exec command specified",
                    "pass a command as a list, e.g. ['/bin/busybox', 'hostname']",
                ).answering(400, "No exec command specified")
            job = ExecRec(new_id(), rec.id, argv, tty=tty, stdin=stdin)
            finished = [e.id for e in self.exec_recs.values() if e.exit_code is not None]
            for old in finished[: max(0, len(finished) - _EXECS)]:
                del self.exec_recs[old]
            self.exec_recs[job.id] = job
            self._emit(rec, f"exec_create: {_shown(argv)}", execID=job.id)
            return job.id

    def exec_start(self, exec_id: str) -> ExecResult:
        """Run a created exec to its end (a command, or a shell that reads no terminal)."""
        with self._lock:
            job, rec = self._begin_exec(exec_id)
            result = run_command(rec, job.argv, self)
            self.exec_end(exec_id, result.exit_code, died=not missing_program(job.argv))
            return result

    def _begin_exec(self, exec_id: str) -> tuple[ExecRec, ContainerRec]:
        self._check_open()
        job = self._find_exec(exec_id)
        rec = self.container_recs.get(job.container_id)
        if rec is None or not rec.running:
            raise not_running(job.container_id, job.container_id)
        if job.started:
            error = InvalidInput(
                "This exec was started already",
                f"Error: Exec command {exec_id} has already run",
                "create a new exec for each command",
            )
            raise error.answering(409, error.why)
        job.started, job.running, job.pid = True, True, next(self._pids)
        self._emit(rec, f"exec_start: {_shown(job.argv)}", execID=job.id)
        return job, rec

    def exec_session(self, exec_id: str) -> tuple[ExecRec, Callable[[str], ExecResult]]:
        """Start an interactive exec: its record and the function that runs one line of its
        shell (the terminal calls it for each line typed); ``exec_end`` finishes it."""
        with self._lock:
            job, rec = self._begin_exec(exec_id)

        def run_line(line: str) -> ExecResult:
            with self._lock:
                if not rec.running:
                    return ExecResult(137, "")
                return run_command(rec, ["sh", "-c", line], self)

        return job, run_line

    def exec_end(self, exec_id: str, exit_code: int, *, died: bool = True) -> None:
        """The exec ended with ``exit_code``; ``died``: it ran (an exec whose program is not
        in the image never starts, and the engine reports no exec_die for it)."""
        with self._lock:
            job = self.exec_recs.get(exec_id)
            if job is None or job.exit_code is not None:
                return
            job.running, job.exit_code = False, exit_code
            rec = self.container_recs.get(job.container_id)
            if rec is not None and died:
                self._emit(rec, "exec_die", execID=exec_id, exitCode=str(exit_code))

    def _find_exec(self, exec_id: str) -> ExecRec:
        job = self.exec_recs.get(exec_id)
        if job is None:
            raise InvalidInput(
                f"No exec {exec_id!r}",
                "the engine has no exec of that ID (its container may have been removed)",
                "create a new exec",
            ).answering(404, f"No such exec instance: {exec_id}")
        return job

    def exec_inspect(self, exec_id: str) -> ExecRec:
        with self._lock:
            return self._find_exec(exec_id)


def _shown(argv: Sequence[str]) -> str:
    """An exec's command in its events: the program, a space, its arguments (so a bare
    `hostname` shows as 'hostname ', as the engine writes it)."""
    return f"{argv[0]} {' '.join(argv[1:])}"
