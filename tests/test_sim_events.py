"""watch() on the simulator: the events `docker events` shows, from a background thread."""

from __future__ import annotations

import threading
import time

import pytest

from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import SimulatedEngine
from labkit.generation import Generation

# What `docker events` showed for `docker stop` of an --init container on each engine.
STOPPED = {Generation.V20: ["kill", "die", "stop"], Generation.V28: ["kill", "stop", "die"]}


@pytest.fixture(params=list(Generation), ids=lambda g: f"v{g.value}")
def sim(request):
    engine = SimulatedEngine(generation=request.param)
    yield engine
    engine.close()


def collect(engine, **kw):
    seen = []
    stop = engine.watch(seen.append, **kw)
    return seen, stop


def test_a_restart_emits_what_docker_events_shows(sim):
    seen, stop = collect(sim)
    c = sim.run(LAB_IMAGE, name="myapp2", ports={"80/tcp": None}, labels={"labkit.step": "4"})
    sim.restart("myapp2")
    assert sim.wait_events()
    # `docker restart` of an --init container: 20.10 kill, die, stop, start, restart; 28 emits
    # stop before die.
    assert [e.action for e in seen] == [
        "create",
        "start",
        *STOPPED[sim.generation],
        "start",
        "restart",
    ]
    assert {e.container_id for e in seen} == {c.id} and {e.name for e in seen} == {"myapp2"}
    assert seen[0].labels["labkit.step"] == "4"
    assert all(a.time <= b.time for a, b in zip(seen, seen[1:], strict=False))
    stop()


def test_stop_start_remove_and_exec(sim):
    seen, _ = collect(sim)
    sim.run(LAB_IMAGE, name="aa")
    sim.exec("aa", ["hostname"])
    sim.stop("aa")
    sim.stop("aa")  # no-op: no events
    sim.start("aa")
    sim.remove("aa", force=True)
    sim.wait_events()
    assert [e.action for e in seen] == [
        "create",
        "start",
        "exec_create",
        "exec_start",
        "exec_die",
        *STOPPED[sim.generation],
        "start",
        "kill",  # remove -f: the same on both
        "die",
        "destroy",
    ]


def test_label_filters_and_the_stop_function(sim):
    mine, stop = collect(sim, labels={"labkit.namespace": "me"})
    everyone, _ = collect(sim)
    sim.run(LAB_IMAGE, name="aa", labels={"labkit.namespace": "me"})
    sim.run(LAB_IMAGE, name="bb", labels={"labkit.namespace": "you"})
    sim.wait_events()
    assert {e.name for e in mine} == {"aa"} and {e.name for e in everyone} == {"aa", "bb"}
    stop()
    sim.restart("aa")
    sim.wait_events()
    assert len(mine) == 2 and len(everyone) == 9


def test_callbacks_run_off_the_callers_thread_and_may_call_the_engine(sim):
    threads, states = [], []

    def callback(event):
        threads.append(threading.current_thread())
        states.append(sim.container(event.container_id).status)  # re-entering the engine

    sim.watch(callback)
    sim.run(LAB_IMAGE, name="aa")
    sim.restart("aa")
    assert sim.wait_events()
    assert threads and threading.current_thread() not in threads
    assert len(states) == 7


def test_a_failing_callback_does_not_stop_the_others(sim):
    def broken(event):
        raise RuntimeError("boom")

    sim.watch(broken)
    seen, _ = collect(sim)
    sim.run(LAB_IMAGE, name="aa")
    sim.wait_events()
    assert [e.action for e in seen] == ["create", "start"]


def test_close_stops_delivery(sim):
    seen, _ = collect(sim)
    sim.run(LAB_IMAGE, name="aa")
    sim.wait_events()
    sim.close()
    time.sleep(0.05)
    assert len(seen) == 2
