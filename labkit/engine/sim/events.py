"""Container events for ``watch``: delivered from one background thread, in order, so a
callback may call back into the engine without deadlocking it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping

from labkit.models import Event

__all__ = ["EventBus"]

Callback = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[int, tuple[Callback, dict[str, str]]] = {}
        self._next = 0
        self._queue: queue.Queue[tuple[Event, Mapping[str, str]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def active(self) -> bool:
        """Whether anyone listens (the engine skips building events when nobody does)."""
        return bool(self._watchers)

    def subscribe(self, callback: Callback, labels: Mapping[str, str] | None) -> Callable[[], None]:
        with self._lock:
            key = self._next
            self._next += 1
            self._watchers[key] = (callback, dict(labels or {}))
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._pump, name="labkit-sim-events", daemon=True
                )
                self._thread.start()

        def stop() -> None:
            with self._lock:
                self._watchers.pop(key, None)

        return stop

    def emit(self, event: Event, all_labels: Mapping[str, str]) -> None:
        """Queue ``event``; ``all_labels`` are the container's labels, for the watchers' filters."""
        if self._watchers and not self._closed:
            self._queue.put((event, all_labels))

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Block until every queued event was delivered (for tests and scripts)."""
        if self._thread is None or self._closed:
            return True
        done = threading.Event()
        self._queue.put(("flush", done))  # type: ignore[arg-type]
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
            if item[0] == "flush":
                item[1].set()  # type: ignore[union-attr]
                continue
            event, labels = item
            with self._lock:
                watchers = list(self._watchers.values())
            for callback, wanted in watchers:
                if all(labels.get(k) == v for k, v in wanted.items()):
                    try:
                        callback(event)
                    except Exception:  # noqa: BLE001 - a broken callback must not stop the others
                        pass
