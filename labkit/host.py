"""Facts about the machine the kernel runs on and the engine's host, and what follows from them.

Pure standard library: read /proc and /sys, look at the environment, and explain in one line
why bridge IPs can or cannot be reached from here.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from labkit.models import EngineInfo

__all__ = [
    "read_ip_forward",
    "read_port_range",
    "interface_exists",
    "is_local_url",
    "describe_docker",
    "proxy_prefix",
    "browser_url",
    "default_gateway",
    "DEFAULT_PORT_RANGE",
    "SIMULATED_LABEL",
]

# The kernel's default ephemeral range; Docker falls back to it too when /proc cannot be read.
DEFAULT_PORT_RANGE = (32768, 60999)
_PROC = Path("/proc/sys/net/ipv4")
# What labkit's simulated engine lists in `docker info`'s Labels (labkit.engine.sim.wire).
SIMULATED_LABEL = "labkit.simulated=true"


def read_ip_forward(proc: Path = _PROC) -> bool | None:
    """``cat /proc/sys/net/ipv4/ip_forward`` as a bool; None where there is no /proc."""
    try:
        return (proc / "ip_forward").read_text().strip() == "1"
    except OSError:
        return None


def read_port_range(proc: Path = _PROC) -> tuple[int, int]:
    """The ephemeral port range Docker's allocator uses (ip_local_port_range)."""
    try:
        low, high = (int(x) for x in (proc / "ip_local_port_range").read_text().split())
        if 0 < low <= high <= 65535:
            return low, high
    except (OSError, ValueError):
        pass
    return DEFAULT_PORT_RANGE


def interface_exists(name: str) -> bool:
    """In this process's network namespace (/sys/class/net shows the namespace sysfs was
    mounted in, which differs under ``nsenter --net``)."""
    try:
        socket.if_nametoindex(name)
        return True
    except OSError:
        return False


def is_local_url(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("unix", "npipe", ""):
        return True
    return parsed.hostname in ("localhost", "127.0.0.1", "::1")


def describe_docker(
    url: str, version: Mapping[str, Any], details: Mapping[str, Any], bridge: Mapping[str, Any]
) -> EngineInfo:
    """EngineInfo for an engine from its version, info and `bridge` network inspect (a real
    engine, or labkit's simulator, which says so in its info's Labels)."""
    if SIMULATED_LABEL in (details.get("Labels") or []):
        return _describe_simulated(version, details, bridge)
    local = is_local_url(url)
    components = " ".join(c.get("Name", "") for c in version.get("Components") or [])
    os_name = str(details.get("OperatingSystem", ""))
    security = " ".join(details.get("SecurityOptions") or [])
    if "podman" in components.lower():
        flavour = "Podman"
    elif "docker desktop" in os_name.lower():
        flavour = "Docker Desktop"
    else:
        flavour = "Docker Engine"
    rootless = "rootless" in security
    config = ((bridge.get("IPAM") or {}).get("Config") or [{}])[0] or {}
    subnet = config.get("Subnet", "")
    gateway = config.get("Gateway") or default_gateway(subnet, "bridge")
    prefix = subnet.split("/")[1] if "/" in subnet else ""
    bridge_name = (bridge.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    reachable, reason = _bridge_reachability(local, flavour, rootless, bridge_name)
    where = "on this machine" if local else f"at {url}"
    return EngineInfo(
        kind="docker",
        version=str(version.get("Version", "?")),
        description=f"{flavour}{' (rootless)' if rootless else ''} {version.get('Version', '?')} {where}",
        local=local,
        host="127.0.0.1" if local else (urlparse(url).hostname or "127.0.0.1"),
        bridge_name=bridge_name,
        bridge_address=f"{gateway}/{prefix}" if gateway and prefix else gateway,
        ip_forward=read_ip_forward() if reachable else None,
        port_range=read_port_range() if local else DEFAULT_PORT_RANGE,
        bridge_reachable=reachable,
        bridge_reason=reason,
        simulated=False,
    )


def _describe_simulated(
    version: Mapping[str, Any], details: Mapping[str, Any], bridge: Mapping[str, Any]
) -> EngineInfo:
    labels = dict(str(label).partition("=")[::2] for label in details.get("Labels") or [])
    low, _, high = labels.get("labkit.port_range", "").partition("-")
    ports = (int(low), int(high)) if low.isdigit() and high.isdigit() else DEFAULT_PORT_RANGE
    config = ((bridge.get("IPAM") or {}).get("Config") or [{}])[0] or {}
    subnet = config.get("Subnet", "")
    gateway = config.get("Gateway") or default_gateway(subnet, "bridge")
    prefix = subnet.split("/")[1] if "/" in subnet else ""
    number = str(version.get("Version", "?"))
    return EngineInfo(
        kind="sim",
        version=number,
        description=f"Simulated Docker engine (labkit's model of Engine {number}, one per user)",
        local=True,
        host="127.0.0.1",
        bridge_name=(bridge.get("Options") or {}).get("com.docker.network.bridge.name", "docker0"),
        bridge_address=f"{gateway}/{prefix}" if gateway and prefix else gateway,
        ip_forward=bool(details.get("IPv4Forwarding", True)),
        port_range=ports,
        bridge_reachable=True,
        bridge_reason=(
            "the bridge is modelled: probes of container IPs are answered by the simulator, "
            "published ports are real listeners on 127.0.0.1"
        ),
        simulated=True,
    )


def default_gateway(subnet: str, driver: str) -> str:
    """The gateway a bridge network gets when its inspect JSON names none: the subnet's first
    host (Docker 20.10 leaves it out of the default bridge's IPAM config, yet docker0 has it)."""
    if driver != "bridge" or not subnet:
        return ""
    try:
        return str(next(ipaddress.ip_network(subnet).hosts()))
    except (ValueError, StopIteration):
        return ""


def _bridge_reachability(
    local: bool, flavour: str, rootless: bool, bridge: str
) -> tuple[bool, str]:
    if not local:
        return False, (
            "the engine runs on another machine: its bridge network lives there, and this machine "
            "has no route to it (the lab text's `route add` step is what would give one)"
        )
    if flavour == "Docker Desktop":
        return False, "Docker Desktop runs the engine in a VM: the bridge lives inside that VM"
    if flavour == "Podman" or rootless:
        return False, "a rootless engine keeps its bridge in its own network namespace"
    if not sys.platform.startswith("linux"):
        return False, "bridge IPs are only routable from the engine's own Linux host"
    if not interface_exists(bridge):
        return False, f"this machine has no {bridge} interface, so the engine's bridge is elsewhere"
    return True, f"this machine is the engine's Linux host: {bridge} is a local interface"


def proxy_prefix(env: Mapping[str, str] | None = None) -> str | None:
    """On Binder or a JupyterHub, the jupyter-server-proxy prefix that reaches a local port."""
    env = os.environ if env is None else env
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return prefix if prefix.endswith("/") else prefix + "/"
    return None


def browser_url(port: int, host: str = "localhost", env: Mapping[str, str] | None = None) -> str:
    """A link to a published port that works in the student's browser."""
    prefix = proxy_prefix(env)
    if prefix and host in ("localhost", "127.0.0.1", "0.0.0.0"):
        return f"{prefix}proxy/{port}/"
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "") else host
    return f"http://{shown}:{port}/"
