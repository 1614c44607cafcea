"""SimulatedEngine: Docker's semantics for containers, ports, networks and errors, for each
engine generation it models (20.10 and 28); most tests run once per generation."""

from __future__ import annotations

import ipaddress
import re
import warnings

import pytest

from labkit.engine.base import HOST_PORTS_DISCARDED, LAB_IMAGE, Engine
from labkit.engine.sim import SimulatedEngine
from labkit.engine.sim.version import SIM_VERSION_ENV, sim_generation
from labkit.errors import (
    Conflict,
    ContainerNotFound,
    ContainerNotRunning,
    EngineUnavailable,
    ImageNotFound,
    InvalidInput,
    InvalidName,
    InvalidPort,
    NameInUse,
    NetworkInUse,
    NetworkNotFound,
    PortInUse,
)
from labkit.generation import API_VERSION, SIM_VERSION, Generation
from labkit.notebook.tables import port_table

V20, V28 = Generation.V20, Generation.V28
LAA_UNICAST = re.compile(r"[0-9a-f][26ae](:[0-9a-f]{2}){5}")  # random, locally administered

# Keys of `docker inspect` / `docker network inspect` on Docker Engine 20.10.24 (API 1.41), for a
# container created as labkit's Docker backend creates it and a user-defined bridge network;
# Engine 28.5.2's (API 1.51) differ as REAL_KEYS_28 says (measured on both).
REAL_CONTAINER_KEYS = {
    "": [
        "AppArmorProfile",
        "Args",
        "Config",
        "Created",
        "Driver",
        "ExecIDs",
        "GraphDriver",
        "HostConfig",
        "HostnamePath",
        "HostsPath",
        "Id",
        "Image",
        "LogPath",
        "MountLabel",
        "Mounts",
        "Name",
        "NetworkSettings",
        "Path",
        "Platform",
        "ProcessLabel",
        "ResolvConfPath",
        "RestartCount",
        "State",
    ],
    "Config": [
        "AttachStderr",
        "AttachStdin",
        "AttachStdout",
        "Cmd",
        "Domainname",
        "Entrypoint",
        "Env",
        "ExposedPorts",
        "Hostname",
        "Image",
        "Labels",
        "OnBuild",
        "OpenStdin",
        "StdinOnce",
        "Tty",
        "User",
        "Volumes",
        "WorkingDir",
    ],
    "GraphDriver": ["Data", "Name"],
    "GraphDriver/Data": ["LowerDir", "MergedDir", "UpperDir", "WorkDir"],
    "HostConfig": [
        "AutoRemove",
        "Binds",
        "BlkioDeviceReadBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceWriteIOps",
        "BlkioWeight",
        "BlkioWeightDevice",
        "CapAdd",
        "CapDrop",
        "Cgroup",
        "CgroupParent",
        "CgroupnsMode",
        "ConsoleSize",
        "ContainerIDFile",
        "CpuCount",
        "CpuPercent",
        "CpuPeriod",
        "CpuQuota",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
        "CpuShares",
        "CpusetCpus",
        "CpusetMems",
        "DeviceCgroupRules",
        "DeviceRequests",
        "Devices",
        "Dns",
        "DnsOptions",
        "DnsSearch",
        "ExtraHosts",
        "GroupAdd",
        "IOMaximumBandwidth",
        "IOMaximumIOps",
        "Init",
        "IpcMode",
        "Isolation",
        "KernelMemory",
        "KernelMemoryTCP",
        "Links",
        "LogConfig",
        "MaskedPaths",
        "Memory",
        "MemoryReservation",
        "MemorySwap",
        "MemorySwappiness",
        "NanoCpus",
        "NetworkMode",
        "OomKillDisable",
        "OomScoreAdj",
        "PidMode",
        "PidsLimit",
        "PortBindings",
        "Privileged",
        "PublishAllPorts",
        "ReadonlyPaths",
        "ReadonlyRootfs",
        "RestartPolicy",
        "Runtime",
        "SecurityOpt",
        "ShmSize",
        "UTSMode",
        "Ulimits",
        "UsernsMode",
        "VolumeDriver",
        "VolumesFrom",
    ],
    "NetworkSettings": [
        "Bridge",
        "EndpointID",
        "Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "HairpinMode",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "LinkLocalIPv6Address",
        "LinkLocalIPv6PrefixLen",
        "MacAddress",
        "Networks",
        "Ports",
        "SandboxID",
        "SandboxKey",
        "SecondaryIPAddresses",
        "SecondaryIPv6Addresses",
    ],
    "NetworkSettings/Networks/*": [
        "Aliases",
        "DriverOpts",
        "EndpointID",
        "Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "IPAMConfig",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "Links",
        "MacAddress",
        "NetworkID",
    ],
    "State": [
        "Dead",
        "Error",
        "ExitCode",
        "FinishedAt",
        "OOMKilled",
        "Paused",
        "Pid",
        "Restarting",
        "Running",
        "StartedAt",
        "Status",
    ],
}
REAL_NETWORK_KEYS = {
    "": [
        "Attachable",
        "ConfigFrom",
        "ConfigOnly",
        "Containers",
        "Created",
        "Driver",
        "EnableIPv6",
        "IPAM",
        "Id",
        "Ingress",
        "Internal",
        "Labels",
        "Name",
        "Options",
        "Scope",
    ],
    "ConfigFrom": ["Network"],
    "Containers/*": ["EndpointID", "IPv4Address", "IPv6Address", "MacAddress", "Name"],
    "IPAM": ["Config", "Driver", "Options"],
}
# What 28.5.2 shows beyond (+) or without (-) 20.10's keys, and in which order 28 lists them.
REAL_KEYS_28 = {
    "GraphDriver/Data": (["ID"], []),
    "HostConfig": ([], ["KernelMemory", "KernelMemoryTCP"]),
    "NetworkSettings/Networks/*": (["DNSNames", "GwPriority"], []),
}
REAL_NETWORK_KEYS_28 = {"": (["EnableIPv4"], [])}
ORDER_28 = {
    "NetworkSettings": [
        "Bridge",
        "SandboxID",
        "SandboxKey",
        "Ports",
        "HairpinMode",
        "LinkLocalIPv6Address",
        "LinkLocalIPv6PrefixLen",
        "SecondaryIPAddresses",
        "SecondaryIPv6Addresses",
        "EndpointID",
        "Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "MacAddress",
        "Networks",
    ],
    "NetworkSettings/Networks/*": [
        "IPAMConfig",
        "Links",
        "Aliases",
        "MacAddress",
        "DriverOpts",
        "GwPriority",
        "NetworkID",
        "EndpointID",
        "Gateway",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "DNSNames",
    ],
    "GraphDriver/Data": ["ID", "LowerDir", "MergedDir", "UpperDir", "WorkDir"],
}
NETWORK_ORDER_28 = [
    "Name",
    "Id",
    "Created",
    "Scope",
    "Driver",
    "EnableIPv4",
    "EnableIPv6",
    "IPAM",
    "Internal",
    "Attachable",
    "Ingress",
    "ConfigFrom",
    "ConfigOnly",
    "Containers",
    "Options",
    "Labels",
]


def real_keys(table: dict, changes: dict, generation: Generation) -> dict:
    if generation is V20:
        return table
    result = dict(table)
    for path, (added, removed) in changes.items():
        result[path] = sorted(set(table[path]) - set(removed) | set(added))
    return result


BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "docker0",
    "com.docker.network.driver.mtu": "1500",
}


@pytest.fixture(params=list(Generation), ids=lambda g: f"v{g.value}")
def generation(request) -> Generation:
    return request.param


@pytest.fixture
def sim(generation):
    engine = SimulatedEngine(reason="tests asked for it", generation=generation)
    yield engine
    engine.close()


def app(engine, name, **kw):
    kw.setdefault("ports", {"80/tcp": None})
    return engine.run(LAB_IMAGE, name=name, **kw)


def section(data, path):
    node = data
    for part in path.split("/") if path else []:
        node = next(iter(node.values())) if part == "*" else node[part]
    return sorted(node)


# -- the protocol and the banner ---------------------------------------------------------------


def test_it_satisfies_the_engine_protocol_method_for_method():
    import inspect

    import labkit.engine.base as base

    engine = SimulatedEngine()
    try:
        assert isinstance(engine, Engine)
        assert engine.kind == "sim"
        for name, member in vars(base.Engine).items():
            if name.startswith("_") or not callable(member):
                continue
            ours = inspect.signature(getattr(SimulatedEngine, name))
            theirs = inspect.signature(member)
            assert list(ours.parameters) == list(theirs.parameters), name
            for pname, param in theirs.parameters.items():
                assert ours.parameters[pname].kind == param.kind, (name, pname)
                assert ours.parameters[pname].default == param.default, (name, pname)
    finally:
        engine.close()


def test_info_says_it_is_a_simulation_and_why(generation):
    engine = SimulatedEngine(
        reason="no Docker engine answered (connection refused)", generation=generation
    )
    try:
        info = engine.info()
        assert (info.kind, info.simulated, info.local, info.host) == (
            "sim",
            True,
            True,
            "127.0.0.1",
        )
        assert (info.bridge_name, info.bridge_address, info.ip_forward) == (
            "docker0",
            "172.17.0.1/16",
            True,
        )
        assert info.bridge_reachable and "modelled" in info.bridge_reason
        version = SIM_VERSION[generation]
        assert (info.version, info.generation, engine.api_version) == (
            version,
            generation,
            API_VERSION[generation],
        )
        assert info.description == (
            f"Simulated Docker engine {version} (no Docker engine answered (connection refused))"
        )
        assert info.port_range == engine.port_range
        engine.ping()
    finally:
        engine.close()
    with pytest.raises(EngineUnavailable, match="closed"):
        engine.ping()


def test_the_generation_comes_from_the_argument_then_the_environment_then_28(monkeypatch):
    monkeypatch.delenv(SIM_VERSION_ENV, raising=False)
    assert sim_generation() is V28  # what students install today
    monkeypatch.setenv(SIM_VERSION_ENV, "20.10")
    assert sim_generation() is V20
    engine = SimulatedEngine()
    try:
        assert engine.info().version == "20.10.24"
    finally:
        engine.close()
    assert sim_generation("28") is V28 and sim_generation(V20) is V20  # the argument wins
    monkeypatch.setenv(SIM_VERSION_ENV, "27")
    with pytest.raises(InvalidInput, match="LABKIT_SIM_VERSION='27'") as info:
        SimulatedEngine()
    assert "20.10, 28" in info.value.why and "unset LABKIT_SIM_VERSION" in info.value.fix
    with pytest.raises(InvalidInput, match="generation='29.1'"):
        SimulatedEngine(generation="29.1")


def test_lab_image_is_known_before_and_after_ensure(sim):
    lines = []
    assert sim.ensure_lab_image(lines.append) == LAB_IMAGE
    assert lines and LAB_IMAGE in lines[0]
    assert sim.ensure_lab_image(lines.append) == LAB_IMAGE and len(lines) == 1
    fresh = SimulatedEngine()
    try:
        assert app(fresh, "before-ensure").running
    finally:
        fresh.close()


def test_other_images_are_not_found(sim):
    with pytest.raises(ImageNotFound, match="'nosuch/image:1'") as info:
        sim.run("nosuch/image:1", name="xx")
    assert LAB_IMAGE in str(info.value)
    assert sim.containers() == []


# -- ports -------------------------------------------------------------------------------------


def test_published_port_looks_like_the_real_engines(sim):
    c = app(sim, "myapp2")
    binding = c.port(80)
    assert (binding.container_port, binding.protocol, binding.host_ip, binding.ipv6_host_ip) == (
        80,
        "tcp",
        "0.0.0.0",
        "::",
    )
    low, high = sim.port_range
    assert low <= binding.host_port <= high
    ports = sim.inspect_container("myapp2")["NetworkSettings"]["Ports"]
    assert ports == {
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": str(binding.host_port)},
            {"HostIp": "::", "HostPort": str(binding.ipv6_host_port)},
        ]
    }
    assert sim.inspect_container("myapp2")["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": ""}]
    }


def test_the_ipv6_twin_drifts_apart_when_a_port_is_busy_for_ipv4_alone():
    busy = {(61101, "0.0.0.0"), (61104, "::")}
    engine = SimulatedEngine(
        port_range=(61100, 61120),
        port_probe=lambda port, proto, ip: (port, ip) not in busy,
        generation=V20,
    )
    try:
        pairs = [app(engine, n).port(80) for n in ("aa", "bb", "cc")]
        assert [(p.host_port, p.ipv6_host_port) for p in pairs] == [
            (61100, 61100),
            (61102, 61101),
            (61103, 61102),
        ]
        assert [p.ipv6_differs for p in pairs] == [False, True, True]
        [row] = port_table(engine.container("bb")).to_dict("records")
        assert (row["host port"], row["IPv6 host port"]) == (61102, 61101)
        assert row["note"].startswith("IPv6 got 61101")
        assert row["docker port shows"] == "80/tcp -> 0.0.0.0:61102 | 80/tcp -> [::]:61101"
        restarted = engine.restart("aa", timeout=0).port(80)
        assert (restarted.host_port, restarted.ipv6_host_port) == (61104, 61103)
        engine.remove("bb", force=True)
        # A port named by hand (-p 61102:80) needs both families: c still holds [::]:61102.
        with pytest.raises(PortInUse, match=r"\[::\]:61102"):
            app(engine, "dd", ports={"80/tcp": 61102})
        fixed = app(engine, "dd", ports={"80/tcp": 61105}).port(80)
        assert (fixed.host_port, fixed.ipv6_host_port) == (61105, 61105)
    finally:
        engine.close()


def test_on_28_the_twins_share_one_port_and_skip_a_port_busy_for_either_family():
    # Measured on 28.5.2: with N+1 held on 0.0.0.0 alone and N+3 on [::] alone, the next
    # three containers got N+2, N+4 and N+5, each for both families.
    busy = {(61101, "0.0.0.0"), (61103, "::")}
    engine = SimulatedEngine(
        port_range=(61100, 61120),
        port_probe=lambda port, proto, ip: (port, ip) not in busy,
        generation=V28,
    )
    try:
        pairs = [app(engine, n).port(80) for n in ("aa", "bb", "cc", "dd")]
        assert [(p.host_port, p.ipv6_host_port) for p in pairs] == [
            (61100, 61100),
            (61102, 61102),
            (61104, 61104),
            (61105, 61105),
        ]
        assert not any(p.ipv6_differs for p in pairs)
        restarted = engine.restart("aa", timeout=0).port(80)
        assert (restarted.host_port, restarted.ipv6_host_port) == (61106, 61106)
        loopback = app(engine, "lo", ports={"80/tcp": ("127.0.0.1", None)}).port(80)
        # 127.0.0.1 has a round robin of its own, from the start of the range: 61100 is free
        # again since a's restart (measured: a loopback run after one on 0.0.0.0 took N+1).
        assert loopback.host_port == 61100
        with pytest.raises(PortInUse, match=r"Bind for 127\.0\.0\.1:61100 failed"):
            app(engine, "clash", ports={"80/tcp": 61100})  # 0.0.0.0 needs it free everywhere
        with pytest.raises(PortInUse, match=r"\[::\]:61103: address already in use"):
            app(engine, "busy6", ports={"80/tcp": 61103})
    finally:
        engine.close()


def test_loopback_binding_has_no_ipv6_twin(sim):
    c = app(sim, "local", ports={"80/tcp": ("127.0.0.1", None)})
    binding = c.port(80)
    assert (binding.host_ip, binding.ipv6_host_ip, binding.ipv6_host_port) == (
        "127.0.0.1",
        None,
        None,
    )
    raw = sim.inspect_container("local")
    assert raw["NetworkSettings"]["Ports"]["80/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(binding.host_port)}
    ]
    assert raw["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]
    }


def test_consecutive_runs_get_consecutive_ports_and_a_restart_moves_on(generation):
    engine = SimulatedEngine(port_range=(32768, 60999), generation=generation)
    try:
        first = app(engine, "aa").port().host_port
        second = app(engine, "bb").port().host_port
        assert second > first
        restarted = engine.restart("aa").port().host_port
        assert restarted > second  # the old port is free, yet the allocator moves on
        assert engine.container("aa").port().host_port == restarted
    finally:
        engine.close()


def test_an_unpublished_exposed_port_maps_to_none(sim):
    c = sim.run(LAB_IMAGE, name="quiet")
    binding = c.port(80)
    assert binding is not None and not binding.published
    assert sim.inspect_container("quiet")["NetworkSettings"]["Ports"] == {"80/tcp": None}


def test_a_fixed_host_port_that_is_taken_is_port_in_use_and_leaves_nothing(sim):
    port = app(sim, "first").port().host_port
    with pytest.raises(PortInUse, match=f"{port}"):
        sim.run(LAB_IMAGE, name="second", ports={"80/tcp": port})
    with pytest.raises(ContainerNotFound):
        sim.container("second")
    assert [n.endpoints for n in sim.networks() if n.name == "bridge"][0][
        0
    ].container_name == "first"


def test_stopped_containers_publish_nothing(sim):
    app(sim, "ss")
    stopped = sim.stop("ss")
    assert stopped.status == "exited" and stopped.exit_code == 143  # SIGTERM through docker-init
    assert stopped.ports == ()
    raw = sim.inspect_container("ss")
    assert raw["NetworkSettings"]["Ports"] == {}
    assert raw["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    assert raw["State"]["Running"] is False and raw["State"]["Pid"] == 0
    assert sim.stop("ss").status == "exited"  # stopping again is a no-op, as on the engine


def test_bad_port_specs_are_the_shared_checks_errors(sim):
    with pytest.raises(InvalidPort):
        sim.run(LAB_IMAGE, name="pp", ports={"80/xyz": None})
    with pytest.raises(InvalidPort):
        sim.run(LAB_IMAGE, name="pp", ports={"80/tcp": 70000})
    with pytest.raises(InvalidName):
        sim.run(LAB_IMAGE, name="-bad")


# -- addresses -----------------------------------------------------------------------------------


def test_addresses_and_macs_on_the_default_bridge(sim):
    a, b, c = (app(sim, n) for n in ("aa", "bb", "cc"))
    assert [x.ip for x in (a, b, c)] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    macs = [x.attachment("bridge").mac for x in (a, b, c)]
    if sim.generation is V20:
        assert macs == ["02:42:ac:11:00:02", "02:42:ac:11:00:03", "02:42:ac:11:00:04"]
    else:  # random, locally administered and unicast (seen: 56:c6:2c:fd:ea:a5)
        assert all(LAA_UNICAST.fullmatch(mac) for mac in macs) and len(set(macs)) == 3
        assert not any(mac.startswith("02:42:") for mac in macs)
    att = a.attachment("bridge")
    assert (att.gateway, att.prefix_len) == ("172.17.0.1", 16)
    assert a.network_mode == {V20: "default", V28: "bridge"}[sim.generation]
    assert re.fullmatch(r"[0-9a-f]{64}", a.id)
    raw = sim.inspect_container("aa")["NetworkSettings"]
    assert (raw["IPAddress"], raw["Gateway"], raw["MacAddress"], raw["IPPrefixLen"]) == (
        "172.17.0.2",
        "172.17.0.1",
        macs[0],
        16,
    )


def test_on_28_a_restart_gives_a_new_random_mac_and_20_10_keeps_the_derived_one(sim):
    before = app(sim, "mm").attachment("bridge").mac
    after = sim.restart("mm").attachment("bridge").mac
    assert (after == before) == (sim.generation is V20)  # measured: 5e:99:... then 3a:0f:...


def test_an_address_survives_a_restart_on_a_quiet_host_but_is_not_promised(sim):
    app(sim, "x0")
    x1, x2 = app(sim, "x1"), app(sim, "x2")
    assert (x1.ip, x2.ip) == ("172.17.0.3", "172.17.0.4")
    assert sim.restart("x2").ip == "172.17.0.4"  # nothing lower was free: same address
    sim.stop("x1")
    # The engine hands out the lowest free address on each start (seen on Engine 20.10).
    assert sim.restart("x2").ip == "172.17.0.3"
    assert app(sim, "x3").ip == "172.17.0.4"
    assert sim.start("x1").ip == "172.17.0.5"


def test_user_networks_come_from_the_default_pools(sim):
    one = sim.create_network("net1")
    two = sim.create_network("net2")
    assert (one.subnet, one.gateway) == ("172.18.0.0/16", "172.18.0.1")
    assert (two.subnet, two.gateway) == ("172.19.0.0/16", "172.19.0.1")
    assert one.bridge_name == f"br-{one.id[:12]}" and one.driver == "bridge"
    sim.remove_network("net1")
    assert sim.create_network("net3").subnet == "172.20.0.0/16"
    mine = sim.create_network("mine", subnet="10.77.0.0/24")
    # The engine's inspect names no gateway it chose; labkit shows the .1 it assigns.
    assert (mine.subnet, mine.gateway) == ("10.77.0.0/24", "10.77.0.1")
    assert sim.inspect_network("mine")["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24"}]
    c = app(sim, "on-mine", network="mine")
    assert (c.ip, c.attachment("mine").gateway) == ("10.77.0.2", "10.77.0.1")
    gw = sim.create_network("gw", subnet="10.78.0.0/24", gateway="10.78.0.9")
    assert gw.gateway == "10.78.0.9"
    assert app(sim, "on-gw", network="gw").ip == "10.78.0.1"


def test_containers_on_a_user_network(sim):
    sim.create_network("labnet", labels={"labkit.owner": "labkit"})
    c = app(sim, "web", network="labnet")
    att = c.attachment("labnet")
    assert (c.ip, c.network_mode) == ("172.18.0.2", "labnet")
    assert (
        att.mac == "02:42:ac:12:00:02" if sim.generation is V20 else LAA_UNICAST.fullmatch(att.mac)
    )
    raw = sim.inspect_container("web")["NetworkSettings"]
    if sim.generation is V20:
        assert att.aliases == (c.id[:12],)
        assert "DNSNames" not in raw["Networks"]["labnet"]
    else:  # 28 moved the short ID (and the name) to DNSNames
        assert att.aliases == ()
        assert raw["Networks"]["labnet"]["Aliases"] is None
        assert raw["Networks"]["labnet"]["DNSNames"] == ["web", c.id[:12]]
    assert raw["IPAddress"] == "" and raw["Networks"]["labnet"]["IPAddress"] == "172.18.0.2"
    net = sim.network("labnet")
    assert [(e.container_name, e.ipv4, e.mac) for e in net.endpoints] == [
        ("web", "172.18.0.2/16", att.mac)
    ]
    assert net.labels == {"labkit.owner": "labkit"}


def test_connect_and_disconnect(sim):
    sim.create_network("labnet")
    a = app(sim, "aa")
    sim.connect("labnet", "aa", aliases=["web"])
    a = sim.container("aa")
    assert [(x.network, x.ip) for x in a.networks] == [
        ("bridge", "172.17.0.2"),
        ("labnet", "172.18.0.2"),
    ]
    raw = sim.inspect_container("aa")["NetworkSettings"]
    assert raw["IPAddress"] == "172.17.0.2"  # the top level covers the default bridge only
    if sim.generation is V20:
        assert a.attachment("labnet").aliases == ("web", a.id[:12])
        assert raw["Networks"]["labnet"]["Aliases"] == ["web", a.id[:12]]
    else:  # as 28.5.2 showed for `connect --alias web`
        assert a.attachment("labnet").aliases == ("web",)
        assert raw["Networks"]["labnet"]["Aliases"] == ["web"]
        assert raw["Networks"]["labnet"]["DNSNames"] == ["aa", "web", a.id[:12]]
        assert raw["Networks"]["bridge"]["DNSNames"] is None
    sim.disconnect("labnet", "aa")
    assert [x.network for x in sim.container("aa").networks] == ["bridge"]
    assert sim.network("labnet").endpoints == ()
    app(sim, "bb")
    sim.connect("labnet", "bb")
    assert sim.container("bb").attachment("labnet").ip == "172.18.0.2"  # freed address reused


def test_connecting_a_stopped_container_takes_effect_on_start(sim):
    sim.create_network("labnet")
    app(sim, "aa")
    sim.stop("aa")
    sim.connect("labnet", "aa")
    assert sim.container("aa").attachment("labnet").ip == ""
    assert sim.start("aa").attachment("labnet").ip == "172.18.0.2"


def test_predefined_networks(sim):
    nets = {n.name: n for n in sim.networks()}
    assert set(nets) == {"bridge", "host", "none"}
    assert [n.name for n in sim.networks()] == sorted(nets)
    bridge = nets["bridge"]
    assert (bridge.driver, bridge.subnet, bridge.bridge_name) == (
        "bridge",
        "172.17.0.0/16",
        "docker0",
    )
    assert dict(bridge.options) == BRIDGE_OPTIONS
    assert (nets["host"].driver, nets["none"].driver) == ("host", "null")
    # A new simulated engine is a daemon's first start: 20.10 leaves the gateway out then
    # (moby/moby#26799), 28 shows it.
    config = {V20: {"Subnet": "172.17.0.0/16"}}.get(
        sim.generation, {"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}
    )
    assert sim.inspect_network("bridge")["IPAM"]["Config"] == [config]
    assert bridge.gateway == "172.17.0.1"
    assert sim.inspect_network("host")["IPAM"]["Config"] == {V20: []}.get(sim.generation)
    assert sim.network(bridge.id[:12]).name == "bridge"


def test_networks_list_their_endpoints(sim):
    app(sim, "bb")
    app(sim, "aa")
    endpoints = sim.network("bridge").endpoints
    assert [(e.container_name, e.ipv4) for e in endpoints] == [
        ("aa", "172.17.0.3/16"),
        ("bb", "172.17.0.2/16"),
    ]
    raw = sim.inspect_network("bridge")["Containers"]
    assert {v["Name"] for v in raw.values()} == {"aa", "bb"}


# -- host and none -------------------------------------------------------------------------------


def test_host_network_discards_published_ports_with_the_engines_warning(sim):
    with pytest.warns(UserWarning, match=HOST_PORTS_DISCARDED):
        c = app(sim, "hh", network="host")
    assert c.ports == () and c.network_mode == "host"
    att = c.attachment("host")
    assert (att.ip, att.mac, att.gateway) == ("", "", "")
    raw = sim.inspect_container("hh")
    assert raw["NetworkSettings"]["Ports"] == {}
    assert raw["HostConfig"]["PortBindings"] is None  # the Docker backend does not send them
    assert raw["NetworkSettings"]["SandboxKey"] == "/var/run/docker/netns/default"
    endpoints = sim.network("host").endpoints
    assert [(e.container_name, e.ipv4, e.mac) for e in endpoints] == [("hh", "", "")]


def test_host_network_without_ports_does_not_warn(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim.run(LAB_IMAGE, name="h2", network="host")


def test_none_network_has_loopback_only(sim):
    c = app(sim, "nn", network="none")
    assert c.ports == () and c.ip == ""
    assert sim.exec("nn", ["/bin/busybox", "ip", "addr"]).output.count("inet ") == 1
    assert [(e.container_name, e.ipv4) for e in sim.network("none").endpoints] == [("nn", "")]


@pytest.mark.parametrize(
    "setup, network, message",
    [
        ("bridge", "none", "none network and another network"),
        ("bridge", "host", "cannot join or leave the host network"),
        ("none", "labnet", "none network and another network"),
        ("host", "labnet", "cannot join or leave the host network"),
    ],
)
def test_none_and_host_cannot_mix_with_other_networks(sim, setup, network, message):
    sim.create_network("labnet")
    sim.run(LAB_IMAGE, name="cc", network=None if setup == "bridge" else setup)
    with pytest.raises(InvalidInput, match=message):
        sim.connect(network, "cc")


# -- lookups, lists and errors -------------------------------------------------------------------


def test_containers_are_found_by_name_id_and_prefix(sim):
    c = app(sim, "findme")
    assert sim.container(c.id).name == "findme"
    assert sim.container(c.id[:12]).name == "findme"
    assert sim.container("/findme").id == c.id
    with pytest.raises(ContainerNotFound, match="'nope'") as info:
        sim.container("nope")
    assert "docker ps -a" in str(info.value)


def test_containers_filter_by_labels_and_running(sim):
    app(sim, "aa", labels={"labkit.namespace": "xx", "labkit.step": "1"})
    app(sim, "bb", labels={"labkit.namespace": "xx"})
    app(sim, "cc")
    sim.stop("bb")
    assert [c.name for c in sim.containers()] == ["cc", "bb", "aa"]  # newest first, as `docker ps`
    assert [c.name for c in sim.containers(labels={"labkit.namespace": "xx"})] == ["bb", "aa"]
    assert [c.name for c in sim.containers(labels={"labkit.namespace": "xx"}, all=False)] == ["aa"]
    digest = sim.container("aa").labels["labkit.app.digest"]  # the image's label
    assert len(sim.containers(labels={"labkit.app.digest": digest})) == 3
    listed = sim.containers(labels={"labkit.step": "1"})[0]
    assert listed.ports == sim.container("aa").ports and listed.ip == "172.17.0.2"


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda e: e.run(LAB_IMAGE, name="dup"), NameInUse),
        (lambda e: e.restart("ghost"), ContainerNotFound),
        (lambda e: e.stop("ghost"), ContainerNotFound),
        (lambda e: e.start("ghost"), ContainerNotFound),
        (lambda e: e.remove("ghost"), ContainerNotFound),
        (lambda e: e.exec("ghost", ["hostname"]), ContainerNotFound),
        (lambda e: e.inspect_container("ghost"), ContainerNotFound),
        (lambda e: e.network("ghostnet"), NetworkNotFound),
        (lambda e: e.inspect_network("ghostnet"), NetworkNotFound),
        (lambda e: e.remove_network("ghostnet"), NetworkNotFound),
        (lambda e: e.run(LAB_IMAGE, name="xx", network="ghostnet"), NetworkNotFound),
        (lambda e: e.connect("ghostnet", "dup"), NetworkNotFound),
        (lambda e: e.connect("bridge", "ghost"), ContainerNotFound),
        (lambda e: e.connect("bridge", "dup"), Conflict),
        (lambda e: e.disconnect("labnet", "dup"), InvalidInput),
        (lambda e: e.create_network("labnet"), NameInUse),
        (lambda e: e.create_network("bridge"), InvalidInput),  # predefined, as the engine says
        (lambda e: e.create_network("bad name"), InvalidName),
        (lambda e: e.create_network("xx", subnet="10.0.0.1/8"), InvalidInput),
        (lambda e: e.create_network("xx", subnet="172.18.5.0/24"), Conflict),
        (lambda e: e.create_network("xx", driver="macvlan2"), InvalidInput),
        (lambda e: e.create_network("xx", subnet="10.9.0.0/24", gateway="10.8.0.1"), InvalidInput),
        (lambda e: e.create_network("xx", driver="host"), InvalidInput),
        (lambda e: e.create_network("xx", driver="overlay"), InvalidInput),
        (lambda e: e.remove_network("bridge"), InvalidInput),
        (lambda e: e.remove_network("labnet"), NetworkInUse),
        (lambda e: e.remove("dup", force=False), InvalidInput),
        (lambda e: e.exec("dup", []), InvalidInput),
    ],
)
def test_bad_calls_raise_the_docker_backends_error_types(sim, call, error):
    sim.create_network("labnet")
    app(sim, "dup")
    sim.run(LAB_IMAGE, name="member", network="labnet")
    with pytest.raises(error) as info:
        call(sim)
    message = str(info.value)
    assert info.value.why and info.value.fix
    assert "\n  → " in message and len(message.splitlines()) == 2  # what: why / → what to do


def test_exec_in_a_stopped_container_is_not_running(sim):
    app(sim, "ss")
    sim.stop("ss")
    with pytest.raises(ContainerNotRunning, match="'ss' is not running"):
        sim.exec("ss", ["/bin/busybox", "hostname"])


def test_a_network_with_only_stopped_containers_can_go_and_they_cannot_start(sim):
    sim.create_network("labnet")
    app(sim, "mm", network="labnet")
    sim.stop("mm")
    sim.remove_network("labnet")
    with pytest.raises(NetworkNotFound, match="network is gone"):
        sim.start("mm")
    assert sim.container("mm").status == "exited"


def test_remove_frees_name_address_and_port(sim):
    first = app(sim, "rr")
    sim.remove("rr")
    with pytest.raises(ContainerNotFound):
        sim.container("rr")
    again = app(sim, "rr")
    assert again.ip == first.ip and again.id != first.id
    assert again.port().host_port > first.port().host_port  # round-robin: not the freed one


def test_hostname_defaults_to_the_short_id(sim):
    c = app(sim, "hn")
    assert sim.inspect_container("hn")["Config"]["Hostname"] == c.id[:12]
    sim.run(LAB_IMAGE, name="named", hostname="myhost")
    assert sim.exec("named", ["/bin/busybox", "hostname"]).output == "myhost\n"


# -- inspect shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["running", "stopped", "user-network", "host", "none"])
def test_container_inspect_has_the_real_engines_keys(sim, state):
    sim.create_network("labnet")
    network = {"user-network": "labnet", "host": "host", "none": "none"}.get(state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app(sim, "cc", network=network, labels={"labkit.owner": "labkit"})
    if state == "stopped":
        sim.stop("cc")
    raw = sim.inspect_container("cc")
    for path, keys in real_keys(REAL_CONTAINER_KEYS, REAL_KEYS_28, sim.generation).items():
        assert section(raw, path) == keys, path
    if sim.generation is V28:
        for path, keys in ORDER_28.items():
            node = raw
            for part in path.split("/"):
                node = next(iter(node.values())) if part == "*" else node[part]
            assert list(node) == keys, path
        host = list(raw["HostConfig"])
        assert host[host.index("VolumesFrom") + 1] == "ConsoleSize"
    assert raw["Name"] == "/cc" and raw["Config"]["Image"] == LAB_IMAGE
    assert raw["Image"].startswith("sha256:") and len(raw["Image"]) == 71
    assert raw["Path"] == "/bin/busybox" and raw["Args"] == [
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]
    assert raw["HostConfig"]["Init"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", raw["Created"])
    assert raw["Config"]["ExposedPorts"] == {"80/tcp": {}}


@pytest.mark.parametrize("name", ["bridge", "labnet", "host", "none"])
def test_network_inspect_has_the_real_engines_keys(sim, name):
    sim.create_network("labnet")
    app(sim, "on-bridge")
    app(sim, "on-labnet", network="labnet")
    raw = sim.inspect_network(name)
    for path, keys in real_keys(REAL_NETWORK_KEYS, REAL_NETWORK_KEYS_28, sim.generation).items():
        if path.startswith("Containers/") and not raw["Containers"]:
            continue
        assert section(raw, path) == keys, path
    if sim.generation is V28:
        assert list(raw) == NETWORK_ORDER_28 and raw["EnableIPv4"] is True
    assert raw["IPAM"]["Options"] is None and raw["Scope"] == "local" and raw["Name"] == name
    for endpoint in raw["Containers"].values():
        ipaddress.ip_interface(endpoint["IPv4Address"])  # with its prefix: 172.17.0.2/16


def test_user_network_inspect_values(sim):
    sim.create_network("labnet", labels={"labkit.owner": "labkit"})
    c = app(sim, "aa", network="labnet")
    raw = sim.inspect_network("labnet")
    assert raw["IPAM"]["Config"] == [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]
    assert raw["Options"] == {} and raw["Labels"] == {"labkit.owner": "labkit"}
    assert raw["Containers"][c.id]["IPv4Address"] == "172.18.0.2/16"
    assert raw["Containers"][c.id]["MacAddress"] == c.attachment("labnet").mac
    if sim.generation is V20:
        assert c.attachment("labnet").mac == "02:42:ac:12:00:02"


def test_network_options_are_kept_and_shown_in_inspect(sim):
    options = {
        "com.docker.network.bridge.gateway_mode_ipv4": "nat-unprotected",
        "com.docker.network.driver.mtu": "1400",
    }
    net = sim.create_network("opened", options=options)
    assert dict(net.options) == options
    assert sim.inspect_network("opened")["Options"] == options
    bad = {"com.docker.network.bridge.gateway_mode_ipv4": "nosuchmode"}
    if sim.generation is V20:  # 20.10 knows no gateway modes and keeps the option unread
        assert dict(sim.create_network("odd", options=bad).options) == bad
    else:
        with pytest.raises(InvalidInput, match="Unknown gateway mode 'nosuchmode'"):
            sim.create_network("odd", options=bad)
        with pytest.raises(InvalidInput, match="not modelled"):
            sim.create_network(
                "routed", options={"com.docker.network.bridge.gateway_mode_ipv4": "routed"}
            )


def test_inspect_returns_a_fresh_copy(sim):
    app(sim, "aa")
    sim.inspect_container("aa")["Config"]["Labels"]["evil"] = "xx"
    assert "evil" not in sim.inspect_container("aa")["Config"]["Labels"]
    assert "evil" not in sim.container("aa").labels


# -- restarts without init -------------------------------------------------------------------------


def test_without_init_a_restart_waits_out_its_timeout_and_kills(sim):
    import time

    app(sim, "slow", init=False)
    started = time.perf_counter()
    c = sim.restart("slow", timeout=1)
    assert time.perf_counter() - started >= 1.0
    assert c.running
    sim.stop("slow", timeout=0)
    assert sim.container("slow").exit_code == 137  # SIGKILL after the timeout


def test_close_refuses_further_calls(sim):
    app(sim, "aa")
    sim.close()
    with pytest.raises(EngineUnavailable):
        sim.containers()
    sim.close()  # twice is fine
