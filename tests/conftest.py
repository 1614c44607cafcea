"""Fixtures for labkit's tests.

Tests are split by what they need. Fast tests run on the simulated engine. Tests marked
``docker`` need a real engine: they skip (saying why) on a laptop without one, and fail under
``LABKIT_REQUIRE_DOCKER=1``, which CI sets. ``browser`` and ``labhosts`` work the same way.
Every test's lab gets its own namespace, and teardown removes exactly what that namespace holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from labkit.lab import NAMESPACE_LABEL, Lab

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


@pytest.fixture
def sim_engine():
    from labkit.engine.sim import SimulatedEngine

    engine = SimulatedEngine(reason="tests")
    yield engine
    engine.close()


@pytest.fixture(params=["sim", pytest.param("docker", marks=pytest.mark.docker)])
def engine(request):
    """The contract fixture: every test using it runs on both engines."""
    return request.getfixturevalue(f"{request.param}_engine")


def _lab(engine) -> Lab:
    return Lab(engine, namespace=f"t{uuid.uuid4().hex[:8]}")


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
    image = engine.ensure_lab_image()
    tag = uuid.uuid4().hex[:6]
    net = engine.create_network(f"bystander-net-{tag}")
    box = engine.run(
        image, name=f"bystander-{tag}", ports={"80/tcp": ("127.0.0.1", None)}, network=net.name
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
