"""The differential test: one scenario on the simulator and on a real Docker engine, compared.

Start three app containers, restart one, create a user-defined network, connect two containers,
exec the lab's commands, inspect everything, make bad calls — then compare what must agree once
the values that legitimately differ (IDs, times, which free port or pool came next on a shared
engine) are normalised away: port steps, address and MAC sequences, subnets, the key structure
(with value types) of every inspect JSON, event sequences and error types.
"""

from __future__ import annotations

import http.client
import ipaddress
import time
from collections.abc import Callable
from typing import Any

import pytest
from loopback import refused
from test_contract import DEFAULT_POOLS, Made

from labkit.app import parse_page
from labkit.errors import LabkitError

pytestmark = pytest.mark.docker


def key_shape(data: Any, *, names: dict[str, str], prefix: str = "") -> set[str]:
    """Every key path with its value's JSON type; IDs and names mapped to stable placeholders."""
    out: set[str] = set()
    if isinstance(data, dict):
        out.add(f"{prefix}:object")
        for key, value in data.items():
            shown = names.get(key, key)
            if prefix.endswith(("/Containers", "/Labels")) and shown == key and len(key) == 64:
                shown = "<id>"
            out |= key_shape(value, names=names, prefix=f"{prefix}/{shown}")
    elif isinstance(data, list):
        out.add(f"{prefix}:array")
        for value in data[:1]:
            out |= key_shape(value, names=names, prefix=prefix + "[]")
    else:
        kind = {type(None): "null", bool: "bool", int: "number", float: "number", str: "string"}[
            type(data)
        ]
        out.add(f"{prefix}:{kind}")
    return out


def error_type(call: Callable[[], Any]) -> str:
    try:
        call()
    except LabkitError as exc:
        return type(exc).__name__
    return "no error"


def page_at(port: int) -> dict[str, str]:
    end = time.monotonic() + 3
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            conn.request("GET", "/")
            body = conn.getresponse().read().decode()
            conn.close()
            return parse_page(body)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def mac_of(ip: str) -> str:
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


def scenario(engine) -> dict[str, Any]:
    """Run the scenario on ``engine``; return normalised observations."""
    engine.ensure_lab_image()
    made = Made(engine)
    seen: list = []
    stop_watch = engine.watch(seen.append, labels={"simtest": made.tag})
    obs: dict[str, Any] = {}
    try:
        low, high = engine.info().port_range
        size = high - low + 1
        apps = [made.run(n, ports={"80/tcp": None}) for n in ("one", "two", "three")]
        ports = [c.port() for c in apps]
        first = ports[0].host_port
        steps = [(p.host_port - first) % size for p in ports]
        # IPv6 keeps its own round robin; the pair may differ when a port was busy for IPv4 only.
        steps6 = [(p.ipv6_host_port - ports[0].ipv6_host_port) % size for p in ports]
        restarted = engine.restart(apps[1].id, timeout=2)
        new_port = restarted.port().host_port
        obs["ports"] = {
            "shape": [(p.protocol, p.host_ip, p.ipv6_host_ip) for p in ports],
            "in range": all(
                low <= port <= high
                for p in ports + [restarted.port()]
                for port in (p.host_port, p.ipv6_host_port)
            ),
            "steps increase": steps[0] == 0 < steps[1] < steps[2],
            "IPv6 steps increase": steps6[0] == 0 < steps6[1] < steps6[2],
            "restart moves on": (new_port - first) % size > steps[2],
            "old port refused": refused(ports[1].host_port),
        }
        page = page_at(new_port)
        obs["page"] = {
            "server ip is the container's": page["server_ip"] == restarted.ip,
            "hostname is the short id": page["hostname"] == restarted.id[:12],
            "client via the gateway": page["client_addr"].startswith("[::ffff:172.17.0.1]:"),
        }
        obs["bridge"] = {
            "in 172.17/16": all(
                ipaddress.ip_address(c.ip) in ipaddress.ip_network("172.17.0.0/16") for c in apps
            ),
            "distinct": len({c.ip for c in apps}) == 3,
            "macs derived": all(c.attachment("bridge").mac == mac_of(c.ip) for c in apps),
            "gateway": {c.attachment("bridge").gateway for c in apps},
            "network_mode": {c.network_mode for c in apps},
        }

        net = made.network("labnet")
        subnet = ipaddress.ip_network(net.subnet)
        engine.connect(net.name, apps[0].id)
        engine.connect(net.name, apps[2].id, aliases=["web"])
        one, three = engine.container(apps[0].id), engine.container(apps[2].id)
        base = int(subnet.network_address)
        obs["user network"] = {
            "subnet from the default pools": subnet in DEFAULT_POOLS,
            "gateway is the first host": net.gateway == str(subnet.network_address + 1),
            "offsets": [
                int(ipaddress.ip_address(c.attachment(net.name).ip)) - base for c in (one, three)
            ],
            "macs derived": [
                c.attachment(net.name).mac == mac_of(c.attachment(net.name).ip)
                for c in (one, three)
            ],
            "aliases": [
                [a if a != c.id[:12] else "<short id>" for a in c.attachment(net.name).aliases]
                for c in (one, three)
            ],
            "networks": [
                [a.network if a.network != net.name else "<labnet>" for a in c.networks]
                for c in (one, three)
            ],
            "endpoints": [e.container_name for e in engine.network(net.id).endpoints]
            == sorted([one.name, three.name]),
        }

        lookup = engine.exec(one.id, ["nslookup", "web"])
        pinged = engine.exec(apps[1].id, ["ping", "-c", "1", one.name])
        fetched = engine.exec(three.id, ["wget", "-qO-", f"http://{one.name}/"])
        obs["exec"] = {
            "hostname": engine.exec(one.id, ["hostname"]).output == one.id[:12] + "\n",
            "nslookup by alias": (
                lookup.exit_code,
                f"Address: {three.attachment(net.name).ip}" in lookup.output,
            ),
            "ping from the default bridge": (
                pinged.exit_code,
                pinged.output.replace(made.tag, "<tag>"),
            ),
            "wget across the user network": (
                fetched.exit_code,
                parse_page(fetched.output)
                .get("client_addr", "")
                .startswith(f"[::ffff:{three.attachment(net.name).ip}]:"),
            ),
            "ip_forward": engine.exec(one.id, ["cat", "/proc/sys/net/ipv4/ip_forward"]).output,
            "unknown command": engine.exec(one.id, ["getent", "hosts", "x"]).exit_code,
            "busybox applet missing": engine.exec(one.id, ["/bin/busybox", "getent"]).output,
        }

        stopped = engine.stop(apps[1].id, timeout=2)
        obs["stopped"] = (stopped.status, stopped.exit_code, stopped.ports, stopped.ip)
        listed = engine.containers(labels={"simtest": made.tag})
        obs["listed"] = sorted(
            (
                c.name.rsplit("-", 1)[-1],
                c.status,
                tuple((p.host_ip, p.ipv6_host_ip) for p in c.ports),
                tuple(len(a.aliases) for a in c.networks),
                c.exit_code,
                c.started_at,
            )
            for c in listed
        )

        host = made.run("host", network="host", ports=None)
        none = made.run("none", network="none", ports=None)
        names = {
            one.id: "<one>",
            three.id: "<three>",
            apps[1].id: "<two>",
            host.id: "<host>",
            none.id: "<none>",
            net.name: "<labnet>",
        }
        obs["container inspect"] = {
            role: sorted(key_shape(engine.inspect_container(c.id), names=names))
            for role, c in (
                ("one", one),
                ("two (stopped)", apps[1]),
                ("three", three),
                ("host", host),
                ("none", none),
            )
        }
        obs["network inspect"] = {
            role: sorted(
                key_shape(
                    {k: v for k, v in engine.inspect_network(ref).items() if k != "Containers"},
                    names=names,
                )
            )
            for role, ref in (
                ("bridge", "bridge"),
                ("host", "host"),
                ("none", "none"),
                ("labnet", net.id),
            )
        }
        obs["network members"] = {
            role: sorted(
                key_shape(
                    next(iter(engine.inspect_network(ref)["Containers"].values())), names=names
                )
            )
            for role, ref in (
                ("bridge", "bridge"),
                ("host", "host"),
                ("none", "none"),
                ("labnet", net.id),
            )
        }
        obs["bridge options"] = engine.inspect_network("bridge")["Options"]
        obs["bridge ipam"] = engine.inspect_network("bridge")["IPAM"]["Config"]

        obs["errors"] = {
            "name in use": error_type(lambda: made.run("one")),
            "no such container": error_type(lambda: engine.restart(made.name("ghost"))),
            "no such network": error_type(lambda: engine.network(made.name("ghost"))),
            "no such image": error_type(
                lambda: engine.run("nope/nothing:1", name=made.name("img"))
            ),
            "connect twice": error_type(lambda: engine.connect(net.name, one.id)),
            "connect to none": error_type(lambda: engine.connect("none", one.id)),
            "connect to host": error_type(lambda: engine.connect("host", one.id)),
            "connect a none container": error_type(lambda: engine.connect(net.name, none.id)),
            "connect a host container": error_type(lambda: engine.connect(net.name, host.id)),
            "disconnect a stranger": error_type(lambda: engine.disconnect(net.name, apps[1].id)),
            "network in use": error_type(lambda: engine.remove_network(net.id)),
            "remove a predefined network": error_type(lambda: engine.remove_network("none")),
            "overlapping subnet": error_type(
                lambda: engine.create_network(made.name("o"), subnet=str(subnet))
            ),
            "unknown driver": error_type(
                lambda: engine.create_network(made.name("d"), driver="nosuchdriver")
            ),
            "exec when stopped": error_type(lambda: engine.exec(apps[1].id, ["hostname"])),
            "remove running without force": error_type(lambda: engine.remove(one.id, force=False)),
            "port taken": error_type(
                lambda: made.run(
                    "clash",
                    ports={"80/tcp": ("127.0.0.1", engine.container(one.id).port().host_port)},
                )
            ),
        }
        obs["leftovers after errors"] = sorted(
            c.name.rsplit("-", 1)[-1] for c in engine.containers(labels={"simtest": made.tag})
        )

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and [
            e.action for e in seen if e.container_id == apps[1].id
        ][-3:] != ["kill", "die", "stop"]:
            time.sleep(0.05)
        obs["events of the restarted container"] = [
            e.action
            for e in seen
            if e.container_id == apps[1].id and not e.action.startswith("exec")
        ]
    finally:
        stop_watch()
        made.cleanup()
    return obs


@pytest.fixture(scope="module")
def both(request):
    # Module scope (the scenario runs once per engine): the simulator as labkit reaches it,
    # DockerEngine over the session's daemon, like the real engine.
    from labkit.engine.docker import DockerEngine

    docker_engine = request.getfixturevalue("docker_engine")
    sim = DockerEngine(base_url=request.getfixturevalue("sim_daemon"))
    try:
        yield scenario(sim), scenario(docker_engine)
    finally:
        sim.close()


ASPECTS = [
    "ports",
    "page",
    "bridge",
    "user network",
    "exec",
    "stopped",
    "listed",
    "container inspect",
    "network inspect",
    "network members",
    "bridge options",
    "bridge ipam",
    "errors",
    "leftovers after errors",
    "events of the restarted container",
]


@pytest.mark.parametrize("aspect", ASPECTS)
def test_the_simulator_agrees_with_the_engine(both, aspect):
    simulated, real = both
    assert simulated[aspect] == real[aspect]


def test_the_scenario_is_not_trivially_equal(both):
    """Guard against a scenario that agrees because it observes nothing."""
    simulated, _real = both
    assert simulated["ports"]["steps increase"] and simulated["ports"]["old port refused"]
    assert simulated["user network"]["offsets"] == [2, 3]
    assert len(simulated["container inspect"]["one"]) > 150
    assert simulated["errors"]["port taken"] == "PortInUse"
    assert simulated["events of the restarted container"] == [
        "create",
        "start",
        "kill",
        "die",
        "stop",
        "start",
        "restart",
        "kill",
        "die",
        "stop",
    ]
