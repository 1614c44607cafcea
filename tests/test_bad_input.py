"""The bad-input catalogue: every mistake a student can make ends in a labkit error that says
what, why and what to do — the same error type on the real engine and on the simulator."""

from __future__ import annotations

import socket
import warnings

import pytest

from labkit import errors
from labkit.connect import choose
from labkit.engine.base import HOST_PORTS_DISCARDED, LAB_IMAGE
from labkit.models import Outcome


def assert_teaches(exc: errors.LabkitError, *names: str) -> None:
    """Two lines at most, naming the object, with a why and a what-to-do."""
    text = str(exc)
    assert exc.why and exc.fix, text
    assert len(text.splitlines()) <= 2, text
    for name in names:
        assert name in text, f"{name!r} not named in: {text}"
    assert "Traceback" not in text and "docker.errors" not in text


def raises(kind, call, *names):
    with pytest.raises(kind) as caught:
        call()
    assert_teaches(caught.value, *names)
    return caught.value


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["my app", "-lead", "a/b", "ünï"])
def test_invalid_container_names(lab, bad):
    raises(errors.InvalidName, lambda: lab.engine.run(LAB_IMAGE, name=bad), bad)


@pytest.mark.parametrize("bad", ["lab net", "_x"])
def test_invalid_network_names(lab, bad):
    raises(errors.InvalidName, lambda: lab.engine.create_network(bad), bad)


def test_unknown_container(lab):
    raises(errors.ContainerNotFound, lambda: lab.container("ghost"), "ghost")


def test_unknown_network(lab):
    raises(errors.NetworkNotFound, lambda: lab.network("ghostnet"), "ghostnet")


def test_unknown_image(lab):
    raises(
        errors.ImageNotFound,
        lambda: lab.engine.run("nope/nothing:1", name=lab.name("x")),
        "nope/nothing:1",
    )
    assert lab.containers() == [], "a failed run leaves nothing behind"


def test_container_name_in_use(lab):
    lab.start_app("myapp2")
    raises(errors.NameInUse, lambda: lab.start_app("myapp2"), "myapp2")
    assert len(lab.containers()) == 1


def test_network_name_in_use(lab):
    lab.create_network("labnet")
    raises(errors.NameInUse, lambda: lab.create_network("labnet"), "labnet")


# -- ports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ports", [{"0/tcp": None}, {"80/tcp": 70000}, {"99999": None}, {"80/tcp": -1}]
)
def test_port_out_of_range(lab, ports):
    raises(errors.InvalidPort, lambda: lab.engine.run(LAB_IMAGE, name=lab.name("p"), ports=ports))


def test_port_of_the_wrong_type(lab):
    raises(
        errors.InvalidPort,
        lambda: lab.engine.run(LAB_IMAGE, name=lab.name("p"), ports={"80/tcp": "eighty"}),
        "eighty",
    )


def test_host_port_already_in_use(lab):
    lab.engine.ensure_lab_image()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        raises(
            errors.PortInUse,
            lambda: lab.engine.run(
                LAB_IMAGE,
                name=lab.name("p"),
                ports={"80/tcp": ("127.0.0.1", taken)},
                labels=lab.labels(),
            ),
            str(taken),
        )
    assert lab.containers() == [], "the failed start is removed"


def test_publishing_on_the_host_network_warns_and_discards(lab):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = lab.engine.run(
            LAB_IMAGE,
            name=lab.name("h"),
            network="host",
            ports={"80/tcp": None},
            labels=lab.labels(),
        )
    assert any(HOST_PORTS_DISCARDED in str(w.message) for w in caught)
    assert not [p for p in app.ports if p.published]
    lab.remove("h")


# -- networks ----------------------------------------------------------------------------------


def test_connecting_to_none(lab):
    lab.start_app("myapp2")
    raises(errors.InvalidInput, lambda: lab.connect("none", "myapp2"), "none")


def test_connecting_a_none_container_elsewhere(lab):
    lab.start_app("loner", network="none")
    lab.create_network("labnet")
    raises(errors.InvalidInput, lambda: lab.connect("labnet", "loner"), "loner")


def test_connecting_to_host(lab):
    lab.start_app("myapp2")
    raises(errors.InvalidInput, lambda: lab.connect("host", "myapp2"), "host")


def test_connecting_twice(lab):
    lab.create_network("labnet")
    lab.start_app("web1", network="labnet")
    raises(errors.Conflict, lambda: lab.connect("labnet", "web1"), "labnet")


def test_disconnecting_what_is_not_connected(lab):
    lab.create_network("labnet")
    lab.start_app("myapp2")
    raises(errors.InvalidInput, lambda: lab.disconnect("labnet", "myapp2"))


def test_removing_a_network_in_use(lab):
    lab.create_network("busy")
    lab.start_app("web1", network="busy")
    raises(errors.NetworkInUse, lambda: lab.remove_network("busy"), "busy")


def test_removing_a_builtin_network_is_refused(lab):
    raises(errors.NotOwned, lambda: lab.remove_network("bridge"), "bridge")
    raises(errors.InvalidInput, lambda: lab.engine.remove_network("none"), "none")


def test_invalid_subnet(lab):
    raises(
        errors.InvalidInput,
        lambda: lab.create_network("labnet", subnet="172.30.0.1/16"),
        "172.30.0.1/16",
    )


def test_an_ipv6_subnet_is_refused_not_quietly_replaced(lab):
    raises(
        errors.InvalidInput,
        lambda: lab.create_network("labnet", subnet="fd00:dead::/64"),
        "IPv4 only",
    )
    assert lab.name("labnet") not in [n.name for n in lab.networks()]


def test_creating_a_network_named_like_a_builtin_one_is_refused(lab):
    raises(errors.InvalidInput, lambda: lab.engine.create_network("host"), "engine's own")


def test_overlapping_subnet(lab):
    raises(errors.Conflict, lambda: lab.create_network("labnet", subnet="172.17.0.0/16"), "labnet")


def test_reserved_label(lab):
    raises(errors.InvalidInput, lambda: lab.labels(extra={"labkit.owner": "me"}), "labkit.owner")


# -- containers that are gone or down -------------------------------------------------------------


def test_restarting_a_removed_container(lab):
    lab.start_app("myapp2")
    lab.remove("myapp2")
    raises(errors.ContainerNotFound, lambda: lab.restart("myapp2"), "myapp2")


def test_probing_a_removed_container(lab):
    lab.start_app("myapp2")
    lab.remove("myapp2")
    raises(errors.ContainerNotFound, lambda: lab.probe("myapp2"), "myapp2")


def test_exec_in_a_stopped_container(lab):
    lab.start_app("myapp2")
    lab.stop("myapp2")
    raises(errors.ContainerNotRunning, lambda: lab.exec("myapp2", ["hostname"]), "myapp2")


def test_probing_a_stopped_container_says_so(lab):
    lab.start_app("myapp2")
    lab.stop("myapp2")
    results = lab.probe("myapp2")
    assert {r.outcome for r in results} == {Outcome.NOT_RUNNING}
    assert "start it again" in results[0].detail


def test_probing_a_container_with_no_published_port(lab):
    lab.start_app("quiet", port=None, network="none")
    host_port, bridge = lab.probe("quiet")
    assert host_port.outcome == Outcome.ERROR and "publishes no host port" in host_port.detail
    assert bridge.outcome == Outcome.ERROR and "no bridge IP" in bridge.detail


def test_changing_a_container_labkit_did_not_create(lab):
    foreign = lab.engine.run(LAB_IMAGE, name=f"{lab.namespace}-foreign", labels={})
    try:
        raises(errors.NotOwned, lambda: lab.restart("foreign"), "foreign")
        raises(errors.NotOwned, lambda: lab.remove("foreign"), "foreign")
        assert lab.engine.container(foreign.id).running
    finally:
        lab.engine.remove(foreign.id)


# -- the environment -------------------------------------------------------------------------------


def test_unknown_labkit_engine(monkeypatch):
    monkeypatch.setenv("LABKIT_ENGINE", "kubernetes")
    raises(errors.InvalidInput, choose, "kubernetes")


@pytest.mark.parametrize(
    "value", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:9", "bogus://what"]
)
def test_bad_docker_host_forced(monkeypatch, value):
    monkeypatch.setenv("LABKIT_ENGINE", "docker")
    monkeypatch.setenv("DOCKER_HOST", value)
    err = raises(errors.EngineUnavailable, choose)
    assert "LABKIT_ENGINE" in err.fix


def test_bad_docker_host_falls_back_to_the_simulator_and_says_why(monkeypatch):
    monkeypatch.delenv("LABKIT_ENGINE", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    engine, why = choose()
    try:
        assert engine.info().simulated and "no Docker engine answered" in why
    finally:
        engine.close()
