"""Engine faults on a real engine: a private dockerd (see conftest) stopped, hung (SIGSTOP),
slowed down (a proxy that holds each request 3 s) and started again. Every labkit call fails
within 3 s, naming the engine and the cause; the same Lab and panel work again when it returns.

Run with ``-s`` to see the measured time of each failing call.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from labkit import errors
from labkit.lab import Lab
from labkit.models import Outcome
from labkit.probe import probe_address

pytestmark = pytest.mark.docker

FAIL_WITHIN = 3.0


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


# -- hung and slow engines -------------------------------------------------------------------------


class SlowProxy:
    """A unix socket in front of an engine that holds every chunk a client sends for ``delay``
    seconds before passing it on (a request then takes at least that long). ``delay = 0``
    makes the engine well again."""

    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.dir = tempfile.mkdtemp(prefix="lk-slow-")
        self.path = os.path.join(self.dir, "slow.sock")
        self.url = f"unix://{self.path}"
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.bind(self.path)
        self._sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        engine = socket.socket(socket.AF_UNIX)
        try:
            engine.connect(self.upstream)
        except OSError:
            client.close()
            return
        threading.Thread(target=_pump, args=(engine, client, lambda: 0.0), daemon=True).start()
        _pump(client, engine, lambda: self.delay)

    def close(self) -> None:
        self._sock.close()
        Path(self.path).unlink(missing_ok=True)
        os.rmdir(self.dir)


def _pump(source: socket.socket, sink: socket.socket, delay) -> None:
    try:
        while data := source.recv(65536):
            time.sleep(delay())
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def hung(daemon):
    """The engine's process stopped (SIGSTOP): it keeps its socket and answers nothing."""
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)


def _every_call(engine, lab: Lab):
    """What a student's notebook calls, one of each kind (quick reads and slow changes)."""
    from labkit.engine.base import LAB_IMAGE
    from labkit.engine.docker import DockerEngine

    return [
        ("ping", engine.ping),
        ("info of a new engine", lambda: DockerEngine(engine.where).info()),
        ("containers", lab.containers),
        ("container", lambda: lab.container("myapp2")),
        ("networks", lab.networks),
        ("network", lambda: lab.network("labnet")),
        ("restart", lambda: lab.restart("myapp2")),
        ("stop", lambda: lab.stop("myapp2")),
        ("start", lambda: lab.start("myapp2")),
        ("exec", lambda: lab.exec("myapp2", "hostname")),
        ("probe", lambda: lab.probe("myapp2")),
        ("start_app", lambda: lab.start_app("other", network="none")),
        ("create_network", lambda: lab.create_network("other")),
        ("connect", lambda: lab.connect("labnet", "myapp2")),
        ("remove", lambda: lab.remove("myapp2")),
        ("cleanup", lab.cleanup),
        ("engine.run", lambda: engine.run(LAB_IMAGE, name=lab.name("direct"))),
    ]


def _all_fail_fast(engine, lab: Lab, where: str) -> dict[str, float]:
    timings = {}
    for name, call in _every_call(engine, lab):
        started = time.monotonic()
        with pytest.raises(errors.EngineNotResponding) as caught:
            call()
        timings[name] = took = time.monotonic() - started
        assert took < FAIL_WITHIN, f"{name} took {took:.2f} s"
        text = str(caught.value)
        assert where in text and "hung" in text, text
        assert len(text.splitlines()) <= 2
    print("\n" + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return timings


def _lab_on(url: str) -> tuple:
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(url)
    lab = Lab(engine, namespace="faults")
    lab.create_network("labnet")
    lab.start_app("myapp2", network="labnet")
    return engine, lab


def _works_again(lab: Lab) -> None:
    assert lab.container("myapp2").name == lab.name("myapp2")
    assert lab.start("myapp2").running
    assert lab.restart("myapp2", timeout=1).running
    assert lab.exec("myapp2", "hostname").exit_code == 0


def test_a_hung_engine_fails_every_call_within_3_s_then_the_same_lab_recovers(private_dockerd):
    from labkit.notebook.widgets import RestartPanel

    engine, lab = _lab_on(private_dockerd.url)
    with hung(private_dockerd):
        _all_fail_fast(engine, lab, private_dockerd.url)
        started = time.monotonic()
        panel = RestartPanel(lab, "myapp2", threaded=False, figure=False)
        assert time.monotonic() - started < FAIL_WITHIN
        assert "did not answer" in panel.error_text and "Traceback" not in panel.error_text
    _works_again(lab)
    panel.reprobe()
    assert panel.error_text == "" and panel.history[-1].status == "running"
    lab.cleanup()


def test_a_slow_engine_fails_every_call_within_3_s_then_the_same_lab_recovers(private_dockerd):
    proxy = SlowProxy(str(private_dockerd.socket), delay=0.0)
    try:
        engine, lab = _lab_on(proxy.url)
        proxy.delay = 3.0  # each request now takes 3 s
        _all_fail_fast(engine, lab, proxy.url)
        proxy.delay = 0.0
        _works_again(lab)
        lab.cleanup()
    finally:
        proxy.close()


def test_the_automatic_choice_says_it_skipped_a_slow_engine(private_dockerd, monkeypatch):
    from labkit.connect import choose

    proxy = SlowProxy(str(private_dockerd.socket), delay=3.0)
    try:
        monkeypatch.delenv("LABKIT_ENGINE", raising=False)
        monkeypatch.setenv("DOCKER_HOST", proxy.url)
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            engine, why = choose()
        assert time.monotonic() - started < FAIL_WITHIN
        assert engine.info().simulated
        assert "skipped" in why and proxy.url in why and "hung or overloaded" in why
        assert any(issubclass(w.category, errors.EngineWarning) for w in caught)
        engine.close()
        monkeypatch.setenv("LABKIT_ENGINE", "docker")
        with pytest.raises(errors.EngineNotResponding):
            choose()
    finally:
        proxy.close()


def _doctor(url: str) -> tuple[int, str, float]:
    env = {**os.environ, "DOCKER_HOST": url}
    env.pop("LABKIT_ENGINE", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_doctor_exits_non_zero_for_a_hung_slow_or_dead_engine(private_dockerd):
    with hung(private_dockerd):
        code, out, took = _doctor(private_dockerd.url)
    assert code == 1 and "did not answer" in out and "Traceback" not in out, out
    print(f"\ndoctor on a hung engine: exit {code} in {took:.2f} s")
    proxy = SlowProxy(str(private_dockerd.socket), delay=3.0)
    try:
        code, out, took = _doctor(proxy.url)
    finally:
        proxy.close()
    assert code == 1 and "did not answer" in out, out
    print(f"doctor on a slow engine: exit {code} in {took:.2f} s")
    code, out, _ = _doctor(private_dockerd.url)
    assert code == 0, out
    private_dockerd.stop()
    code, out, took = _doctor(private_dockerd.url)
    assert code == 1 and "no Docker engine answered" in out, out
    print(f"doctor on a dead engine: exit {code} in {took:.2f} s")
    private_dockerd.start()


def test_a_command_that_never_ends_is_killed_at_its_bound(docker_lab):
    docker_lab.start_app("myapp2")
    started = time.monotonic()
    with pytest.raises(errors.CommandTimeout) as caught:
        docker_lab.exec("myapp2", ["ping", "127.0.0.1"], timeout=1)
    assert time.monotonic() - started < 3.0
    assert "stopped it" in str(caught.value) and "ping -c" in caught.value.fix
    assert "ping" not in docker_lab.exec("myapp2", ["ps"]).output, "the command is gone"
