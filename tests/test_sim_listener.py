"""The simulated app's real listeners on 127.0.0.1 and the modelled bridge (model_http)."""

from __future__ import annotations

import errno
import http.client
import re
import socket
import time

import pytest
from loopback import refused

from labkit.app import PAGE_TITLE, parse_page
from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import SimulatedEngine


@pytest.fixture
def sim():
    engine = SimulatedEngine()
    yield engine
    engine.close()


def get(port: int, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    finally:
        conn.close()


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


def free_run(low: int = 41000, high: int = 59000, length: int = 4) -> int:
    """The first of ``length`` consecutive ports nothing on this machine holds."""
    for start in range(low, high, 97):
        socks = []
        try:
            for port in range(start, start + length):
                sock = socket.socket()
                sock.bind(("0.0.0.0", port))
                socks.append(sock)
            return start
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free run of ports")


def test_a_published_app_port_serves_the_page_for_real(sim):
    c = sim.run(LAB_IMAGE, name="myapp2", ports={"80/tcp": None})
    status, body = get(c.port().host_port)
    assert status == 200 and body.startswith(PAGE_TITLE)
    page = parse_page(body)
    assert page["server_ip"] == "172.17.0.2" and page["hostname"] == c.id[:12]
    assert re.fullmatch(
        r"\[::ffff:172\.17\.0\.1\]:\d+", page["client_addr"]
    )  # the gateway, after DNAT


def test_the_bytes_are_busybox_httpds(sim):
    port = sim.run(LAB_IMAGE, name="aa", ports={"80/tcp": None}).port().host_port
    reply = raw(port, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    assert reply.startswith(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\n\n" + PAGE_TITLE.encode()
    )
    missing = raw(port, b"GET /nope HTTP/1.0\r\n\r\n")
    assert (
        missing.startswith(b"HTTP/1.1 404 Not Found\r\nDate: ")
        and b"The requested URL was not found" in missing
    )
    assert raw(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_a_restart_refuses_the_old_port_and_serves_the_new_one(sim):
    old = sim.run(LAB_IMAGE, name="myapp2", ports={"80/tcp": None}).port().host_port
    assert get(old)[0] == 200
    new = sim.restart("myapp2").port().host_port
    assert new != old
    assert refused(old)
    status, body = get(new)
    assert status == 200 and parse_page(body)["server_ip"] == "172.17.0.2"


def test_stop_and_remove_and_close_release_the_ports(sim):
    a = sim.run(LAB_IMAGE, name="aa", ports={"80/tcp": None}).port().host_port
    b = sim.run(LAB_IMAGE, name="bb", ports={"80/tcp": None}).port().host_port
    c = sim.run(LAB_IMAGE, name="cc", ports={"80/tcp": ("127.0.0.1", None)}).port().host_port
    sim.stop("aa")
    assert refused(a) and get(b)[0] == 200
    sim.remove("bb")
    assert refused(b) and get(c)[0] == 200
    sim.close()
    assert refused(c)


def test_only_loopback_is_listened_on(sim):
    port = sim.run(LAB_IMAGE, name="aa", ports={"80/tcp": None}).port().host_port
    outward = [
        a for a in socket.gethostbyname_ex(socket.gethostname())[2] if not a.startswith("127.")
    ]
    for address in outward:
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=1).close()
    assert get(port)[0] == 200


def test_ports_busy_on_this_machine_are_skipped():
    start = free_run()
    engine = SimulatedEngine(port_range=(start, start + 3))
    holder = socket.socket()
    holder.bind(("127.0.0.1", start))
    holder.listen()
    try:
        first = engine.run(LAB_IMAGE, name="aa", ports={"80/tcp": None}).port().host_port
        assert first == start + 1
        assert get(first)[0] == 200
    finally:
        holder.close()
        engine.close()


def test_a_fixed_port_held_by_another_program_is_port_in_use():
    from labkit.errors import PortInUse

    engine = SimulatedEngine()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(PortInUse, match=str(port)):
            engine.run(LAB_IMAGE, name="aa", ports={"80/tcp": port})
        assert engine.containers() == []
    finally:
        holder.close()
        engine.close()


def test_three_hundred_listeners_answer(sim):
    started = time.perf_counter()
    ports = [
        sim.run(LAB_IMAGE, name=f"c{i}", ports={"80/tcp": None}).port().host_port
        for i in range(300)
    ]
    assert time.perf_counter() - started < 5
    assert len(set(ports)) == 300
    for port in ports[::37] + [ports[-1]]:
        status, body = get(port)
        assert status == 200 and parse_page(body)["server_ip"].startswith("172.17.")


def test_a_silent_client_does_not_block_the_others(sim):
    port = sim.run(LAB_IMAGE, name="aa", ports={"80/tcp": None}).port().host_port
    idle = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        assert get(port)[0] == 200
    finally:
        idle.close()


def test_a_custom_command_does_not_serve_the_app(sim):
    c = sim.run(
        LAB_IMAGE, name="sleeper", ports={"80/tcp": None}, command=["/bin/busybox", "sleep", "3600"]
    )
    assert c.port().published
    assert refused(c.port().host_port)
    with pytest.raises(ConnectionRefusedError):
        sim.model_http(c.ip, 80)


# -- the modelled bridge --------------------------------------------------------------------------


def test_model_http_answers_for_bridge_ips(sim):
    c = sim.run(LAB_IMAGE, name="myapp2", ports={"80/tcp": None})
    reply = sim.model_http(c.ip, 80)
    assert reply.status == 200 and reply.latency_ms > 0
    page = parse_page(reply.body)
    assert page["server_ip"] == c.ip and page["client_addr"].startswith("[::ffff:172.17.0.1]:")
    assert sim.model_http(c.ip, 80, "/nope").status == 404
    with pytest.raises(ConnectionRefusedError):
        sim.model_http(c.ip, 8080)
    with pytest.raises(ConnectionRefusedError):
        sim.model_http("172.17.0.1", 80)  # the gateway is the host: nothing listens on 80


def test_model_http_survives_a_restart_and_not_a_stop(sim):
    c = sim.run(LAB_IMAGE, name="myapp2", ports={"80/tcp": None})
    sim.restart("myapp2")
    assert sim.model_http(c.ip, 80).status == 200  # the lab text: the bridge IP still works
    sim.stop("myapp2")
    with pytest.raises(OSError) as info:
        sim.model_http(c.ip, 80)
    assert info.value.errno == errno.EHOSTUNREACH


def test_model_http_leaves_other_addresses_to_the_real_network(sim):
    c = sim.run(LAB_IMAGE, name="aa", ports={"80/tcp": None})
    assert sim.model_http("127.0.0.1", c.port().host_port) is None
    assert sim.model_http("10.200.0.1", 80) is None
    assert sim.model_http("localhost", 80) is None


def test_model_http_on_user_networks(sim):
    sim.create_network("labnet")
    c = sim.run(LAB_IMAGE, name="aa", network="labnet")
    reply = sim.model_http(c.ip, 80)
    assert parse_page(reply.body)["client_addr"].startswith("[::ffff:172.18.0.1]:")
