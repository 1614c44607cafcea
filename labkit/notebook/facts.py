"""What differs between engine generations, said for both and shown for the student's engine.

The course states a behaviour once per generation (Engine 20.10, Engine 28 and later) and marks
the one that holds for the engine the student runs on; every value shown is read from that
engine (``lab.engine.info().generation``, the student's containers), never written down.
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Mapping

import pandas as pd
from IPython.display import HTML, display

from labkit.generation import Generation
from labkit.lab import Lab
from labkit.models import PortBinding
from labkit.notebook.layout import command_output, table

__all__ = [
    "for_each_engine",
    "engine_facts",
    "port_families",
    "mac_fact",
    "derived_mac",
    "route_openings",
    "OPENING_COSTS",
]

_NAMES = {Generation.V20: "Engine 20.10", Generation.V28: "Engine 28 and later"}

# What each way of opening Engine 28's routed path costs in security (verified on 28.5.2 with
# real lab hosts: labkit.labhosts.LabHosts.route_step; Docker's release notes 28.0 and 28.2).
OPENING_COSTS = {
    "allow-direct-routing": (
        "daemon-wide: every network of this engine, every container's published ports, "
        "reachable at the container's own address by any host with a route — past whatever "
        "host address the port was published on"
    ),
    "trusted-host-interfaces": (
        "one network, one host interface: anything that can send packets on that interface "
        "(the whole lab network) reaches that network's published ports directly"
    ),
    "nat-unprotected": (
        "one network, no filtering at all: every port of every container on it, published or "
        "not (a debug port, a database), answers any host with a route"
    ),
}


def for_each_engine(lab: Lab, said: Mapping[Generation, str]) -> HTML:
    """One line per generation; the student's engine's line marked and first."""
    info = lab.engine.info()
    mine = info.generation
    rows = []
    for gen in sorted(said, key=lambda g: g is not mine):
        here = gen is mine
        badge = (
            f"<b style='color:#1b5e20'>your engine (Docker Engine {html.escape(info.version)}"
            f"{', SIMULATED' if info.simulated else ''})</b>"
            if here
            else "<span style='color:#777'>the other generation</span>"
        )
        style = "" if here else "color:#555"
        rows.append(
            f"<li style='{style}'><b>{_NAMES[gen]}</b> — {badge}: {html.escape(said[gen])}</li>"
        )
    return HTML(f"<ul class='labkit-generations' style='margin:2px 0'>{''.join(rows)}</ul>")


def engine_facts(lab: Lab) -> HTML:
    """What this engine lets the course show (``labkit doctor`` prints the same)."""
    info = lab.engine.info()
    forward = {True: "on (1)", False: "off (0)", None: "cannot be read here"}[info.ip_forward]
    rows = [
        ("engine", info.description),
        ("generation the course teaches", _NAMES[info.generation]),
        ("simulated", "yes" if info.simulated else "no"),
        ("published ports reached at", info.host),
        (
            "bridge IPs reachable from this kernel",
            f"{'yes' if info.bridge_reachable else 'no'}: {info.bridge_reason}",
        ),
        ("default bridge", f"{info.bridge_name} {info.bridge_address}"),
        ("ip_forward", forward),
        ("ephemeral port range", "{}–{}".format(*info.port_range)),
    ]
    return table(pd.DataFrame(rows, columns=["fact", "value"]))


def port_families(lab: Lab, name: str = "myapp2") -> None:
    """The ``[::]`` line of ``docker port``: the rule for each generation, then what ``-p :80``
    on all interfaces prints on this engine, built from the student's own port."""
    info = lab.engine.info()
    display(
        for_each_engine(
            lab,
            {
                Generation.V20: "IPv4 and IPv6 are allocated apart, each family its own round "
                "robin; a port busy for one family only (an outgoing connection's) makes the "
                "two lines differ, and from then on they stay apart",
                Generation.V28: "one host port for both families: 0.0.0.0:P and [::]:P always "
                "carry the same number, and move together on a restart",
            },
        )
    )
    binding = lab.container(name).port(80)
    if binding is None or not binding.published:
        display(HTML(f"<i>{html.escape(name)} publishes no port yet: run the cells above.</i>"))
        return
    if binding.ipv6_host_port:  # published on all interfaces: the engine's own two lines
        lines = binding.docker_port_lines()
        title = f"docker port {lab.name(name)}   # as your engine printed it"
    else:
        port = binding.host_port or 0
        twin = PortBinding(
            80, host_ip="0.0.0.0", host_port=port, ipv6_host_ip="::", ipv6_host_port=port
        )
        lines = twin.docker_port_lines()
        if not info.generation.same_port_twins:
            lines.append(
                f"# or, after an IPv4-only port was busy: 0.0.0.0:{port + 1} and [::]:{port}"
            )
        title = (
            f"docker port {lab.name(name)}   # had it been published on all interfaces "
            f"(-p 0.0.0.0::80), on {_NAMES[info.generation]}: built from your port, not run"
        )
    display(command_output(title, "\n".join(lines)))


def derived_mac(ip: str) -> str:
    """The MAC Engine 20.10 gives a container: 02:42 followed by its IPv4 address in hex."""
    packed = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)


def mac_fact(lab: Lab, name: str = "myapp2") -> HTML:
    """The container's MAC on the default bridge, beside the rule of each generation."""
    c = lab.container(name)
    att = c.attachment("bridge")
    said = {
        Generation.V20: "the MAC is made from the IP: 02:42 then the four bytes of the address "
        "(172.17.0.2 → 02:42:ac:11:00:02)",
        Generation.V28: "the MAC is random, a new one each time the container joins the network",
    }
    if att is None or not att.mac or not att.ip:
        return for_each_engine(lab, said)
    derived = derived_mac(att.ip)
    same = att.mac.lower() == derived
    seen = f"{c.name}: IP {att.ip}, MAC {att.mac} — " + (
        "made from the IP" if same else f"not made from the IP (that would be {derived})"
    )
    return HTML(for_each_engine(lab, said).data + f"<p>{html.escape(seen)}</p>")


def route_openings(lab: Lab, hosts=None) -> None:  # noqa: ANN001 - labkit.labhosts.LabHosts
    """Engine 28's three ways to let the routed request in, each run and shown with what it
    costs; on 20.10, which forwards routed traffic already, the same on a simulated Engine 28
    classroom for comparison."""
    from labkit.labhosts import OPENINGS
    from labkit.notebook.course import route_step

    generation = lab.engine.info().generation
    display(
        for_each_engine(
            lab,
            {
                Generation.V20: "the route alone is enough: the agent forwards the request to "
                "the container, published port or not — nothing to open, and nothing filtered",
                Generation.V28: "the route alone is dropped (raw-table DROP rules); one of "
                "three settings below lets it in, each opening something else too",
            },
        )
    )
    compare = None if generation.drops_routed_traffic else Generation.V28
    if compare is not None:
        display(HTML(_SIMULATED_28 + "<div>The route alone, on Engine 28:</div>"))
        route_step(lab, hosts=hosts, generation=compare)
    for opening in OPENINGS:
        if opening == "none":
            continue
        head = (
            f"<h4 style='margin:8px 0 2px 0'>{html.escape(opening)}</h4>"
            f"<div>Opens: {html.escape(OPENINGS[opening])}.</div>"
            f"<div><b>Costs</b>: {html.escape(OPENING_COSTS[opening])}.</div>"
        )
        display(HTML(head))
        if compare is not None:
            display(HTML(_SIMULATED_28))
        route_step(lab, opening, hosts=hosts, generation=compare)


_SIMULATED_28 = (
    "<span class='labkit-simulated' style='color:#8a5a00;font-weight:bold;font-size:11px'>"
    "SIMULATED · a simulated Engine 28 classroom, for comparison with yours</span>"
)
