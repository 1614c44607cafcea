"""The Engine API's JSON beyond ``docker inspect``: list summaries, ``/version``, ``/info``, the
lab image, human-readable statuses, and the ``filters`` query parameter as the daemon reads it.

Pure functions over the inspect JSON the model builds (``labkit.engine.sim.inspect``), so every
field a client sees comes from one place. Shapes follow Engine 20.10 (API 1.41) as measured on
this machine; ``api`` is the version a request speaks, for the few keys later APIs drop.
"""

from __future__ import annotations

import calendar
import json
import platform
import re
from collections.abc import Iterable, Mapping
from typing import Any

from labkit.errors import InvalidInput
from labkit.host import SIMULATED_LABEL

__all__ = [
    "Filters",
    "parse_filters",
    "check_filters",
    "CONTAINER_FILTERS",
    "NETWORK_FILTERS",
    "EVENT_FILTERS",
    "epoch",
    "human_duration",
    "status_text",
    "container_summary",
    "container_matches",
    "network_summary",
    "network_matches",
    "event_matches",
    "image_summary",
    "image_inspect",
    "version_json",
    "info_json",
    "api_at_least",
    "SIMULATED_LABEL",
]

Json = dict[str, Any]
Filters = dict[str, list[str]]

_MIN_API = {"1.41": "1.12", "1.51": "1.24"}


def api_at_least(api: str, wanted: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    return key(api) >= key(wanted)


# -- filters -------------------------------------------------------------------------------------


def parse_filters(text: str | None) -> Filters:
    """``filters={"label":{"a=b":true}}`` (the CLI) or ``{"label":["a=b"]}`` (docker-py)."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise _bad_filter(text) from None
    if not isinstance(raw, dict):
        raise _bad_filter(text)
    result: Filters = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            result[key] = [str(v) for v, on in values.items() if on]
        elif isinstance(values, list):
            result[key] = [str(v) for v in values]
        else:
            result[key] = [str(values)]
    return result


def _bad_filter(text: str) -> InvalidInput:
    return InvalidInput(
        "The filters are not valid JSON", text[:80], "send filters as the docker CLI does"
    ).answering(400, f"invalid filter: {text[:80]}")


def check_filters(filters: Filters, allowed: Iterable[str]) -> None:
    """Refuse a filter Docker does not know for this list, as the daemon does (400)."""
    _check_keys(filters, allowed)


def _check_keys(filters: Filters, allowed: Iterable[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise InvalidInput(
                f"Unknown filter {key!r}", f"Invalid filter '{key}'", "use a filter Docker knows"
            ).answering(400, f"Invalid filter '{key}'")


def _match(values: list[str], source: str) -> bool:
    """Docker's ``Match``: equal, or the value as a regular expression found in ``source``."""
    for value in values:
        if value == source:
            return True
        try:
            if re.search(value, source):
                return True
        except re.error:
            continue
    return False


def _fuzzy(values: list[str], source: str) -> bool:
    """Docker's ``FuzzyMatch``: equal, or a prefix of ``source``."""
    return any(source == v or source.startswith(v) for v in values)


def _labels_match(values: list[str], labels: Mapping[str, str]) -> bool:
    """Docker's ``MatchKVList``: every ``key`` or ``key=value`` holds."""
    for value in values:
        key, has_value, wanted = value.partition("=")
        if key not in labels or (has_value and labels[key] != wanted):
            return False
    return True


# -- time ------------------------------------------------------------------------------------------


def epoch(stamp: str) -> float:
    """``2026-12-01T09:14:45.929684297Z`` → seconds since the epoch (0 for the zero time)."""
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", stamp or "")
    if not match or match.group(1) == "0001":
        return 0.0
    whole = calendar.timegm(tuple(int(match.group(i)) for i in range(1, 7)) + (0, 0, 0))
    return whole + float("0." + (match.group(7) or "0"))


def human_duration(seconds: float) -> str:
    """What ``docker ps`` says for a duration (the go-units package's HumanDuration)."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def status_text(state: Mapping[str, Any], now: float) -> str:
    """``Up 5 seconds``, ``Exited (0) 3 seconds ago`` or ``Created``."""
    status = state.get("Status", "")
    if status == "running":
        return "Up " + human_duration(now - epoch(state.get("StartedAt", "")))
    if status == "exited":
        ago = human_duration(now - epoch(state.get("FinishedAt", "")))
        return f"Exited ({state.get('ExitCode', 0)}) {ago} ago"
    return status.capitalize()


# -- containers --------------------------------------------------------------------------------------


def container_summary(data: Mapping[str, Any], now: float) -> Json:
    """One entry of ``GET /containers/json`` from the container's inspect JSON."""
    config, settings = data["Config"], data["NetworkSettings"]
    ports: list[Json] = []
    for key, bindings in (settings.get("Ports") or {}).items():
        number, _, proto = key.partition("/")
        if not bindings:
            ports.append({"PrivatePort": int(number), "Type": proto})
            continue
        for binding in bindings:
            ports.append(
                {
                    "IP": binding["HostIp"],
                    "PrivatePort": int(number),
                    "PublicPort": int(binding["HostPort"]),
                    "Type": proto,
                }
            )
    command = " ".join([data.get("Path", ""), *data.get("Args", [])]).strip()
    return {
        "Id": data["Id"],
        "Names": [data["Name"]],
        "Image": config["Image"],
        "ImageID": data["Image"],
        "Command": command,
        "Created": int(epoch(data["Created"])),
        "Ports": ports,
        "Labels": dict(config.get("Labels") or {}),
        "State": data["State"]["Status"],
        "Status": status_text(data["State"], now),
        "HostConfig": {"NetworkMode": data["HostConfig"]["NetworkMode"]},
        # The list endpoint's endpoints carry no aliases (the engine lists from a snapshot).
        "NetworkSettings": {
            "Networks": {
                name: {**ep, "Aliases": None}
                for name, ep in (settings.get("Networks") or {}).items()
            }
        },
        "Mounts": [],
    }


CONTAINER_FILTERS = ("label", "name", "id", "status", "exited", "network", "ancestor")


def container_matches(data: Mapping[str, Any], filters: Filters) -> bool:
    """Whether ``docker ps --filter …`` lists the container (inspect JSON)."""
    _check_keys(filters, CONTAINER_FILTERS)
    state = data["State"]
    if "label" in filters and not _labels_match(filters["label"], data["Config"]["Labels"] or {}):
        return False
    if "name" in filters and not _match(filters["name"], data["Name"]):
        return False
    if "id" in filters and not _match(filters["id"], data["Id"]):
        return False
    if "status" in filters and state["Status"] not in filters["status"]:
        return False
    if "exited" in filters and (
        state["Status"] != "exited" or str(state["ExitCode"]) not in filters["exited"]
    ):
        return False
    if "network" in filters:
        networks = data["NetworkSettings"]["Networks"] or {}
        names = set(networks) | {ep.get("NetworkID", "") for ep in networks.values()}
        if not any(_fuzzy(filters["network"], n) for n in names):
            return False
    if "ancestor" in filters:
        image = data["Config"]["Image"]
        candidates = {image, image.split(":")[0], data["Image"], data["Image"][7:19]}
        if not candidates & set(filters["ancestor"]):
            return False
    return True


# -- networks -----------------------------------------------------------------------------------------


def network_summary(data: Mapping[str, Any]) -> Json:
    """An entry of ``GET /networks``: the inspect JSON without its containers, as 20.10 lists."""
    return {**data, "Containers": {}}


NETWORK_FILTERS = ("name", "id", "label", "driver", "scope", "type")


def network_matches(data: Mapping[str, Any], filters: Filters, predefined: bool) -> bool:
    _check_keys(filters, NETWORK_FILTERS)
    if "name" in filters and not _match(filters["name"], data["Name"]):
        return False
    if "id" in filters and not _match(filters["id"], data["Id"]):
        return False
    if "label" in filters and not _labels_match(filters["label"], data.get("Labels") or {}):
        return False
    if "driver" in filters and data["Driver"] not in filters["driver"]:
        return False
    if "scope" in filters and data["Scope"] not in filters["scope"]:
        return False
    if "type" in filters:
        kind = "builtin" if predefined else "custom"
        if kind not in filters["type"]:
            return False
    return True


# -- events ---------------------------------------------------------------------------------------------

EVENT_FILTERS = ("type", "event", "container", "image", "label", "network", "scope", "daemon")


def event_matches(raw: Mapping[str, Any], filters: Filters) -> bool:
    """The daemon's event filter (daemon/events/filter.go in moby): every kind given holds."""
    _check_keys(filters, EVENT_FILTERS)
    kind, action = raw["Type"], raw["Action"]
    actor = raw["Actor"]
    attributes = actor["Attributes"]
    if "type" in filters and kind not in filters["type"]:
        return False
    if "scope" in filters and raw.get("scope") not in filters["scope"]:
        return False
    if "event" in filters:
        values = filters["event"]
        fuzzy = any(v in ("exec_create", "exec_start", "health_status") for v in values)
        if not (_fuzzy(values, action) if fuzzy else action in values):
            return False
    for name in ("container", "network", "daemon"):
        if name in filters and not (
            kind == name
            and (
                _fuzzy(filters[name], actor["ID"])
                or _fuzzy(filters[name], attributes.get("name", ""))
            )
        ):
            return False
    if "image" in filters:
        image = attributes.get("image", "")
        if not {image, image.split(":")[0], actor["ID"]} & set(filters["image"]):
            return False
    if "label" in filters and not _labels_match(filters["label"], attributes):
        return False
    return True


# -- the one image ----------------------------------------------------------------------------------------


def image_summary(image: Mapping[str, Any], api: str) -> Json:
    entry = {
        "Containers": -1,
        "Created": int(epoch(image["Created"])),
        "Id": image["Id"],
        "Labels": dict(image["Config"]["Labels"]),
        "ParentId": "",
        "RepoDigests": None,
        "RepoTags": list(image["RepoTags"]),
        "SharedSize": -1,
        "Size": image["Size"],
    }
    if not api_at_least(api, "1.44"):
        entry["VirtualSize"] = image["Size"]
    return entry


def image_inspect(
    image_id: str,
    tag: str,
    created: str,
    labels: Mapping[str, str],
    cmd: list[str],
    size: int,
    engine_version: str,
    api: str,
) -> Json:
    """``docker image inspect`` of the lab image, as Engine 20.10 shows a FROM-scratch build."""
    config = {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "ExposedPorts": {"80/tcp": {}},
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": list(cmd),
        "Image": "",
        "Volumes": None,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": dict(labels),
    }
    layer = "sha256:" + image_id[7:][::-1]
    data: Json = {
        "Id": image_id,
        "RepoTags": [tag],
        "RepoDigests": [],
        "Parent": "",
        "Comment": "",
        "Created": created,
        "DockerVersion": engine_version,
        "Author": "",
        "Config": config,
        "Architecture": "amd64",
        "Os": "linux",
        "Size": size,
        "GraphDriver": {
            "Data": {
                "MergedDir": f"/var/lib/docker/overlay2/{image_id[7:]}/merged",
                "UpperDir": f"/var/lib/docker/overlay2/{image_id[7:]}/diff",
                "WorkDir": f"/var/lib/docker/overlay2/{image_id[7:]}/work",
            },
            "Name": "overlay2",
        },
        "RootFS": {"Type": "layers", "Layers": [layer]},
        "Metadata": {"LastTagTime": created},
    }
    if not api_at_least(api, "1.44"):
        data["VirtualSize"] = size
        data["Container"] = ""
        data["ContainerConfig"] = {**config, "Cmd": None}
    return data


# -- version and info ---------------------------------------------------------------------------------------


def version_json(engine_version: str, api: str, labkit_version: str) -> Json:
    """``GET /version``: the engine the model follows, plus a component that says it is
    labkit's simulator (``docker version`` lists it under Server)."""
    kernel = platform.release()
    min_api = _MIN_API.get(api, "1.12")
    details = {
        "ApiVersion": api,
        "Arch": "amd64",
        "BuildTime": "2024-01-01T00:00:00.000000000+00:00",
        "Experimental": "false",
        "GitCommit": "labkit",
        "GoVersion": "go1.19.8",
        "KernelVersion": kernel,
        "MinAPIVersion": min_api,
        "Os": "linux",
    }
    return {
        "Platform": {"Name": "labkit simulated engine"},
        "Components": [
            {"Name": "Engine", "Version": engine_version, "Details": details},
            {
                "Name": "labkit simulator",
                "Version": labkit_version,
                "Details": {"Simulated": "true", "Models": f"Docker Engine {engine_version}"},
            },
        ],
        "Version": engine_version,
        "ApiVersion": api,
        "MinAPIVersion": min_api,
        "GitCommit": "labkit",
        "GoVersion": "go1.19.8",
        "Os": "linux",
        "Arch": "amd64",
        "KernelVersion": kernel,
        "BuildTime": details["BuildTime"],
    }


def info_json(
    *,
    engine_version: str,
    generation: str,
    containers: list[str],
    images: int,
    port_range: tuple[int, int],
    hostname: str,
    now: str,
) -> Json:
    """``GET /info`` (``docker info``); ``containers`` are the containers' states. The name,
    operating system and labels say it is labkit's simulator."""
    return {
        "ID": "LABK:ITSI:MULA:TEDE:NGIN:E000:0000:0000:0000:0000:0000:0000",
        "Containers": len(containers),
        "ContainersRunning": containers.count("running"),
        "ContainersPaused": containers.count("paused"),
        "ContainersStopped": len(containers) - containers.count("running"),
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "simulated"]],
        "Plugins": {
            "Volume": [],
            "Network": ["bridge", "host", "null"],
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": True,
        "SwapLimit": True,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": True,
        "BridgeNfIptables": True,
        "BridgeNfIp6tables": True,
        "Debug": False,
        "NFd": 0,
        "OomKillDisable": True,
        "NGoroutines": 1,
        "SystemTime": now,
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2",
        "NEventsListener": 0,
        "KernelVersion": platform.release(),
        "OperatingSystem": f"labkit simulated engine (models Docker Engine {generation})",
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": platform.machine() or "x86_64",
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {},
            "Mirrors": [],
        },
        "NCPU": 1,
        "MemTotal": 0,
        "GenericResources": None,
        "DockerRootDir": "/var/lib/docker",
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": f"labkit-sim ({hostname})",
        "Labels": [
            SIMULATED_LABEL,
            f"labkit.generation={generation}",
            "labkit.port_range={}-{}".format(*port_range),
        ],
        "ExperimentalBuild": False,
        "ServerVersion": engine_version,
        "Runtimes": {"runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": [],
        "Warnings": ["WARNING: this engine is labkit's simulation: no container processes run"],
    }
