"""labkit owns only what it made: cleanup by label and namespace, on an engine of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from labkit.lab import Lab

pytestmark = pytest.mark.docker


def labkit_cli(url: str, namespace: str, *args: str) -> str:
    env = {
        **os.environ,
        "DOCKER_HOST": url,
        "LABKIT_NAMESPACE": namespace,
        "LABKIT_ENGINE": "docker",
    }
    done = subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cleanup_touches_only_labkits_objects_in_its_namespace(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    image = engine.ensure_lab_image()
    user_net = engine.create_network("users-net")
    user_box = engine.run(
        image, name="users-box", network="users-net", ports={"80/tcp": ("127.0.0.1", None)}
    )
    alice, bob = Lab(engine, namespace="alice"), Lab(engine, namespace="bob")
    for lab in (alice, bob):
        lab.create_network("labnet")
        lab.start_app("myapp2", network="labnet")

    dry = labkit_cli(private_dockerd.url, "alice", "cleanup")
    assert "alice-myapp2" in dry and "bob-myapp2" not in dry and "dry run" in dry
    assert len(alice.containers()) == 1, "a dry run removes nothing"

    labkit_cli(private_dockerd.url, "alice", "cleanup", "--yes")
    assert alice.containers() == [] and len(bob.containers()) == 1

    everyone = labkit_cli(private_dockerd.url, "alice", "cleanup", "--all-namespaces", "--yes")
    assert "bob-myapp2" in everyone and bob.containers() == []

    after = engine.container("users-box")
    assert (after.id, after.status) == (user_box.id, "running")
    assert engine.network("users-net").id == user_net.id
    names = {n.name for n in engine.networks()}
    assert "alice-labnet" not in names and "bob-labnet" not in names


STUDENT = textwrap.dedent(
    """
    import sys
    from labkit.engine.docker import DockerEngine
    from labkit.lab import Lab
    lab = Lab(DockerEngine(sys.argv[1]), namespace=sys.argv[2])
    lab.create_network("labnet")
    first = lab.start_app("myapp2", network="labnet")
    moved = lab.restart("myapp2")
    ok = all(r.ok for r in lab.probe("myapp2"))
    print(first.name, first.port(80).host_port, moved.port(80).host_port, ok)
    """
)


def test_two_students_run_the_same_steps_at_once_on_one_engine(private_dockerd):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STUDENT, private_dockerd.url, ns],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ns in ("ada", "grace")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    (name_a, a1, a2, ok_a), (name_g, g1, g2, ok_g) = (o.split() for o, _ in outputs)
    assert (name_a, name_g) == ("ada-myapp2", "grace-myapp2")
    assert ok_a == ok_g == "True" and a1 != a2 and g1 != g2
    assert len({a1, a2, g1, g2}) == 4, "one allocator hands each student distinct ports"

    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    Lab(engine, namespace="ada").cleanup()
    assert [c.name for c in Lab(engine, namespace="grace").containers()] == ["grace-myapp2"]
    Lab(engine, namespace="grace").cleanup()
