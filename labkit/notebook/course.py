"""The pictures beside notebooks 00–02's typed commands, read from the same engine.

Each function is one lab step's view: it reads the engine, shows a table (the student's own rows
first, others folded), and records what it showed (``labkit.check.remember*``) so an exercise
below holds the student to the fact as seen. A student's cell calls one of them and nothing else.
"""

from __future__ import annotations

import html
from itertools import count

import pandas as pd
from IPython.display import HTML, display

from labkit import host as _host
from labkit.check import history, remember, remember_container, remember_network, remember_probes
from labkit.errors import NotFound
from labkit.lab import Lab
from labkit.models import Container, ProbeResult
from labkit.notebook.layout import table
from labkit.notebook.tables import config_table, port_table, probe_table
from labkit.probe import probe_address, probe_host_port, probe_old_port

__all__ = [
    "ports",
    "containers",
    "open_app",
    "both_ways",
    "old_ways",
    "bridge",
    "addresses",
    "classroom",
    "route_step",
]

_SEEN = count(1)  # numbers each look at a container's addresses, so equal looks are not folded


def _shown(lab: Lab, c: Container) -> None:
    remember_container(lab, c)
    remember(lab, f"{_short(lab, c.name)}.started_at", c.started_at)


def _short(lab: Lab, name: str) -> str:
    return name.removeprefix(f"{lab.namespace}-")


def ports(lab: Lab, name: str = "myapp2") -> HTML:
    """``docker port NAME`` as a table: host IP, host port, the IPv6 twin, what the CLI prints."""
    c = lab.container(name)
    _shown(lab, c)
    return table(port_table(c))


def containers(lab: Lab) -> HTML:
    """Every container on the engine as labkit sees it: yours first (labkit's and those you
    made by hand, named with your namespace), everyone else's folded; who made each."""
    rows = []
    from labkit.progress import marker_name

    for c in lab.engine.containers(all=True):
        if c.name == marker_name(lab.namespace):
            continue  # the namespace's progress record, not a lab container
        binding = c.port(80)
        rows.append(
            {
                "container": c.name,
                "status": c.status,
                "made by": _made_by(lab, c),
                "labkit may change it": "yes" if lab.owns(c) else "no",
                "host port": (binding.host_port or binding.ipv6_host_port) if binding else None,
                "bridge IP": _bridge_ip(c),
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "container",
            "status",
            "made by",
            "labkit may change it",
            "host port",
            "bridge IP",
        ],
    )
    frame["host port"] = frame["host port"].astype("Int64").astype(object).fillna("—")
    return table(frame.sort_values("container"), lab=lab)


def _made_by(lab: Lab, c: Container) -> str:
    if lab.owns(c):
        return "labkit (yours)"
    if c.labels.get("labkit.owner") == "labkit":
        return "labkit (another namespace)"
    return "not labkit (by hand)"


def open_app(lab: Lab, name: str = "myapp2") -> None:
    """The lab text's browser tab: a link to the published port, and what the page says."""
    c = lab.container(name)
    _shown(lab, c)
    binding = c.port(80)
    if binding is None or not binding.published:
        display(HTML(f"<i>{html.escape(c.name)} publishes no port.</i>"))
        return
    url = _host.browser_url(
        binding.host_port or binding.ipv6_host_port or 0, host=lab.engine.info().host
    )
    display(
        HTML(
            f'<a href="{html.escape(url)}" target="_blank">{html.escape(url)}</a> — opens '
            f"{html.escape(c.name)} in a new tab"
        )
    )
    result = probe_host_port(lab.engine, c)
    remember_probes(lab, [result])
    display(table(probe_table([result])))


def both_ways(lab: Lab, name: str = "myapp2") -> HTML:
    """The two ways in, now: the published host port and the bridge IP."""
    c = lab.container(name)
    _shown(lab, c)
    results = lab.probe(name)
    remember_probes(lab, results)
    return table(probe_table(results))


def _before(values: list, now: object) -> object:
    """The last value labkit showed that differs from now (the one before a change), else now."""
    return next((v for v in reversed(values) if v != now), now)


def old_ways(lab: Lab, name: str = "myapp2", *, bridge_ip: bool = False) -> None:
    """After a restart: the addresses used before it, tried again (the lab text: reload the
    browser tabs), beside the new host port."""
    c = lab.container(name)
    short = _short(lab, c.name)
    binding = c.port(80)
    now_port = (binding.host_port or binding.ipv6_host_port) if binding else None
    old_port = _before(history(lab, f"{short}.host_port"), now_port)
    if old_port == now_port:
        display(
            HTML(
                f"<i>{html.escape(c.name)} still has the port labkit showed first ({now_port}): "
                "restart it (the terminal exercise above), then run this cell again.</i>"
            )
        )
        return
    rows: list[tuple[str, ProbeResult]] = [
        # Only while it is still this container's, or nobody's: on a shared engine the old port
        # may be another student's by now.
        ("old host port", probe_old_port(lab.engine, c, int(str(old_port)), via="host-port"))
    ]
    if bridge_ip:
        now_ip = _bridge_ip(c)
        old_ip = str(_before(history(lab, f"{short}.ip@bridge"), now_ip) or now_ip)
        rows.append(("old bridge IP", probe_address(lab.engine, old_ip, 80, via="bridge-ip")))
    else:
        rows.append(("new host port", probe_host_port(lab.engine, c)))
    remember_probes(lab, [r for label, r in rows if label.startswith("old")], "old")
    _shown(lab, c)
    frame = probe_table([r for _, r in rows])
    frame.insert(0, "which", [label for label, _ in rows])
    display(table(frame.drop(columns=["via"])))


def bridge(lab: Lab) -> HTML:
    """The default bridge network's configuration: driver, subnet, gateway (docker0's own
    address), options."""
    network = lab.network("bridge")
    remember_network(lab, network)
    return table(config_table(network))


def addresses(lab: Lab, *names: str) -> HTML:
    """Each container's status, bridge IP and MAC as they are now; each look is recorded, so
    an exercise can compare this look with the one before."""
    rows = []
    for name in names or ("myapp2",):
        try:
            c = lab.container(name)
        except NotFound:
            continue
        att = c.attachment("bridge")
        ip = att.ip if att else ""
        if c.running:
            remember(lab, f"{_short(lab, c.name)}.addresses", (next(_SEEN), ip))
            _shown(lab, c)
        rows.append(
            {
                "container": c.name,
                "status": c.status,
                "bridge IP": ip or "—",
                "MAC": (att.mac if att else "") or "—",
            }
        )
    return table(pd.DataFrame(rows, columns=["container", "status", "bridge IP", "MAC"]), lab=lab)


def classroom(lab: Lab):  # noqa: ANN201 - labkit.labhosts.LabHosts or None
    """The classroom the route step runs in: real lab hosts when LABKIT_LABHOSTS=1 makes them,
    else the simulated classroom of this engine's generation. Says which, in one line."""
    from labkit.labhosts import lab_hosts

    hosts, why = lab_hosts(progress=print)
    if hosts is None:
        generation = lab.engine.info().generation
        print(
            f"SIMULATED classroom: a client and agent01 on Docker Engine {generation.value} "
            f"modelled by labkit. ({why})"
        )
    else:
        print(why)
    return hosts


def route_step(lab: Lab, opening: str = "none", *, hosts=None, generation=None) -> None:  # noqa: ANN001
    """The lab text's ``route add`` on the classroom (``classroom``): the command, the
    before/after table, and on Engine 28 the raw-table rules and the packets they dropped.
    ``generation`` shows a simulated classroom of another generation, for comparison."""
    from labkit.classroom import simulated_route_step
    from labkit.notebook.layout import command_output
    from labkit.notebook.route import route_table

    if hosts is not None and generation is None:
        step = hosts.route_step(opening)
    else:
        step = simulated_route_step(generation or lab.engine.info().generation, opening)
    simulated = hosts is None or generation is not None
    where = "on the client" + (" of the simulated classroom" if simulated else "")
    display(command_output(f"{step.route}   # {where}", "", simulated=simulated))
    display(table(route_table(step)))
    if step.generation.drops_routed_traffic:
        listing = "\n".join(step.raw_rules) or "(no DROP rule for these containers)"
        display(
            command_output(
                "iptables -t raw -S PREROUTING   # on agent01",
                f"{listing}\n# packets these rules dropped: {step.dropped}",
                simulated=simulated,
            )
        )


def _bridge_ip(c: Container) -> str:
    att = c.attachment("bridge")
    return att.ip if att else ""
