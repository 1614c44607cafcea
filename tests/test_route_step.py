"""The lab text's route step on a simulated agent of each generation (labkit.classroom): what the
route alone reaches, and what each of Engine 28's openings opens."""

from __future__ import annotations

import pytest

from labkit.classroom import simulated_route_step
from labkit.errors import InvalidInput
from labkit.generation import Generation


def _after(opening: str, generation: Generation) -> tuple[list[str], int]:
    step = simulated_route_step(generation, opening)
    return [str(t.after.outcome) for t in step.tries], step.dropped


def test_on_20_10_the_route_alone_reaches_both_containers():
    outcomes, dropped = _after("none", Generation.V20)
    assert outcomes == ["ok", "ok"] and dropped == 0


def test_on_28_the_route_alone_is_dropped_and_counted():
    outcomes, dropped = _after("none", Generation.V28)
    assert outcomes == ["timeout", "timeout"] and dropped > 0


@pytest.mark.parametrize(
    ("opening", "published", "unpublished"),
    [
        ("allow-direct-routing", "ok", "timeout"),
        ("trusted-host-interfaces", "ok", "timeout"),
        ("nat-unprotected", "ok", "ok"),
    ],
)
def test_each_opening_of_28_opens_what_it_says(opening, published, unpublished):
    outcomes, _dropped = _after(opening, Generation.V28)
    assert outcomes == [published, unpublished]


@pytest.mark.parametrize(
    ("opening", "generation", "said"),
    [
        ("bogus", Generation.V28, "Unknown opening"),
        ("allow-direct-routing", Generation.V20, "an opening of Engine 28"),
    ],
)
def test_an_opening_the_step_or_engine_lacks_is_one_clear_error(opening, generation, said):
    with pytest.raises(InvalidInput) as caught:
        simulated_route_step(generation, opening)
    assert said in str(caught.value) and caught.value.fix


def test_the_route_table_says_which_way_in_each_row_is():
    # The third row (agent01's published port) read as a third container called "published".
    from labkit.notebook.route import route_table

    frame = route_table(simulated_route_step(Generation.V28, "none"))
    assert list(frame.columns[:2]) == ["way in", "container"]
    assert list(frame["way in"]) == [
        "the container's own address",
        "the container's own address",
        "agent01's published port (no route needed)",
    ]
    assert frame["address"].iloc[-1].startswith("198.18.0.11:")
