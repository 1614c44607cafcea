"""A JupyterHub's REST API, and a user's server's kernels over its REST and websocket API.

What an instructor's tools need and no more: add a user, start and stop their server, wait until
it is ready; in a user's server, start a kernel, run code in it, read what it printed, shut it
down. Plain ``requests`` and ``websocket-client`` (both installed with the course); every call has
a time-out, and every failure is a ``HubError`` saying what, why and what to do.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import requests

from labkit.errors import HubError

__all__ = ["Hub", "UserServer", "Kernel", "CellResult"]


def _fail(what: str, exc: Exception | str, fix: str = "") -> HubError:
    return HubError(what, str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__, fix)


class _Api:
    """One base URL and token; JSON in and out, bounded, errors as HubError."""

    def __init__(self, base: str, token: str, timeout: float) -> None:
        self.base = base.rstrip("/") + "/"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        timeout: float | None = None,
    ) -> Any:
        url = self.base + path.lstrip("/")
        try:
            r = self.session.request(method, url, json=body, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise _fail(f"{method} {url} got no answer", exc, "is the hub running?") from exc
        if r.status_code not in ok:
            try:
                message = r.json().get("message", r.text)
            except ValueError:
                message = r.text
            raise HubError(
                f"{method} {url} answered {r.status_code}", (message or r.reason)[:300], ""
            )
        if r.status_code == 204 or not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            return r.text


class Hub:
    """A JupyterHub's REST API with a token (a service's or an admin's)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.api = _Api(f"{self.url}/hub/api", token, timeout)

    def version(self) -> str:
        return str(self.api.call("GET", "/")["version"])

    def users(self) -> list[dict[str, Any]]:
        return list(self.api.call("GET", "users"))

    def user(self, name: str) -> dict[str, Any]:
        return dict(self.api.call("GET", f"users/{quote(name)}"))

    def add_user(self, name: str) -> None:
        """Create the user (an existing one is fine)."""
        self.api.call("POST", f"users/{quote(name)}", ok=(201, 409))

    def delete_user(self, name: str) -> None:
        self.api.call("DELETE", f"users/{quote(name)}", ok=(204, 404))

    def start_server(self, name: str, *, timeout: float = 180.0) -> UserServer:
        """Start the user's server and wait (bounded) until the hub says it is ready."""
        self.api.call("POST", f"users/{quote(name)}/server", ok=(201, 202, 400))
        started = time.monotonic()
        while True:
            user = self.user(name)
            server = user.get("servers", {}).get("")
            if server and server.get("ready"):
                return UserServer(
                    self.url + server["url"], self.api.token, name=name, timeout=self.api.timeout
                )
            waited = time.monotonic() - started
            if not server and user.get("pending") is None and waited > 5:
                raise HubError(
                    f"{name}'s server did not start",
                    "the hub has no server for this user and none is starting",
                    "read the hub's log: the spawner says why",
                )
            if waited > timeout:
                raise HubError(
                    f"{name}'s server was not ready in time",
                    f"not ready within {timeout:.0f} s",
                    "read the hub's log; a busy machine may need a longer start time-out",
                )
            time.sleep(0.5)

    def stop_server(self, name: str, *, timeout: float = 60.0) -> None:
        """Stop the user's server and wait (bounded) until it is gone."""
        self.api.call("DELETE", f"users/{quote(name)}/server", ok=(202, 204, 400, 404))
        deadline = time.monotonic() + timeout
        while True:
            user = self.user(name)
            if not user.get("servers") and user.get("pending") is None:
                return
            if time.monotonic() > deadline:
                raise HubError(
                    f"{name}'s server did not stop",
                    f"still there after {timeout:.0f} s",
                    "read the hub's log",
                )
            time.sleep(0.5)

    def server(self, name: str) -> UserServer | None:
        server = self.user(name).get("servers", {}).get("")
        if not server or not server.get("ready"):
            return None
        return UserServer(
            self.url + server["url"], self.api.token, name=name, timeout=self.api.timeout
        )


class UserServer:
    """One user's Jupyter server, reached through the hub's proxy with the same token."""

    def __init__(self, url: str, token: str, *, name: str, timeout: float = 30.0) -> None:
        self.name = name
        self.url = url.rstrip("/") + "/"
        self.api = _Api(self.url, token, timeout)

    def upload(self, local: Path, remote: str) -> None:
        """Put a notebook (or any text file) into the user's folder, as the file browser would."""
        folder = remote.rsplit("/", 1)[0] if "/" in remote else ""
        if folder:
            self.api.call("PUT", f"api/contents/{quote(folder)}", body={"type": "directory"})
        if local.suffix == ".ipynb":
            model = {"type": "notebook", "format": "json", "content": json.loads(local.read_text())}
        else:
            model = {"type": "file", "format": "text", "content": local.read_text()}
        self.api.call("PUT", f"api/contents/{quote(remote)}", body=model)

    def labkit_status(self, timeout: float = 60.0) -> dict[str, Any]:
        """What labkit's server extension reports for this user (see ``labkit.hub.extension``)."""
        return dict(self.api.call("GET", "labkit/status", timeout=timeout))

    def kernels(self) -> list[dict[str, Any]]:
        return list(self.api.call("GET", "api/kernels"))

    @contextmanager
    def kernel(self, path: str = "", *, ready_timeout: float = 120.0) -> Iterator[Kernel]:
        """A new kernel in this server (cwd: the folder of ``path``), shut down afterwards."""
        model = self.api.call("POST", "api/kernels", body={"name": "python3", "path": path})
        kernel = Kernel(self, model["id"])
        try:
            kernel.connect(ready_timeout)
            yield kernel
        finally:
            kernel.shutdown()


@dataclass
class CellResult:
    """What one execute request did: ok, or the error's name and value; its text output."""

    status: str
    seconds: float
    stdout: str = ""
    stderr: str = ""
    ename: str = ""
    evalue: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Kernel:
    """A kernel in a user's server, driven over its websocket (the protocol a browser uses)."""

    def __init__(self, server: UserServer, kernel_id: str) -> None:
        self.server = server
        self.id = kernel_id
        self.session = uuid.uuid4().hex
        self._ws: Any = None

    def connect(self, timeout: float) -> None:
        import websocket  # websocket-client, a dependency of jupyter_server

        parsed = urlparse(self.server.url)
        scheme = "wss" if parsed.scheme == "https" else "ws"
        url = (
            f"{scheme}://{parsed.netloc}{parsed.path}api/kernels/{self.id}/channels"
            f"?session_id={self.session}"
        )
        try:
            self._ws = websocket.create_connection(
                url, header=[f"Authorization: token {self.server.api.token}"], timeout=timeout
            )
        except Exception as exc:  # noqa: BLE001 - websocket-client raises many kinds
            raise _fail(f"could not open {self.server.name}'s kernel channel", exc) from exc
        # The kernel answers kernel_info once it is up; ask until it does (bounded).
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self._send("kernel_info_request", {})
            try:
                self._until(msg_id, "kernel_info_reply", min(5.0, deadline - time.monotonic()))
                return
            except HubError:
                if time.monotonic() > deadline:
                    raise HubError(
                        f"{self.server.name}'s kernel did not start",
                        f"no kernel_info_reply within {timeout:.0f} s",
                        "read the user's server log",
                    ) from None

    def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        try:
            self._ws.send(self._message(msg_id, msg_type, content))
        except Exception as exc:  # noqa: BLE001 - a closed socket, a reset
            raise _fail(f"{self.server.name}'s kernel channel closed", exc) from exc
        return msg_id

    def _message(self, msg_id: str, msg_type: str, content: dict[str, Any]) -> str:
        return json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": msg_type,
                    "username": "labkit",
                    "session": self.session,
                    "version": "5.3",
                    "date": datetime.now(timezone.utc).isoformat(),
                },
                "parent_header": {},
                "metadata": {},
                "content": content,
                "channel": "shell",
                "buffers": [],
            }
        )

    def _messages(self, deadline: float) -> Iterator[dict[str, Any]]:
        import websocket

        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HubError(f"{self.server.name}'s kernel went quiet", "time-out", "")
            self._ws.settimeout(left)
            try:
                raw = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:  # noqa: BLE001 - a closed socket, a reset
                raise _fail(f"{self.server.name}'s kernel channel closed", exc) from exc
            if isinstance(raw, bytes):  # binary frames carry widget buffers: not ours
                continue
            yield json.loads(raw)

    def _until(self, msg_id: str, reply: str, timeout: float) -> dict[str, Any]:
        for msg in self._messages(time.monotonic() + max(timeout, 0.1)):
            if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == reply:
                return msg
        raise AssertionError("unreachable")

    def execute(self, code: str, *, timeout: float = 300.0) -> CellResult:
        """Run one cell; wait (bounded) for its reply and for the kernel to go idle."""
        started = time.monotonic()
        msg_id = self._send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        result = CellResult(status="", seconds=0.0)
        idle = False
        try:
            for msg in self._messages(started + timeout):
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg.get("content", {})
                if kind == "stream":
                    if content.get("name") == "stderr":
                        result.stderr += content.get("text", "")
                    else:
                        result.stdout += content.get("text", "")
                elif kind in ("display_data", "execute_result"):
                    result.outputs.append(content.get("data", {}))
                elif kind == "error":
                    result.ename, result.evalue = (
                        content.get("ename", ""),
                        content.get("evalue", ""),
                    )
                elif kind == "execute_reply":
                    result.status = content.get("status", "error")
                    if result.status == "error" and not result.ename:
                        result.ename = content.get("ename", "")
                        result.evalue = content.get("evalue", "")
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                if result.status and idle:
                    break
        except HubError:
            result.status, result.ename = "timeout", "TimeoutError"
            result.evalue = f"no reply within {timeout:.0f} s"
        result.seconds = time.monotonic() - started
        return result

    def shutdown(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass
            self._ws = None
        try:
            self.server.api.call("DELETE", f"api/kernels/{self.id}", ok=(204, 404), timeout=30)
        except HubError:
            pass  # the server is gone: so is its kernel
