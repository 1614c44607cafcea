"""Fixtures for labkit's tests.

Tests are split by what they need. Fast tests run on the simulated engine. Tests marked
``docker`` need a real engine: they skip (saying why) on a laptop without one, and fail under
``LABKIT_REQUIRE_DOCKER=1``, which CI sets. ``browser`` and ``labhosts`` work the same way.
Every test's lab gets its own namespace, and teardown removes exactly what that namespace holds.

A run may be killed. SIGTERM ends it as Ctrl-C does, so every fixture's teardown still runs; and
each run first removes what an earlier run on this host left when it was killed outright: labkit
objects in a dead run's namespace (``labkit.lab.sweep_dead_runs``), bystanders labelled with a dead
run, and private dockerds of a dead run — found by labels and owner files, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import uuid

import pytest

from labkit.lab import NAMESPACE_LABEL, Lab, run_is_over, run_namespace, sweep_dead_runs

# The label that marks the test run's own bystanders (not labkit's: outside its namespace).
RUN_LABEL = "labkit-tests.run"
RUN = run_namespace("t")


def _interrupt(signum, frame):  # noqa: ANN001 - a signal handler's signature
    raise KeyboardInterrupt


def pytest_configure(config):
    # A killed run (CI's time-out sends SIGTERM) unwinds like Ctrl-C: fixtures tear down.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


REQUIRE = {
    "docker": "LABKIT_REQUIRE_DOCKER",
    "browser": "LABKIT_REQUIRE_BROWSER",
    "labhosts": "LABKIT_REQUIRE_LABHOSTS",
    "hub": "LABKIT_REQUIRE_HUB",
}


def required(what: str) -> bool:
    return os.environ.get(REQUIRE[what], "") not in ("", "0")


def unavailable(what: str, reason: str) -> None:
    """Skip, or fail when CI's switch says this must run."""
    if required(what):
        pytest.fail(f"{REQUIRE[what]}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine():
    try:
        from labkit.engine.docker import DockerEngine
        from labkit.errors import EngineUnavailable
    except ImportError as exc:  # pragma: no cover - the SDK is a dependency
        unavailable("docker", f"the Docker SDK is not importable: {exc}")
    engine = DockerEngine()
    try:
        engine.ping()
    except EngineUnavailable as exc:
        unavailable("docker", f"no Docker engine answers: {exc.why}")
    engine.ensure_lab_image()
    yield engine
    engine.close()


@pytest.fixture(scope="session", autouse=True)
def sim_socket(tmp_path_factory):
    """The session's own simulator socket (LABKIT_SIM_SOCKET, inherited by the labkit commands
    tests run): tests never touch the user's simulator. A daemon started there is stopped."""
    from labkit.engine.sim import daemon

    path = tmp_path_factory.mktemp("sim") / "sim.sock"
    before = os.environ.get("LABKIT_SIM_SOCKET")
    os.environ["LABKIT_SIM_SOCKET"] = str(path)
    yield path
    daemon.stop(path, say=lambda line: None)
    if before is None:
        os.environ.pop("LABKIT_SIM_SOCKET", None)
    else:
        os.environ["LABKIT_SIM_SOCKET"] = before


@pytest.fixture(scope="session")
def sim_daemon(sim_socket):
    """labkit's simulator as a daemon of this test session: its Engine API URL."""
    from labkit.engine.sim import daemon

    return daemon.ensure(sim_socket).url


@pytest.fixture
def sim_engine(sim_daemon):
    """The simulator as labkit reaches it: DockerEngine over the Engine API, like a real one."""
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(base_url=sim_daemon)
    yield engine
    engine.close()


@pytest.fixture
def own_sim_engine():
    """A simulated engine of the test's own (the in-process model), for a test that reads every
    namespace on an engine: the session's daemon holds other tests' namespaces too."""
    from labkit.engine.sim import SimulatedEngine

    engine = SimulatedEngine(reason="tests")
    yield engine
    engine.close()


@pytest.fixture
def twin_sim_engine(docker_engine, monkeypatch):
    """A simulator of the real engine's generation (LABKIT_SIM_VERSION), to hold the two side
    by side; a simulator that cannot model that generation is a failure, not a skip."""
    from labkit.engine.sim import SimulatedEngine

    generation = docker_engine.info().generation
    monkeypatch.setenv("LABKIT_SIM_VERSION", generation.value)
    engine = SimulatedEngine(reason="tests")
    if engine.info().generation is not generation:
        engine.close()
        pytest.fail(
            f"the simulator models Engine {engine.info().generation.value}, not the real "
            f"engine's {generation.value} (LABKIT_SIM_VERSION={generation.value})",
            pytrace=False,
        )
    yield engine
    engine.close()


@pytest.fixture
def twin_sim_lab(twin_sim_engine):
    lab = _lab(twin_sim_engine)
    yield lab
    _cleanup(lab)


@pytest.fixture(params=["sim", pytest.param("docker", marks=pytest.mark.docker)])
def engine(request):
    """The contract fixture: every test using it runs on both engines."""
    return request.getfixturevalue(f"{request.param}_engine")


def _lab(engine) -> Lab:
    # A namespace that names this run's process, so a later run can sweep it if this one is killed.
    return Lab(engine, namespace=run_namespace("t"))


def _cleanup(lab: Lab) -> None:
    lab.cleanup()
    leftovers = lab.engine.containers(labels={NAMESPACE_LABEL: lab.namespace})
    assert not leftovers, f"cleanup left {leftovers}"


@pytest.fixture
def lab(engine):
    lab = _lab(engine)
    yield lab
    _cleanup(lab)


@pytest.fixture
def docker_lab(docker_engine):
    lab = _lab(docker_engine)
    yield lab
    _cleanup(lab)


@pytest.fixture
def sim_lab(sim_engine):
    lab = _lab(sim_engine)
    yield lab
    _cleanup(lab)


@pytest.fixture
def private_dockerd(docker_engine):
    """A dockerd of the test's own, for stopping engines and cleaning every namespace."""
    from private_dockerd import PrivateDockerd

    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        unavailable("docker", "a private dockerd needs root and dockerd on this machine")
    daemon = PrivateDockerd()
    daemon.start()
    yield daemon
    daemon.destroy()


@pytest.fixture(scope="session")
def docker_cli(docker_engine):
    """The docker CLI, an independent client to check labkit against."""
    path = shutil.which("docker")
    if path is None:
        unavailable("docker", "the docker CLI is not installed")

    def run(*args: str) -> str:
        return subprocess.run(
            [path, *args], check=True, capture_output=True, text=True, timeout=60
        ).stdout

    return run


@pytest.fixture(scope="session", autouse=True)
def bystanders(request):
    """An unlabelled container and network that are not labkit's: every run must leave them be.

    Created only when a real engine answers; checked untouched at the end of the session.
    """
    try:
        from labkit.engine.docker import DockerEngine

        engine = DockerEngine(timeout=5)
        engine.ping()
    except Exception:  # noqa: BLE001 - no engine: nothing to guard
        yield None
        return
    _sweep_killed_runs(engine)
    image = engine.ensure_lab_image()
    tag = uuid.uuid4().hex[:6]
    mark = {RUN_LABEL: RUN}
    net = engine.create_network(f"bystander-net-{tag}", labels=mark)
    box = engine.run(
        image,
        name=f"bystander-{tag}",
        ports={"80/tcp": ("127.0.0.1", None)},
        network=net.name,
        labels=mark,
    )
    yield box
    try:
        after = engine.container(box.id)
        assert after.status == "running" and after.id == box.id, (
            "labkit touched a container it did not create"
        )
        assert engine.network(net.id).id == net.id
    finally:
        engine.remove(box.id)
        engine.remove_network(net.id)


def _sweep_killed_runs(engine) -> None:
    """What earlier runs on this host left when killed outright (SIGKILL): their labs, their
    bystanders (by RUN_LABEL), their private dockerds (by owner file)."""
    sweep_dead_runs(engine, "t")
    for c in engine.containers():
        if run_is_over(c.labels.get(RUN_LABEL, ""), "t"):
            engine.remove(c.id)
    for n in engine.networks():
        if run_is_over(n.labels.get(RUN_LABEL, ""), "t"):
            engine.remove_network(n.id)
    if os.geteuid() == 0:
        from private_dockerd import PrivateDockerd

        PrivateDockerd.sweep_dead()
