"""Host port allocation as Docker's allocator does it: round-robin over the kernel's ephemeral
range, starting after the last port handed out, so a restarted container gets a new port even
when its old one is free again.

Engine 20.10 allocates a binding's IPv4 and IPv6 twins apart (``allocate``, ``reserve``);
Engine 27 and later allocate them together, one port for both (``allocate_together``,
``reserve_together``: moby's ``RequestPortsInRange``).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Sequence

from labkit.engine._checks import ephemeral_port_failed
from labkit.errors import PortInUse

__all__ = ["PORT_RANGE_FILE", "FALLBACK_RANGE", "read_port_range", "port_is_free", "PortAllocator"]

PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
# The kernel's default range; used where there is no /proc (macOS, Windows).
FALLBACK_RANGE = (32768, 60999)

# (port, protocol, host IP) -> may the allocator hand this port out?
Probe = Callable[[int, str, str], bool]
# Engine 20.10 tries an ephemeral port this many times (its bridge driver's
# maxAllocatePortAttempts) before it gives up on publishing.
BIND_ATTEMPTS = 10


def read_port_range(path: str | None = None) -> tuple[int, int]:
    """The ephemeral port range from ``path`` (the kernel's file), or the kernel default when it
    cannot be read."""
    try:
        with open(path or PORT_RANGE_FILE, encoding="ascii") as handle:
            low, high = (int(part) for part in handle.read().split()[:2])
    except (OSError, ValueError):
        return FALLBACK_RANGE
    if not 1 <= low <= high <= 65535:
        return FALLBACK_RANGE
    return low, high


def port_is_free(port: int, protocol: str = "tcp", host_ip: str = "0.0.0.0") -> bool:
    """True when nothing on this machine holds ``port`` for ``host_ip``'s address family, tried
    by binding all interfaces as the engine's proxy would (IPv6 alone, like ``[::]:port``)."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    ipv6 = _is_ipv6(host_ip)
    try:
        sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, kind)
    except OSError:  # no IPv6 on this machine: nothing can hold the port there
        return True
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if ipv6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::" if ipv6 else "0.0.0.0", port))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        if exc.errno == errno.EADDRNOTAVAIL:  # IPv6 switched off
            return True
        raise
    finally:
        sock.close()
    return True


def _is_ipv6(host_ip: str) -> bool:
    return ":" in host_ip


def _all_ips(host_ip: str) -> bool:
    return host_ip in ("", "0.0.0.0", "::")


class PortAllocator:
    """Hands out host ports; not thread-safe on its own (the engine holds its lock).

    Like Docker's, it keeps one round-robin position per host IP and protocol, and a port held
    on all interfaces conflicts with every host IP of the same address family. IPv4 and IPv6 are
    allocated apart: a port busy for IPv4 alone moves ``0.0.0.0`` on and leaves ``::`` behind.
    """

    def __init__(self, port_range: tuple[int, int] | None = None, *, probe: Probe | None = None):
        self.range = port_range or read_port_range()
        self.probe = probe or port_is_free
        self._held: dict[tuple[str, int], set[str]] = {}  # (protocol, port) -> host IPs
        self._last: dict[tuple[str, str], int] = {}  # (host IP, protocol) -> last port given

    def held(self, port: int, protocol: str = "tcp") -> bool:
        return (protocol, port) in self._held

    def _taken(self, host_ip: str, port: int, protocol: str) -> bool:
        ips = [
            ip for ip in self._held.get((protocol, port), ()) if _is_ipv6(ip) == _is_ipv6(host_ip)
        ]
        if not ips:
            return False
        return _all_ips(host_ip) or any(_all_ips(ip) or ip == host_ip for ip in ips)

    def _hold(self, host_ip: str, port: int, protocol: str) -> None:
        self._held.setdefault((protocol, port), set()).add(host_ip or "0.0.0.0")

    def allocate(
        self, host_ip: str = "0.0.0.0", protocol: str = "tcp", probe: Probe | None = None
    ) -> int:
        """The next free port after the last one given for this host IP and protocol.

        ``probe`` (default: try binding) says whether the machine lets us have the port; the
        engine passes one that opens the simulated app's real listener in the same step.
        """
        low, high = self.range
        size = high - low + 1
        key = (host_ip or "0.0.0.0", protocol)
        start = self._last.get(key, high) - low
        check = probe or self.probe
        failed = 0
        for step in range(1, size + 1):
            port = low + (start + step) % size
            if key[0] in self._held.get((protocol, port), ()):
                continue  # this host IP's own allocator knows the port is given
            # The allocator keeps one map per host IP: a port held on another address looks free
            # to it, and the engine only learns otherwise when the bind fails. It then moves on,
            # and gives up after BIND_ATTEMPTS failed binds in a row.
            if self._taken(host_ip, port, protocol) or not check(port, protocol, key[0]):
                failed += 1
                self._last[key] = port
                if failed >= BIND_ATTEMPTS:
                    raise ephemeral_port_failed(key[0], port)
                continue
            self._hold(host_ip, port, protocol)
            self._last[key] = port
            return port
        raise PortInUse(
            f"No free host port for {protocol} in {low}-{high}",
            "every port of the ephemeral range is allocated or busy on this machine",
            "remove containers you no longer need (lab.cleanup()) and try again",
        )

    def reserve(
        self, port: int, host_ip: str = "0.0.0.0", protocol: str = "tcp", probe: Probe | None = None
    ) -> int:
        """Take a port the user named (``-p 8080:80``); PortInUse when it is taken."""
        ip = host_ip or "0.0.0.0"
        shown = f"[{ip}]:{port}" if _is_ipv6(ip) else f"{ip}:{port}"
        if self._taken(host_ip, port, protocol):
            raise PortInUse(
                f"Host port {port} is already allocated",
                f"Bind for {shown} failed: port is already allocated (another container publishes "
                "it)",
                "publish on another host port, or None for an ephemeral one (-p :80)",
            )
        if not (probe or self.probe)(port, protocol, host_ip or "0.0.0.0"):
            family = "6" if _is_ipv6(host_ip) else "4"
            raise PortInUse(
                f"Host port {port} is already in use",
                f"listen {protocol}{family} {shown}: bind: address already in use (another program "
                "holds it)",
                "publish on another host port, or None for an ephemeral one (-p :80)",
            )
        self._hold(host_ip, port, protocol)
        return port

    def allocate_together(
        self, host_ips: Sequence[str], protocol: str = "tcp", probe: Probe | None = None
    ) -> int:
        """One port for every address of ``host_ips`` (``0.0.0.0`` and ``::`` of one binding),
        as Engine 28 allocates: searched after the last port given to the first address, taken
        when it is taken for any of them, and remembered as the last port of each."""
        low, high = self.range
        size = high - low + 1
        ips = [ip or "0.0.0.0" for ip in host_ips]
        start = self._last.get((ips[0], protocol), high) - low
        check = probe or self.probe
        # IPv6 first: the engine's IPv4 probe opens the app's real listener, so it goes last.
        probe_order = sorted(ips, key=lambda ip: not _is_ipv6(ip))
        for step in range(1, size + 1):
            port = low + (start + step) % size
            if any(self._taken(ip, port, protocol) for ip in ips):
                continue
            if not all(check(port, protocol, ip) for ip in probe_order):
                continue
            for ip in ips:
                self._hold(ip, port, protocol)
                self._last[(ip, protocol)] = port
            return port
        raise PortInUse(
            f"No free host port for {protocol} in {low}-{high}",
            "every port of the ephemeral range is allocated or busy on this machine",
            "remove containers you no longer need (lab.cleanup()) and try again",
        )

    def reserve_together(
        self,
        port: int,
        host_ips: Sequence[str],
        protocol: str = "tcp",
        probe: Probe | None = None,
    ) -> int:
        """A port the user named, for every address of ``host_ips`` at once (Engine 28)."""
        ips = [ip or "0.0.0.0" for ip in host_ips]
        for ip in ips:
            if self._taken(ip, port, protocol):
                # The engine names the address that holds the port (127.0.0.1 for a 0.0.0.0
                # request that a loopback binding blocks).
                holders = [h for h in self._held[(protocol, port)] if _is_ipv6(h) == _is_ipv6(ip)]
                holder = ip if ip in holders else sorted(holders)[0]
                shown = f"[{holder}]:{port}" if _is_ipv6(holder) else f"{holder}:{port}"
                raise PortInUse(
                    f"Host port {port} is already allocated",
                    f"Bind for {shown} failed: port is already allocated (another container "
                    "publishes it)",
                    "publish on another host port, or None for an ephemeral one (-p :80)",
                )
        check = probe or self.probe
        for ip in sorted(ips, key=lambda ip: not _is_ipv6(ip)):
            if not check(port, protocol, ip):
                shown = f"[{ip}]:{port}" if _is_ipv6(ip) else f"{ip}:{port}"
                raise PortInUse(
                    f"Host port {port} is already in use",
                    f"failed to bind host port for {shown}: address already in use "
                    "(another program holds it)",
                    "publish on another host port, or None for an ephemeral one (-p :80)",
                )
        for ip in ips:
            self._hold(ip, port, protocol)
        return port

    def release(self, port: int, host_ip: str = "0.0.0.0", protocol: str = "tcp") -> None:
        ips = self._held.get((protocol, port))
        if ips is None:
            return
        ips.discard(host_ip or "0.0.0.0")
        if not ips:
            del self._held[(protocol, port)]
