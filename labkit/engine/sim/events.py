"""The simulator's event stream, in the daemon's own JSON (what ``GET /events`` sends and
``docker events`` prints): delivered from one background thread, in order, so a subscriber may
call back into the engine without deadlocking it; the last events are kept for ``since``."""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from labkit.models import Event

__all__ = ["EventBus", "container_event", "network_event", "as_model", "HISTORY"]

Raw = dict[str, Any]
Callback = Callable[[Raw], None]
Match = Callable[[Raw], bool]

HISTORY = 1024  # events kept for `docker events --since`


def container_event(
    action: str, cid: str, image: str, attributes: Mapping[str, str], *, old_fields: bool = True
) -> Raw:
    """A container event as the daemon sends it; ``attributes`` are the container's labels,
    its name and image, and the action's own (exitCode, signal, execID). ``old_fields``: the
    deprecated status/id/from keys, which Engine 20.10 and 28 still send."""
    stamp = time.time_ns()
    raw: Raw = {}
    if old_fields:
        raw.update({"status": action, "id": cid, "from": image})
    raw.update(
        {
            "Type": "container",
            "Action": action,
            "Actor": {"ID": cid, "Attributes": dict(attributes)},
            "scope": "local",
            "time": stamp // 1_000_000_000,
            "timeNano": stamp,
        }
    )
    return raw


def network_event(action: str, nid: str, name: str, driver: str, container: str = "") -> Raw:
    """A network event (create, connect, disconnect, destroy) as the daemon sends it."""
    stamp = time.time_ns()
    attributes = {"name": name, "type": driver}
    if container:
        attributes["container"] = container
    return {
        "Type": "network",
        "Action": action,
        "Actor": {"ID": nid, "Attributes": attributes},
        "scope": "local",
        "time": stamp // 1_000_000_000,
        "timeNano": stamp,
    }


def as_model(raw: Raw) -> Event:
    """A container event as labkit's Event (what ``Engine.watch`` delivers)."""
    attributes = raw["Actor"]["Attributes"]
    return Event(
        action=raw["Action"].split(":")[0],
        container_id=raw["Actor"]["ID"],
        name=attributes.get("name", ""),
        time=raw["timeNano"] / 1e9,
        labels={k: v for k, v in attributes.items() if k.startswith("labkit.")},
    )


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[int, tuple[Callback, Match | None]] = {}
        self._next = 0
        self._queue: queue.Queue[Raw | threading.Event | None] = queue.Queue()
        self._history: collections.deque[Raw] = collections.deque(maxlen=HISTORY)
        self._thread: threading.Thread | None = None
        self._closed = False

    def subscribe(self, callback: Callback, match: Match | None = None) -> Callable[[], None]:
        """Call ``callback`` with each new event ``match`` accepts; return the stop function."""
        with self._lock:
            key = self._next
            self._next += 1
            self._watchers[key] = (callback, match)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._pump, name="labkit-sim-events", daemon=True
                )
                self._thread.start()

        def stop() -> None:
            with self._lock:
                self._watchers.pop(key, None)

        return stop

    def emit(self, raw: Raw) -> None:
        if self._closed:
            return
        with self._lock:
            self._history.append(raw)
            if not self._watchers:
                return
        self._queue.put(raw)

    def history(self, since: float, until: float | None = None) -> list[Raw]:
        """Past events from ``since`` (seconds since the epoch) up to ``until``."""
        with self._lock:
            return [
                raw
                for raw in self._history
                if raw["timeNano"] >= since * 1e9
                and (until is None or raw["timeNano"] <= until * 1e9)
            ]

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Block until every queued event was delivered (for tests and scripts)."""
        if self._thread is None or self._closed:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._watchers.clear()
        self._queue.put(None)

    def _pump(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                if self._closed:
                    return
                continue
            if isinstance(item, threading.Event):
                item.set()
                continue
            with self._lock:
                watchers = list(self._watchers.values())
            for callback, match in watchers:
                try:
                    if match is None or match(item):
                        callback(item)
                except Exception:  # noqa: BLE001 - a broken callback must not stop the others
                    pass
