"""labkit on a real JupyterHub: students started through the hub's REST API, each with a kernel of
their own server driven over its websocket, each in a namespace of their own.

The hub is ``jupyterhub`` from PyPI (labkit's ``hub`` extra) with ``configurable-http-proxy``
installed by npm into a cache folder (``LABKIT_HUB_CACHE``), on loopback, started by the test and
stopped by it. Tests marked ``hub`` skip with the reason where either is missing, and fail under
``LABKIT_REQUIRE_HUB=1`` (CI). The unit tests at the end need neither.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from pathlib import Path

import pytest
from conftest import unavailable

from labkit.errors import HubError
from labkit.hub.room import format_room, room_rows
from labkit.hub.singleuser import prepare_environment
from labkit.lab import NAMESPACE_LABEL, OWNER_LABEL
from labkit.workshop_audit import EngineTap, Request, count_collisions

hub_test = pytest.mark.hub

# Run in a student's kernel: start the lab app, probe it, say who and where we are, clean up.
STUDENT_CELL = """
import json, os
from labkit.lab import Lab
lab = Lab(session="hub-test")
app = lab.start_app("myapp2", step="hub-test")
probe = [p for p in lab.probe("myapp2") if p.via == "host-port"][0]
print("RESULT " + json.dumps({
    "user": os.environ.get("JUPYTERHUB_USER"),
    "namespace": lab.namespace,
    "name": app.name,
    "id": app.id,
    "simulated": lab.engine.info().simulated,
    "docker_host": os.environ.get("DOCKER_HOST", ""),
    "probe": probe.outcome,
}))
"""
CLEANUP_CELL = "print(lab.cleanup(session_only=True))"


def _result(stdout: str) -> dict:
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.fixture(scope="module")
def proxy():
    """configurable-http-proxy from npm, in the cache folder the test run controls."""
    from labkit.hub.local import ensure_proxy

    if not (Path(sys.executable).parent / "jupyterhub").exists():
        unavailable("hub", "jupyterhub is not installed (pip install 'labkit[hub]')")
    try:
        return ensure_proxy()
    except HubError as exc:
        unavailable("hub", exc.message)


def _start_hub(tmp: Path, proxy: Path, environment: dict[str, str]):
    from labkit.hub.local import LocalHub

    hub = LocalHub(tmp, environment=environment, proxy=proxy)
    hub.start()
    return hub


def _start_servers(hub, users: list[str]):
    client = hub.client()
    for user in users:
        client.add_user(user)
    # Through the REST API, all at once, as a workshop starts.
    threads, servers, errors = [], {}, []

    def start(user: str) -> None:
        try:
            servers[user] = client.start_server(user, timeout=240)
        except HubError as exc:
            errors.append(exc.message)

    for user in users:
        threads.append(threading.Thread(target=start, args=(user,)))
        threads[-1].start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    return client, servers


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


@hub_test
@pytest.mark.slow
def test_each_student_has_a_namespace_and_an_engine_of_their_own(proxy, tmp_path):
    """No engine handed to the servers: every student gets the simulated engine, alone."""
    from labkit.hub.local import run_processes

    users = ["ada", "bob", "cyd"]
    hub = _start_hub(tmp_path / "hub", proxy, {"LABKIT_ENGINE": "sim"})
    try:
        client, servers = _start_servers(hub, users)
        seen = {}
        for user, server in servers.items():
            with server.kernel() as kernel:
                cell = kernel.execute(STUDENT_CELL, timeout=180)
                assert cell.ok, f"{user}: {cell.ename}: {cell.evalue}"
                seen[user] = _result(cell.stdout)
                # The instructor's row for this student, through the hub, while the app runs.
                row = server.labkit_status()
                assert row["user"] == user and row.get("namespace", user) == seen[user]["namespace"]
                done = kernel.execute(CLEANUP_CELL, timeout=60)
                assert done.ok and seen[user]["name"] in done.stdout
        for user, got in seen.items():
            assert got["user"] == user
            assert user in got["namespace"], got  # the namespace comes from the hub's user name
            assert got["name"].startswith(got["namespace"] + "-")
            assert got["simulated"] is True
            assert got["probe"] == "ok"
        assert len({g["namespace"] for g in seen.values()}) == len(users)
        # An engine per student: distinct sockets where the per-user daemon exists; otherwise the
        # simulator lives in each kernel, which is one per student by construction.
        hosts = [g["docker_host"] for g in seen.values() if g["docker_host"]]
        assert len(set(hosts)) == len(hosts)
        for user in users:
            client.stop_server(user)
    finally:
        left = hub.stop()
    assert left == [], f"the hub's own shutdown left processes {left}"
    assert run_processes(hub.run_id) == []
    assert _refused(hub.port) and _refused(hub.hub_port) and _refused(hub.proxy_api_port)


@hub_test
@pytest.mark.docker
@pytest.mark.slow
def test_students_share_one_real_engine_apart(proxy, tmp_path, docker_engine, capsys):
    """One real engine handed to every server: names and cleanups stay inside each namespace,
    and the instructor's room view through the hub sees each student's container."""
    from labkit.hub.cli import main as hub_main
    from labkit.hub.local import run_processes

    tag = os.urandom(2).hex()
    users = [f"hub{tag}a", f"hub{tag}b"]
    hub = _start_hub(
        tmp_path / "hub",
        proxy,
        {"LABKIT_ENGINE": "docker", "DOCKER_HOST": docker_engine.where},
    )
    kernels = []
    try:
        client, servers = _start_servers(hub, users)
        seen = {}
        for user in users:
            kernel_cm = servers[user].kernel()
            kernel = kernel_cm.__enter__()
            kernels.append(kernel_cm)
            cell = kernel.execute(STUDENT_CELL, timeout=180)
            assert cell.ok, f"{user}: {cell.ename}: {cell.evalue}"
            seen[user] = (_result(cell.stdout), kernel)
        a, b = (seen[u][0] for u in users)
        assert a["namespace"] != b["namespace"] and a["name"] != b["name"]
        assert not a["simulated"] and a["probe"] == b["probe"] == "ok"
        for got in (a, b):
            found = docker_engine.container(got["id"])
            assert found.labels[NAMESPACE_LABEL] == got["namespace"]
            assert found.labels[OWNER_LABEL] == "labkit"

        assert hub_main(["status", "--url", hub.url, "--token", hub.token]) == 0
        table = capsys.readouterr().out
        for got in (a, b):
            line = next(x for x in table.splitlines() if x.startswith(got["user"]))
            assert got["namespace"] in line and "1/1 running" in line, table

        # One student's whole-namespace cleanup leaves the other's app running.
        cleaned = seen[users[0]][1].execute("print(lab.cleanup())", timeout=60)
        assert cleaned.ok and a["name"] in cleaned.stdout and b["name"] not in cleaned.stdout
        assert docker_engine.container(b["id"]).status == "running"
        assert seen[users[1]][1].execute(CLEANUP_CELL, timeout=60).ok
    finally:
        for kernel_cm in kernels:
            kernel_cm.__exit__(None, None, None)
        left = hub.stop()
        for user in users:  # whatever a failed assertion left on the shared engine
            from labkit.lab import Lab

            Lab(docker_engine, namespace=user).cleanup()
    assert left == [] and run_processes(hub.run_id) == []
    for user in users:
        assert not docker_engine.containers(labels={NAMESPACE_LABEL: user})


# -- without a hub -------------------------------------------------------------------------------


def test_start_command_hands_the_hub_user_to_labkit(monkeypatch):
    env = {"JUPYTERHUB_USER": "grace", "USER": "jovyan", "LABKIT_ENGINE": "docker"}
    monkeypatch.delenv("LABKIT_NAMESPACE", raising=False)
    assert prepare_environment(env) is False  # an engine was handed: nothing started
    from labkit.lab import default_namespace

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert default_namespace() == "grace"  # with or without a labkit that reads JUPYTERHUB_USER


def test_start_command_keeps_an_explicit_namespace():
    env = {"JUPYTERHUB_USER": "grace", "LABKIT_NAMESPACE": "room7-grace", "LABKIT_ENGINE": "docker"}
    prepare_environment(env)
    assert env["LABKIT_NAMESPACE"] == "room7-grace"


def test_room_rows_show_progress_objects_and_what_cannot_be_read():
    progress = {
        "user": "ada",
        "namespace": "ada",
        "containers": [{"name": "myapp2", "status": "running"}],
        "networks": [],
        "last_step": "02-linux-bridge",
        "checks_passed": ["q_port", "q_gateway"],
    }
    labels_only = {"user": "bob", "namespace": "bob", "containers": [], "networks": []}
    in_kernel = {
        "user": "cyd",
        "namespace": "cyd",
        "containers": None,
        "engine": "simulated inside",
    }
    no_server = {"user": "dee", "error": "no server running"}
    rows = [room_rows(r)[0] for r in (progress, labels_only, in_kernel, no_server)]
    assert rows[0]["containers"] == "1/1 running" and rows[0]["last step"] == "02-linux-bridge"
    assert rows[0]["checks passed"] == "2"
    assert rows[1]["containers"] == "0/0 running" and rows[1]["checks passed"] == ""
    assert rows[2]["containers"] == "?" and "simulated" in rows[2]["note"]
    assert rows[3]["note"] == "no server running"
    table = format_room([progress, no_server])
    assert "02-linux-bridge" in table and "no server running" in table


class _Index:
    """A stand-in for EngineIndex: a name or id → its namespace."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners

    def namespace_of(self, ref: str):
        return (ref in self.owners, self.owners.get(ref))


def test_collisions_are_requests_on_another_namespaces_objects():
    index = _Index({"ada-myapp2": "ada", "bob-myapp2": "bob", "abc123abc123": "bob"})
    reqs = [
        Request("ada", "POST", "/v1.41/containers/ada-myapp2/restart", 0.0),
        Request("ada", "POST", "/v1.41/containers/bob-myapp2/restart", 0.0),
        Request("ada", "DELETE", "/v1.41/containers/abc123abc123?force=1", 0.0),
        Request("ada", "POST", "/v1.41/networks/bridge/connect", 0.0, {"Container": "ada-myapp2"}),
        Request(
            "ada", "POST", "/v1.41/networks/bridge/disconnect", 0.0, {"Container": "bob-myapp2"}
        ),
        Request(
            "ada",
            "POST",
            "/v1.41/containers/create?name=x",
            0.0,
            {"Labels": {NAMESPACE_LABEL: "bob"}},
        ),
        Request("ada", "POST", "/v1.41/containers/prune", 0.0),
        Request("ada", "POST", "/v1.41/containers/nobody-knows/start", 0.0),
        Request("ada", "POST", "/v1.41/exec/123/start", 0.0),
    ]
    hits, unresolved, examples = count_collisions(reqs, "ada", index)
    assert (hits, unresolved) == (5, 1), examples


def test_tap_relays_bodies_and_upgraded_streams(tmp_path):
    """A fake engine on a unix socket: a JSON POST, a chunked POST and an upgraded stream pass
    through the tap byte for byte, and the tap records who sent them."""
    upstream = tmp_path / "engine.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(upstream))
    server.listen()
    seen: list[bytes] = []

    def engine() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while b"raw-after-upgrade" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            seen.append(data)
            conn.sendall(b"HTTP/1.1 101 UPGRADED\r\n\r\nhello from the engine")

    t = threading.Thread(target=engine, daemon=True)
    t.start()
    tap = EngineTap(str(upstream), tmp_path / "taps", ["ada"])
    try:
        path = tap.socket("ada")
        body = json.dumps({"Labels": {NAMESPACE_LABEL: "ada"}}).encode()
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(str(path))
            client.sendall(
                b"POST /v1.41/containers/create?name=ada-x HTTP/1.1\r\nHost: d\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            client.sendall(
                b"POST /v1.41/build HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\n\r\n"
            )
            client.sendall(
                b"POST /v1.41/exec/1/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\n"
                b"Upgrade: tcp\r\nContent-Length: 2\r\n\r\n{}raw-after-upgrade"
            )
            answer = b""
            while b"hello from the engine" not in answer:
                chunk = client.recv(65536)
                if not chunk:
                    break
                answer += chunk
        t.join(10)
        tap.close()  # its records are complete once it stopped
        assert b"hello from the engine" in answer
        assert seen and body in seen[0] and b"3\r\nabc\r\n0\r\n\r\n" in seen[0]
        assert seen[0].endswith(b"{}raw-after-upgrade")
        recorded = tap.requests("ada")
        assert [r.path for r in recorded] == [
            "/v1.41/containers/create?name=ada-x",
            "/v1.41/build",
            "/v1.41/exec/1/start",
        ]
        assert recorded[0].body == {"Labels": {NAMESPACE_LABEL: "ada"}}
        assert tap.count("ada") == 3
    finally:
        tap.close()
        server.close()


def test_hub_config_gives_each_user_their_own_values(tmp_path):
    from labkit.hub.local import LocalHub

    hub = LocalHub(tmp_path, environment={"DOCKER_HOST": "unix:///taps/{username}.sock"})
    config = hub._config(Path("/bin/true"))
    namespace: dict = {"get_config": lambda: _Config()}
    exec(compile(config, "jupyterhub_config.py", "exec"), namespace)  # noqa: S102 - our own text
    env = namespace["c"].Spawner.environment

    class Spawner:
        class user:  # noqa: N801 - the shape JupyterHub hands over
            name = "ada"

    assert env["DOCKER_HOST"](Spawner) == "unix:///taps/ada.sock"
    assert env["LABKIT_HUB_RUN"] == hub.run_id
    assert namespace["c"].JupyterHub.load_roles[0]["scopes"] == [
        "admin:users",
        "admin:servers",
        "access:servers",
    ]


class _Config:
    """Enough of traitlets' config object to run a generated jupyterhub_config.py."""

    def __getattr__(self, name: str):
        value = _Section()
        object.__setattr__(self, name, value)
        return value


class _Section:
    pass


def test_kernel_sockets_get_a_short_runtime_folder_only_where_needed(tmp_path):
    from labkit.hub.singleuser import _short_runtime_dir

    assert _short_runtime_dir({"HOME": "/home/jovyan"}) is None
    deep = {"HOME": str(tmp_path / ("x" * 60))}
    made = _short_runtime_dir(deep)
    try:
        assert made is not None and deep["JUPYTER_RUNTIME_DIR"] == str(made)
        assert len(str(made)) + len("/kernel--ipc-99") + 36 < 107
    finally:
        if made is not None:
            made.rmdir()
