"""Raw inspect JSON in the engine's shapes: what ``docker inspect`` and ``docker network
inspect`` print for the simulator's objects, key for key (and in the engine's key order) with
Docker Engine 20.10 (API 1.41) or 28.5 (API 1.51), for containers created the way labkit's
Docker backend creates them.

Measured on 28.5.2 against 20.10.24: 28 adds ``EnableIPv4`` to networks, ``GwPriority`` and
``DNSNames`` to endpoints (``Aliases`` then holds only the aliases the user gave),
``GraphDriver.Data.ID``; drops ``HostConfig.KernelMemory``/``KernelMemoryTCP``; and orders
``NetworkSettings``, endpoint and ``HostConfig`` keys its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labkit.engine.sim.state import ContainerRec, EndpointRec, NetworkRec
from labkit.generation import Generation

__all__ = ["container_json", "network_json", "ports_json", "endpoint_json", "user_aliases"]

_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
_MASKED = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
]
_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
_LIB = "/var/lib/docker"


def ports_json(rec: ContainerRec) -> dict[str, Any]:
    """NetworkSettings.Ports: bindings while running on a bridge; {} when stopped, on host or
    none, or left with no network."""
    if not rec.running or rec.network_mode in ("host", "none") or not rec.port_network:
        return {}
    result: dict[str, Any] = {}
    for port, proto in rec.exposed:
        bindings = rec.published.get((port, proto))
        result[f"{port}/{proto}"] = (
            [{"HostIp": ip, "HostPort": str(host_port)} for ip, host_port in bindings]
            if bindings
            else None
        )
    return result


_ENDPOINT_KEYS_28 = (
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
)
_SETTINGS_KEYS_28 = (
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
)


def _ordered(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: data[key] for key in keys}


def user_aliases(rec: ContainerRec, ep: EndpointRec) -> list[str]:
    """The aliases the user gave (the simulator keeps the short ID with them, as 20.10 shows)."""
    return [alias for alias in ep.aliases or () if alias != rec.short_id]


def endpoint_json(
    rec: ContainerRec, ep: EndpointRec, net: NetworkRec, generation: Generation = Generation.V20
) -> dict[str, Any]:
    ip = str(ep.ip) if ep.ip is not None else ""
    live = rec.running and bool(ep.endpoint_id)
    data = _endpoint_20(rec, ep, net, ip, live)
    if not generation.lists_dns_names:
        return data
    given = user_aliases(rec, ep)
    data["Aliases"] = given or None
    data["GwPriority"] = 0
    data["DNSNames"] = [rec.name, *given, rec.short_id] if net.user_defined else None
    return _ordered(data, _ENDPOINT_KEYS_28)


def _endpoint_20(
    rec: ContainerRec, ep: EndpointRec, net: NetworkRec, ip: str, live: bool
) -> dict[str, Any]:
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": list(ep.aliases) if ep.aliases is not None else None,
        "NetworkID": net.id,
        "EndpointID": ep.endpoint_id if live else "",
        "Gateway": str(net.pool.gateway) if ip and net.pool else "",
        "IPAddress": ip,
        "IPPrefixLen": net.pool.subnet.prefixlen if ip and net.pool else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": ep.mac if ip else "",
        "DriverOpts": None,
    }


def container_json(
    rec: ContainerRec,
    networks: Mapping[str, NetworkRec],
    image_labels: Mapping[str, str],
    generation: Generation = Generation.V20,
) -> dict[str, Any]:
    """``docker inspect`` of one container; ``networks`` maps network IDs to their records."""
    data = _container_20(rec, networks, image_labels, generation)
    if generation is Generation.V28:
        data["GraphDriver"]["Data"] = {"ID": rec.id, **data["GraphDriver"]["Data"]}
        data["NetworkSettings"] = _ordered(data["NetworkSettings"], _SETTINGS_KEYS_28)
        host = data["HostConfig"]
        del host["KernelMemory"], host["KernelMemoryTCP"]
        console = host.pop("ConsoleSize")
        keys = list(host)
        at = keys.index("VolumesFrom") + 1
        data["HostConfig"] = (
            {k: host[k] for k in keys[:at]}
            | {"ConsoleSize": console}
            | {k: host[k] for k in keys[at:]}
        )
    return data


def _container_20(
    rec: ContainerRec,
    networks: Mapping[str, NetworkRec],
    image_labels: Mapping[str, str],
    generation: Generation,
) -> dict[str, Any]:
    cid = rec.id
    settings_networks: dict[str, Any] = {}
    bridge_ep: dict[str, Any] | None = None
    for net_id, ep in rec.endpoints.items():
        net = networks.get(net_id)
        if net is None:
            continue
        data = endpoint_json(rec, ep, net, generation)
        settings_networks[net.name] = data
        if net.name == "bridge" and net.predefined:
            bridge_ep = data
    sandbox = rec.sandbox_id
    host_mode = rec.network_mode == "host"
    labels = {**image_labels, **rec.labels}
    return {
        "Id": cid,
        "Created": rec.created,
        "Path": rec.cmd[0] if rec.cmd else "",
        "Args": list(rec.cmd[1:]),
        "State": {
            "Status": rec.status,
            "Running": rec.running,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": rec.pid if rec.running else 0,
            "ExitCode": rec.exit_code,
            "Error": "",
            "StartedAt": rec.started_at,
            "FinishedAt": rec.finished_at,
        },
        "Image": rec.image_id,
        "ResolvConfPath": f"{_LIB}/containers/{cid}/resolv.conf",
        "HostnamePath": f"{_LIB}/containers/{cid}/hostname",
        "HostsPath": f"{_LIB}/containers/{cid}/hosts",
        "LogPath": f"{_LIB}/containers/{cid}/{cid}-json.log",
        "Name": "/" + rec.name,
        "RestartCount": rec.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,  # the engine lists only execs still running; modelled ones finish at once
        "HostConfig": _host_config(rec),
        "GraphDriver": {
            "Data": {
                "LowerDir": f"{_LIB}/overlay2/{cid}-init/diff:{_LIB}/overlay2/{rec.image_id[7:]}"
                "/diff",
                "MergedDir": f"{_LIB}/overlay2/{cid}/merged",
                "UpperDir": f"{_LIB}/overlay2/{cid}/diff",
                "WorkDir": f"{_LIB}/overlay2/{cid}/work",
            },
            "Name": "overlay2",
        },
        "Mounts": [],
        "Config": {
            "Hostname": rec.hostname,
            "Domainname": "",
            "User": "",
            "AttachStdin": False,
            "AttachStdout": True,
            "AttachStderr": True,
            "ExposedPorts": {f"{port}/{proto}": {} for port, proto in rec.exposed},
            "Tty": rec.tty,
            "OpenStdin": rec.open_stdin,
            "StdinOnce": rec.open_stdin,
            "Env": list(_ENV),
            "Cmd": list(rec.cmd),
            "Image": rec.image,
            "Volumes": None,
            "WorkingDir": "",
            "Entrypoint": None,
            "OnBuild": None,
            "Labels": labels,
        },
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": sandbox,
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports_json(rec),
            "SandboxKey": _sandbox_key(sandbox, host_mode),
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": (bridge_ep or {}).get("EndpointID", ""),
            "Gateway": (bridge_ep or {}).get("Gateway", ""),
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": (bridge_ep or {}).get("IPAddress", ""),
            "IPPrefixLen": (bridge_ep or {}).get("IPPrefixLen", 0),
            "IPv6Gateway": "",
            "MacAddress": (bridge_ep or {}).get("MacAddress", ""),
            "Networks": settings_networks,
        },
    }


def _sandbox_key(sandbox: str, host_mode: bool) -> str:
    if not sandbox:
        return ""
    return "/var/run/docker/netns/default" if host_mode else f"/var/run/docker/netns/{sandbox[:12]}"


def _host_config(rec: ContainerRec) -> dict[str, Any]:
    return {
        "Binds": None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": rec.network_mode,
        # null when nothing is published: labkit's Docker backend then sends no bindings at all
        "PortBindings": {
            f"{port}/{proto}": [
                {"HostIp": host_ip, "HostPort": str(host_port) if host_port else ""}
            ]
            for (port, proto), (host_ip, host_port) in rec.port_specs.items()
        }
        or None,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        "AutoRemove": rec.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": None,
        "CapDrop": None,
        "CgroupnsMode": "host",
        "Dns": rec.dns,
        "DnsOptions": None,
        "DnsSearch": None,
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,
        "Runtime": "runc",
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": None,
        "BlkioDeviceReadBps": None,
        "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None,
        "BlkioDeviceWriteIOps": None,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": None,
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": None,
        "Ulimits": None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": list(_MASKED),
        "ReadonlyPaths": list(_READONLY),
        "Init": rec.init,
    }


def network_json(
    net: NetworkRec,
    containers: Mapping[str, ContainerRec],
    generation: Generation = Generation.V20,
) -> dict[str, Any]:
    """``docker network inspect`` of one network; ``containers`` maps IDs to their records."""
    config: list[dict[str, str]] = []
    if net.pool is not None:
        entry = {"Subnet": str(net.pool.subnet)}
        if net.gateway_given:
            entry["Gateway"] = str(net.pool.gateway)
        config.append(entry)
    members: dict[str, Any] = {}
    for cid in net.members:
        rec = containers.get(cid)
        ep = rec.endpoints.get(net.id) if rec else None
        if rec is None or ep is None:
            continue
        members[cid] = {
            "Name": rec.name,
            "EndpointID": ep.endpoint_id,
            "MacAddress": ep.mac if ep.ip is not None else "",
            "IPv4Address": f"{ep.ip}/{net.pool.subnet.prefixlen}"
            if ep.ip is not None and net.pool
            else "",
            "IPv6Address": "",
        }
    enable_ipv4 = {"EnableIPv4": True} if generation is Generation.V28 else {}
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        **enable_ipv4,
        "EnableIPv6": False,
        # host and none have no address config: 20.10 shows [], 28 null
        "IPAM": {
            "Driver": "default",
            "Options": None,
            "Config": config if config or generation is Generation.V20 else None,
        },
        "Internal": False,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": members,
        "Options": dict(net.options),
        "Labels": dict(net.labels),
    }
