"""The simulated engine's streams: the Engine API endpoints that hold a connection open.

- hijacked (``attach``, ``exec start``): the answer is ``101 UPGRADED`` (tcp) or ``200``, then the
  connection is raw: the client's stdin one way, the process's output the other, as raw bytes with
  a TTY or as 8-byte-header frames (stream type, three zero bytes, big-endian length) without. A
  client half-closes at stdin EOF and still reads: the server writes until the process ends.
- chunked (``logs``, ``events``, ``wait``): a chunked reply that lasts as long as the container
  runs, the subscription lasts, or the condition is met, ended early when the client leaves
  (``docker run -d`` abandons its ``wait?condition=next-exit``).

Each route is a function of the request handler (``labkit.engine.sim.api``), which routes to it.
"""

from __future__ import annotations

import fcntl
import json
import queue
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from labkit.engine._checks import not_running
from labkit.engine.sim import wire
from labkit.engine.sim.state import LogLine, WaitCondition, now_iso
from labkit.engine.sim.terminal import Terminal, is_interactive_shell
from labkit.errors import InvalidInput, LabkitError, NotFound
from labkit.models import ExecResult

if TYPE_CHECKING:
    from labkit.engine.sim.api import Handler

__all__ = ["attach", "events", "exec_start", "logs", "wait"]

_POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)
_SIOCOUTQ = 0x5411  # bytes sent on a socket that its peer has not read yet (Linux)


def _frame(stream: int, data: bytes) -> bytes:
    """The multiplexed stream's frame: stream type, three zero bytes, big-endian length."""
    return struct.pack(">BxxxL", stream, len(data)) + data


def _crlf(text: str) -> str:
    """A TTY's output processing (onlcr): every newline reaches the terminal as CR LF."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _peer_gone(sock: socket.socket, *, eof_is_gone: bool) -> bool:
    """Whether the client closed its connection. A client that only half-closed (stdin at EOF
    on an exec or attach stream) still reads: unless ``eof_is_gone``, that is not gone."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLHUP | _POLLRDHUP)
    try:
        events = poller.poll(0)
    except OSError:
        return True
    if not events:
        return False
    mask = events[0][1]
    if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
        return True
    if eof_is_gone and mask & (select.POLLIN | _POLLRDHUP):
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
    return False


def _wait_until_read(sock: socket.socket, limit: float = 0.5) -> None:
    """Wait (bounded) until the client has read everything sent so far. docker-py parses the
    101 headers through a buffered reader, then reads the stream from the socket beneath it:
    output that arrived together with the headers would be lost in that buffer. dockerd gets
    away with it because a process takes a moment to start; the model answers at once."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            return
        if unread <= 0:
            return
        time.sleep(0.001)


def _stream_type(h: Handler, tty: bool) -> str:
    if not tty and wire.api_at_least(h.api, "1.42"):
        return "application/vnd.docker.multiplexed-stream"
    return "application/vnd.docker.raw-stream"


def _hijack(h: Handler, tty: bool) -> socket.socket:
    """Answer ``101 UPGRADED`` (or 200 to a client that did not ask to upgrade) and hand
    back the raw connection: from here on it carries the process's stdin and output."""
    upgrade = "upgrade" in h.headers.get("Connection", "").lower()
    ctype = _stream_type(h, tty)
    if upgrade:
        head = f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {ctype}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\n"
    head += (
        f"Api-Version: {h.max_api}\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
        f"Server: {h.version_string()}\r\n\r\n"
    )
    h.stdin_early = _buffered(h)
    h.connection.settimeout(None)
    h.connection.sendall(head.encode())
    h.close_connection = True
    _wait_until_read(h.connection)
    return h.connection


def _buffered(h: Handler) -> bytes:
    """What the handler's buffered reader already holds past the request: stdin a client sent
    before it read the 101 (the docker CLI and docker-py wait for it, but nothing says a client
    must). From here on the stream reads the socket itself."""
    h.connection.setblocking(False)
    try:
        return h.rfile.read1(65536) or b""
    except OSError:
        return b""
    finally:
        h.connection.setblocking(True)


def _out(sock: socket.socket, data: bytes, *, tty: bool, stream: int = 1) -> None:
    if data:
        sock.sendall(data if tty else _frame(stream, data))


def events(h: Handler) -> None:
    """``GET /events``: the past events from ``since``, then each new one, until ``until`` or
    the client leaves."""
    filters = wire.parse_filters(h.query.get("filters"))
    wire.check_filters(filters, wire.EVENT_FILTERS)  # a 400 before the stream starts
    since = float(h.query["since"]) if h.query.get("since") else None
    until = float(h.query["until"]) if h.query.get("until") else None
    inbox: queue.SimpleQueue[dict] = queue.SimpleQueue()
    stop = h.engine.subscribe(inbox.put, lambda raw: wire.event_matches(raw, filters))
    try:
        h.start_chunks()
        sent = 0
        if since is not None:
            for raw in h.engine.past_events(since, until):
                if wire.event_matches(raw, filters):
                    h.chunk((json.dumps(raw) + "\n").encode())
                    sent = raw["timeNano"]
        while until is None or time.time() < until:
            try:
                raw = inbox.get(timeout=0.5)
            except queue.Empty:
                if _peer_gone(h.connection, eof_is_gone=True):
                    h.close_connection = True
                    return
                continue
            if raw["timeNano"] > sent and (until is None or raw["timeNano"] <= until * 1e9):
                h.chunk((json.dumps(raw) + "\n").encode())
        h.end_chunks()
    finally:
        stop()


def wait(h: Handler, ref: str) -> None:
    """``POST /containers/{id}/wait``: the exit code once ``condition`` is met; nothing if the
    client gives up first."""
    condition = h.query.get("condition") or WaitCondition.NOT_RUNNING
    if condition not in {c.value for c in WaitCondition}:
        raise InvalidInput("Unknown wait condition", condition, "").answering(
            400, f"invalid condition: {condition!r}"
        )
    wait = h.engine.waiter(ref, WaitCondition(condition))
    h.start_chunks()
    code = wait(lambda: _peer_gone(h.connection, eof_is_gone=True))
    if code is None:  # the client gave up (`docker run -d` does): nothing to answer
        h.close_connection = True
        return
    h.chunk((json.dumps({"Error": None, "StatusCode": code}) + "\n").encode())
    h.end_chunks()


def attach(h: Handler, ref: str) -> None:
    """``POST /containers/{id}/attach``: PID 1's output (and its stdin, for an interactive
    shell) over the hijacked connection."""
    data = h.engine.inspect_container(ref)
    config = data["Config"]
    tty = bool(config["Tty"])
    pid1 = [data["Path"], *data["Args"]]
    if h.flag("stdin") and tty and config["OpenStdin"]:
        if is_interactive_shell(pid1):
            _attach_shell(h, data["Id"])
            return
    inbox: queue.SimpleQueue[LogLine | None] = queue.SimpleQueue()
    detach = h.engine.attach(ref, inbox.put)
    try:
        sock = _hijack(h, tty)
        if h.flag("logs"):
            for line in h.engine.logs(ref):
                _out(sock, line.text.encode(), tty=tty, stream=line.stream)
        _pump(h, sock, inbox, tty)
    finally:
        detach()


def _pump(h: Handler, sock: socket.socket, inbox: queue.SimpleQueue, tty: bool) -> None:
    """Copy a container's output to a client until the process ends or the client leaves."""
    while True:
        try:
            line = inbox.get(timeout=1.0)
        except queue.Empty:
            if _peer_gone(sock, eof_is_gone=False) or h.engine is not h.server.engine:
                return
            continue
        if line is None:
            return
        text = _crlf(line.text) if tty else line.text
        _out(sock, text.encode(), tty=tty, stream=line.stream)


def _attach_shell(h: Handler, cid: str) -> None:
    """`docker run -it IMAGE sh`: PID 1 is an interactive shell on the client's terminal."""
    sock = _hijack(h, True)
    deadline = time.monotonic() + 30
    while not h.engine.container(cid).running:  # the CLI attaches before it starts
        if time.monotonic() > deadline or _peer_gone(sock, eof_is_gone=False):
            return
        time.sleep(0.02)
    term = Terminal(h.engine.terminal_session(cid), tty=True)
    _session(h, sock, term, tty=True, alive=lambda: h.engine.container(cid).running)
    h.engine.end_pid1(cid, term.exit_code if term.done else 137)


def logs(h: Handler, ref: str) -> None:
    """``GET /containers/{id}/logs``: the lines logged, then (``follow``) the new ones until the
    container stops or the client leaves."""
    data = h.engine.inspect_container(ref)
    tty = bool(data["Config"]["Tty"])
    running = bool(data["State"]["Running"])
    streams = {1} if h.flag("stdout") else set()
    streams |= {2} if h.flag("stderr") else set()
    stamps = h.flag("timestamps")
    since = float(h.query.get("since") or 0)
    lines = [x for x in h.engine.logs(ref) if x.stream in streams and x.time >= since]
    tail = h.query.get("tail") or "all"
    if tail != "all" and tail.isdigit():
        lines = lines[-int(tail) :] if int(tail) else []
    h.start_chunks(_stream_type(h, tty))

    def chunk(line: LogLine) -> None:
        text = line.text
        if stamps:
            stamp = now_iso(line.time)
            text = "".join(f"{stamp} {part}" for part in text.splitlines(True))
        data = text.encode()
        h.chunk(data if tty else _frame(line.stream, data))

    for line in lines:
        chunk(line)
    if h.flag("follow") and running:
        inbox: queue.SimpleQueue[LogLine | None] = queue.SimpleQueue()
        detach = h.engine.attach(ref, inbox.put)
        try:
            while True:
                try:
                    new = inbox.get(timeout=1.0)
                except queue.Empty:
                    if _peer_gone(h.connection, eof_is_gone=True):
                        h.close_connection = True
                        return
                    continue
                if new is None:
                    break
                if new.stream in streams:
                    chunk(new)
        finally:
            detach()
    h.end_chunks()


def exec_start(h: Handler, ref: str) -> None:
    """``POST /exec/{id}/start``: the command's output over the hijacked connection (an
    interactive shell reads the client's stdin), or at once with ``Detach``."""
    body = h.json_body()
    job = h.engine.exec_inspect(ref)
    if not h.engine.container(job.container_id).running:
        raise not_running(job.container_id, job.container_id)
    interactive = is_interactive_shell(job.argv) and job.stdin
    if body.get("Detach"):
        h.engine.exec_start(ref)  # a shell with no terminal reads EOF at once
        h.reply(200)
        return
    sock = _hijack(h, job.tty)
    if interactive:
        _job, run_line = h.engine.exec_session(ref)
        term = Terminal(run_line, tty=job.tty)
        try:
            _session(h, sock, term, tty=job.tty, alive=lambda: _running(h, job.container_id))
        finally:
            h.engine.exec_end(ref, term.exit_code if term.done else 137)
        return
    try:
        result = h.engine.exec_start(ref)
    except LabkitError as exc:
        from labkit.engine.sim.api import _status  # api imports this module: at call time

        result = ExecResult(126, _status(exc)[1] + "\r\n")
    text = _crlf(result.output) if job.tty else result.output
    _out(sock, text.encode(), tty=job.tty)


def _session(
    h: Handler, sock: socket.socket, term: Terminal, *, tty: bool, alive: Callable[[], bool]
) -> None:
    """Run an interactive shell over the hijacked connection until it exits, the
    container stops or the client leaves."""
    _out(sock, term.start(), tty=tty)
    if h.stdin_early:
        _out(sock, term.feed(h.stdin_early), tty=tty)
    while not term.done:
        ready, _, _ = select.select([sock], [], [], 1.0)
        if not ready:
            if not alive() or h.engine is not h.server.engine:
                return
            continue
        try:
            data = sock.recv(4096)
        except OSError:
            return
        out = term.feed(data) if data else term.close_input()
        _out(sock, out, tty=tty)
        if not data:
            return


def _running(h: Handler, ref: str) -> bool:
    try:
        return h.engine.container(ref).running
    except NotFound:
        return False
