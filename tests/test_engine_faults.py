"""Engine faults on a real engine: a private dockerd this test starts, stops and starts again.

The private engine has its own socket, data and exec roots and its own bridge interface, so
stopping it never disturbs the machine's main engine or anyone's containers on it. (Never start
a second dockerd with --bridge=none: it deletes docker0 from under the main engine.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import unavailable
from labkit import errors
from labkit.lab import Lab
from labkit.models import Outcome
from labkit.probe import probe_address

pytestmark = pytest.mark.docker


class PrivateDockerd:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lkd-"))
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        # Its own bridge, in the RFC 2544 test range that only this machine's tests use.
        self.bridge = f"lkd{os.getpid() % 100000}"
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", "198.18.250.1/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "docker.pid"), "-H", self.url,
             f"--bridge={self.bridge}", "--iptables=false", "--ip-masq=false", "--ip-forward=false"],
            stdout=log, stderr=log, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        from labkit.engine.docker import DockerEngine

        while time.monotonic() < deadline:
            try:
                DockerEngine(self.url, timeout=2).ping()
                return
            except errors.EngineUnavailable:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError(f"private dockerd did not start: {(self.root / 'dockerd.log').read_text()[-500:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def destroy(self) -> None:
        self.stop()
        if self.proc:  # its containerd, should it have outlived dockerd
            subprocess.run(["pkill", "-f", str(self.root)], capture_output=True)
        subprocess.run(["umount", "-R", str(self.root / "data")], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_dockerd(docker_engine):
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        unavailable("docker", "a private dockerd needs root and dockerd on this machine")
    daemon = PrivateDockerd()
    daemon.start()
    yield daemon
    daemon.destroy()


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
    for call in (engine.ping, lab.containers, lambda: lab.container("myapp2"), lambda: lab.restart("myapp2"),
                 engine.networks, lambda: lab.start_app("other", network="none")):
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
    private_dockerd.stop(signal.SIGTERM)
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
        image, name=docker_lab.name("dies"), command=["/bin/busybox", "false"],
        ports={"80/tcp": ("127.0.0.1", None)}, labels=docker_lab.labels("faults"),
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
