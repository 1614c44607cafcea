"""Real TCP listeners on 127.0.0.1 for the simulated app's published ports.

One selector thread serves every listener, so opening one costs a socket and a bind (the
1,000-restart benchmark opens 2,000) and ~300 listeners cost one thread. A request gets the
same bytes the lab app's busybox httpd sends; requests are small, so each connection is read
until its header ends and answered in one write.
"""

from __future__ import annotations

import email.utils
import errno
import selectors
import socket
import threading
import time
from collections.abc import Callable

__all__ = ["LISTEN_HOST", "SERVED_PATHS", "ListenerHub", "http_response", "not_found_page"]

LISTEN_HOST = "127.0.0.1"  # the simulator never listens beyond this machine

# (client port) -> the page's body, computed when the request arrives
Responder = Callable[[int], str]

_IDLE_SECONDS = 10.0  # busybox httpd drops a silent connection too
_MAX_REQUEST = 16 * 1024
SERVED_PATHS = frozenset({"/", "/cgi-bin/index.cgi"})  # the CGI answers "/" (no index.html)


def http_response(request: bytes, body: Callable[[], str]) -> bytes:
    """The lab app's answer to a raw request, byte for byte as busybox httpd + its CGI send it."""
    line = request.split(b"\n", 1)[0].strip().decode("latin-1", "replace")
    parts = line.split()
    if len(parts) < 2 or parts[0] not in ("GET", "HEAD", "POST"):
        return _error(400, "Bad Request", "Unsupported method")
    path = parts[1].split("?", 1)[0]
    if path not in SERVED_PATHS:
        return _error(404, "Not Found", "The requested URL was not found")
    # The CGI writes its own header with a bare newline, as the real app does.
    return ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\n\n" + body()).encode()


def _error(code: int, reason: str, text: str) -> bytes:
    date = email.utils.formatdate(usegmt=True)
    head = (
        f"HTTP/1.1 {code} {reason}\r\nDate: {date}\r\nConnection: close\r\n"
        "Content-type: text/html\r\n\r\n"
    )
    return (head + _error_page(code, reason, text)).encode()


def _error_page(code: int, reason: str, text: str) -> str:
    return (
        f"<HTML><HEAD><TITLE>{code} {reason}</TITLE></HEAD>\n"
        f"<BODY><H1>{code} {reason}</H1>\n{text}\n</BODY></HTML>\n"
    )


def not_found_page() -> str:
    """The body busybox httpd sends for a path the app does not serve."""
    return _error_page(404, "Not Found", "The requested URL was not found")


class _Conn:
    __slots__ = ("sock", "respond", "buffer", "since")

    def __init__(self, sock: socket.socket, respond: Responder) -> None:
        self.sock, self.respond, self.buffer, self.since = sock, respond, b"", time.monotonic()


class ListenerHub:
    """Owns every listening socket of one engine and the thread that serves them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._listeners: dict[int, socket.socket] = {}  # port -> listening socket
        self._conns: dict[int, _Conn] = {}  # fd -> open connection
        self._closed = False

    # -- called by the engine (under its own lock) ----------------------------------------------

    def try_open(self, port: int, respond: Responder) -> bool:
        """Listen on 127.0.0.1:``port``; False when the port is busy on this machine."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LISTEN_HOST, port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
        with self._lock:
            if self._closed:
                sock.close()
                return False
            selector = self._ensure_thread()
            self._listeners[port] = sock
            selector.register(sock, selectors.EVENT_READ, respond)
        return True

    def close_port(self, port: int) -> None:
        """Stop listening on ``port``: a new connection is refused from now on."""
        with self._lock:
            self._drop(port)

    def _drop(self, port: int) -> None:
        # Under the lock: forget the listener and close it.
        sock = self._listeners.pop(port, None)
        if sock is None:
            return
        if self._selector is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
        sock.close()

    @property
    def ports(self) -> list[int]:
        with self._lock:
            return sorted(self._listeners)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for port in list(self._listeners):
                self._drop(port)
            thread, wake = self._thread, self._wake_w
        if wake is not None:
            try:
                wake.send(b"x")
            except OSError:
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    # -- the serving thread -------------------------------------------------------------------

    def _ensure_thread(self) -> selectors.BaseSelector:
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, None)
            self._thread = threading.Thread(
                target=self._serve, name="labkit-sim-listeners", daemon=True
            )
            self._thread.start()
        return self._selector

    def _serve(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self._closed:
                try:
                    events = selector.select(timeout=1.0)
                except (OSError, ValueError):
                    continue  # a socket closed under us: select again
                for key, _mask in events:
                    if self._closed:
                        break
                    if key.data is None:
                        self._drain_wake()
                    elif isinstance(key.data, _Conn):
                        self._read(key.data)
                    else:
                        self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                self._drop_idle()
        finally:
            self._shutdown()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r is not None and self._wake_r.recv(512):
                pass
        except OSError:
            pass

    def _accept(self, listener: socket.socket, respond: Responder) -> None:
        while True:
            try:
                conn, _peer = listener.accept()
            except OSError:  # drained (EAGAIN), or the listener closed meanwhile
                return
            conn.setblocking(False)
            state = _Conn(conn, respond)
            with self._lock:
                if self._closed or self._selector is None:
                    conn.close()
                    return
                self._conns[conn.fileno()] = state
                self._selector.register(conn, selectors.EVENT_READ, state)

    def _read(self, state: _Conn) -> None:
        try:
            chunk = state.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        state.buffer += chunk
        head_done = b"\r\n\r\n" in state.buffer or b"\n\n" in state.buffer
        if chunk and not head_done and len(state.buffer) < _MAX_REQUEST:
            return
        if state.buffer:
            try:
                client_port = state.sock.getpeername()[1]
            except OSError:
                client_port = 0
            try:
                reply = http_response(state.buffer, lambda: state.respond(client_port))
                state.sock.setblocking(True)
                state.sock.settimeout(2.0)
                state.sock.sendall(reply)
            except Exception:  # noqa: BLE001 - one client's failure must not stop the server
                pass
        self._finish(state)

    def _finish(self, state: _Conn) -> None:
        with self._lock:
            fd = state.sock.fileno()
            self._conns.pop(fd, None)
            if self._selector is not None and fd >= 0:
                try:
                    self._selector.unregister(state.sock)
                except (KeyError, ValueError):
                    pass
        try:
            state.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        state.sock.close()

    def _drop_idle(self) -> None:
        if not self._conns:
            return
        cutoff = time.monotonic() - _IDLE_SECONDS
        for state in [c for c in list(self._conns.values()) if c.since < cutoff]:
            self._finish(state)

    def _shutdown(self) -> None:
        with self._lock:
            conns = list(self._conns.values())
            self._conns.clear()
            selector, self._selector = self._selector, None
        for state in conns:
            state.sock.close()
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        if selector is not None:
            selector.close()
