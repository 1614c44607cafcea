"""`labkit sim`: one simulator daemon per user, found again by every client, replaced with one
line when its socket is stale or its daemon died or hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from labkit.engine.sim import daemon
from labkit.generation import API_VERSION, Generation


@pytest.fixture
def path(tmp_path):
    where = tmp_path / "sim.sock"
    yield where
    daemon.stop(where, say=lambda line: None)


def said() -> tuple[list[str], daemon.Say]:
    lines: list[str] = []
    return lines, lines.append


def test_start_is_idempotent_and_the_socket_is_the_users_alone(path):
    lines, say = said()
    first = daemon.ensure(path, say=say)
    again = daemon.ensure(path, say=say)
    assert first.running and again.pid == first.pid and lines == []
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert first.url == f"unix://{path}"
    assert first.api_version == API_VERSION[Generation(first.generation)]


def test_a_killed_daemon_is_replaced_with_one_line(path):
    first = daemon.ensure(path)
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while daemon._alive(first.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines, say = said()
    second = daemon.ensure(path, say=say)
    assert second.running and second.pid != first.pid
    assert len(lines) == 1 and "stale" in lines[0] and str(path) in lines[0]


def test_a_hung_daemon_is_replaced(path):
    first = daemon.ensure(path)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        lines, say = said()
        second = daemon.ensure(path, say=say)
    finally:
        if daemon._alive(first.pid):
            os.kill(first.pid, signal.SIGKILL)
    assert second.running and second.pid != first.pid
    assert len(lines) == 1 and "did not answer" in lines[0]


def test_a_socket_file_nobody_listens_on_is_replaced(path):
    import socket

    path.parent.mkdir(parents=True, exist_ok=True)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # bound, never listening: connecting is refused, as after a crash
    stale.close()
    lines, say = said()
    assert daemon.ensure(path, say=say).running
    assert len(lines) == 1 and "stale" in lines[0]


def test_stop_and_status(path):
    assert not daemon.status(path).running
    started = daemon.ensure(path)
    assert str(daemon.status(path)).startswith(f"labkit sim: running (pid {started.pid})")
    assert daemon.stop(path, say=lambda line: None)
    assert not daemon.status(path).running and not path.exists()
    assert not daemon.stop(path, say=lambda line: None)


def labkit_sim(*args: str, path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LABKIT_SIM_SOCKET": str(path)}
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", "sim", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_eval_of_labkit_sim_start_points_the_docker_cli_at_it(path):
    done = labkit_sim("start", path=path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"export DOCKER_HOST=unix://{path}"
    assert "running" in done.stderr
    shell = subprocess.run(
        ["sh", "-c", 'eval "$(labkit sim start)" && echo "$DOCKER_HOST"'],
        env={
            **os.environ,
            "LABKIT_SIM_SOCKET": str(path),
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.stdout.strip() == f"unix://{path}", shell.stderr
    assert labkit_sim("status", path=path).returncode == 0
    assert "stopped" in labkit_sim("stop", path=path).stdout
    assert labkit_sim("status", path=path).returncode == 1


def test_reset_gives_a_fresh_model(path):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(base_url=daemon.ensure(path).url)
    try:
        engine.create_network("resetme")
        assert daemon.reset(path, say=lambda line: None)
        assert [n.name for n in engine.networks()] == ["bridge", "host", "none"]
    finally:
        engine.close()


def test_connect_starts_the_users_simulator_when_no_engine_answers(path, monkeypatch):
    import labkit

    monkeypatch.setenv("LABKIT_SIM_SOCKET", str(path))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.delenv("LABKIT_ENGINE", raising=False)
    engine, why = labkit.choose()
    try:
        info = engine.info()
        assert info.simulated and engine.kind == "sim" and "no Docker engine answered" in why
        assert type(engine).__name__ == "DockerEngine"  # the one adapter
    finally:
        engine.close()
    again, _ = labkit.choose()  # a second kernel finds the same daemon
    assert daemon.status(path).pid is not None
    again.close()
