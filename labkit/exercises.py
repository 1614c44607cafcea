"""The course's exercises, kept out of the notebooks so that no answer sits in a cell above.

A notebook asks ``q_port = exercise("01.port", lab)`` right after the table the question is
about; the question takes its fact from what labkit showed (``labkit.check.recall``), else from
the engine at that moment, and keeps it (see ``labkit.check``). A step whose answer rests on
values only the notebook holds passes them by name: ``exercise("02.kept_ip", lab,
ip_before=...)``. Each right answer is recorded as progress (``labkit.progress``), so
``labkit status`` shows who passed what.

Fact keys a step records with ``labkit.check.remember*`` (all optional: without them the
engine is read when the question is shown; a step that shows a fact should record it, since a
recorded value wins over the engine):

======================  ==============================================================
``myapp2.host_port``    ``remember_container(lab, app)`` after each port table / restart
``myapp2.ip@bridge``    the same call
``net:bridge.gateway``  ``remember_network(lab, bridge)`` with the configuration table
``probe:host-port``     ``remember_probes(lab, results)`` with a probe table
``probe:old:host-port`` ``remember_probes(lab, results, "old")``: probes of the old port/IP
``exec:ip -4 addr``     ``remember(lab, "exec:ip -4 addr", {"web": output, ...})``
``exec:nslookup web2``  ``remember(lab, "exec:nslookup web2", exec_result)`` (default bridge)
``myapp2.started_at``   ``labkit.notebook.course`` views (the terminal restart's baseline)
``myapp2.addresses``    ``course.addresses``: ``(n, ip)`` per look (``02.kept_ip``)
======================  ==============================================================

Exercises done in a terminal (the student types a docker command there and the engine is
checked) are ``labkit.tasks``; that module's docstring gives the notebook convention the test
harness runs them by (a cell tagged ``terminal``; the harness calls ``run_in_terminal()``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit.check import NotAnswerable, Question, history, recall
from labkit.lab import Lab
from labkit.models import Outcome

__all__ = ["exercise", "EXERCISES", "exercise_ids", "Spec"]

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Spec:
    """One exercise: its words, where its fact comes from, and what counts as a near miss."""

    id: str
    prompt: str
    fact: Callable[[Lab, Facts], Any]
    hint: str
    explain: str
    choices: tuple[str, ...] | None = None
    mistakes: Callable[[Lab, Facts], Mapping[Any, str]] | None = None
    changed_by: str = ""

    @property
    def step(self) -> str:
        return _STEPS[self.id.split(".", 1)[0]]


_STEPS = {
    "00": "00-start-here",
    "01": "01-ephemeral-ports",
    "02": "02-linux-bridge",
    "03": "03-docker-networks",
    "04": "04-beyond-one-host",
}


def exercise(exercise_id: str, lab: Lab, *, name: str = "", **facts: Any) -> Question:
    """The exercise ``exercise_id`` for this student's ``lab``, ready to show and check."""
    try:
        spec = EXERCISES[exercise_id]
    except KeyError:
        from labkit.errors import InvalidInput

        raise InvalidInput(
            f"No exercise {exercise_id!r}",
            "exercises are named by notebook and topic, like '01.port'",
            "use one of: " + ", ".join(EXERCISES),
        ) from None
    from labkit import progress

    mistakes = spec.mistakes
    return Question(
        spec.prompt,
        expected=lambda: spec.fact(lab, facts),
        hint=spec.hint,
        explain=spec.explain,
        choices=spec.choices,
        mistakes=(lambda: mistakes(lab, facts)) if mistakes else None,
        name=name or "q_" + exercise_id.split(".", 1)[1],
        changed_by=spec.changed_by,
        on_check=lambda right: progress.record_check(lab, spec.id, right, step=spec.step),
    )


def exercise_ids(step: str | None = None) -> list[str]:
    """Every exercise id, or those of one notebook ("01" or "01-ephemeral-ports")."""
    return [i for i in EXERCISES if step is None or _STEPS[i[:2]] == step or i[:2] == step]


# -- facts: what labkit showed, else the engine now --------------------------------------------


def _container_fact(lab: Lab, short: str, key: str) -> Any:
    shown = recall(lab, f"{short}.{key}")
    if shown is not None:
        return shown
    # Nothing recorded: the engine now, which is what the table just above showed. Not
    # remembered, or a step that records nothing later would be answered with a stale value.
    c = lab.container(short)
    if key == "host_port":
        binding = c.port(80)
        return (binding.host_port or binding.ipv6_host_port) if binding else None
    if key.startswith("ip@"):
        att = c.attachment(lab.name(key[3:])) or c.attachment(key[3:])
        return att.ip if att else None
    return getattr(c, key, None)


def _port(lab: Lab, facts: Facts) -> Any:
    return _container_fact(lab, "myapp2", "host_port")


def _earlier_ports(lab: Lab, facts: Facts) -> Mapping[Any, str]:
    now = _port(lab, facts)
    earlier = [*history(lab, "myapp2.host_port"), facts.get("old_port")]
    return {
        p: "That was its port before the restart: the engine gave it a new one."
        for p in earlier
        if p is not None and p != now
    }


def _old_port_outcome(lab: Lab, facts: Facts) -> Any:
    shown = recall(lab, "probe:old:host-port") or recall(lab, "probe:old host port")
    if shown is not None:
        return _choice(shown.outcome)
    ports = [facts["old_port"]] * 2 if facts.get("old_port") else history(lab, "myapp2.host_port")
    if len(ports) < 2:
        raise NotAnswerable(
            "There is no old host port of myapp2 to ask about yet",
            "myapp2 has not been restarted in this notebook",
            "run the restart cell above first",
        )
    from labkit.probe import probe_address

    old = probe_address(lab.engine, lab.engine.info().host, ports[-2], via="old host port")
    return _choice(old.outcome)


def _choice(outcome: str) -> str:
    return {Outcome.NOT_HTTP: "refused", Outcome.UNREACHABLE: "timeout"}.get(outcome, outcome)


def _range_low(lab: Lab, facts: Facts) -> Any:
    return lab.engine.info().port_range[0]


def _range_mistakes(lab: Lab, facts: Facts) -> Mapping[Any, str]:
    """What a student types for the range's low end that is not it (h8's walk: the range typed
    without quotes, ``32768-60999``, reached the check as -28231 and got generic feedback)."""
    low, high = lab.engine.info().port_range
    known = {
        32768: "32768 is the kernel's default low end (the text above); this engine's host has "
        "its own range: read the first number printed just above.",
        49153: "49153 is Docker's fallback, used only when it cannot read ip_local_port_range.",
        high: f"{high} is the top of the range; the question asks for its lowest port.",
    }
    for a, b in {(low, high), (32768, 60999)}:  # the range pasted without quotes: a - b
        known[a - b] = (
            f"That is {a} minus {b}: without quotes Python subtracted the range's two ends. "
            "Answer with one number, the lowest."
        )
    known.pop(low, None)
    return known


def _network_fact(lab: Lab, short: str, key: str) -> Any:
    shown = recall(lab, f"net:{short}.{key}")
    if shown is not None:
        return shown
    return getattr(lab.network(short), key) or None


def _gateway(lab: Lab, facts: Facts) -> Any:
    return _network_fact(lab, "bridge", "gateway")


def _server_ip(lab: Lab, facts: Facts) -> Any:
    shown = recall(lab, "probe:host-port")
    if shown is not None and shown.server_ip:
        return shown.server_ip
    return _container_fact(lab, "myapp2", "ip@bridge")


def _survivor(lab: Lab, facts: Facts) -> Any:
    port = recall(lab, "probe:old:host-port")
    ip = recall(lab, "probe:old:bridge-ip")
    if port is None or ip is None:
        raise NotAnswerable(
            "labkit has not shown the old addresses' probes after the restart yet",
            "this question is about that table",
            "run the restart cell above first",
        )
    return {
        (True, True): "both",
        (True, False): "host port",
        (False, True): "bridge IP",
        (False, False): "neither",
    }[(port.ok, ip.ok)]


def _kept_ip(lab: Lab, facts: Facts) -> Any:
    before = facts.get("ip_before")
    looks = history(lab, "myapp2.addresses")  # (n, ip) per look (labkit.notebook.course)
    if not before and len(looks) >= 2:
        return looks[-1][1] == looks[-2][1]
    if not before:
        raise NotAnswerable(
            "The question needs myapp2's address from before the stop",
            "labkit compares the two looks at its addresses (nb.addresses) around the stop",
            "run the cells above from 'note its address' on, in order",
        )
    return _container_fact(lab, "myapp2", "ip@bridge") == before


def _none_driver(lab: Lab, facts: Facts) -> Any:
    return _network_fact(lab, "none", "driver")


def _loopback_only(lab: Lab, facts: Facts) -> Any:
    outputs = facts.get("outputs") or recall(lab, "exec:ip -4 addr")
    if outputs is None:
        outputs = {c: lab.exec(c, ["ip", "-4", "addr"]).output for c in ("web", "lone", "hostbox")}
    for short, output in outputs.items():
        inet = [line.split()[1] for line in output.splitlines() if line.strip().startswith("inet ")]
        if inet and all(address.startswith("127.") for address in inet):
            return short
    return None


def _bridge_subnet(lab: Lab, facts: Facts) -> Any:
    return _network_fact(lab, "bridge", "subnet")


def _bridge_dns(lab: Lab, facts: Facts) -> Any:
    result = facts.get("lookup") or recall(lab, "exec:nslookup web2")
    if result is None:
        result = lab.exec("web", ["nslookup", lab.name("web2"), "127.0.0.11"])
    return result.exit_code == 0


def _mynet_subnet(lab: Lab, facts: Facts) -> Any:
    return _network_fact(lab, "mynet", "subnet")


def _mynet_ip(lab: Lab, facts: Facts) -> Any:
    return _container_fact(lab, "web2", "ip@mynet")


def _bridge_id(lab: Lab, facts: Facts) -> Any:
    return lab.network("bridge").short_id


def _bridge_id_mistakes(lab: Lab, facts: Facts) -> Mapping[Any, str]:
    bridge = lab.network("bridge")
    return {
        bridge.id: "That is the whole ID (docker accepts it too): the question asks for the "
        "12 characters of docker network ls's NETWORK ID column.",
        "bridge": "That is the network's NAME; its ID is the hex string beside it.",
    }


def _mac_from_ip(lab: Lab, facts: Facts) -> Any:
    shown = recall(lab, "mac:web.derived")
    if shown is not None:
        return shown
    att = lab.container("web").attachment("bridge")
    if att is None or not att.mac:
        return None
    from labkit.notebook.networks import _derived_mac

    return att.mac.lower() == _derived_mac(att.ip)


def _two_hosts(mode: str):
    from labkit.multihost import TwoHosts

    return TwoHosts(mode)


def _next_hop(lab: Lab, facts: Facts) -> Any:
    return _two_hosts("host-gw").next_hop("agent01")


def _vxlan_bytes(lab: Lab, facts: Facts) -> Any:
    return _two_hosts("vxlan").overhead()


def _vxlan_bytes_mistakes(lab: Lab, facts: Facts) -> Mapping[Any, str]:
    udp = _two_hosts("udp").overhead()
    return {
        udp: f"{udp} is flannel UDP's: an outer IPv4 and UDP header around the IP packet. VXLAN "
        "also adds its own 8-byte header and wraps the whole Ethernet frame.",
        36: "20 + 8 + 8 leaves out the inner Ethernet header (14 bytes): VXLAN carries whole frames.",
    }


def _same_l2(lab: Lab, facts: Facts) -> Any:
    return next(m for m in ("host-gw", "udp", "vxlan") if _two_hosts(m).overhead() == 0)


_LIST = [
    Spec(
        "01.port",
        "Which host port did the engine give myapp2?",
        _port,
        hint="The 'host port' column of the table above, or the number after the last ':' in docker port's line.",
        explain="An ephemeral port: picked by the engine from its range, not by you.",
        changed_by="the restart",
        mistakes=lambda lab, facts: {
            80: "80 is the container's port (the 80 of -p :80); the question asks for the host "
            "port the engine published it on, after 127.0.0.1: in docker port's line."
        },
    ),
    Spec(
        "01.new_port",
        "Which host port does myapp2 have now, after the restart?",
        _port,
        hint="Run docker port again: the table printed after the restart.",
        explain="A restart releases the published port and allocates a fresh one.",
        mistakes=_earlier_ports,
        changed_by="the later restarts",
    ),
    Spec(
        "01.old_port",
        "What does a request to myapp2's OLD host port get now?",
        _old_port_outcome,
        hint="Look at the 'outcome' column of the row 'old host port' just above.",
        explain="Nothing listens on the old port any more: the host says so at once (connection refused).",
        choices=("ok", "refused", "timeout"),
    ),
    Spec(
        "01.range",
        "What is the lowest host port this engine's allocator may hand out?",
        _range_low,
        hint="The first number of ip_local_port_range, printed just above.",
        explain="The low end of ip_local_port_range; Docker falls back to 49153 only when it cannot read it.",
        mistakes=_range_mistakes,
    ),
    Spec(
        "02.gateway",
        "What is docker0's own address (the default bridge's gateway)?",
        _gateway,
        hint="The 'gateway' row of the table above.",
        explain="docker0 holds the first address of the bridge subnet; containers use it as their default gateway.",
    ),
    Spec(
        "02.server_ip",
        "Which Server IP does myapp2 report?",
        _server_ip,
        hint="The 'Server IP' column above — an address inside the bridge's subnet.",
        explain="It is the container's address on the default bridge, handed out from docker0's subnet.",
        changed_by="the stop and start",
    ),
    Spec(
        "02.survivor",
        "After the restart, which of the addresses you used before still reaches myapp2?",
        _survivor,
        hint="Compare the two 'after restart' rows of the table above.",
        explain="The published port was re-allocated; the bridge IP did not change, and routing does not care about ports.",
        choices=("host port", "bridge IP", "both", "neither"),
    ),
    Spec(
        "02.kept_ip",
        "Did myapp2 keep its bridge IP this time?",
        _kept_ip,
        hint="Compare the two addresses printed above. Answer True or False.",
        explain="The IP is handed out when a container starts; a newcomer can take the one it had.",
    ),
    Spec(
        "03.bridge_id",
        "What is the NETWORK ID of the network called bridge? (Copy it from docker network ls.)",
        _bridge_id,
        hint="The NETWORK ID column of the row NAME = bridge: 12 hex characters.",
        explain="The first 12 characters of the network's ID; docker network inspect accepts it, the whole ID, or the name.",
        mistakes=_bridge_id_mistakes,
    ),
    Spec(
        "03.none_driver",
        "Which DRIVER does docker network ls show for the network called none?",
        _none_driver,
        hint="Find the row NAME = none in the table above.",
        explain="'none' is implemented by the null driver: it creates nothing.",
    ),
    Spec(
        "03.loopback",
        "Which of the three containers has only a loopback interface?",
        _loopback_only,
        hint="Which output above shows nothing but 127.0.0.1?",
        explain="The none network gives a container its own stack with loopback only.",
        choices=("web", "lone", "hostbox"),
    ),
    Spec(
        "03.bridge_subnet",
        "What is the default bridge network's subnet?",
        _bridge_subnet,
        hint="IPAM → Config → Subnet in the JSON, or the 'subnet' row of the configuration table.",
        explain="The default bridge's subnet: 172.17.0.0/16 unless the engine is configured otherwise.",
    ),
    Spec(
        "03.mac_from_ip",
        "Is web's MAC address on the bridge made from its IP address?",
        _mac_from_ip,
        hint="Compare the MAC with the IP in hex: 172.17.0.2 is ac:11:00:02. Answer True or False.",
        explain="Engine 20.10 makes a container's MAC 02:42 followed by its IPv4 address; Engine 28 makes it random.",
    ),
    Spec(
        "03.bridge_dns",
        "On the default bridge, does web resolve web2's name?",
        _bridge_dns,
        hint="Look at the exit code of nslookup above. Answer True or False.",
        explain="The default bridge has no name resolution between containers: they get the host's resolver (labkit's: 127.0.0.1), which knows nothing of them, and no embedded DNS server at 127.0.0.11.",
    ),
    Spec(
        "03.mynet_subnet",
        "What subnet did the engine give your network mynet?",
        _mynet_subnet,
        hint="The 'subnet' row of mynet's configuration table (IPAM → Config → Subnet).",
        explain="User-defined bridges get the next free subnet of the engine's default address pools: 172.18.0.0/16, 172.19.0.0/16, … up to 172.31.0.0/16, then 192.168.0.0/20, 192.168.16.0/20, … (a subnet some interface on the host already uses is skipped).",
    ),
    Spec(
        "03.mynet_ip",
        "Which address does nslookup give for web2 on mynet?",
        _mynet_ip,
        hint="The 'Address:' line of the answer (not the server's address, 127.0.0.11).",
        explain="web2's address on mynet: the embedded DNS answers with the address on the network the two share.",
    ),
    Spec(
        "04.next_hop",
        "In host-gw mode, which next hop does agent01's route to 10.244.2.0/24 use?",
        _next_hop,
        hint="The 'via' of agent01's last route in the table above.",
        explain="agent02's own address: host-gw routes container subnets via the host that owns them.",
    ),
    Spec(
        "04.vxlan_bytes",
        "How many bytes of header does VXLAN encapsulation add to each packet (what the containers' MTU loses)?",
        _vxlan_bytes,
        hint="1500 minus the container MTU in the modes table — or add up outer IP, UDP, VXLAN and the inner Ethernet header.",
        explain="20 (outer IPv4) + 8 (UDP) + 8 (VXLAN) + 14 (the inner Ethernet frame's header) = 50.",
        mistakes=_vxlan_bytes_mistakes,
    ),
    Spec(
        "04.same_l2",
        "Which flannel backend needs both hosts on the same Layer-2 network?",
        _same_l2,
        hint="Which one sends the container's packet unwrapped, with a next hop that is the other host?",
        explain="host-gw: no encapsulation, so the other host must be directly reachable as a next hop.",
        choices=("host-gw", "udp", "vxlan"),
    ),
]

EXERCISES: dict[str, Spec] = {s.id: s for s in _LIST}
