"""The labkit command as a student or instructor types it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def labkit(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_on_the_simulator_says_what_the_course_can_show():
    done = labkit("doctor", LABKIT_ENGINE="sim")
    assert done.returncode == 0, done.stderr
    assert (
        "Simulated" in done.stdout
        and "ip_forward" in done.stdout
        and "ephemeral ports" in done.stdout
    )


def test_doctor_with_a_forced_missing_engine_fails_with_the_remedy():
    done = labkit("doctor", LABKIT_ENGINE="docker", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert done.returncode == 1
    assert "no engine socket" in done.stdout and "unset LABKIT_ENGINE" in done.stdout


def test_tour_on_the_simulator_shows_the_port_move():
    done = labkit("tour", LABKIT_ENGINE="sim", LABKIT_NAMESPACE="tour-sim")
    assert done.returncode == 0, done.stderr
    assert "The host port moved" in done.stdout and "refused" in done.stdout
    assert "Removed containers" in done.stdout


@pytest.mark.docker
def test_tour_on_the_real_engine_shows_the_port_move(docker_engine):
    done = labkit("tour", LABKIT_ENGINE="docker", LABKIT_NAMESPACE="tour-docker")
    assert done.returncode == 0, done.stderr
    assert "The host port moved" in done.stdout and "refused" in done.stdout
    assert "probe via bridge-ip" in done.stdout and " ok " in done.stdout


@pytest.mark.docker
def test_doctor_on_the_real_engine(docker_engine):
    done = labkit("doctor", LABKIT_ENGINE="docker")
    assert done.returncode == 0, done.stdout
    assert "bridge IPs     reachable" in done.stdout and "lab app image  ready" in done.stdout


def test_a_labkit_error_is_one_message_without_a_traceback():
    done = labkit("cleanup", LABKIT_ENGINE="nonsense")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "LABKIT_ENGINE='nonsense'" in done.stderr


@pytest.mark.docker
def test_cleanup_yes_on_the_real_engine_removes_only_its_namespace(docker_engine, bystanders):
    from labkit.lab import Lab

    mine, other = (
        Lab(docker_engine, namespace="cli-mine"),
        Lab(docker_engine, namespace="cli-other"),
    )
    mine.start_app("myapp2")
    other.start_app("myapp2")
    try:
        done = labkit("cleanup", "--yes", LABKIT_ENGINE="docker", LABKIT_NAMESPACE="cli-mine")
        assert done.returncode == 0 and "cli-mine-myapp2" in done.stdout
        assert mine.containers() == [] and len(other.containers()) == 1
        assert docker_engine.container(bystanders.id).running, (
            "an unlabelled container is untouched"
        )
    finally:
        other.cleanup()
