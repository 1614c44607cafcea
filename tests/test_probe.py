"""Probes against loopback servers this test starts: each outcome is classified, bounded, escaped."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from labkit.errors import InvalidInput
from labkit.models import Outcome
from labkit.probe import MAX_BODY, probe_address, probe_old_port


@contextmanager
def tcp_server(handler):
    """A one-thread loopback server; ``handler(conn)`` answers each connection."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(4096)
                    handler(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        sock.close()


def http(body: bytes, status: str = "200 OK") -> bytes:
    return b"HTTP/1.0 " + status.encode() + b"\r\nContent-Type: text/plain\r\n\r\n" + body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ok_parses_the_app_page():
    page = b"labkit lab app\nServer IP: 172.17.0.9\nHostname: abc\nClient: 1.2.3.4:5\n"
    with tcp_server(lambda c: c.sendall(http(page))) as port:
        result = probe_address(None, "127.0.0.1", port)
    assert result.ok and result.status == 200
    assert (result.server_ip, result.hostname, result.client_addr) == (
        "172.17.0.9",
        "abc",
        "1.2.3.4:5",
    )


def test_closed_port_is_refused_fast():
    result = probe_address(None, "127.0.0.1", free_port(), timeout=1.5)
    assert result.outcome == Outcome.REFUSED and result.latency_ms < 500


def test_silent_server_times_out_within_the_bound():
    with tcp_server(lambda c: time.sleep(1.0)) as port:
        started = time.monotonic()
        result = probe_address(None, "127.0.0.1", port, timeout=0.3)
    assert result.outcome == Outcome.TIMEOUT
    assert time.monotonic() - started < 1.0


def test_non_http_reply_is_classified():
    with tcp_server(lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")) as port:
        result = probe_address(None, "127.0.0.1", port)
    assert result.outcome == Outcome.NOT_HTTP


def test_huge_reply_is_read_with_a_bound():
    with tcp_server(lambda c: c.sendall(http(b"x" * (MAX_BODY * 4)))) as port:
        result = probe_address(None, "127.0.0.1", port)
    assert result.ok and len(result.body) == MAX_BODY


def test_slow_drip_reply_stops_at_the_time_bound():
    def drip(conn):
        conn.sendall(http(b"a"))
        for _ in range(50):
            conn.sendall(b"b")
            time.sleep(0.05)

    with tcp_server(drip) as port:
        started = time.monotonic()
        result = probe_address(None, "127.0.0.1", port, timeout=0.5)
    assert result.outcome == Outcome.TIMEOUT
    assert time.monotonic() - started < 1.5


def test_binary_and_html_replies_stay_text():
    payload = b"<script>alert(1)</script>\x00\xff\xfe"
    with tcp_server(lambda c: c.sendall(http(payload))) as port:
        result = probe_address(None, "127.0.0.1", port)
    assert result.ok and "<script>" in result.body and "\ufffd" in result.body
    assert result.server_ip is None


# -- a reply that dribbles: the bound holds for the status line, the headers and the body -------


def _dribble(part: str):
    """A server that sends one part of its reply one byte a second (the rest at once)."""
    status, headers, body = b"HTTP/1.0 200 OK\r\n", b"Content-Type: text/plain\r\n\r\n", b"hello"

    def handler(conn):
        parts = {
            "status line": (status, headers + body),
            "headers": (headers, body),
            "body": (body, b""),
        }
        slow, rest = parts[part]
        if part != "status line":
            conn.sendall(status if part == "headers" else status + headers)
        for byte in slow * 20:  # long enough to outlast any bound the test uses
            conn.sendall(bytes([byte]))
            time.sleep(1.0)
        conn.sendall(rest)

    return handler


@pytest.mark.parametrize("part", ["status line", "headers", "body"])
def test_a_reply_sent_one_byte_a_second_times_out_within_the_bound(part):
    with tcp_server(_dribble(part)) as port:
        started = time.monotonic()
        result = probe_address(None, "127.0.0.1", port, timeout=1.5)
        took = time.monotonic() - started
    assert result.outcome == Outcome.TIMEOUT, result
    assert took < 2.0, f"{part}: {took:.2f} s"
    assert result.body == "" and result.status is None, "a cut reply is never a short answer"


@pytest.mark.parametrize("part", ["status line", "headers", "body"])
def test_the_restart_panels_first_probe_is_bounded_too(part, sim_lab):
    from labkit.notebook.widgets import RestartPanel

    sim_lab.start_app("myapp2")
    real = sim_lab.engine.container
    with tcp_server(_dribble(part)) as port:

        def container(ref):
            # The app's published port, as if its host port were the dribbling server's.
            found = real(ref)
            binding = dataclasses.replace(found.ports[0], host_ip="127.0.0.1", host_port=port)
            return dataclasses.replace(found, ports=(binding,))

        sim_lab.engine.container = container
        started = time.monotonic()
        panel = RestartPanel(sim_lab, "myapp2", threaded=False, figure=False, probe_timeout=1.0)
        took = time.monotonic() - started
    assert took < 2.5, f"{part}: the panel took {took:.2f} s to open"
    assert panel.history[0].via_host_port == Outcome.TIMEOUT
    assert panel.history[0].via_bridge_ip == Outcome.OK


# -- probe_address refuses what is not an address, before any traffic ----------------------------


@pytest.mark.parametrize("timeout", [-1, 0, "1", None, float("nan"), float("inf"), 31, True])
def test_a_probe_timeout_that_is_not_a_bound_is_refused(timeout):
    with pytest.raises(InvalidInput, match="timeout"):
        probe_address(None, "127.0.0.1", free_port(), timeout=timeout)


def test_reply_fields_are_printable_text():
    page = (
        b"labkit lab app\nServer IP: \x1b[31m172.17.0.9\x1b]0;owned\x07\nHostname: a\x1b[2Jb\n"
        b"Client: 1.2.3.4:5\r\n"
    )
    with tcp_server(lambda c: c.sendall(http(page))) as port:
        result = probe_address(None, "127.0.0.1", port)
    assert result.server_ip == "172.17.0.9" and result.hostname == "ab"
    assert result.client_addr == "1.2.3.4:5"


# -- the old host port after a restart: probed only while it is still the container's or nobody's --


def test_the_old_port_is_probed_when_nobody_has_it(sim_lab):
    app = sim_lab.start_app("myapp2")
    old = app.port(80).host_port
    moved = sim_lab.restart("myapp2")
    assert moved.port(80).host_port != old
    result = probe_old_port(sim_lab.engine, moved, old)
    assert result.outcome == Outcome.REFUSED and result.url


def test_the_old_port_is_not_probed_once_another_container_has_it(sim_lab):
    app = sim_lab.start_app("myapp2")
    old = app.port(80).host_port
    moved = sim_lab.restart("myapp2")
    sim_lab.start_app("someone", port=("127.0.0.1", old))  # the engine gave the port away
    result = probe_old_port(sim_lab.engine, moved, old)
    assert result.outcome == Outcome.TAKEN and result.url == ""
    assert "another container" in result.detail and str(old) in result.detail


def test_the_old_port_is_not_probed_once_another_program_holds_it(sim_lab):
    app = sim_lab.start_app("myapp2")
    old = app.port(80).host_port
    moved = sim_lab.restart("myapp2")
    with socket.socket() as program:
        program.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        program.bind(("127.0.0.1", old))
        program.listen(1)
        program.settimeout(0.2)
        result = probe_old_port(sim_lab.engine, moved, old)
        with pytest.raises(TimeoutError):
            program.accept()  # nothing was sent to it
    assert result.outcome == Outcome.TAKEN and "another program" in result.detail


def test_a_port_still_the_containers_is_probed(sim_lab):
    app = sim_lab.start_app("myapp2")
    result = probe_old_port(sim_lab.engine, app, app.port(80).host_port)
    assert result.ok and result.server_ip == app.ip


def test_an_answer_from_another_container_is_not_this_ones():
    """From here an address may reach someone else's container (an engine in another network
    namespace, whose 172.17.0.2 is not the one here): the app's hostname tells them apart."""
    from labkit.engine.sim import SimulatedEngine
    from labkit.models import Container, PortBinding
    from labkit.probe import probe_host_port

    page = b"labkit lab app\nServer IP: 172.17.0.2\nHostname: 0123456789ab\nClient: x\n"
    engine = SimulatedEngine(reason="tests")
    with tcp_server(lambda c: c.sendall(http(page))) as port:
        binding = PortBinding(80, host_ip="127.0.0.1", host_port=port)
        mine = Container(
            "f" * 64, "mine", "img", "running", ports=(binding,), hostname="ffffffffffff"
        )
        theirs = dataclasses.replace(mine, hostname="0123456789ab")
        wrong = probe_host_port(engine, mine)
        right = probe_host_port(engine, theirs)
    engine.close()
    assert wrong.outcome == Outcome.WRONG_CONTAINER and "0123456789ab" in wrong.detail
    assert right.ok
