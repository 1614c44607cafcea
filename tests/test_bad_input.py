"""The bad-input catalogue: every mistake a student can make ends in a labkit error that says
what, why and what to do in one or two lines — the same error type on the real engine and on the
simulator — or is an input the case documents as right, with a check that the answer is right.

Each case runs on every engine of ``world`` (the simulator, the machine's Engine 20.10, and an
Engine 28 when LABKIT_TEST_DOCKER28 names its socket), against one lab per engine that holds a
running app ``myapp2`` and a network ``labnet``. Every case must end within ``BOUND`` seconds.
The environment cases (DOCKER_HOST, LABKIT_ENGINE, ...) do not depend on an engine and run once.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from labkit import errors
from labkit.connect import choose
from labkit.engine.base import HOST_PORTS_DISCARDED, LAB_IMAGE
from labkit.lab import NAMESPACE_LABEL, Lab, run_namespace
from labkit.models import Outcome, ProbeResult
from labkit.probe import probe_address

BOUND = 12.0  # seconds: a case that takes longer is a hang


def assert_teaches(exc: errors.LabkitError, *names: str) -> None:
    """Two lines at most, naming the object, with a why and a what-to-do."""
    text = str(exc)
    assert exc.why and exc.fix, text
    assert len(text.splitlines()) <= 2, text
    for name in names:
        assert name in text, f"{name!r} not named in: {text}"
    assert "Traceback" not in text and "docker.errors" not in text


def raises(kind, call, *names):
    with pytest.raises(kind) as caught:
        call()
    assert_teaches(caught.value, *names)
    return caught.value


# -- the catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Lab], object]
    error: type[errors.LabkitError] | None = None  # None: an accepted input
    names: tuple[str, ...] = ()  # words the error message must contain
    check: Callable[[Lab, object], None] | None = None  # for an accepted input: is it right?
    sim_gap: str = ""  # a known difference of the simulator, to be fixed there (strict xfail)


def bad(id: str, error, call, *names: str, sim_gap: str = "") -> Case:
    return Case(f"error:{id}", call, error, names, sim_gap=sim_gap)


def good(id: str, call, check) -> Case:
    return Case(f"accepted:{id}", call, check=check)


# Values that are not names, as a student might pass them.
NOT_NAMES = [
    ("None", None),
    ("int", 123),
    ("float", 1.5),
    ("bytes", b"myapp2"),
    ("list", ["myapp2"]),
    ("empty", ""),
    ("space", " "),
    ("trailing-newline", "x\n"),
    ("leading-newline", "\nx"),
    ("inner-space", "my app"),
    ("tab", "my\tapp"),
    ("nul", "a\x00b"),
    ("leading-dash", "-lead"),
    ("leading-underscore", "_x"),
    ("leading-dot", ".x"),
    ("slash", "a/b"),
    ("colon", "a:b"),
    ("at", "a@b"),
    ("accent", "ünï"),
    ("cjk", "李"),
    ("emoji", "app😀"),
    ("too-long", "x" * 200),
]


def _name_cases() -> list[Case]:
    cases = []
    for label, value in NOT_NAMES:
        shown = repr(value)[:30]
        cases.append(
            bad(
                f"start_app-name-{label}", errors.InvalidName, lambda lab, v=value: lab.start_app(v)
            )
        )
        cases.append(
            bad(
                f"create_network-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.create_network(v),
            )
        )
        if label not in ("too-long",):
            cases.append(
                bad(f"container-{label}", errors.InvalidName, lambda lab, v=value: lab.container(v))
            )
        del shown
    for label, value in [("None", None), ("int", 7), ("empty", ""), ("trailing-newline", "x\n")]:
        for verb in ("restart", "stop", "start", "remove", "probe"):
            cases.append(
                bad(
                    f"{verb}-{label}",
                    errors.InvalidName,
                    lambda lab, v=value, verb=verb: getattr(lab, verb)(v),
                )
            )
        cases.append(
            bad(
                f"exec-name-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.exec(v, ["hostname"]),
            )
        )
        cases.append(
            bad(f"network-{label}", errors.InvalidName, lambda lab, v=value: lab.network(v))
        )
        cases.append(
            bad(
                f"remove_network-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.remove_network(v),
            )
        )
        cases.append(
            bad(
                f"connect-network-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.connect(v, "myapp2"),
            )
        )
        cases.append(
            bad(
                f"connect-container-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.connect("labnet", v),
            )
        )
        cases.append(
            bad(
                f"disconnect-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.disconnect("labnet", v),
            )
        )
    for label, value in [
        ("empty", ""),
        ("int", 5),
        ("trailing-newline", "labnet\n"),
        ("space", " "),
    ]:
        cases.append(
            bad(
                f"start_app-network-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.start_app("netx", network=v),
            )
        )
    # The engine's own entry points share the checks (both engines, word for word).
    for label, value in [("None", None), ("empty", ""), ("trailing-newline", "x\n"), ("cjk", "李")]:
        cases.append(
            bad(
                f"engine.run-name-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.engine.run(LAB_IMAGE, name=v),
            )
        )
        cases.append(
            bad(
                f"engine.create_network-{label}",
                errors.InvalidName,
                lambda lab, v=value: lab.engine.create_network(v),
            )
        )
    return cases


def _missing_cases() -> list[Case]:
    return [
        bad(
            "unknown-container",
            errors.ContainerNotFound,
            lambda lab: lab.container("ghost"),
            "ghost",
        ),
        bad(
            "unknown-network",
            errors.NetworkNotFound,
            lambda lab: lab.network("ghostnet"),
            "ghostnet",
        ),
        bad(
            "start_app-unknown-network",
            errors.NetworkNotFound,
            lambda lab: lab.start_app("netx", network="ghostnet"),
            "ghostnet",
        ),
        bad("restart-unknown", errors.ContainerNotFound, lambda lab: lab.restart("ghost"), "ghost"),
        bad(
            "exec-unknown",
            errors.ContainerNotFound,
            lambda lab: lab.exec("ghost", "hostname"),
            "ghost",
        ),
        bad("probe-unknown", errors.ContainerNotFound, lambda lab: lab.probe("ghost"), "ghost"),
        bad(
            "connect-unknown-network",
            errors.NetworkNotFound,
            lambda lab: lab.connect("ghostnet", "myapp2"),
            "ghostnet",
        ),
        bad(
            "remove_network-unknown",
            errors.NetworkNotFound,
            lambda lab: lab.remove_network("ghostnet"),
            "ghostnet",
        ),
        bad(
            "unknown-image",
            errors.ImageNotFound,
            lambda lab: lab.engine.run("nope/nothing:1", name=lab.name("img")),
            "nope/nothing:1",
        ),
        bad(
            "start_app-name-in-use",
            errors.NameInUse,
            lambda lab: lab.start_app("myapp2"),
            "myapp2",
        ),
        bad(
            "create_network-name-in-use",
            errors.NameInUse,
            lambda lab: lab.create_network("labnet"),
            "labnet",
        ),
        bad("connect-none", errors.InvalidInput, lambda lab: lab.connect("none", "myapp2"), "none"),
        bad("connect-host", errors.InvalidInput, lambda lab: lab.connect("host", "myapp2"), "host"),
        bad(
            "disconnect-not-connected",
            errors.InvalidInput,
            lambda lab: lab.disconnect("labnet", "myapp2"),
            "labnet",
        ),
        bad(
            "remove-builtin-network",
            errors.NotOwned,
            lambda lab: lab.remove_network("bridge"),
            "bridge",
        ),
        bad(
            "engine-remove-none-network",
            errors.InvalidInput,
            lambda lab: lab.engine.remove_network("none"),
            "none",
        ),
        bad(
            "engine-create-host-network",
            errors.InvalidInput,
            lambda lab: lab.engine.create_network("host"),
            "engine's own",
        ),
    ]


def _made_subnet(expected_subnet: str):
    def check(lab: Lab, net) -> None:
        try:
            assert net.subnet == expected_subnet and net.gateway
        finally:
            lab.remove_network(net.name)

    return check


def _subnet_cases() -> list[Case]:
    cases = [
        bad(
            f"subnet-{label}",
            errors.InvalidInput,
            lambda lab, v=value: lab.create_network("sn", subnet=v),
            *shown,
        )
        for label, value, shown in [
            ("slash32-alone", "/32", ("'/32'",)),
            ("int", 32, ("32", "not int")),
            ("int-big", 123, ("123",)),
            ("float", 24.0, ("24.0",)),
            ("tuple", ("10.0.0.0/24",), ("tuple",)),
            ("no-prefix", "10.77.0.0", ("prefix length",)),
            ("host-bits", "172.30.0.1/16", ("172.30.0.1/16",)),
            ("slash31", "10.77.0.0/31", ("/31",)),
            ("slash32", "10.77.0.1/32", ("/32",)),
            ("slash33", "10.77.0.0/33", ("10.77.0.0/33",)),
            ("everything", "0.0.0.0/0", ("0.0.0.0/0",)),
            ("this-host", "0.1.0.0/16", ("0.0.0.0/8",)),
            ("loopback", "127.0.0.0/8", ("loopback",)),
            ("multicast", "224.0.0.0/24", ("multicast",)),
            ("link-local", "169.254.0.0/16", ("link-local",)),
            ("reserved", "240.0.0.0/24", ("reserved",)),
            ("ipv6", "fd00:dead::/64", ("IPv4 only",)),
            ("empty", "", ("''",)),
            ("spaces", " 10.77.0.0/24", ("' 10.77.0.0/24'",)),
            ("words", "my subnet", ("'my subnet'",)),
            ("octet-too-big", "10.300.0.0/16", ("10.300.0.0/16",)),
        ]
    ]
    cases.append(
        bad(
            "subnet-overlaps-docker0",
            errors.Conflict,
            lambda lab: lab.create_network("sn", subnet="172.17.0.0/16"),
            "overlaps",
        )
    )
    for label, gateway, subnet in [
        ("gateway-without-subnet", "10.77.0.1", None),
        ("gateway-outside", "10.78.0.1", "10.77.0.0/24"),
        ("gateway-network-address", "10.77.0.0", "10.77.0.0/24"),
        ("gateway-broadcast", "10.77.0.255", "10.77.0.0/24"),
        ("gateway-words", "router", "10.77.0.0/24"),
        ("gateway-int", 1, "10.77.0.0/24"),
    ]:
        cases.append(
            bad(
                label,
                errors.InvalidInput,
                lambda lab, g=gateway, s=subnet: lab.engine.create_network(
                    lab.name("gw"), subnet=s, gateway=g, labels=lab.labels()
                ),
                "gateway",
            )
        )
    cases.append(
        good(
            "subnet-slash30-smallest",
            lambda lab: lab.create_network("sn30", subnet="10.250.9.0/30"),
            _made_subnet("10.250.9.0/30"),
        )
    )
    return cases


def _port_cases() -> list[Case]:
    def run(ports):
        return lambda lab: lab.engine.run(
            LAB_IMAGE, name=lab.name("p"), ports=ports, labels=lab.labels()
        )

    cases = [
        bad(f"ports-{label}", errors.InvalidPort, run(ports))
        for label, ports in [
            ("port-zero", {"0/tcp": None}),
            ("host-port-70000", {"80/tcp": 70000}),
            ("container-port-99999", {"99999": None}),
            ("host-port-negative", {"80/tcp": -1}),
            ("protocol-unknown", {"80/xyz": None}),
            ("container-port-words", {"http/tcp": None}),
            ("host-port-words", {"80/tcp": "eighty"}),
            ("host-port-bool", {"80/tcp": True}),
            ("host-port-float", {"80/tcp": 8080.5}),
            ("binding-one-element", {"80/tcp": ("127.0.0.1",)}),
            ("binding-bad-ip", {"80/tcp": ("nohost", None)}),
            ("binding-ip-int", {"80/tcp": (1, None)}),
            ("binding-list", {"80/tcp": ["127.0.0.1", None]}),
            ("not-a-mapping-str", "80:80"),
            ("not-a-mapping-list", ["80/tcp"]),
        ]
    ]
    for label, port in [
        ("negative", -1),
        ("zero", 0),
        ("too-big", 70000),
        ("words", "eighty"),
        ("bool", True),
        ("float", 1.5),
        ("bad-ip", ("nohost", None)),
        ("ip-only", ("127.0.0.1",)),
    ]:
        cases.append(
            bad(
                f"start_app-port-{label}",
                errors.InvalidPort,
                lambda lab, p=port: lab.start_app("portx", port=p),
            )
        )
    return cases


def _has_alias(alias: str):
    def check(lab: Lab, _result) -> None:
        try:
            att = lab.container("myapp2").attachment(lab.name("labnet"))
            assert att is not None and alias in att.aliases, att
            assert not any(len(a) == 1 for a in att.aliases), "a string became its letters"
        finally:
            lab.disconnect("labnet", "myapp2")

    return check


def _alias_cases() -> list[Case]:
    cases = [
        bad(
            f"aliases-{label}",
            errors.InvalidInput,
            lambda lab, v=value: lab.connect("labnet", "myapp2", aliases=v),
        )
        for label, value in [
            ("None-inside", [None]),
            ("int-inside", [123]),
            ("empty-inside", [""]),
            ("space-inside", ["a b"]),
            ("int", 5),
            ("set", {"web"}),
            ("newline", ["web\n"]),
        ]
    ]
    cases.append(
        good(
            "aliases-one-string",
            lambda lab: lab.connect("labnet", "myapp2", aliases="web"),
            _has_alias("web"),
        )
    )
    cases.append(
        good(
            "aliases-list",
            lambda lab: lab.connect("labnet", "myapp2", aliases=["web", "db"]),
            _has_alias("db"),
        )
    )
    return cases


def _is_hostname(lab: Lab, result) -> None:
    assert result.exit_code == 0 and result.output.strip() == lab.container("myapp2").id[:12]


def _said(text: str):
    def check(_lab: Lab, result) -> None:
        assert result.exit_code == 0 and result.output.strip() == text, result

    return check


NEVER_ENDS = (
    "the simulator answers `ping` without -c at once: it should raise CommandTimeout "
    "(labkit/engine/sim: exec of a command that runs forever)"
)


def _exec_cases() -> list[Case]:
    cases = [
        bad(f"exec-{label}", errors.InvalidInput, lambda lab, v=value: lab.exec("myapp2", v))
        for label, value in [
            ("empty-string", ""),
            ("blank-string", "   "),
            ("empty-list", []),
            ("None", None),
            ("int", 123),
            ("int-word", ["sleep", 1]),
            ("None-word", ["sh", None]),
            ("empty-word", [""]),
            ("bytes", b"hostname"),
            ("unclosed-quote", 'sh -c "echo'),
            ("dict", {"cmd": "hostname"}),
        ]
    ]
    cases += [
        bad(
            f"exec-timeout-{label}",
            errors.InvalidInput,
            lambda lab, v=value: lab.exec("myapp2", ["hostname"], timeout=v),
            "timeout",
        )
        for label, value in [
            ("negative", -1),
            ("zero", 0),
            ("string", "1"),
            ("None", None),
            ("nan", math.nan),
            ("inf", math.inf),
            ("too-long", 601),
            ("bool", True),
        ]
    ]
    cases += [
        good(
            "exec-string-is-a-command-line",
            lambda lab: lab.exec("myapp2", "hostname"),
            _is_hostname,
        ),
        good(
            "exec-string-splits-like-a-shell",
            lambda lab: lab.exec("myapp2", 'sh -c "echo one   two"'),
            _said("one two"),
        ),
        good("exec-list", lambda lab: lab.exec("myapp2", ["hostname"]), _is_hostname),
        good("exec-tuple", lambda lab: lab.exec("myapp2", ("hostname",)), _is_hostname),
        bad(
            "exec-never-ends",
            errors.CommandTimeout,
            lambda lab: lab.exec("myapp2", ["ping", "127.0.0.1"], timeout=1),
            "ping -c",
            sim_gap=NEVER_ENDS,
        ),
    ]
    return cases


def _probed_within(bound: float):
    def check(lab: Lab, results) -> None:
        assert len(results) == 2 and all(isinstance(r, ProbeResult) for r in results)
        assert all(r.latency_ms < bound * 1000 + 500 for r in results), results
        docker28 = os.environ.get("LABKIT_TEST_DOCKER28")
        if docker28 and getattr(lab.engine, "where", None) == docker28:
            # An engine in a network namespace of its own: its ports are not reachable from
            # here, and its bridge IP is another engine's container (which labkit says).
            assert {r.outcome for r in results} <= {
                Outcome.REFUSED,
                Outcome.WRONG_CONTAINER,
                Outcome.UNREACHABLE,
                Outcome.TIMEOUT,
            }
        else:
            assert all(r.ok for r in results), results

    return check


def _probe_cases() -> list[Case]:
    cases = [
        bad(
            f"probe-timeout-{label}",
            errors.InvalidInput,
            lambda lab, v=value: lab.probe("myapp2", timeout=v),
            "timeout",
        )
        for label, value in [
            ("negative", -1),
            ("zero", 0),
            ("negative-zero", -0.0),
            ("string", "1"),
            ("None", None),
            ("nan", math.nan),
            ("inf", math.inf),
            ("too-long", 31),
            ("bool", True),
            ("list", [1]),
        ]
    ]
    cases += [
        bad(
            f"probe_address-{label}",
            kind,
            lambda lab, h=host, p=port: probe_address(lab.engine, h, p),
        )
        for label, kind, host, port in [
            ("host-None", errors.InvalidInput, None, 80),
            ("host-empty", errors.InvalidInput, "", 80),
            ("port-string", errors.InvalidPort, "127.0.0.1", "80"),
            ("port-zero", errors.InvalidPort, "127.0.0.1", 0),
            ("port-too-big", errors.InvalidPort, "127.0.0.1", 70000),
            ("port-None", errors.InvalidPort, "127.0.0.1", None),
        ]
    ]
    cases += [
        good(
            "probe-timeout-short", lambda lab: lab.probe("myapp2", timeout=0.5), _probed_within(0.5)
        ),
        good("probe-timeout-int", lambda lab: lab.probe("myapp2", timeout=2), _probed_within(2)),
    ]
    return cases


def _running(lab: Lab, container) -> None:
    assert container.running and lab.container("myapp2").running


def _restart_cases() -> list[Case]:
    cases = [
        bad(
            f"restart-timeout-{label}",
            errors.InvalidInput,
            lambda lab, v=value: lab.restart("myapp2", timeout=v),
            "timeout",
        )
        for label, value in [
            ("string", "10"),
            ("negative", -1),
            ("fraction", 1.5),
            ("None", None),
            ("bool", True),
            ("too-long", 301),
            ("nan", math.nan),
        ]
    ]
    cases += [
        good("restart-timeout-zero", lambda lab: lab.restart("myapp2", timeout=0), _running),
        good(
            "restart-timeout-whole-float", lambda lab: lab.restart("myapp2", timeout=1.0), _running
        ),
    ]
    return cases


def _label_cases() -> list[Case]:
    return [
        bad(
            "labels-reserved",
            errors.InvalidInput,
            lambda lab: lab.labels(extra={"labkit.owner": "me"}),
            "labkit.owner",
        ),
        bad("labels-int-value", errors.InvalidInput, lambda lab: lab.labels(extra={"a": 1})),
        bad("labels-not-a-mapping", errors.InvalidInput, lambda lab: lab.labels(extra="a=b")),
        bad("labels-empty-key", errors.InvalidInput, lambda lab: lab.labels(extra={"": "x"})),
        bad("labels-step-int", errors.InvalidInput, lambda lab: lab.labels(step=5)),
        bad(
            "start_app-step-None",
            errors.InvalidInput,
            lambda lab: lab.start_app("stepx", step=None),
        ),
        bad(
            "engine.run-labels-int",
            errors.InvalidInput,
            lambda lab: lab.engine.run(LAB_IMAGE, name=lab.name("lbl"), labels={"a": 1}),
        ),
    ]


def _lab_cases() -> list[Case]:
    return [
        bad("Lab-engine-string", errors.InvalidInput, lambda lab: Lab(engine="docker"), "engine"),
        bad("Lab-engine-int", errors.InvalidInput, lambda lab: Lab(engine=123), "engine"),
        bad("Lab-namespace-int", errors.InvalidInput, lambda lab: Lab(lab.engine, namespace=7)),
        bad("Lab-session-empty", errors.InvalidInput, lambda lab: Lab(lab.engine, session="")),
        bad("Lab-session-int", errors.InvalidInput, lambda lab: Lab(lab.engine, session=5)),
        good(
            "Lab-namespace-cjk-is-hashed",
            lambda lab: Lab(lab.engine, namespace="李"),
            lambda lab, other: _namespaced(other, "u--"),
        ),
        good(
            "Lab-namespace-punctuation-is-hashed",
            lambda lab: Lab(lab.engine, namespace="-"),
            lambda lab, other: _namespaced(other, "u--"),
        ),
        good(
            "Lab-namespace-email-keeps-a-slug",
            lambda lab: Lab(lab.engine, namespace="ada@uni.example"),
            lambda lab, other: _namespaced(other, "ada-uni.example--"),
        ),
    ]


def _namespaced(other: Lab, prefix: str) -> None:
    assert other.namespace.startswith(prefix) and len(other.namespace) <= 32
    assert other.name("myapp2") == f"{other.namespace}-myapp2"


CATALOGUE: list[Case] = [
    *_name_cases(),
    *_missing_cases(),
    *_subnet_cases(),
    *_port_cases(),
    *_alias_cases(),
    *_exec_cases(),
    *_probe_cases(),
    *_restart_cases(),
    *_label_cases(),
    *_lab_cases(),
]


def _engines() -> list:
    params = ["sim", pytest.param("docker", marks=pytest.mark.docker)]
    if os.environ.get("LABKIT_TEST_DOCKER28"):
        params.append(pytest.param("docker28", marks=pytest.mark.docker))
    return params


@pytest.fixture(scope="module", params=_engines())
def world(request):
    """One lab per engine: a running myapp2 and a network labnet, shared by every case."""
    if request.param == "sim":
        from labkit.engine.sim import SimulatedEngine

        engine = SimulatedEngine(reason="tests")
    elif request.param == "docker":
        engine = request.getfixturevalue("docker_engine")
    else:
        from labkit.engine.docker import DockerEngine

        engine = DockerEngine(os.environ["LABKIT_TEST_DOCKER28"])
        engine.ensure_lab_image()
    lab = Lab(engine, namespace=run_namespace("t"))
    lab.create_network("labnet")
    lab.start_app("myapp2")
    yield request.param, lab
    lab.cleanup()
    assert not engine.containers(labels={NAMESPACE_LABEL: lab.namespace})
    assert not [n for n in engine.networks() if n.labels.get(NAMESPACE_LABEL) == lab.namespace]
    if request.param == "sim":
        engine.close()


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda c: c.id)
def test_catalogue(world, case, request):
    kind, lab = world
    if case.sim_gap and kind == "sim":
        request.applymarker(pytest.mark.xfail(reason=case.sim_gap, strict=True))
    started = time.monotonic()
    if case.error is not None:
        with pytest.raises(case.error) as caught:
            case.call(lab)
        assert_teaches(caught.value, *case.names)
    else:
        result = case.call(lab)
        assert case.check is not None
        case.check(lab, result)
    assert time.monotonic() - started < BOUND, "a case must end within its bound"
    # A refused input leaves nothing behind: still exactly the lab's one app.
    assert [c.name for c in lab.containers()] == [lab.name("myapp2")]


def test_the_catalogue_is_big_enough():
    assert len(CATALOGUE) >= 150
    assert len({c.id for c in CATALOGUE}) == len(CATALOGUE), "case ids are unique"


# -- cases that need a lab of their own -----------------------------------------------------------


def test_host_port_already_in_use(lab):
    lab.engine.ensure_lab_image()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        err = raises(
            errors.PortInUse,
            lambda: lab.engine.run(
                LAB_IMAGE,
                name=lab.name("p"),
                ports={"80/tcp": ("127.0.0.1", taken)},
                labels=lab.labels(),
            ),
            str(taken),
        )
        assert "another host port" in err.fix, "a port the student named: pick another"
    assert lab.containers() == [], "the failed start is removed"


def test_publishing_on_the_host_network_warns_and_discards(lab):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = lab.engine.run(
            LAB_IMAGE,
            name=lab.name("h"),
            network="host",
            ports={"80/tcp": None},
            labels=lab.labels(),
        )
    assert any(HOST_PORTS_DISCARDED in str(w.message) for w in caught)
    assert not [p for p in app.ports if p.published]
    lab.remove("h")


def test_connecting_a_none_container_elsewhere(lab):
    lab.start_app("loner", network="none")
    lab.create_network("labnet")
    raises(errors.InvalidInput, lambda: lab.connect("labnet", "loner"), "loner")


def test_connecting_twice(lab):
    lab.create_network("labnet")
    lab.start_app("web1", network="labnet")
    raises(errors.Conflict, lambda: lab.connect("labnet", "web1"), "labnet")


def test_removing_a_network_in_use(lab):
    lab.create_network("busy")
    lab.start_app("web1", network="busy")
    raises(errors.NetworkInUse, lambda: lab.remove_network("busy"), "busy")


def test_an_ipv6_subnet_is_refused_not_quietly_replaced(lab):
    raises(
        errors.InvalidInput,
        lambda: lab.create_network("labnet", subnet="fd00:dead::/64"),
        "IPv4 only",
    )
    assert lab.name("labnet") not in [n.name for n in lab.networks()]


def test_restarting_a_removed_container(lab):
    lab.start_app("myapp2")
    lab.remove("myapp2")
    raises(errors.ContainerNotFound, lambda: lab.restart("myapp2"), "myapp2")


def test_exec_in_a_stopped_container(lab):
    lab.start_app("myapp2")
    lab.stop("myapp2")
    raises(errors.ContainerNotRunning, lambda: lab.exec("myapp2", ["hostname"]), "myapp2")


def test_probing_a_stopped_container_says_so(lab):
    lab.start_app("myapp2")
    lab.stop("myapp2")
    results = lab.probe("myapp2")
    assert {r.outcome for r in results} == {Outcome.NOT_RUNNING}
    assert "start it again" in results[0].detail


def test_probing_a_container_with_no_published_port(lab):
    lab.start_app("quiet", port=None, network="none")
    host_port, bridge = lab.probe("quiet")
    assert host_port.outcome == Outcome.ERROR and "publishes no host port" in host_port.detail
    assert bridge.outcome == Outcome.ERROR and "no bridge IP" in bridge.detail


def test_changing_a_container_labkit_did_not_create(lab):
    foreign = lab.engine.run(LAB_IMAGE, name=f"{lab.namespace}-foreign", labels={})
    try:
        raises(errors.NotOwned, lambda: lab.restart("foreign"), "foreign")
        raises(errors.NotOwned, lambda: lab.remove("foreign"), "foreign")
        raises(errors.NotOwned, lambda: lab.exec("foreign", "hostname"), "foreign")
        assert lab.engine.container(foreign.id).running
    finally:
        lab.engine.remove(foreign.id)


def test_an_empty_name_never_becomes_the_bare_namespace(lab):
    raises(errors.InvalidName, lambda: lab.start_app(""), "''")
    assert lab.namespace + "-" not in [c.name for c in lab.engine.containers()]


# -- the environment (no engine needed: run once) --------------------------------------------------


def test_unknown_labkit_engine(monkeypatch):
    monkeypatch.setenv("LABKIT_ENGINE", "kubernetes")
    raises(errors.InvalidInput, choose, "kubernetes")


BAD_HOSTS = [
    ("unix:///nonexistent/docker.sock", "no engine socket"),
    ("tcp://127.0.0.1:9", "nothing listens"),
    ("bogus://what", "unix://"),
    ("tcp://127.0.0.1:99999", "1 to 65535"),
    ("tcp://127.0.0.1:0", "1 to 65535"),
    ("tcp://127.0.0.1:abc", "1 to 65535"),
    ("tcp://127.0.0.1", "1 to 65535"),
    ("fd://", "fd"),
]


@pytest.mark.parametrize(("value", "why"), BAD_HOSTS)
def test_bad_docker_host_forced(monkeypatch, value, why):
    monkeypatch.setenv("LABKIT_ENGINE", "docker")
    monkeypatch.setenv("DOCKER_HOST", value)
    started = time.monotonic()
    err = raises(errors.EngineUnavailable, choose, why)
    assert "LABKIT_ENGINE" in err.fix
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize(("value", "why"), BAD_HOSTS)
def test_bad_docker_host_falls_back_to_the_simulator_and_says_why(monkeypatch, value, why):
    monkeypatch.delenv("LABKIT_ENGINE", raising=False)
    monkeypatch.setenv("DOCKER_HOST", value)
    engine, said = choose()
    try:
        assert engine.info().simulated and why in said
    finally:
        engine.close()


@pytest.mark.parametrize("value", ["tcp://127.0.0.1:99999", "bogus://what"])
def test_doctor_says_a_bad_docker_host_in_one_line_and_fails(monkeypatch, capsys, value):
    from labkit.cli import main

    monkeypatch.delenv("LABKIT_ENGINE", raising=False)
    monkeypatch.setenv("DOCKER_HOST", value)
    assert main(["doctor"]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and value in out.out


def test_namespace_from_the_environment_never_collides(monkeypatch):
    from labkit.lab import default_namespace

    seen = {}
    for raw in [
        "李",
        "王",
        "-",
        "--",
        "_",
        ".",
        "jose",
        "José",
        "Jose",
        "a b",
        "a-b",
        "a_b",
        "x" * 40,
    ]:
        monkeypatch.setenv("LABKIT_NAMESPACE", raw)
        ns = default_namespace()
        assert ns not in seen, f"{raw!r} and {seen.get(ns)!r} share {ns!r}"
        seen[ns] = raw


# -- a port the engine could not publish: an error that fits the request --------------------------


def _loopback_then_all_interfaces(lab: Lab) -> None:
    """The course publishes on 127.0.0.1; Engine 20.10's allocator for 0.0.0.0 does not see those
    ports, so the lab text's own `-p :80` then fails after ten binds in a row."""
    for i in range(12):
        lab.start_app(f"lo{i}", port=("127.0.0.1", None))
    err = raises(errors.PortInUse, lambda: lab.start_app("all", port=None), "ephemeral", "0.0.0.0")
    assert "another host port" not in err.fix, "an ephemeral request: no port to change"
    assert "run it again" in err.fix
    assert len(lab.containers()) == 12, "the failed start is removed"
    again = lab.start_app("all", port=None)  # the allocator moved on
    assert again.port(80).published


@pytest.mark.docker
def test_an_ephemeral_port_the_engine_could_not_publish_on_engine_20_10(docker_engine):
    from private_dockerd import PrivateDockerd

    from labkit.engine.docker import DockerEngine

    if os.geteuid() != 0:
        pytest.skip("a private dockerd in a network namespace needs root")
    # A namespace of its own: no other engine's ports there, so the allocator's path is exact.
    daemon = PrivateDockerd(netns=True)
    try:
        daemon.start()
        engine = DockerEngine(daemon.url)
        from labkit.generation import Generation

        if engine.info().generation is not Generation.V20:
            pytest.skip("the per-address allocator is Engine 20.10's")
        lab = Lab(engine, namespace="alloc")
        _loopback_then_all_interfaces(lab)
        lab.cleanup()
    finally:
        daemon.destroy()


def test_the_simulator_refuses_the_same_request():
    from labkit.engine.sim import SimulatedEngine

    # Ports above the kernel's ephemeral range, known free to the model: the path is exact.
    # Engine 20.10's refusal (its 0.0.0.0 allocator does not see ports held on 127.0.0.1).
    engine = SimulatedEngine(
        reason="tests",
        generation="20.10",
        port_range=(61000, 61030),
        port_probe=lambda *_: True,
    )
    lab = Lab(engine, namespace="alloc")
    try:
        _loopback_then_all_interfaces(lab)
    finally:
        lab.cleanup()
        engine.close()
