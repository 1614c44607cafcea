"""The differential test: one scenario on the simulator and on a real Docker engine, compared.

The simulator models the real engine's generation (``engine.info().generation``): sim 20.10
against real 20.10, sim 28 against real 28 (run it inside Engine 28's network namespace, with
``DOCKER_HOST`` pointing at it, so the published ports are reachable).

Start three app containers, restart one, create a user-defined network, connect two containers,
exec the lab's commands, inspect everything, make bad calls — then compare what must agree once
the values that legitimately differ (IDs, times, MACs that are random, which free port or pool
came next on a shared engine) are normalised away: port steps, address and MAC sequences,
subnets, the key structure (with value types) of every inspect JSON, `ip addr` and /etc/hosts,
event sequences and error types.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from loopback import refused
from test_contract import DEFAULT_POOLS, Made

from labkit.app import parse_page
from labkit.errors import LabkitError
from labkit.generation import Generation

pytestmark = pytest.mark.docker

# The events of `docker stop` (--init container); 28 sends stop and die in either order (they
# race), shown here as the simulator sends them.
STOPPED = {Generation.V20: ["kill", "die", "stop"], Generation.V28: ["kill", "stop", "die"]}


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


def mac_kind(mac: str, ip: str) -> str:
    """20.10 derives MACs from the address; 28 makes them random, locally administered and
    unicast (the first byte's two lowest bits are 10)."""
    if mac == mac_of(ip):
        return "derived"
    if re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac) and int(mac[:2], 16) & 3 == 2:
        return "random"
    return f"odd: {mac}"


def ip_addr_shape(text: str) -> list[str]:
    """`ip addr` with what differs between two runs of the same engine masked: interface and
    peer numbers (a peer number that is also a local interface's shows that name instead, and
    drops M-DOWN), and MACs."""
    text = re.sub(r"(?m)^\d+: (\w+)@\S+: <([A-Z_,]+?)(,M-DOWN)?>", r"<n>: \1@<peer>: <\2>", text)
    text = re.sub(r"(?m)^\d+: ", "<n>: ", text)
    return re.sub(r"link/ether \S+", "link/ether <mac>", text).splitlines()


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
        # 20.10: IPv6 keeps its own round robin; the pair may differ when a port was busy for
        # IPv4 only. 28: one port for both.
        steps6 = [(p.ipv6_host_port - ports[0].ipv6_host_port) % size for p in ports]
        generation = engine.info().generation
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
            "twins share a port": all(p.host_port == p.ipv6_host_port for p in ports)
            if generation.same_port_twins
            else "not promised on 20.10",
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
            "macs": [mac_kind(c.attachment("bridge").mac, c.ip) for c in apps],
            "macs distinct": len({c.attachment("bridge").mac for c in apps}) == 3,
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
            "macs": [
                mac_kind(c.attachment(net.name).mac, c.attachment(net.name).ip)
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

        def masked(text: str) -> str:
            # Addresses a shared engine hands out differently, and the ID.
            for value, shown in (
                (str(subnet), "<labnet>"),
                (str(subnet.broadcast_address), "<labnet brd>"),
                (one.attachment(net.name).ip, "<labnet ip>"),
                (one.ip, "<bridge ip>"),
                (one.id[:12], "<short id>"),
            ):
                text = text.replace(value, shown)
            return text.replace(f"<labnet ip>/{subnet.prefixlen}", "<labnet ip>/<len>")

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
            "ip addr": ip_addr_shape(masked(engine.exec(one.id, ["ip", "addr"]).output)),
            "ip -o addr": ip_addr_shape(masked(engine.exec(one.id, ["ip", "-o", "addr"]).output)),
            "ip route": masked(engine.exec(one.id, ["ip", "route"]).output),
            "/etc/hosts": masked(engine.exec(one.id, ["cat", "/etc/hosts"]).output),
        }

        # A restart with two networks: whatever the interfaces are called afterwards (28 names
        # them in a random rotation of the connect order), the default route and the published
        # port stay with the network whose name sorts first (bridge), and the page's server IP
        # is the first interface's.
        before = engine.container(one.id).port().host_port
        again = engine.restart(one.id, timeout=2)
        routes = engine.exec(one.id, ["ip", "route"]).output
        devices = dict(
            (line.split()[1], line.split()[3].split("/")[0])
            for line in engine.exec(one.id, ["ip", "-o", "-4", "addr"]).output.splitlines()
            if line.split()[1] != "lo"
        )
        default_dev = routes.splitlines()[0].split(" dev ")[1].strip()
        obs["two-network restart"] = {
            "interfaces": sorted(devices),
            "default route via the bridge's interface": devices.get(default_dev) == again.ip,
            "port moved on": (again.port().host_port - before) % size > 0,
            "server ip is eth0's": page_at(again.port().host_port)["server_ip"]
            == devices.get("eth0"),
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

        def actions() -> list[str]:
            found = [
                e.action
                for e in seen
                if e.container_id == apps[1].id and not e.action.startswith("exec")
            ]
            if not generation.orders_restart_events:  # 28's die and stop race: one order
                for n in range(len(found) - 1):
                    if found[n : n + 2] == ["die", "stop"]:
                        found[n : n + 2] = ["stop", "die"]
            return found

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and actions()[-3:] != STOPPED[generation]:
            time.sleep(0.05)
        obs["events of the restarted container"] = actions()
    finally:
        stop_watch()
        made.cleanup()
    return obs


@pytest.fixture(scope="module")
def both(request):
    # Module scope (the scenario runs once per engine): the simulator as labkit reaches it,
    # DockerEngine over a daemon of its own that models the real engine's generation.
    from labkit.engine.docker import DockerEngine
    from labkit.engine.sim import daemon

    docker_engine = request.getfixturevalue("docker_engine")
    generation = docker_engine.info().generation
    path = request.getfixturevalue("tmp_path_factory").mktemp("simdiff") / "sim.sock"
    before = os.environ.get("LABKIT_SIM_VERSION")
    os.environ["LABKIT_SIM_VERSION"] = generation.value  # the daemon inherits it
    try:
        url = daemon.ensure(path, say=lambda line: None).url
    finally:
        if before is None:
            os.environ.pop("LABKIT_SIM_VERSION", None)
        else:
            os.environ["LABKIT_SIM_VERSION"] = before
    sim = DockerEngine(base_url=url)
    try:
        assert sim.info().generation is generation
        yield generation, scenario(sim), scenario(docker_engine)
    finally:
        sim.close()
        daemon.stop(path, say=lambda line: None)


ASPECTS = [
    "ports",
    "page",
    "bridge",
    "user network",
    "exec",
    "two-network restart",
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
    generation, simulated, real = both
    if aspect == "bridge ipam" and generation is Generation.V20:
        # A new simulator is a daemon's first start (no Gateway); a real 20.10 shows the
        # gateway from its second start on (moby/moby#26799): both states are 20.10's.
        later_start = [{**simulated[aspect][0], "Gateway": "172.17.0.1"}]
        assert real[aspect] in (simulated[aspect], later_start)
        return
    if aspect == "network inspect" and generation is Generation.V20:
        # The same two states of 20.10's bridge, seen in the shape of its inspect output.
        bridge = simulated[aspect]["bridge"]
        later = sorted({*bridge, "/IPAM/Config[]/Gateway:string"})
        assert real[aspect]["bridge"] in (bridge, later)
        simulated = {aspect: {**simulated[aspect], "bridge": real[aspect]["bridge"]}}
    if isinstance(real[aspect], dict):  # name the observation that differs
        for key in real[aspect]:
            assert simulated[aspect].get(key) == real[aspect][key], key
    assert simulated[aspect] == real[aspect]


def test_the_scenario_is_not_trivially_equal(both):
    """Guard against a scenario that agrees because it observes nothing."""
    generation, simulated, _real = both
    macs = {Generation.V20: "derived", Generation.V28: "random"}[generation]
    assert simulated["bridge"]["macs"] == [macs] * 3
    assert simulated["two-network restart"]["interfaces"] == ["eth0", "eth1"]
    assert simulated["ports"]["steps increase"] and simulated["ports"]["old port refused"]
    assert simulated["user network"]["offsets"] == [2, 3]
    assert len(simulated["container inspect"]["one"]) > 150
    assert simulated["errors"]["port taken"] == "PortInUse"
    stopped = STOPPED[generation]
    assert simulated["events of the restarted container"] == [
        "create",
        "start",
        *stopped,
        "start",
        "restart",
        *stopped,
    ]
