"""The restart-and-re-probe panel: restart one lab container, probe it both ways, watch it move.

Decisions live in ``Lab`` and ``labkit.probe``; the panel only calls them and shows what came
back. Its state (``history``, ``error_text``, ``container``, ``probes``, ``figure``) is plain
Python, so tests click its buttons headless and read the result.
"""

from __future__ import annotations

import functools
import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as w

from labkit.check import remember_container, remember_probes
from labkit.errors import LabkitError
from labkit.host import browser_url, proxy_prefix
from labkit.lab import NAMESPACE_LABEL, OWNER_LABEL, Lab
from labkit.models import Container, Event, Outcome, ProbeResult
from labkit.notebook.tables import port_table
from labkit.notebook.topology import Snapshot, figure_spec, layout, mimebundle, snapshot
from labkit.probe import probe
from labkit.ready import until_listening

__all__ = ["RestartPanel", "Observation", "burst_name"]

# Container events that change what the panel shows. A `docker restart` sends kill, die, stop,
# then start and restart: 0.4-0.6 s apart on a quiet Engine 20.10 here, ~1.4 s on a busy one.
# The watcher folds one burst into one observation and names it after the state it ends in.
_WATCHED = {"start", "restart", "die", "stop", "kill", "destroy", "pause", "unpause"}
_STOPPING = {"kill", "die", "stop"}
_COALESCE_S = 0.12  # quiet gap that ends a burst ...
_AFTER_STOP_S = 2.0  # ... or, after a stop, the time a restart's start may still take
_SETTLE_MAX_S = 5.0  # a burst that never goes quiet is observed anyway
_HISTORY_SHOWN = 20
_RECORD_NOTE = (
    '<span class="labkit-record-note" style="color:#777;font-size:11px">'
    # Shown on a live panel too (the saved state is the live one): so it says "if", never that
    # the kernel has restarted (a student read "The kernel has restarted since" on a live panel).
    "If the buttons do nothing, the kernel restarted after this panel was drawn and this is a "
    "saved record: run this cell again for a live panel.</span>"
)
_OUTCOME_COLOR = {Outcome.OK: "#1b5e20", Outcome.REFUSED: "#b00020", Outcome.TIMEOUT: "#b26a00"}

_CSS = """<style>
.labkit-panel table{border-collapse:collapse;font-size:12px;margin:2px 0 8px 0}
.labkit-panel th,.labkit-panel td{border-bottom:1px solid #e0e0e0;padding:2px 8px;text-align:left}
.labkit-panel th{background:#f5f5f5}
.labkit-panel .moved{color:#d81b60;font-weight:bold}
.labkit-panel pre{background:#fafafa;border:1px solid #eee;padding:4px 6px;margin:2px 0;
  font-size:12px;  white-space:pre-wrap;max-height:9em;overflow:auto}
.labkit-panel h4{margin:8px 0 2px 0;font-size:13px}
.labkit-panel a{color:#1565c0;text-decoration:underline}
.labkit-panel td{white-space:nowrap}
.labkit-panel td:last-child{white-space:normal}
</style>"""


@dataclass(frozen=True)
class Observation:
    """One look at the container: what it published, its IP, and how each probe went."""

    time: str  # HH:MM:SS, local time
    source: str  # opened | restart | re-probe | watch: <event>
    status: str
    host_port: int | None
    ip: str
    via_host_port: str  # a probe outcome, or "-" when there was nothing to probe
    via_bridge_ip: str
    server_ip: str = ""

    def same_state(self, other: Observation) -> bool:
        keys = ("status", "host_port", "ip", "via_host_port", "via_bridge_ip", "server_ip")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


class RestartPanel:
    """``RestartPanel(lab, "myapp2")``: the lab text's restart-and-reload loop in one widget."""

    def __init__(
        self,
        lab: Lab,
        name: str = "myapp2",
        *,
        threaded: bool = True,
        route: bool = True,
        figure: bool = True,
        probe_timeout: float = 1.5,
        clock: Callable[[], str] | None = None,
    ) -> None:
        self.lab, self.name = lab, name
        self.threaded, self.route, self.show_figure = threaded, route, figure
        self.probe_timeout = probe_timeout
        self._clock = clock or (lambda: time.strftime("%H:%M:%S"))
        self.container: Container | None = None
        self.probes: list[ProbeResult] = []
        self.history: list[Observation] = []
        self.error_text = ""
        self.last_exception: BaseException | None = None
        self.snapshot: Snapshot | None = None
        self._figure_spec: dict | None = None
        self._figure = None
        self.timings: dict[str, float] = {}
        self._lock = threading.RLock()
        self._busy = False
        self._worker: threading.Thread | None = None
        self._watch_stop: Callable[[], None] | None = None
        self._watch_thread: threading.Thread | None = None
        self._watch_off = threading.Event()
        self._dirty = threading.Event()
        self._burst: list[str] = []  # the actions of the events not yet observed

        self.restart_button = w.Button(
            description="Restart",
            icon="refresh",
            button_style="warning",
            tooltip=f"docker restart {lab.name(name)}",
        )
        self.reprobe_button = w.Button(
            description="Re-probe", icon="search", tooltip="probe both ways again"
        )
        self.watch_toggle = w.ToggleButton(
            description="Watch",
            icon="eye",
            value=False,
            tooltip="follow engine events: a docker restart in a terminal shows here",
        )
        self.status_html = w.HTML()
        self.error_html = w.HTML()
        self.ports_html = w.HTML()
        self.probes_html = w.HTML()
        self.history_html = w.HTML()
        self.figure_output = w.Output(layout=w.Layout(min_height="0px"))
        self.restart_button.on_click(self._on_restart)
        self.reprobe_button.on_click(self._on_reprobe)
        self.watch_toggle.observe(self._on_watch, names="value")
        title = w.HTML(self._title_html())
        self.widget = w.VBox(
            [
                title,
                w.HBox(
                    [self.restart_button, self.reprobe_button, self.watch_toggle, self.status_html]
                ),
                self.error_html,
                self.ports_html,
                self.probes_html,
                self.history_html,
                self.figure_output,
            ],
            layout=w.Layout(border="1px solid #ddd", padding="6px"),
        )
        self.widget.add_class("labkit-panel")
        self._guard(lambda: self._observe("opened"))

    # -- the things a student does ----------------------------------------------------------

    def restart(self) -> None:
        """What the Restart button does; a restart already in flight makes this a no-op."""
        self._on_restart(self.restart_button)

    def reprobe(self) -> None:
        self._on_reprobe(self.reprobe_button)

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for a background restart or re-probe to finish (tests and scripts); True if done."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    @property
    def busy(self) -> bool:
        return self._busy

    def stop(self) -> None:
        """Stop following the engine and disable the buttons; the panel stays on screen as a
        record of the ports it saw (``close()`` would remove it, also under Run All)."""
        self.wait()
        self.watch_toggle.value = False
        self._stop_watch()
        for control in (self.restart_button, self.reprobe_button, self.watch_toggle):
            control.disabled = True
        self.status_html.value = _status("stopped: run the cell that made the panel for a new one")

    def close(self) -> None:
        self.stop()
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # -- button handlers: claim the panel, then do the work (on a worker thread) -------------

    def _on_restart(self, _button=None) -> None:
        if not self._claim("restarting…"):
            return  # a double click restarts once

        def work() -> None:
            started = time.perf_counter()
            # Lab.restart returns once the app listens again: the probes never meet the gap.
            restarted = self.lab.restart(self.name)
            self.timings["restart"] = time.perf_counter() - started
            self._observe("restart", since=started, container=restarted)
            self.timings["total"] = time.perf_counter() - started

        self._run(work)

    def _on_reprobe(self, _button=None) -> None:
        if self._claim("probing…"):
            self._run(lambda: self._observe("re-probe"))

    def _claim(self, status: str) -> bool:
        with self._lock:
            if self._busy:
                return False
            self._busy = True
        self.restart_button.disabled = True
        self.reprobe_button.disabled = True
        self.status_html.value = _status(status)
        return True

    def _run(self, work: Callable[[], None]) -> None:
        def job() -> None:
            try:
                self._guard(work)
            finally:
                with self._lock:
                    self._busy = False
                self.restart_button.disabled = False
                self.reprobe_button.disabled = False

        if self.threaded:
            # The kernel keeps serving comm messages meanwhile, so a second click arrives while
            # we are busy and is refused, instead of queueing a second restart.
            self._worker = threading.Thread(target=job, name="labkit-panel", daemon=True)
            self._worker.start()
        else:
            job()

    def _guard(self, work: Callable[[], None]) -> None:
        """Run ``work``; any failure becomes one line in the panel, never a traceback."""
        try:
            work()
            self.error_text = ""
        except LabkitError as exc:
            self.last_exception = exc
            self.error_text = " ".join(part.strip() for part in exc.message.splitlines())
        except Exception as exc:  # noqa: BLE001 - a widget callback must not spill a traceback
            self.last_exception = exc
            self.error_text = (
                f"Unexpected {type(exc).__name__}: {exc} (this is a labkit bug: please report it)"
            )
        self.error_html.value = (
            '<div class="labkit-error" style="color:#b00020">⚠ '
            f"{html.escape(self.error_text)}</div>"
            if self.error_text
            else ""
        )
        if self.error_text:
            self.status_html.value = _status("failed")

    # -- observing ----------------------------------------------------------------------------

    def _observe(
        self, source: str, since: float | None = None, container: Container | None = None
    ) -> None:
        """Look at the container, probe it, show it. A restart hands in the container it got
        back and keeps the networks of the last diagram (a restart changes neither): a click
        then costs four engine calls, three of them the restart's own."""
        started = time.perf_counter()
        if container is None:
            container = self.lab.container(self.name)
        probes = probe(self.lab.engine, container, timeout=self.probe_timeout)
        self.timings["probe"] = time.perf_counter() - started
        remember_container(self.lab, container)  # what the student sees: what checks ask about
        remember_probes(self.lab, probes)
        with self._lock:
            self.container, self.probes = container, probes
            obs = _observation(self._clock(), source, container, probes)
            if not (
                source.startswith("watch") and self.history and obs.same_state(self.history[-1])
            ):
                self.history.append(obs)
        # Text first, the figure after: the ports and probes are what the student waits for.
        self.ports_html.value = _CSS + "<h4>Ports (docker port)</h4>" + _port_html(container)
        self.probes_html.value = _probes_html(self.lab, probes, container)
        self.history_html.value = _history_html(self.history)
        port = obs.host_port if obs.host_port is not None else "—"
        took = time.perf_counter() - (since or started)
        self.status_html.value = _status(
            f"{source}: host port {port}, IP {obs.ip or '—'} ({took:.2f} s)"
        )
        if self.show_figure:
            drawing = time.perf_counter()
            self._draw(keep_networks=source == "restart")
            self.timings["figure"] = time.perf_counter() - drawing

    def _draw(self, *, keep_networks: bool) -> None:
        previous = self.snapshot
        networks = previous.networks if keep_networks and previous is not None else None
        snap = snapshot(
            self.lab, route=self.route, focus=(self.lab.name(self.name),), networks=networks
        )
        self.snapshot = snap
        # Plain plotly JSON, not a validated go.Figure: that would take 30-70 ms of the click.
        spec = figure_spec(layout(snap, before=previous))
        self._figure_spec, self._figure = spec, None
        self.figure_output.outputs = (
            {"output_type": "display_data", "data": mimebundle(spec), "metadata": {}},
        )

    @property
    def figure(self):
        """The diagram last shown, as a plotly Figure (built on first use), or None."""
        if self._figure is None and self._figure_spec is not None:
            import plotly.graph_objects as go

            self._figure = go.Figure(self._figure_spec)
        return self._figure

    # -- watching the engine ------------------------------------------------------------------

    def _on_watch(self, change) -> None:
        if change["new"]:
            self._guard(self._start_watch)
            if self.error_text:
                self.watch_toggle.value = False
        else:
            self._stop_watch()

    def _start_watch(self) -> None:
        if self._watch_stop is not None:
            return
        self._watch_off.clear()
        labels = {OWNER_LABEL: "labkit", NAMESPACE_LABEL: self.lab.namespace}
        self._watch_stop = self.lab.engine.watch(self._on_event, labels=labels)
        self._watch_thread = threading.Thread(
            target=self._watch_loop, name="labkit-watch", daemon=True
        )
        self._watch_thread.start()
        self.status_html.value = _status("watching engine events")

    def _stop_watch(self) -> None:
        stop, self._watch_stop = self._watch_stop, None
        self._watch_off.set()
        if stop is not None:
            try:
                stop()
            except Exception:  # noqa: BLE001 - closing a finished event stream may complain
                pass

    def _on_event(self, event: Event) -> None:
        mine = self.container is not None and event.container_id == self.container.id
        if (mine or event.name == self.lab.name(self.name)) and event.action in _WATCHED:
            with self._lock:
                self._burst.append(event.action)
            self._dirty.set()

    def _watch_loop(self) -> None:
        while not self._watch_off.is_set():
            if not self._dirty.wait(0.2):
                continue
            # Fold one burst into one observation: wait for a quiet gap, a long one after a
            # kill, die or stop, since a restart's start follows it (up to ~1.4 s later).
            burst_started = time.monotonic()
            while time.monotonic() - burst_started < _SETTLE_MAX_S:
                self._dirty.clear()
                with self._lock:
                    last = self._burst[-1] if self._burst else ""
                if not self._dirty.wait(_AFTER_STOP_S if last in _STOPPING else _COALESCE_S):
                    break
            if self._watch_off.is_set():
                return
            with self._lock:
                if self._busy:
                    self._burst.clear()
                    continue  # our own Restart is observing this one
                self._busy = True
                actions, self._burst = self._burst, []
            try:
                self._guard(functools.partial(self._observe_burst, actions))
            finally:
                with self._lock:
                    self._busy = False

    def _observe_burst(self, actions: list[str]) -> None:
        # Started from a terminal: like Lab.restart, wait (bounded) for the app to listen.
        container = until_listening(self.lab.engine, self.lab.container(self.name))
        self._observe(f"watch: {burst_name(actions, container.status)}", container=container)

    def _title_html(self) -> str:
        try:
            info = self.lab.engine.info()
        except LabkitError:  # the first observation will say what is wrong, in one line
            return f"<b>{html.escape(self.lab.name(self.name))}</b>"
        badge = (
            ' <span style="color:#8a5a00;font-weight:bold;white-space:nowrap">SIMULATED ENGINE</span>'
            if info.simulated
            else ""
        )
        return (
            f"<b>{html.escape(self.lab.name(self.name))}</b>"
            " — restart it, probe it, watch its port move"
            f" · {html.escape(info.description)}{badge}"
            # A saved notebook reopened after its kernel stopped shows the panel as it was
            # (JupyterLab keeps widget state, see labkit/jupyter/overrides.json), buttons dead.
            f"<br>{_RECORD_NOTE}"
        )


# -- pure helpers: data in, HTML out -----------------------------------------------------------


def burst_name(actions: list[str], status: str) -> str:
    """What a burst of container events amounts to, named after the state it ended in: a
    stop followed by a start is a restart, whatever the last event of the burst was."""
    if status == "running":
        if "restart" in actions or any(a in _STOPPING for a in actions):
            return "restart"
        return "unpause" if actions and actions[-1] == "unpause" else "start"
    if status == "paused":
        return "pause"
    if "stop" in actions:
        return "stop"
    if "die" in actions or "kill" in actions:
        return "die"
    return actions[-1] if actions else status


def _observation(now: str, source: str, c: Container, probes: list[ProbeResult]) -> Observation:
    binding = c.port(80)
    by_via = {p.via: p for p in probes}

    def outcome(via: str) -> str:
        p = by_via.get(via)
        return "-" if p is None or p.target == "-" else p.outcome

    return Observation(
        time=now,
        source=source,
        status=c.status,
        host_port=(binding.host_port or binding.ipv6_host_port) if binding else None,
        ip=c.ip,
        via_host_port=outcome("host-port"),
        via_bridge_ip=outcome("bridge-ip"),
        server_ip=next((p.server_ip for p in probes if p.ok and p.server_ip), "") or "",
    )


def _status(text: str) -> str:
    return f'<span style="color:#555;margin-left:8px">{html.escape(text)}</span>'


def _port_html(c: Container) -> str:
    frame = port_table(c)
    if frame.empty:
        return "<i>No ports: this container publishes nothing (host or none network?)</i>"
    frame = frame.drop(columns=["container"]).astype(object)
    frame = frame.where(frame.notna(), "—")  # to_html's na_rep skips pandas' <NA>
    return frame.to_html(index=False, border=0, escape=True, classes="labkit-ports")


def _probes_html(lab: Lab, probes: list[ProbeResult], c: Container) -> str:
    if not probes:
        what = f"{c.name} is {c.status}: nothing to probe."
        return f"<h4>Probes</h4><i>{html.escape(what)}</i>"
    info = lab.engine.info()
    rows = []
    for p in probes:
        color = _OUTCOME_COLOR.get(p.outcome, "#b00020")
        rows.append(
            "<tr>"
            f"<td>{'via host port' if p.via == 'host-port' else 'via bridge IP'}</td>"
            f"<td><code>{html.escape(p.target)}</code></td>"
            f'<td style="color:{color};font-weight:bold">{html.escape(p.outcome)}</td>'
            f"<td>{p.latency_ms:.1f} ms</td>"
            f"<td>{html.escape(p.server_ip or '')}</td>"
            f"<td>{_link(p, c, info)}</td>"
            f"<td>{html.escape(p.detail)}</td>"
            "</tr>"
        )
    table = (
        '<table class="labkit-probes"><tr><th>probe</th><th>target</th><th>outcome</th>'
        "<th>time</th><th>Server IP</th>"
        "<th>open in your browser</th><th>detail</th></tr>" + "".join(rows) + "</table>"
    )
    reply = next((p for p in probes if p.body), None)
    # The app's reply is data from a container: shown as escaped text, never as HTML.
    body = (
        f"<h4>The app replied ({html.escape(reply.via)})</h4>"
        f"<pre>{html.escape(reply.body[:2000])}</pre>"
        if reply
        else ""
    )
    return "<h4>Probes</h4>" + table + body


def _link(p: ProbeResult, c: Container, info) -> str:
    if not p.target or p.target == "-":
        return ""
    if p.via == "host-port":
        binding = c.port(80)
        port = binding and (binding.host_port or binding.ipv6_host_port)
        if not port:
            return ""
        url = browser_url(int(port), host=info.host if not info.local else "localhost")
    else:
        if info.simulated:
            return '<span style="color:#777">modelled by the simulator: no real route</span>'
        if not info.bridge_reachable or proxy_prefix() is not None:
            return '<span style="color:#777">no route from your browser</span>'
        url = p.url
    safe = html.escape(url, quote=True)
    return f'<a href="{safe}" target="_blank" rel="noopener">{html.escape(url)}</a>'


def _history_html(history: list[Observation]) -> str:
    shown = history[-_HISTORY_SHOWN:]
    offset = len(history) - len(shown)
    rows = []
    for i, o in enumerate(shown):
        before = history[offset + i - 1] if offset + i > 0 else None
        moved = before is not None and before.host_port != o.host_port
        ip_changed = before is not None and before.ip != o.ip
        port = "—" if o.host_port is None else str(o.host_port)
        rows.append(
            f'<tr data-host-port="{html.escape(port)}">'
            f"<td>{html.escape(o.time)}</td><td>{html.escape(o.source)}</td><td>{html.escape(o.status)}</td>"
            f'<td class="{"moved" if moved else ""}">{html.escape(port)}</td>'
            f'<td class="{"moved" if ip_changed else ""}">{html.escape(o.ip or "—")}</td>'
            f"<td>{html.escape(o.via_host_port)}</td><td>{html.escape(o.via_bridge_ip)}</td>"
            "</tr>"
        )
    more = f"<i>{offset} earlier rows not shown</i>" if offset else ""
    return (
        "<h4>History (one row per observation)</h4>"
        + more
        + '<table class="labkit-history"><tr><th>time</th><th>what</th><th>status</th>'
        "<th>host port</th><th>IP</th>"
        "<th>via host port</th><th>via bridge IP</th></tr>" + "".join(rows) + "</table>"
    )
