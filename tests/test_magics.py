"""The typed course on a shared engine: two students typing the same ``%docker`` lines.

Each test runs on the simulator and on the real engine (``engine`` fixture). Two Labs in two
namespaces stand for two students on one engine; they type exactly the same lines, as two
people running the same notebook cell would. Neither may collide with the other, see the
other's objects as its own, or remove them — by a typed command or by labkit's clean-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from labkit.lab import Lab, run_namespace
from labkit.notebook.magics import docker

APP = "labkit/lab-app:1"


@pytest.fixture
def students(engine):
    alice, bob = (Lab(engine, namespace=run_namespace("t")) for _ in range(2))
    yield alice, bob
    for lab in (alice, bob):
        lab.cleanup()
        for c in lab.engine.containers():  # what a test made by hand, in the namespace
            if c.name.startswith(f"{lab.namespace}-") and not c.name.endswith("labkit-progress"):
                lab.engine.remove(c.id, force=True)


def typed(lab: Lab, line: str, capsys) -> tuple[int, str]:
    code = docker(lab, line)
    return code, capsys.readouterr().out


def cli(lab: Lab, *argv: str) -> subprocess.CompletedProcess:
    """The docker CLI as a terminal runs it: names as typed, no labels."""
    env = {**os.environ, **lab.engine.cli_environment()}
    return subprocess.run(
        [shutil.which("docker") or "docker", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_same_lines_make_two_containers_each_the_students_own(students, capsys):
    alice, bob = students
    for lab in students:
        code, out = typed(lab, f"run -d --name myapp2 -p :80 {APP}", capsys)
        assert code == 0, out
        assert f"--name {lab.namespace}-myapp2" in out
    mine, theirs = alice.container("myapp2"), bob.container("myapp2")
    assert mine.id != theirs.id
    assert alice.owns(mine) and not alice.owns(theirs)
    assert bob.owns(theirs) and not bob.owns(mine)
    # docker port / restart myapp2 mean each student's own container
    code, out = typed(alice, "port myapp2", capsys)
    assert code == 0 and alice.container("myapp2").name in out and bob.namespace not in out
    started = bob.container("myapp2").started_at
    code, out = typed(alice, "restart myapp2", capsys)
    assert code == 0, out
    assert bob.container("myapp2").started_at == started, "alice's restart restarted bob's"
    # rm -f myapp2 removes the typist's container only
    code, out = typed(alice, "rm -f myapp2", capsys)
    assert code == 0, out
    assert [c.name for c in alice.containers()] == []
    assert [c.name for c in bob.containers()] == [f"{bob.namespace}-myapp2"]


def test_networks_of_the_same_name_do_not_collide(students, capsys):
    for lab in students:
        code, out = typed(lab, "network create labnet", capsys)
        assert code == 0, out
        code, out = typed(lab, f"run -d --name web --network labnet {APP}", capsys)
        assert code == 0, out
        assert lab.container("web").attachment(f"{lab.namespace}-labnet") is not None
    alice, bob = students
    assert alice.network("labnet").id != bob.network("labnet").id


def test_one_students_cleanup_leaves_the_others_objects(students, capsys):
    alice, bob = students
    for lab in students:
        assert typed(lab, f"run -d --name myapp2 -p :80 {APP}", capsys)[0] == 0
        assert typed(lab, "network create labnet", capsys)[0] == 0
    plan = alice.cleanup(session_only=True)
    assert plan.containers == (f"{alice.namespace}-myapp2",)
    assert plan.networks == (f"{alice.namespace}-labnet",)
    assert [c.name for c in bob.containers()] == [f"{bob.namespace}-myapp2"]
    assert bob.owns(bob.network("labnet"))
    plan = alice.cleanup()  # the whole namespace: still nothing of bob's
    assert f"{bob.namespace}-myapp2" not in plan.containers
    assert bob.container("myapp2").running


def test_a_container_made_by_hand_is_seen_never_changed_and_its_name_can_be_freed(students, capsys):
    alice, _ = students
    by_hand = alice.name("myapp3")
    made = cli(alice, "run", "-d", "--name", by_hand, APP)
    assert made.returncode == 0, made.stderr
    # labkit's views show it (as not labkit's); its clean-up leaves it
    from labkit.notebook.course import containers

    view = containers(alice).data
    assert by_hand in view and "not labkit (by hand)" in view
    assert by_hand not in alice.cleanup().containers
    assert alice.engine.container(by_hand).running
    # %docker run of the same name: the engine refuses, the hint says what frees it ...
    code, out = typed(alice, f"run -d --name myapp3 -p :80 {APP}", capsys)
    assert code != 0
    hint = next(line for line in out.splitlines() if line.startswith("→"))
    assert "%docker rm -f myapp3" in hint
    # ... and that command does free it
    freeing = hint.split("%docker ", 1)[1].strip()
    assert typed(alice, freeing, capsys)[0] == 0
    code, out = typed(alice, f"run -d --name myapp3 -p :80 {APP}", capsys)
    assert code == 0, out
    assert alice.owns(alice.container("myapp3"))


def test_a_hand_made_name_without_the_namespace_is_used_as_typed(students, capsys):
    alice, _ = students
    name = f"handmade-{uuid.uuid4().hex[:8]}"
    made = cli(alice, "run", "-d", "--name", name, APP)
    assert made.returncode == 0, made.stderr
    try:
        code, out = typed(alice, f"inspect -f '{{{{.Name}}}}' {name}", capsys)
        assert code == 0 and f"/{name}" in out, out
        assert name not in alice.cleanup().containers
    finally:
        cli(alice, "rm", "-f", name)


def test_an_exec_on_the_simulator_is_marked_simulated_and_on_an_engine_not(students, capsys):
    alice, _bob = students
    code, out = typed(
        alice,
        "run -d --name hostbox --network host labkit/lab-app:1 /bin/busybox sleep 300",
        capsys,
    )  # no app on the host's port 80: as notebook 03 does
    assert code == 0, out
    code, out = typed(alice, "exec hostbox ip -4 addr", capsys)
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("$ docker exec ")
    assert first.endswith("# SIMULATED container") == alice.engine.info().simulated
    assert "127.0.0.1" in out  # a host-network container sees the host's loopback
