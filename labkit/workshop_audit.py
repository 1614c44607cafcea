"""Who touched what on a shared engine, for the workshop benchmark: a tap per student, an index.

Each student's server gets ``DOCKER_HOST=unix://<tap>`` instead of the engine's own socket. The
tap relays every byte both ways unchanged (keep-alive, chunked bodies, and the raw streams of
``exec``/``attach`` after ``101 Upgrade``) and records who sent which request line (and, for the
calls that create or connect, the JSON body). That is how the benchmark knows which student
touched which object: the engine itself does not say who called it.

One asyncio loop in a process of its own serves every tap and writes each student's requests to
``<folder>/<user>.jsonl``. ``EngineIndex`` knows every container
and network of the run (from the engine's events) and whose namespace it is; ``count_collisions``
reads a student's requests against it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from labkit.lab import NAMESPACE_LABEL

__all__ = ["EngineTap", "Request", "EngineIndex", "count_collisions", "route"]

_LIMIT = 1 << 20
_BODY_PATHS = ("/containers/create", "/networks/create", "/connect", "/disconnect")
_BUILTIN = ("bridge", "host", "none")


@dataclass(frozen=True)
class Request:
    """One request a student's server sent to the engine."""

    user: str
    method: str
    path: str
    time: float
    body: Any = None


class EngineTap:
    """Taps for ``users`` in front of ``upstream``, served by a process of their own (so the
    benchmark's own threads never delay a student's engine call): ``tap.socket(user)``,
    ``tap.requests(user)``, ``tap.count(user)``, ``tap.close()``."""

    def __init__(self, upstream: str, folder: Path, users: Sequence[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._users = list(users)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.workshop_audit", upstream, str(self.folder), *users],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        out = self._proc.stdout
        assert out is not None  # stdout=PIPE
        ready = select.select([out], [], [], 30)[0]
        line = out.readline() if ready else ""
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"the engine taps did not start ({line.strip() or 'no answer'})")

    def socket(self, user: str) -> Path:
        return self.folder / f"{user}.sock"

    def users(self) -> list[str]:
        return list(self._users)

    def _records(self, user: str) -> list[dict[str, Any]]:
        path = self.folder / f"{user}.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a stop
        return out

    def requests(self, user: str) -> list[Request]:
        """The requests that may change something (POST, PUT, DELETE), in order."""
        return [
            Request(user, r["m"], r["p"], r["t"], r.get("b"))
            for r in self._records(user)
            if r["m"] in ("POST", "PUT", "DELETE")
        ]

    def count(self, user: str) -> int:
        return len(self._records(user))

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        if self._proc.stdout:
            self._proc.stdout.close()
        for path in self.folder.glob("*.sock"):
            path.unlink(missing_ok=True)


class _Taps:
    """The taps' process: one asyncio loop serving a unix socket per student."""

    def __init__(self, upstream: str, folder: Path) -> None:
        self.upstream, self.folder = upstream, folder
        self._logs: dict[str, Any] = {}

    async def serve(self, users: Sequence[str]) -> None:
        servers = []
        for user in users:
            self._logs[user] = (self.folder / f"{user}.jsonl").open("a", buffering=1)
            servers.append(
                await asyncio.start_unix_server(
                    functools.partial(self._relay, user),
                    path=str(self.folder / f"{user}.sock"),
                    limit=_LIMIT,
                )
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print("ready", flush=True)
        await stop.wait()
        for server in servers:
            server.close()
        for log in self._logs.values():
            log.close()

    async def _relay(
        self, user: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            up_r, up_w = await asyncio.open_unix_connection(self.upstream, limit=_LIMIT)
        except OSError:
            client_w.close()
            return
        back = asyncio.ensure_future(_copy(up_r, client_w))
        try:
            while True:
                head = await client_r.readuntil(b"\r\n\r\n")
                method, path, headers = _parse(head)
                if "content-length" in headers:
                    body = await client_r.readexactly(int(headers["content-length"]))
                elif "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await _read_chunked(client_r)
                else:
                    body = b""
                self._record(user, method, path, body, headers)
                up_w.write(head + body)
                await up_w.drain()
                if "upgrade" in headers.get("connection", "").lower():
                    await _copy(client_r, up_w)  # exec/attach: raw bytes from here on
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            try:
                up_w.write_eof()  # the client's half-close, passed on (exec's stdin EOF)
            except (OSError, RuntimeError):
                pass
            try:
                await asyncio.wait_for(back, 30)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                back.cancel()
            for w in (up_w, client_w):
                w.close()

    def _record(
        self, user: str, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> None:
        parsed: Any = None
        if method in ("POST", "PUT", "DELETE") and body:
            if any(p in path.split("?")[0] for p in _BODY_PATHS):
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
        record = {"m": method, "p": path, "t": time.time(), "b": parsed}
        self._logs[user].write(json.dumps(record) + "\n")


def _parse(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path = (lines[0].split(" ") + ["", ""])[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return method, path, headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body, framing and all (relayed as it came)."""
    raw = b""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        raw += size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = await reader.readuntil(b"\r\n")
                raw += line
                if line == b"\r\n":
                    return raw
        raw += await reader.readexactly(size + 2)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        if writer.can_write_eof():
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass


class EngineIndex:
    """Every container and network on the shared engine during the run: id → (name, namespace).

    Seeded from the engine, kept up by its event stream, and told by the taps which student
    created which name (for objects without labkit's labels)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.objects: dict[str, tuple[str, str | None]] = {}
        self.creators: dict[str, str] = {}  # object name -> namespace of the student who made it
        self._lock = threading.Lock()
        api = engine.client.api
        for c in api.containers(all=True):
            labels = c.get("Labels") or {}
            self.objects[c["Id"]] = (c["Names"][0].lstrip("/"), labels.get(NAMESPACE_LABEL))
        for n in api.networks():
            self.objects[n["Id"]] = (n["Name"], (n.get("Labels") or {}).get(NAMESPACE_LABEL))
        self._events = engine.client.events(
            decode=True, since=int(time.time()) - 1, filters={"type": ["container", "network"]}
        )
        threading.Thread(target=self._pump, daemon=True, name="engine-index").start()

    def _pump(self) -> None:
        try:
            for raw in self._events:
                actor = raw.get("Actor", {})
                attrs = actor.get("Attributes", {})
                if raw.get("Action") == "create" and actor.get("ID"):
                    with self._lock:
                        self.objects[actor["ID"]] = (
                            attrs.get("name", ""),
                            attrs.get(NAMESPACE_LABEL),
                        )
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed
            return

    def close(self) -> None:
        self._events.close()

    def namespace_of(self, ref: str) -> tuple[bool, str | None]:
        """(known, namespace) of a container or network named or id'd by ``ref``."""
        ref = unquote(ref).lstrip("/")
        with self._lock:
            items = list(self.objects.items())
        for oid, (name, ns) in items:
            if ref == name or (len(ref) >= 12 and oid.startswith(ref)):
                return True, ns or self.creators.get(name) or f"(not labkit's: {name})"
        if ref in self.creators:
            return True, self.creators[ref]
        return False, None


def route(path: str) -> tuple[list[str], dict[str, list[str]]]:
    parsed = urlparse(path)
    parts = [p for p in parsed.path.split("/") if p]
    if parts and parts[0].startswith("v1."):
        parts = parts[1:]
    return parts, parse_qs(parsed.query)


def count_collisions(
    requests: Sequence[Any], namespace: str, index: EngineIndex
) -> tuple[int, int, list[str]]:
    """(collisions, unresolved, examples) for one student's requests to the shared engine."""
    collisions, unresolved = 0, 0
    examples: list[str] = []

    def hit(why: str) -> None:
        nonlocal collisions
        collisions += 1
        if len(examples) < 5:
            examples.append(why)

    for r in requests:
        parts, query = route(r.path)
        if len(parts) < 2 or parts[0] not in ("containers", "networks"):
            continue  # exec/{id}/start, build, images: nothing of a namespace's
        kind, ref = parts[0], parts[1]
        body = r.body if isinstance(r.body, dict) else {}
        if ref == "prune":
            hit(f"{r.method} {r.path}: a prune touches every namespace")
            continue
        if ref == "create":
            labels = body.get("Labels") or {}
            owner = labels.get(NAMESPACE_LABEL)
            if owner and owner != namespace:
                hit(f"{r.method} {r.path}: created in namespace {owner!r}")
            continue
        targets = [(kind, ref)]
        if kind == "networks" and len(parts) > 2 and body.get("Container"):
            targets.append(("containers", str(body["Container"])))
        for target_kind, target in targets:
            if target_kind == "networks" and unquote(target) in _BUILTIN:
                continue
            known, owner = index.namespace_of(target)
            if not known:
                unresolved += 1
            elif owner != namespace:
                hit(f"{r.method} {r.path}: {target_kind[:-1]} of {owner!r}")
    return collisions, unresolved, examples


def _main(argv: Sequence[str]) -> int:
    upstream, folder, *users = argv
    asyncio.run(_Taps(upstream, Path(folder)).serve(users))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
