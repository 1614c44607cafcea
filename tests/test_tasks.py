"""Terminal exercises (labkit.tasks): what the check says, as a student reads it."""

from __future__ import annotations

from labkit.check import remember
from labkit.tasks import _clock, terminal_task


def test_the_engine_s_start_time_reads_as_a_clock_time():
    # h8's walk: "started again at 2026-12-01T13:13:06.791576623Z" in the restart check.
    assert _clock("2026-12-01T13:13:06.791576623Z") == "13:13:06 UTC"
    assert _clock("odd") == "odd"


def test_the_restart_check_says_when_in_clock_time(sim_lab, capsys):
    c = sim_lab.start_app("myapp2")
    remember(sim_lab, "myapp2.started_at", c.started_at)  # what notebook 01's port table does
    task = terminal_task("01.restart", sim_lab)
    assert task.check() is False
    out = capsys.readouterr().out
    assert "it has not restarted" in out and " UTC" in out and "Z:" not in out
    sim_lab.engine.restart(c.name)
    assert task.check() is True
    out = capsys.readouterr().out
    assert "started again at" in out and " UTC;" in out
