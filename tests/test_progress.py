"""Progress an instructor can read: checks record it on the engine, ``labkit status`` shows it,
``labkit cleanup --namespace`` resets one student; and the course's exercises ask about what
labkit showed."""

from __future__ import annotations

import json
import uuid

import pytest

from labkit import progress
from labkit.check import remember_container, remember_network, remember_probes
from labkit.cli import main
from labkit.exercises import EXERCISES, exercise, exercise_ids
from labkit.lab import Lab


@pytest.fixture(autouse=True)
def _no_progress_dir(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)


@pytest.fixture
def lab(sim_lab):
    """A student's lab whose progress records are all written before it is cleaned up."""
    yield sim_lab
    assert progress.flush()


def test_a_right_check_returns_before_the_record_is_written(lab, capsys):
    lab.start_app("myapp2")
    q = exercise("01.port", lab)
    assert q.check(q.solution(show=False)) is True
    assert progress.flush()
    assert progress.problem(lab) == ""


def test_a_right_check_is_recorded_on_the_engine_and_survives_a_new_kernel(lab, capsys):
    lab.start_app("myapp2", step="01-ephemeral-ports")
    q = exercise("01.port", lab)
    assert q.check(q.solution(show=False)) is True
    assert q.check(1) is False  # a wrong answer records nothing
    assert progress.flush()
    [row] = progress.status(lab.engine, lab.namespace)
    assert row.passed == ("01.port",) and row.last_step == "01-ephemeral-ports"
    assert row.containers == (("myapp2", "running"),)  # the record itself is not listed
    # The student's kernel restarts: a new Lab carries on from what the engine holds.
    again = Lab(lab.engine, namespace=lab.namespace)
    q2 = exercise("01.range", again)
    q2.check(q2.solution(show=False))
    assert progress.flush()
    [row] = progress.status(lab.engine, lab.namespace)
    assert row.passed == ("01.port", "01.range")


def test_the_record_outlives_a_notebooks_closing_cleanup_but_not_a_reset(lab):
    lab.start_app("myapp2")
    progress.record_check(lab, "01.port", True, step="01-ephemeral-ports")
    assert progress.flush()
    lab.cleanup(session_only=True)  # the last cell of every notebook
    [row] = progress.status(lab.engine, lab.namespace)
    assert row.passed == ("01.port",) and row.containers == ()
    preview = str(lab.cleanup(dry_run=True))
    record = progress.marker_name(lab.namespace)
    # The preview names the record as what it is, not as a container the student made.
    assert preview == (
        f"Would remove labkit's record of your progress ({record}: the last step and the checks "
        "you passed, so the course starts over)"
    )
    lab.cleanup()  # labkit cleanup --namespace: the student starts over
    assert progress.status(lab.engine, lab.namespace) == []


def test_the_record_is_no_lab_container(lab):
    """Views read lab.containers() and inspect each: the record, replaced in the background at
    any moment, must not be among them (notebook 03's inspect met it removed, on Engine 28)."""
    lab.start_app("myapp2")
    progress.record_check(lab, "01.port", True, step="01-ephemeral-ports")
    assert progress.flush()
    assert [c.name for c in lab.containers()] == [lab.name("myapp2")]
    assert progress.marker_name(lab.namespace) in [c.name for c in lab.engine.containers(all=True)]


@pytest.mark.filterwarnings("ignore:labkit could not record progress")
def test_a_container_of_that_name_that_is_not_labkits_is_left_alone(lab):
    engine = lab.engine
    theirs = engine.run(engine.ensure_lab_image(), name=progress.marker_name(lab.namespace))
    progress.record_check(lab, "01.port", True)
    assert progress.flush()
    assert "that labkit did not make is in the way" in progress.problem(lab)
    assert engine.container(theirs.id).id == theirs.id
    engine.remove(theirs.id, force=True)


def test_a_progress_folder_for_per_user_engines(lab, tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    progress.record_check(lab, "02.gateway", True, step="02-linux-bridge")
    data = json.loads((tmp_path / f"{lab.namespace}.json").read_text())
    assert data["passed"] == ["02.gateway"] and data["step"] == "02-linux-bridge"
    # Read back by an instructor whose engine holds nothing of this student (its own simulator).
    from labkit.engine.sim import SimulatedEngine

    elsewhere = SimulatedEngine(reason="tests")
    (tmp_path / "broken.json").write_text("{not json")  # a half-written file is skipped
    [row] = progress.status(elsewhere)
    assert row.namespace == lab.namespace and row.passed == ("02.gateway",)
    elsewhere.close()
    assert progress.flush()


def test_status_of_every_namespace_formats_one_line_each(own_sim_engine):
    sim_engine = own_sim_engine
    alice, bob = Lab(sim_engine, namespace="alice"), Lab(sim_engine, namespace="bob")
    alice.start_app("myapp2", step="01-ephemeral-ports")
    bob.create_network("labnet", step="03-docker-networks")
    bob.start_app("web", network="labnet", step="03-docker-networks")
    progress.record_check(alice, "01.port", True, step="01-ephemeral-ports")
    assert progress.flush()
    rows = progress.status(sim_engine)
    assert [r.namespace for r in rows] == ["alice", "bob"]
    assert rows[1].networks == ("labnet",) and rows[1].last_step == "03-docker-networks"
    text = progress.format_status(rows, total_checks=len(EXERCISES))
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["namespace", "containers"]
    assert lines[1].startswith("alice") and f"1/{len(EXERCISES)}: 01.port" in lines[1]
    assert "web (running)" in lines[2] and "labnet" in lines[2]


# -- the course's exercises ----------------------------------------------------------------------


def test_every_exercise_belongs_to_a_notebook():
    assert len(EXERCISES) == len(exercise_ids())
    assert exercise_ids("01") == exercise_ids("01-ephemeral-ports")
    assert {e.split(".")[0] for e in EXERCISES} == {"01", "02", "03", "04"}


def test_an_exercise_asks_about_what_labkit_showed(lab, capsys):
    app = lab.start_app("myapp2")
    remember_container(lab, app)  # the port table above the question
    q_port = exercise("01.port", lab)
    shown = app.port(80).host_port
    app = lab.restart("myapp2")
    remember_container(lab, app)  # the restart cell shows the new port
    q_new = exercise("01.new_port", lab)
    assert q_port.check(shown) is True
    assert f"that was right before the restart; now it is {app.port(80).host_port}" in (
        capsys.readouterr().out.lower()
    )
    assert q_new.check(app.port(80).host_port) is True
    assert q_new.check(shown) is False
    assert "That was its port before the restart" in capsys.readouterr().out


def test_the_old_port_and_survivor_exercises_read_the_probes_shown(lab, capsys):
    from labkit.probe import probe_address

    app = lab.start_app("myapp2")
    old_port, old_ip = app.port(80).host_port, app.ip
    remember_container(lab, app)
    app = lab.restart("myapp2")
    remember_container(lab, app)
    host = lab.engine.info().host
    old = [
        probe_address(lab.engine, host, old_port, via="host-port"),
        probe_address(lab.engine, old_ip, 80, via="bridge-ip"),
    ]
    remember_probes(lab, old, "old")
    assert exercise("01.old_port", lab).solution(show=False) == "refused"
    survivor = exercise("02.survivor", lab)
    assert survivor.solution(show=False) == "bridge IP"
    assert survivor.check("bridge ip") is True


def test_gateway_and_subnets_from_the_tables_shown(lab, capsys):
    remember_network(lab, lab.network("bridge"))
    q = exercise("02.gateway", lab)
    assert q.check("172.17.0.1/16") is True  # with the prefix: right, and what /16 is is said
    assert "prefix length" in capsys.readouterr().out
    assert exercise("03.bridge_subnet", lab).solution(show=False) == "172.17.0.0/16"
    assert exercise("03.none_driver", lab).solution(show=False) == "null"


def test_an_exercise_before_its_fact_says_what_to_run(lab):
    from labkit.check import NotAnswerable

    with pytest.raises(NotAnswerable) as caught:
        exercise("02.survivor", lab).check("both")
    assert "restart cell above" in caught.value.fix


def test_an_unknown_exercise_lists_the_known_ones(lab):
    from labkit.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        exercise("01.nope", lab)
    assert "01.port" in caught.value.fix


def test_no_answer_in_the_prompt_hint_or_a_notebook_call(lab):
    app = lab.start_app("myapp2")
    q = exercise("01.port", lab)
    port = str(app.port(80).host_port)
    assert port not in q.prompt and port not in repr(q) and port not in q._repr_html_()


# -- the commands ----------------------------------------------------------------------------------


@pytest.mark.docker
def test_status_and_a_one_student_reset_on_a_real_engine(docker_engine, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_ENGINE", "docker")
    tag = uuid.uuid4().hex[:6]
    alice, bob = (Lab(docker_engine, namespace=f"{who}{tag}") for who in ("alice", "bob"))
    try:
        alice.start_app("myapp2", step="01-ephemeral-ports")
        bob.start_app("myapp2", step="02-linux-bridge")
        progress.record_check(alice, "01.port", True, step="01-ephemeral-ports")
        assert progress.flush()
        assert main(["status", "--all-namespaces"]) == 0
        out = capsys.readouterr().out
        [line] = [x for x in out.splitlines() if x.startswith(alice.namespace)]
        assert "myapp2 (running)" in line and "01-ephemeral-ports" in line and "01.port" in line
        assert any(x.startswith(bob.namespace) for x in out.splitlines())

        assert main(["cleanup", "--namespace", alice.namespace]) == 0  # a dry run first
        assert "Would remove" in capsys.readouterr().out
        assert main(["cleanup", "--namespace", alice.namespace, "--yes"]) == 0
        out = capsys.readouterr().out
        assert f"{alice.namespace}-myapp2" in out and f"{alice.namespace}-labkit-progress" in out
        assert bob.namespace not in out
        assert progress.status(docker_engine, alice.namespace) == []
        assert [c.name for c in bob.containers()] == [f"{bob.namespace}-myapp2"]
        assert main(["status", "--namespace", bob.namespace]) == 0
        assert "02-linux-bridge" in capsys.readouterr().out
    finally:
        alice.cleanup()
        bob.cleanup()


@pytest.mark.docker
def test_a_reset_right_after_a_check_waits_for_the_record_and_removes_it(docker_engine):
    """The record is rewritten in the background (~0.4 s on a real engine): a reset made at once
    must neither collide with that removal (the engine's 409 "removal ... already in progress")
    nor leave a record that the writer made after it."""
    lab = Lab(docker_engine, namespace=f"reset{uuid.uuid4().hex[:6]}")
    try:
        lab.start_app("myapp2", step="01-ephemeral-ports")
        for name in ("01.port", "01.range"):
            progress.record_check(lab, name, True, step="01-ephemeral-ports")
            lab.cleanup()  # while the writer is at work
            assert progress.flush()
            assert docker_engine.containers(labels={"labkit.namespace": lab.namespace}) == []
    finally:
        lab.cleanup()


def test_cleanup_refuses_one_and_all_namespaces_at_once(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_ENGINE", "sim")
    assert main(["cleanup", "--namespace", "alice", "--all-namespaces"]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_doctor_names_the_simulators_reason_once(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_ENGINE", "sim")
    main(["doctor"])
    out = capsys.readouterr().out
    assert out.count("LABKIT_ENGINE=sim") == 1 and "SIMULATED" in out
