"""Probes against loopback servers this test starts: each outcome is classified, bounded, escaped."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

from labkit.models import Outcome
from labkit.probe import MAX_BODY, probe_address


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
