"""Addresses as Docker's default IPAM hands them out: subnets from the default pools, the
lowest free address in a subnet for each new endpoint, MACs (derived from the address on 20.10,
random on 28), and 64-hex-digit IDs."""

from __future__ import annotations

import heapq
import ipaddress
import secrets
from collections.abc import Iterable, Iterator

from labkit.engine._checks import pools_used_up
from labkit.errors import InvalidInput
from labkit.generation import Generation

__all__ = [
    "DEFAULT_BRIDGE_SUBNET",
    "default_pools",
    "SubnetAllocator",
    "AddressPool",
    "mac_for",
    "random_mac",
    "endpoint_mac",
    "new_id",
]

DEFAULT_BRIDGE_SUBNET = "172.17.0.0/16"

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address


def default_pools() -> Iterator[IPv4Network]:
    """Docker's predefined local pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s."""
    for second in range(17, 32):
        yield IPv4Network(f"172.{second}.0.0/16")
    yield from IPv4Network("192.168.0.0/16").subnets(new_prefix=20)


class SubnetAllocator:
    """Gives each new network the next default pool after the last one given (Docker 20.10
    does not reuse a just-freed pool first), skipping pools that overlap a network in use."""

    def __init__(self, pools: Iterable[IPv4Network] | None = None) -> None:
        self.pools = list(pools if pools is not None else default_pools())
        self._last = -1

    def next(self, in_use: Iterable[IPv4Network], name: str = "") -> IPv4Network:
        used = list(in_use)
        count = len(self.pools)
        for step in range(1, count + 1):
            index = (self._last + step) % count
            pool = self.pools[index]
            if not any(pool.overlaps(net) for net in used):
                self._last = index
                return pool
        raise pools_used_up(name)

    def mark_used(self, subnet: IPv4Network) -> None:
        """A pool taken by the default bridge: the round-robin starts after it."""
        if subnet in self.pools:
            self._last = max(self._last, self.pools.index(subnet))


class AddressPool:
    """The addresses of one subnet: the network and broadcast addresses are never given out, the
    gateway is taken first, and each request gets the lowest free address."""

    def __init__(self, subnet: IPv4Network, gateway: IPv4Address | None = None) -> None:
        self.subnet = subnet
        self._base = int(subnet.network_address)
        self._last_host = subnet.num_addresses - 2  # offsets 1 .. last_host are hosts
        self._taken: set[int] = set()
        self._freed: list[int] = []  # a heap of released offsets below _fresh
        self._fresh = 1  # every offset from here up has never been handed out
        if self._last_host < 1:
            raise InvalidInput(
                f"Subnet {subnet} has no room for containers",
                "failed to allocate gateway: no available addresses on this pool",
                "use a larger subnet, e.g. a /24",
            )
        if gateway is None:
            self.gateway = self.request()
        else:
            self.gateway = self.take(gateway, what="gateway")

    def _offset(self, address: IPv4Address) -> int:
        return int(address) - self._base

    def request(self) -> IPv4Address:
        while self._freed:
            offset = heapq.heappop(self._freed)
            if offset not in self._taken:
                self._taken.add(offset)
                return IPv4Address(self._base + offset)
        while self._fresh <= self._last_host and self._fresh in self._taken:
            self._fresh += 1
        if self._fresh > self._last_host:
            raise InvalidInput(
                f"No free address in {self.subnet}",
                "every address of the network's subnet is in use",
                "remove containers from the network or create one with a larger subnet",
            )
        offset = self._fresh
        self._fresh += 1
        self._taken.add(offset)
        return IPv4Address(self._base + offset)

    def take(self, address: IPv4Address, *, what: str = "address") -> IPv4Address:
        offset = self._offset(address)
        if not 1 <= offset <= self._last_host:
            raise InvalidInput(
                f"The {what} {address} is not usable in {self.subnet}",
                f"failed to allocate {what} ({address}): Requested address is out of range",
                f"pick a {what} inside the subnet, e.g. {IPv4Address(self._base + 1)}",
            )
        if offset in self._taken:
            raise InvalidInput(
                f"The {what} {address} is taken in {self.subnet}",
                f"failed to allocate {what} ({address}): Address already in use",
                f"pick another {what}",
            )
        self._taken.add(offset)
        return address

    def release(self, address: IPv4Address) -> None:
        offset = self._offset(address)
        if offset in self._taken and address != self.gateway:
            self._taken.discard(offset)
            if offset < self._fresh:
                heapq.heappush(self._freed, offset)

    @property
    def in_use(self) -> int:
        return len(self._taken)


def mac_for(address: IPv4Address | str) -> str:
    """Docker 20.10's MAC for an endpoint: 02:42 then the four bytes of its IPv4 address."""
    packed = IPv4Address(address).packed
    return "02:42:" + ":".join(f"{byte:02x}" for byte in packed)


def random_mac() -> str:
    """Engine 28's MAC for an endpoint (moby/moby#48808): random, locally administered
    (second-lowest bit of the first byte set) and unicast (lowest bit clear)."""
    first = (secrets.randbits(8) & 0b11111100) | 0b00000010
    return ":".join(f"{byte:02x}" for byte in [first, *secrets.token_bytes(5)])


def endpoint_mac(address: IPv4Address, generation: Generation) -> str:
    """A new endpoint's MAC as the generation makes it: 28 anew at every start, 20.10 from
    the address."""
    return random_mac() if generation.random_macs else mac_for(address)


def new_id() -> str:
    """A 64-hex-digit ID like the engine's (not all digits, so a short ID never looks numeric)."""
    while True:
        value = secrets.token_hex(32)
        if not value[:12].isdigit():
            return value
