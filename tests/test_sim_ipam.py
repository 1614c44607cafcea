"""The simulator's IPAM: Docker's default pools, lowest-free addresses, MACs and IDs."""

from __future__ import annotations

import ipaddress
import re

import pytest

from labkit.engine.sim.ipam import AddressPool, SubnetAllocator, default_pools, mac_for, new_id
from labkit.errors import InvalidInput

net = ipaddress.IPv4Network
addr = ipaddress.IPv4Address


def test_default_pools_are_dockers():
    pools = [str(p) for p in default_pools()]
    assert pools[:3] == ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16"]
    assert pools[14] == "172.31.0.0/16"
    assert pools[15:17] == ["192.168.0.0/20", "192.168.16.0/20"]
    assert pools[-1] == "192.168.240.0/20"
    assert len(pools) == 15 + 16


def test_user_networks_take_the_next_pool_after_the_last_one():
    alloc = SubnetAllocator()
    alloc.mark_used(net("172.17.0.0/16"))  # the default bridge
    used = [net("172.17.0.0/16")]
    first = alloc.next(used)
    used.append(first)
    second = alloc.next(used)
    used.append(second)
    assert (str(first), str(second)) == ("172.18.0.0/16", "172.19.0.0/16")
    used.remove(first)
    # Engine 20.10 does not hand the just-freed 172.18 out again first (seen on the real engine).
    assert str(alloc.next(used)) == "172.20.0.0/16"


def test_pools_that_overlap_a_network_in_use_are_skipped():
    alloc = SubnetAllocator()
    alloc.mark_used(net("172.17.0.0/16"))
    used = [net("172.17.0.0/16"), net("172.18.5.0/24"), net("172.19.0.0/16")]
    assert str(alloc.next(used)) == "172.20.0.0/16"


def test_after_the_172_pools_come_192_168_slash_20s_then_wrap_around():
    alloc = SubnetAllocator()
    used = [net(f"172.{n}.0.0/16") for n in range(17, 32)]
    alloc.mark_used(net("172.31.0.0/16"))
    assert str(alloc.next(used)) == "192.168.0.0/20"
    small = SubnetAllocator([net("10.1.0.0/24"), net("10.2.0.0/24")])
    assert str(small.next([])) == "10.1.0.0/24"
    assert str(small.next([net("10.1.0.0/24")])) == "10.2.0.0/24"
    assert str(small.next([net("10.2.0.0/24")])) == "10.1.0.0/24"  # wrapped
    with pytest.raises(InvalidInput, match="No free address pool"):
        small.next([net("10.1.0.0/24"), net("10.2.0.0/24")])


def test_addresses_are_lowest_free_after_the_gateway():
    pool = AddressPool(net("172.17.0.0/16"))
    assert pool.gateway == addr("172.17.0.1")
    got = [str(pool.request()) for _ in range(3)]
    assert got == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    pool.release(addr("172.17.0.3"))
    pool.release(addr("172.17.0.2"))
    assert str(pool.request()) == "172.17.0.2"
    assert str(pool.request()) == "172.17.0.3"
    assert str(pool.request()) == "172.17.0.5"
    pool.release(addr("172.17.0.1"))  # the gateway is never released to containers
    assert str(pool.request()) == "172.17.0.6"


def test_a_given_gateway_leaves_the_first_address_to_containers():
    pool = AddressPool(net("10.78.0.0/24"), addr("10.78.0.9"))
    assert str(pool.request()) == "10.78.0.1"  # as the real engine hands out


def test_bad_gateways_and_tiny_subnets_are_refused():
    with pytest.raises(InvalidInput, match="out of range"):
        AddressPool(net("10.99.0.0/24"), addr("10.98.0.1"))
    with pytest.raises(InvalidInput, match="out of range"):
        AddressPool(net("10.99.0.0/24"), addr("10.99.0.0"))
    with pytest.raises(InvalidInput, match="no available addresses"):
        AddressPool(net("10.80.0.0/31"))


def test_a_full_subnet_says_so():
    pool = AddressPool(net("10.5.0.0/29"))  # .1 gateway, .2-.6 hosts, .7 broadcast
    assert [str(pool.request()) for _ in range(5)][-1] == "10.5.0.6"
    with pytest.raises(InvalidInput, match="No free address"):
        pool.request()


@pytest.mark.parametrize(
    "ip, mac",
    [
        ("172.17.0.2", "02:42:ac:11:00:02"),
        ("172.18.0.3", "02:42:ac:12:00:03"),
        ("10.78.0.1", "02:42:0a:4e:00:01"),
    ],
)
def test_macs_are_derived_from_the_address_as_engine_20_10_does(ip, mac):
    assert mac_for(ip) == mac


def test_ids_look_like_the_engines():
    ids = {new_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[0-9a-f]{64}", i) and not i[:12].isdigit() for i in ids)
