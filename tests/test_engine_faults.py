"""Engine faults on a real engine: a private dockerd (see conftest) stopped and started again."""

from __future__ import annotations

import threading
import time

import pytest

from labkit import errors
from labkit.lab import Lab
from labkit.models import Outcome
from labkit.probe import probe_address

pytestmark = pytest.mark.docker


def _fails_fast(call) -> errors.EngineUnavailable:
    started = time.monotonic()
    with pytest.raises(errors.EngineUnavailable) as caught:
        call()
    assert time.monotonic() - started < 3.0
    return caught.value


def test_stopped_engine_fails_fast_then_recovers_in_the_same_process(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    lab = Lab(engine, namespace="faults")
    app = lab.start_app("myapp2", network="none")
    assert app.running

    private_dockerd.stop()  # as `systemctl stop docker` does
    for call in (
        engine.ping,
        lab.containers,
        lambda: lab.container("myapp2"),
        lambda: lab.restart("myapp2"),
        engine.networks,
        lambda: lab.start_app("other", network="none"),
    ):
        error = _fails_fast(call)
        assert "LABKIT_ENGINE=sim" in error.fix and "start the engine" in error.fix

    private_dockerd.start()
    again = lab.container("myapp2")  # same engine object, no new kernel
    assert again.name == app.name
    restarted = lab.start("myapp2") if not again.running else again
    assert restarted.running
    lab.cleanup()
    assert lab.containers() == []


def test_engine_restarted_while_lab_containers_run(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    lab = Lab(engine, namespace="faults")
    lab.start_app("myapp2", network="none")
    private_dockerd.stop()
    private_dockerd.start()
    after = lab.container("myapp2")
    assert after.status == "exited", "without a restart policy the engine leaves it stopped"
    results = lab.probe("myapp2")
    assert [r.outcome for r in results] == [Outcome.NOT_RUNNING, Outcome.NOT_RUNNING]
    assert lab.start("myapp2").running
    lab.cleanup()


def test_a_container_that_exits_at_once_is_reported_not_timed_out(docker_lab):
    image = docker_lab.engine.ensure_lab_image()
    docker_lab.engine.run(
        image,
        name=docker_lab.name("dies"),
        command=["/bin/busybox", "false"],
        ports={"80/tcp": ("127.0.0.1", None)},
        labels=docker_lab.labels("faults"),
    )
    deadline = time.monotonic() + 5
    while docker_lab.container("dies").running and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    results = docker_lab.probe("dies")
    assert time.monotonic() - started < 0.5
    assert all(r.outcome == Outcome.NOT_RUNNING for r in results)
    assert "exited with code 1" in results[0].detail


def test_a_container_killed_during_a_probe_ends_the_probe_within_its_bound(docker_lab):
    app = docker_lab.start_app("victim")
    port = app.port(80).host_port
    killer = threading.Timer(0.05, lambda: docker_lab.engine.client.api.kill(app.name))
    killer.start()
    outcomes = []
    started = time.monotonic()
    while time.monotonic() - started < 2.0:
        outcomes.append(probe_address(docker_lab.engine, "127.0.0.1", port, timeout=1.5).outcome)
        if outcomes[-1] != Outcome.OK:
            break
    killer.join()
    assert time.monotonic() - started < 4.0
    assert outcomes[-1] in (Outcome.REFUSED, Outcome.NOT_HTTP, Outcome.TIMEOUT)
    assert docker_lab.container("victim").status == "exited"


def test_a_crash_looping_container_is_reported_as_restarting(docker_lab):
    from labkit.probe import probe as probe_container

    image = docker_lab.engine.ensure_lab_image()
    api = docker_lab.engine.client.api  # the engine API itself: labkit's run has no restart policy
    created = api.create_container(
        image,
        command=["/bin/busybox", "false"],
        name=docker_lab.name("crashloop"),
        labels=docker_lab.labels("faults"),
        host_config=api.create_host_config(restart_policy={"Name": "always"}, init=True),
    )
    api.start(created["Id"])
    deadline = time.monotonic() + 10
    seen = docker_lab.container("crashloop")
    while seen.status != "restarting" and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = docker_lab.container("crashloop")
    assert seen.status == "restarting", "the engine reports a crash loop as restarting"
    results = probe_container(docker_lab.engine, seen)
    assert {r.outcome for r in results} == {Outcome.NOT_RUNNING}
    assert "restarting" in results[0].detail
