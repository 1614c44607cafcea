"""The restart panel, headless: ipywidgets 8's ``Button.click()`` runs the handlers in pytest."""

from __future__ import annotations

import threading
import time

import pytest

from labkit.errors import EngineUnavailable
from labkit.models import ProbeResult
from labkit.notebook import widgets
from labkit.notebook.widgets import RestartPanel


def _texts(fig):
    return [s for t in fig.data if t.mode == "text" for s in t.text]


def test_restart_click_moves_the_port_and_adds_a_history_row(lab):
    lab.start_app("myapp2")
    panel = RestartPanel(lab, "myapp2")
    assert panel.error_text == ""
    [first] = panel.history
    assert first.source == "opened" and first.host_port and first.via_host_port == "ok"
    assert f">{first.host_port}<" in panel.ports_html.value

    panel.restart_button.click()
    assert panel.wait(30)

    assert panel.error_text == ""
    assert [o.source for o in panel.history] == ["opened", "restart"]
    new = panel.history[-1]
    assert new.host_port != first.host_port  # Docker's allocator moves on, as the lab text says
    assert new.via_host_port == "ok"
    assert f">{new.host_port}<" in panel.ports_html.value
    assert f">{first.host_port}<" not in panel.ports_html.value
    assert 'class="moved">' + str(new.host_port) in panel.history_html.value
    # The figure now shows the move: the old port struck through, the new one in bold.
    assert any(
        f"<s>{first.host_port}</s>" in s and f":{new.host_port}</b>" in s
        for s in _texts(panel.figure)
    )
    [shown] = panel.figure_output.outputs
    assert "application/vnd.plotly.v1+json" in shown["data"]
    assert not panel.restart_button.disabled and not panel.busy


class _SlowRestart:
    """The sim engine with a restart that waits until the test lets it go."""

    def __init__(self, engine):
        self._engine = engine
        self.release = threading.Event()
        self.entered = threading.Event()
        self.restarts = 0

    def restart(self, ref, *, timeout=10):
        self.restarts += 1
        self.entered.set()
        assert self.release.wait(10)
        return self._engine.restart(ref, timeout=timeout)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def test_button_is_disabled_while_a_restart_is_in_flight_and_a_double_click_restarts_once(sim_lab):
    sim_lab.start_app("myapp2")
    slow = _SlowRestart(sim_lab.engine)
    sim_lab.engine = slow
    panel = RestartPanel(sim_lab, "myapp2")

    panel.restart_button.click()
    assert slow.entered.wait(5)
    assert panel.restart_button.disabled and panel.reprobe_button.disabled
    panel.restart_button.click()  # the double click
    panel.reprobe_button.click()
    slow.release.set()
    assert panel.wait(10)

    assert slow.restarts == 1
    assert [o.source for o in panel.history] == ["opened", "restart"]
    assert not panel.restart_button.disabled and not panel.reprobe_button.disabled


def test_container_removed_behind_its_back_shows_one_line(lab):
    lab.start_app("myapp2")
    panel = RestartPanel(lab, "myapp2")
    lab.engine.remove(lab.name("myapp2"), force=True)  # as `docker rm -f` in a terminal would

    panel.restart_button.click()
    assert panel.wait(30)

    assert panel.error_text and "\n" not in panel.error_text
    assert "myapp2" in panel.error_text and "Traceback" not in panel.error_text
    assert "start_app" in panel.error_text  # it says what to do
    assert panel.error_text.replace("'", "&#x27;")[:30] in panel.error_html.value
    assert len(panel.history) == 1
    assert not panel.restart_button.disabled  # the panel is usable again
    # Putting it back and re-probing clears the error.
    lab.start_app("myapp2")
    panel.reprobe_button.click()
    assert panel.wait(30)
    assert panel.error_text == "" and panel.error_html.value == ""
    assert panel.history[-1].source == "re-probe"


def test_a_container_labkit_does_not_own_is_never_restarted(sim_lab):
    theirs = sim_lab.engine.run(
        sim_lab.engine.ensure_lab_image(),
        name=f"{sim_lab.namespace}-theirs",
        ports={"80/tcp": None},
    )
    try:
        panel = RestartPanel(sim_lab, "theirs", threaded=False)
        panel.restart_button.click()
        assert "not one of labkit's" in panel.error_text
        assert sim_lab.engine.container(theirs.id).restart_count == theirs.restart_count
    finally:
        sim_lab.engine.remove(theirs.id, force=True)


def test_the_apps_reply_is_shown_as_text_never_as_html(sim_lab, monkeypatch):
    sim_lab.start_app("myapp2")
    evil = ProbeResult(
        via="host-port",
        target="127.0.0.1:1",
        url="http://127.0.0.1:1/",
        outcome="ok",
        status=200,
        body="<script>alert(1)</script><b>bold</b>",
    )
    monkeypatch.setattr(widgets, "probe", lambda engine, container, timeout=1.5: [evil])
    panel = RestartPanel(sim_lab, "myapp2", threaded=False)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel.probes_html.value
    assert (
        "<script>" not in panel.probes_html.value and "<b>bold</b>" not in panel.probes_html.value
    )


def test_an_unexpected_failure_is_one_line_too(sim_lab, monkeypatch):
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False)

    def boom(engine, container, timeout=1.5):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(widgets, "probe", boom)
    panel.reprobe_button.click()
    assert panel.error_text.startswith("Unexpected RuntimeError: probe exploded")
    assert "\n" not in panel.error_text and not panel.reprobe_button.disabled


def test_links_and_probe_rows(sim_lab):
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False)
    port = panel.history[-1].host_port
    assert f'href="http://localhost:{port}/"' in panel.probes_html.value
    assert (
        "via bridge IP" in panel.probes_html.value
        and "modelled by the simulator" in panel.probes_html.value
    )
    panel.reprobe_button.click()
    assert [o.source for o in panel.history] == ["opened", "re-probe"]
    assert panel.history[-1].host_port == port  # a probe alone moves nothing


def test_links_go_through_the_proxy_on_a_hub(sim_lab, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False, figure=False)
    port = panel.history[-1].host_port
    assert f'href="/user/ada/proxy/{port}/"' in panel.probes_html.value
    assert panel.figure is None and panel.figure_output.outputs == ()


def test_watch_follows_a_restart_made_elsewhere(lab):
    lab.start_app("myapp2")
    panel = RestartPanel(lab, "myapp2")
    panel.watch_toggle.value = True
    try:
        time.sleep(0.3)  # let the event stream attach
        before = panel.history[-1].host_port
        started = time.perf_counter()
        lab.engine.restart(lab.name("myapp2"))  # what `docker restart` in a terminal does
        while time.perf_counter() - started < 8 and panel.history[-1].host_port == before:
            time.sleep(0.02)
        # How soon is a benchmark's business (a busy machine slows it); that it follows is ours.
        assert panel.history[-1].host_port != before
        assert panel.history[-1].source == "watch: restart"
        time.sleep(0.6)  # one restart, one row: the burst of events is folded
        assert [o.source for o in panel.history] == ["opened", "watch: restart"]
    finally:
        panel.watch_toggle.value = False
    assert panel._watch_stop is None


@pytest.mark.parametrize("threaded", [True, False])
def test_panel_displays_as_a_widget(sim_lab, threaded):
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=threaded)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    panel.close()


def test_stop_keeps_the_panel_on_screen_with_its_history(sim_lab):
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False)
    panel.restart()
    panel.watch_toggle.value = True
    panel.stop()
    assert panel._watch_stop is None and not panel.watch_toggle.value
    assert panel.restart_button.disabled and panel.reprobe_button.disabled
    assert panel.watch_toggle.disabled
    assert len(panel.history) == 2 and panel.history_html.value
    assert "application/vnd.jupyter.widget-view+json" in panel._repr_mimebundle_()


def test_the_saved_record_note_never_says_a_live_panel_is_dead(sim_lab):
    # The note travels in the panel's saved state, so a live panel shows it too: it must read
    # as a condition ("if the buttons do nothing"), and the SIMULATED badge stays one piece.
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False)
    title = panel._title_html()
    assert "labkit-record-note" in title and "If the buttons do nothing" in title
    assert "has restarted since" not in title
    assert 'white-space:nowrap">SIMULATED ENGINE' in title
    panel.close()


class _DeadEngine:
    """An engine that stopped answering (dockerd stopped mid-lesson)."""

    kind = "docker"

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise EngineUnavailable(
                "No Docker engine answers", "dockerd is not running", "start Docker and re-run"
            )

        return refuse


def test_an_engine_that_stopped_answering_is_one_line_not_a_traceback(sim_lab):
    real, sim_lab.engine = sim_lab.engine, _DeadEngine()
    try:
        panel = RestartPanel(sim_lab, "myapp2", threaded=False)
        assert panel.error_text == (
            "No Docker engine answers: dockerd is not running → start Docker and re-run"
        )
        panel.watch_toggle.value = True  # watching a dead engine fails inside the panel too
        assert panel.watch_toggle.value is False and "No Docker engine" in panel.error_text
    finally:
        sim_lab.engine = real


class _Counting:
    """An engine wrapper that counts the calls that reach the engine. ``info`` is read once and
    kept by both engines; ``model_http`` is the simulator's stand-in for the network, not an
    engine request (a real engine's probes are plain HTTP to the app)."""

    _FREE = {"info", "model_http", "kind"}

    def __init__(self, engine):
        self._engine = engine
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._engine, name)
        if name in self._FREE or not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return counted


def test_a_restart_click_makes_at_most_six_engine_calls(sim_lab):
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False)
    counting = _Counting(sim_lab.engine)
    sim_lab.engine = counting
    try:
        panel.restart_button.click()
    finally:
        sim_lab.engine = counting._engine
    assert panel.error_text == ""
    assert len(counting.calls) <= 6, counting.calls
    assert "networks" not in counting.calls  # never every network on the engine
    assert counting.calls.count("restart") == 1
    assert panel.history[-1].via_host_port == "ok"


@pytest.mark.docker
def test_a_restart_click_makes_at_most_six_requests_to_a_real_engine(docker_lab):
    docker_lab.start_app("myapp2")
    panel = RestartPanel(docker_lab, "myapp2", threaded=False)
    api = docker_lab.engine.client.api
    sent: list[str] = []
    real_send = api.send

    def send(request, **kwargs):
        sent.append(f"{request.method} {request.path_url.split('?')[0]}")
        return real_send(request, **kwargs)

    api.send = send
    try:
        panel.restart_button.click()
    finally:
        del api.send
    assert panel.error_text == "" and panel.history[-1].via_host_port == "ok"
    assert len(sent) <= 6, sent
    assert not any(s.endswith("/networks") for s in sent), sent


def test_watch_names_a_slow_restart_after_the_state_it_ends_in(sim_lab):
    """A `docker restart` on a busy engine spans ~1.4 s from kill to start: one row, named
    after the running container it leaves, never `watch: stop` on a running container."""
    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2")
    panel.watch_toggle.value = True
    try:
        time.sleep(0.3)
        name = sim_lab.name("myapp2")
        sim_lab.engine.stop(name)  # kill, die, stop ...
        time.sleep(1.2)
        sim_lab.engine.start(name)  # ... and the start, 1.2 s later
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(panel.history) < 2:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        panel.watch_toggle.value = False
    assert [(o.source, o.status) for o in panel.history] == [
        ("opened", "running"),
        ("watch: restart", "running"),
    ]


@pytest.mark.parametrize(
    ("actions", "status", "name"),
    [
        (["kill", "die", "stop", "start", "restart"], "running", "restart"),
        (["kill", "die", "stop"], "running", "restart"),  # the start was still on its way
        (["kill", "die", "stop"], "exited", "stop"),
        (["die"], "exited", "die"),
        (["start"], "running", "start"),
        (["pause"], "paused", "pause"),
        (["unpause"], "running", "unpause"),
    ],
)
def test_burst_name(actions, status, name):
    assert widgets.burst_name(actions, status) == name


def test_the_panel_records_what_it_shows_for_the_checks(sim_lab):
    from labkit.check import history, recall

    sim_lab.start_app("myapp2")
    panel = RestartPanel(sim_lab, "myapp2", threaded=False, figure=False)
    panel.restart()
    ports = [o.host_port for o in panel.history]
    assert history(sim_lab, "myapp2.host_port") == ports
    assert recall(sim_lab, "probe:host-port").outcome == "ok"
