"""The lab text's route step on a simulated classroom, for the student's engine generation.

The lab text adds ``route add 172.17.0.0 mask 255.255.0.0 <agent>`` on a desktop and then opens
``http://[server ip]``. Real lab hosts (``labkit.labhosts``, root on Linux) do that for real.
Everywhere else — a laptop, Binder, a hub — the course shows the same step on labkit's simulated
engine: an agent that runs a published and an unpublished lab app, and a client whose routing
table has no route to the agent's bridge until the step adds one. What the agent's engine does
with the routed request is the simulator's model of that generation (``labkit.engine.sim.routing``:
20.10 forwards it; 28 drops it unless an opening allows it). The result has the shape real lab
hosts return (``labkit.labhosts.RouteStep``), so one table shows either; every probe in it is
marked simulated.
"""

from __future__ import annotations

import ipaddress
import time

from labkit.engine.base import LAB_IMAGE
from labkit.generation import Generation
from labkit.labhosts import (
    OPENINGS,
    RouteStep,
    RouteTry,
    check_opening,
    drop_rules,
    dropped_packets,
)
from labkit.models import Outcome, ProbeResult

__all__ = ["simulated_route_step", "AGENT", "CLIENT"]

AGENT = "198.18.0.11"  # the simulated agent01's address on the lab network (RFC 2544 range)
CLIENT = "198.18.0.10"
_NETWORK_OPTIONS = {
    "trusted-host-interfaces": {"com.docker.network.bridge.trusted_host_interfaces": "eth1"},
    "nat-unprotected": {"com.docker.network.bridge.gateway_mode_ipv4": "nat-unprotected"},
}


def simulated_route_step(generation: Generation, opening: str = "none") -> RouteStep:
    """The route step with ``opening`` (a key of ``labkit.labhosts.OPENINGS``) on a simulated
    agent of ``generation``; the simulated classroom is made for the call and removed after."""
    from labkit.engine.sim import SimulatedEngine

    check_opening(opening, generation, fix_20="use opening='none' on 20.10")
    agent = SimulatedEngine(
        reason="the simulated classroom of the route step",
        generation=generation,
        allow_direct_routing=opening == "allow-direct-routing",
    )
    try:
        network = "bridge"
        if opening in _NETWORK_OPTIONS:
            network = agent.create_network(
                f"route-{opening}", options=_NETWORK_OPTIONS[opening]
            ).name
        on = None if network == "bridge" else network
        made = [
            agent.run(
                LAB_IMAGE, name="published", ports={"80/tcp": ("127.0.0.1", None)}, network=on
            ),
            agent.run(LAB_IMAGE, name="unpublished", network=on),
        ]
        subnet = agent.network(network).subnet
        binding = made[0].port(80)
        port = binding.host_port or 0 if binding else 0
        before = [_no_route(c.ip, subnet) for c in made]
        after = [
            _marked(
                agent.routed_http(c.ip, 80, client=CLIENT, in_interface="eth1"), "bridge IP, routed"
            )
            for c in made
        ]
        via_port = _via_published_port(agent, made[0].name, port)
        ips = {c.ip for c in made}
        return RouteStep(
            version=agent.info().version,
            opening=opening,
            opens=OPENINGS[opening],
            network=network,
            route=f"ip route add {subnet} via {AGENT}",
            via_port=via_port,
            tries=tuple(
                RouteTry(c.name, c.ip, published, b, a)
                for c, published, b, a in zip(made, (True, False), before, after, strict=True)
            ),
            dropped=dropped_packets(agent.raw_prerouting(), ips),
            raw_rules=drop_rules(agent.raw_rules().splitlines(), ips),
        )
    finally:
        agent.close()


def _no_route(ip: str, subnet: str) -> ProbeResult:
    """The client before the step: its only routes are its own lab network and a default route
    that leads elsewhere, so the bridge address has no way in (as the real client shows)."""
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(subnet)
    return ProbeResult(
        via="bridge IP",
        target=f"{ip}:80",
        url=f"http://{ip}/",
        outcome=Outcome.UNREACHABLE,
        simulated=True,
        detail=f"no route to host: the client has no route to {subnet}",
    )


def _marked(result: ProbeResult, via: str) -> ProbeResult:
    from dataclasses import replace

    return replace(result, via=via, simulated=True)


def _via_published_port(agent, name: str, port: int) -> ProbeResult:  # noqa: ANN001
    """The published port through the agent's address: DNAT on the agent, on every generation.
    The simulated agent's published ports are this machine's real listeners on 127.0.0.1."""
    from labkit.probe import probe_address

    started = time.perf_counter()
    result = probe_address(None, "127.0.0.1", port, via=f"agent01:{port}")
    from dataclasses import replace

    return replace(
        result,
        target=f"{AGENT}:{port}",
        url=f"http://{AGENT}:{port}/",
        simulated=True,
        latency_ms=result.latency_ms or (time.perf_counter() - started) * 1000,
    )
