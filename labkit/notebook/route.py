"""Notebook 02's route step as the student sees it: the command, then a before/after table.

``route_step(lab)`` runs the lab text's ``route add`` on real lab hosts when they are given
(``labkit.labhosts``), else on the simulated classroom of the student's engine generation
(``labkit.classroom``), and shows the same table for either, marked SIMULATED where it is.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import display

from labkit.classroom import AGENT, simulated_route_step
from labkit.lab import Lab
from labkit.labhosts import LabHosts, RouteStep
from labkit.notebook.layout import command_output

__all__ = ["route_step", "route_table"]


def route_step(lab: Lab, opening: str = "none", *, hosts: LabHosts | None = None) -> RouteStep:
    """Add the lab text's route on the client and try both containers' addresses, before and
    after; ``opening`` (Engine 28+) is one of ``labkit.labhosts.OPENINGS``."""
    if hosts is not None:
        step = hosts.route_step(opening)
    else:
        step = simulated_route_step(lab.engine.info().generation, opening)
    simulated = hosts is None
    where = "on the client" + (" of the simulated classroom" if simulated else "")
    display(command_output(f"{step.route}   # {where}", "", simulated=simulated))
    display(route_table(step))
    if step.generation.drops_routed_traffic:
        listing = "\n".join(step.raw_rules) or "(no DROP rule for these containers)"
        display(
            command_output(
                "iptables -t raw -S PREROUTING   # on agent01",
                f"{listing}\n# packets these rules dropped: {step.dropped}",
                simulated=simulated,
            )
        )
    return step


def route_table(step: RouteStep) -> pd.DataFrame:
    """One row per way the client tried: each container's own address, then agent01's published
    port (which the route does not change), with what the client got before and after. The
    ``way in`` column keeps the last row from reading as a third container (h8's walk)."""
    rows = [
        {
            "way in": "the container's own address",
            "container": t.container,
            "published": "yes" if t.published else "no",
            "address": t.ip,
            "before the route": t.before.outcome,
            "after the route": t.after.outcome,
            "answered": "yes" if t.answered else "no",
        }
        for t in step.tries
    ]
    rows.append(
        {
            "way in": "agent01's published port (no route needed)",
            "container": step.tries[0].container if step.tries else "",
            "published": "yes",
            "address": step.via_port.target if step.via_port.target else AGENT,
            "before the route": step.via_port.outcome,
            "after the route": step.via_port.outcome,
            "answered": "yes" if step.via_port.ok else "no",
        }
    )
    return pd.DataFrame(rows)
