"""A test run or a benchmark that is killed removes what it made: through its teardown on SIGTERM
and SIGINT, and through the next run's sweep on SIGKILL (by labels, never by name)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.lab import NAMESPACE_LABEL, OWNER_LABEL, Lab, run_namespace, sweep_dead_runs

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parent.parent


def _sleeping_run(tmp_path) -> tuple[subprocess.Popen, dict]:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/sleeping_lab.py::test_sleeper",  # not a test_ file: collected only when named
        ],
        cwd=ROOT,
        env={**os.environ, "LABKIT_TEST_SLEEPER": str(ready)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if not ready.exists():
        proc.kill()
        pytest.fail(f"the sleeping run did not start: {proc.communicate()[0][-2000:]}")
    time.sleep(0.3)
    return proc, json.loads(ready.read_text())


def _left_by(engine, namespace: str, run: str) -> list[str]:
    from conftest import RUN_LABEL

    names = [c.name for c in engine.containers(labels={NAMESPACE_LABEL: namespace})]
    names += [n.name for n in engine.networks() if n.labels.get(NAMESPACE_LABEL) == namespace]
    names += [c.name for c in engine.containers() if c.labels.get(RUN_LABEL) == run]
    names += [n.name for n in engine.networks() if n.labels.get(RUN_LABEL) == run]
    return names


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_test_run_killed_gently_removes_what_it_made(docker_engine, tmp_path, sig):
    proc, ready = _sleeping_run(tmp_path)
    assert _left_by(docker_engine, ready["namespace"], ready["run"]), "it made a lab"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert _left_by(docker_engine, ready["namespace"], ready["run"]) == [], out[-2000:]


def test_a_test_run_killed_outright_is_swept_by_the_next_run(docker_engine, tmp_path):
    from conftest import _sweep_killed_runs

    proc, ready = _sleeping_run(tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    assert len(_left_by(docker_engine, ready["namespace"], ready["run"])) >= 4, (
        "SIGKILL leaves the lab and the bystanders behind"
    )
    alive = Lab(docker_engine, namespace=run_namespace("t"))  # a run that is not over: this one
    alive.start_app("myapp2", network="none")
    try:
        _sweep_killed_runs(docker_engine)  # what the next run does first
        assert _left_by(docker_engine, ready["namespace"], ready["run"]) == []
        assert [c.name for c in alive.containers()] == [alive.name("myapp2")]
    finally:
        alive.cleanup()


def _bench(url: str, tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labkit.cli",
            "bench",
            "--quick",
            "--json",
            str(tmp_path / "b.json"),
        ],
        cwd=ROOT,
        env={**os.environ, "DOCKER_HOST": url, "LABKIT_ENGINE": "docker", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _labkits(engine) -> list[str]:
    return [c.name for c in engine.containers(labels={OWNER_LABEL: "labkit"})]


def _wait_for_containers(engine, proc, count: int = 1) -> None:
    deadline = time.monotonic() + 120
    while len(_labkits(engine)) < count and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        time.sleep(0.2)
    assert len(_labkits(engine)) >= count


def test_a_benchmark_killed_removes_its_containers_and_the_next_sweeps_a_killed_ones(
    private_dockerd, tmp_path
):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = _bench(private_dockerd.url, tmp_path)
        _wait_for_containers(engine, proc)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "interrupted" in out, out[-2000:]
        assert _labkits(engine) == [], f"{sig!r} left {_labkits(engine)}"

    proc = _bench(private_dockerd.url, tmp_path)
    _wait_for_containers(engine, proc, 3)
    proc.kill()
    proc.wait(timeout=30)
    left = _labkits(engine)
    assert left, "SIGKILL leaves them"
    proc = _bench(private_dockerd.url, tmp_path)  # the next run sweeps first
    deadline = time.monotonic() + 120
    seen = ""
    while "Removed what a killed benchmark left" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert "Removed what a killed benchmark left" in seen, seen + out
    assert all(name in seen for name in left), seen
    assert _labkits(engine) == []
    assert sweep_dead_runs(engine, "bench").containers == ()
