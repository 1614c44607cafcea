"""The Docker backend against a real engine, checked with the docker CLI as an independent client."""

from __future__ import annotations

import json

import pytest

from labkit import errors
from labkit.models import Outcome
from labkit.notebook.tables import config_table, endpoints_table, networks_table, port_table
from labkit.probe import probe_address

pytestmark = pytest.mark.docker


def cli_ports(docker_cli, name: str) -> list[str]:
    return [line for line in docker_cli("port", name).splitlines() if line]


def test_port_table_matches_docker_port_and_inspect(docker_lab, docker_cli):
    app = docker_lab.start_app("myapp2", port=None)  # -p :80, as the lab text runs it
    shown = port_table(app)
    lines = [line for b in app.ports for line in b.docker_port_lines()]
    assert sorted(lines) == sorted(cli_ports(docker_cli, app.name))
    raw = json.loads(docker_cli("inspect", app.name))[0]["NetworkSettings"]["Ports"]["80/tcp"]
    v4 = [b for b in raw if ":" not in b["HostIp"]]
    assert shown.loc[0, "host port"] == int(v4[0]["HostPort"])
    assert shown.loc[0, "host IP"] == v4[0]["HostIp"] == "0.0.0.0"
    assert shown.loc[0, "container port"] == "80/tcp"


def test_restart_moves_the_port_and_old_port_is_refused(docker_lab):
    before = docker_lab.start_app("myapp2")
    old_port = before.port(80).host_port
    after = docker_lab.restart("myapp2")
    new_port = after.port(80).host_port
    assert new_port != old_port, "Docker's allocator hands out the next port after a restart"
    assert port_table(docker_lab.container("myapp2")).loc[0, "host port"] == new_port
    stale = probe_address(
        docker_lab.engine, "127.0.0.1", old_port, via="old host port", timeout=1.5
    )
    assert stale.outcome == Outcome.REFUSED and stale.latency_ms < 1000
    via_port, via_bridge = docker_lab.probe("myapp2")
    assert via_port.ok and via_bridge.ok
    assert via_port.server_ip == via_bridge.server_ip == after.ip


def test_lab_app_restarts_without_the_sigterm_wait(docker_lab, docker_cli):
    app = docker_lab.start_app("myapp2")
    inspect = json.loads(docker_cli("inspect", app.name))[0]
    assert inspect["HostConfig"]["Init"] is True, (
        "tini as PID 1 forwards SIGTERM: restart in ~0.3 s"
    )


def test_building_twice_reuses_the_image(docker_engine, docker_cli):
    first = docker_cli("image", "inspect", "--format", "{{.Id}}", docker_engine.ensure_lab_image())
    second = docker_cli("image", "inspect", "--format", "{{.Id}}", docker_engine.ensure_lab_image())
    assert first == second


def _cli_network(docker_cli, name: str) -> dict:
    return json.loads(docker_cli("network", "inspect", name))[0]


def test_bridge_inspect_tables_match_the_cli(docker_lab, docker_cli):
    docker_lab.start_app("myapp2")
    raw = _cli_network(docker_cli, "bridge")
    net = docker_lab.network("bridge")
    config = dict(config_table(net).values.tolist())
    assert config["subnet"] == raw["IPAM"]["Config"][0]["Subnet"] == "172.17.0.0/16"
    assert config["Linux bridge"] == raw["Options"]["com.docker.network.bridge.name"] == "docker0"
    assert config["gateway"] == raw["IPAM"]["Config"][0].get("Gateway", "172.17.0.1")
    _assert_endpoints_match(endpoints_table(net), raw)


def test_user_network_with_two_containers_matches_the_cli(docker_lab, docker_cli):
    net = docker_lab.create_network("labnet")
    docker_lab.start_app("web1", network="labnet")
    docker_lab.start_app("web2", network="labnet")
    raw = _cli_network(docker_cli, net.name)
    shown = docker_lab.network("labnet")
    assert shown.subnet == raw["IPAM"]["Config"][0]["Subnet"]
    assert shown.gateway == raw["IPAM"]["Config"][0]["Gateway"]
    table = endpoints_table(shown)
    assert len(table) == 2
    _assert_endpoints_match(table, raw)
    listed = networks_table(docker_lab.networks())
    row = listed[listed["NAME"] == net.name].iloc[0]
    assert (
        row["containers"] == 2 and row["DRIVER"] == "bridge" and row["NETWORK ID"] == raw["Id"][:12]
    )


def _assert_endpoints_match(table, raw: dict) -> None:
    expected = sorted(
        (ep["Name"], ep["IPv4Address"], ep["MacAddress"]) for ep in raw["Containers"].values()
    )
    assert sorted(zip(table["container"], table["IPv4"], table["MAC"], strict=True)) == expected


def test_name_resolution_on_a_user_network_not_on_the_default_bridge(docker_lab):
    docker_lab.create_network("labnet")
    docker_lab.start_app("web1", network="labnet")
    docker_lab.start_app("web2", network="labnet")
    docker_lab.start_app("plain1")
    docker_lab.start_app("plain2")
    found = docker_lab.exec("web1", ["nslookup", docker_lab.name("web2")])
    assert found.exit_code == 0
    missing = docker_lab.exec("plain1", ["nslookup", docker_lab.name("plain2")])
    assert missing.exit_code != 0


def test_bad_input_raises_labkit_errors_naming_the_object(docker_lab):
    eng = docker_lab.engine
    with pytest.raises(errors.ContainerNotFound, match="no-such-box"):
        eng.container("no-such-box")
    with pytest.raises(errors.InvalidName, match="bad name!"):
        docker_lab.start_app("bad name!")
    docker_lab.start_app("myapp2")
    with pytest.raises(errors.NameInUse, match="myapp2"):
        docker_lab.start_app("myapp2")
    with pytest.raises(errors.NetworkNotFound, match="no-such-net"):
        eng.network("no-such-net")
    docker_lab.create_network("busy")
    docker_lab.start_app("web1", network="busy")
    with pytest.raises(errors.NetworkInUse, match="busy"):
        docker_lab.remove_network("busy")
    with pytest.raises(errors.ImageNotFound, match="nope/nothing"):
        eng.run("nope/nothing:1", name=docker_lab.name("x"))
    assert not [c for c in docker_lab.containers() if c.name == docker_lab.name("x")]


def test_unreachable_engine_is_a_clear_error():
    from labkit.engine.docker import DockerEngine

    with pytest.raises(errors.EngineUnavailable, match="127.0.0.1:9") as caught:
        DockerEngine("tcp://127.0.0.1:9", timeout=2).ping()
    assert "LABKIT_ENGINE=sim" in str(caught.value)


def test_port_table_for_many_containers_is_one_round_trip(docker_lab, monkeypatch):
    for i in range(3):
        docker_lab.start_app(f"many{i}")
    api = docker_lab.engine.client.api
    calls = []
    original = api._get
    monkeypatch.setattr(
        api, "_get", lambda url, *a, **k: calls.append(url) or original(url, *a, **k)
    )
    table = port_table(docker_lab.containers())
    assert len(table) == 3 and table["host port"].notna().all()
    assert len(calls) == 1
