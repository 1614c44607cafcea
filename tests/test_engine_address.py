"""Where the engine is: labkit follows DOCKER_HOST, then the Docker context, then the default
socket, exactly as the Docker SDK does — and `where`, EngineInfo.local and the publishing default
follow it."""

from __future__ import annotations

import hashlib
import json
import socket
import threading

import pytest
from conftest import unavailable

from labkit import errors
from labkit.engine.docker import DockerEngine, engine_address
from labkit.lab import Lab

DEFAULT = "unix:///var/run/docker.sock"


def _context(config_dir, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
    )


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    """An empty ~/.docker of the test's own (DOCKER_CONFIG), no DOCKER_HOST or DOCKER_CONTEXT."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def _use(config_dir, name: str) -> None:
    (config_dir / "config.json").write_text(json.dumps({"currentContext": name}))


def test_no_setting_means_the_default_socket(docker_config):
    assert engine_address()[:2] == (DEFAULT, "the default socket")


def test_the_current_context_names_the_engine(docker_config):
    _context(docker_config, "lab", "tcp://127.0.0.2:2375")
    _use(docker_config, "lab")
    where, source, _ = engine_address()
    assert (where, source) == ("tcp://127.0.0.2:2375", "the Docker context 'lab'")


def test_docker_context_beats_the_config_and_docker_host_beats_both(docker_config, monkeypatch):
    _context(docker_config, "lab", "tcp://127.0.0.2:2375")
    _context(docker_config, "other", "unix:///run/other.sock")
    _use(docker_config, "lab")
    monkeypatch.setenv("DOCKER_CONTEXT", "other")
    assert engine_address()[0] == "unix:///run/other.sock"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert engine_address()[0] == DEFAULT
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.3:2376")
    assert engine_address()[:2] == ("tcp://127.0.0.3:2376", "DOCKER_HOST")


def test_an_unknown_context_falls_back_to_the_default_socket_as_the_sdk_does(
    docker_config, monkeypatch
):
    monkeypatch.setenv("DOCKER_CONTEXT", "nosuch")
    assert engine_address()[0] == DEFAULT


def test_a_context_that_cannot_be_read_is_a_labkit_error(docker_config):
    _context(docker_config, "broken", "tcp://127.0.0.2:2375")
    meta = next((docker_config / "contexts" / "meta").iterdir()) / "meta.json"
    meta.write_text("{not json")
    _use(docker_config, "broken")
    with pytest.raises(errors.EngineUnavailable) as caught:
        DockerEngine().ping()
    assert "broken" in str(caught.value) and caught.value.fix


def test_a_dead_context_is_named_in_the_error_not_the_default_socket(docker_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    _context(docker_config, "gone", f"tcp://127.0.0.1:{port}")
    _use(docker_config, "gone")
    with pytest.raises(errors.EngineUnavailable) as caught:
        DockerEngine(timeout=2).ping()
    assert f"tcp://127.0.0.1:{port}" in str(caught.value)
    assert DEFAULT not in str(caught.value)


@pytest.fixture(scope="session")
def engine_socket(docker_engine) -> str:
    """The socket of the engine the tests use (CI's may not be the default one), read before a
    test's docker_config empties DOCKER_HOST."""
    where = docker_engine.where
    if not where.startswith("unix://"):
        unavailable("docker", f"the tests' engine is not on a local socket ({where})")
    return where.removeprefix("unix://")


class TcpToUnix:
    """A TCP port on a loopback address that forwards to the machine's engine socket: a stand-in
    for an engine on another host (127.0.0.2 is not "this machine" to labkit)."""

    def __init__(self, host: str, upstream: str) -> None:
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.url = f"tcp://{host}:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self.upstream)
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.mark.docker
def test_a_context_on_a_tcp_engine_elsewhere_is_not_this_machine(engine_socket, docker_config):
    import docker

    proxy = TcpToUnix("127.0.0.2", upstream=engine_socket)
    try:
        _context(docker_config, "remote", proxy.url)
        _use(docker_config, "remote")
        engine = DockerEngine()
        sdk = docker.from_env()
        assert engine.client.api.base_url == sdk.api.base_url, "where the SDK itself goes"
        sdk.close()
        info = engine.info()
        assert engine.where == proxy.url and not info.local and info.host == "127.0.0.2"
        assert f"at {proxy.url}" in info.description
        lab = Lab(engine, namespace=f"ctx{proxy.url.rsplit(':', 1)[1]}")
        try:
            app = lab.start_app("myapp2")  # port='auto': all interfaces for a remote engine
            assert app.port(80).host_ip == "0.0.0.0"
            [via_port, _bridge] = lab.probe("myapp2")
            assert via_port.ok and via_port.target.startswith("127.0.0.2:")
        finally:
            lab.cleanup()
    finally:
        proxy.close()
