"""The simulator's host port allocator: Docker's round-robin over the ephemeral range."""

from __future__ import annotations

import socket

import pytest

from labkit.engine.sim.ports import FALLBACK_RANGE, PortAllocator, port_is_free, read_port_range
from labkit.errors import PortInUse


def always(port: int, proto: str, host_ip: str) -> bool:
    return True


def test_range_is_read_from_the_kernel_file(tmp_path):
    path = tmp_path / "ip_local_port_range"
    path.write_text("40000\t40999\n")
    assert read_port_range(str(path)) == (40000, 40999)


@pytest.mark.parametrize("content", [None, "", "garbage", "61000 60000", "0 70000"])
def test_range_falls_back_to_the_kernel_default(tmp_path, content):
    path = tmp_path / "range"
    if content is not None:
        path.write_text(content)
    assert read_port_range(str(path)) == FALLBACK_RANGE == (32768, 60999)


def test_allocator_reads_the_kernel_file_when_no_range_is_given(tmp_path, monkeypatch):
    path = tmp_path / "range"
    path.write_text("50000 50010")
    monkeypatch.setattr("labkit.engine.sim.ports.PORT_RANGE_FILE", str(path))
    assert PortAllocator(probe=always).range == (50000, 50010)
    monkeypatch.setattr("labkit.engine.sim.ports.PORT_RANGE_FILE", str(tmp_path / "absent"))
    assert PortAllocator(probe=always).range == FALLBACK_RANGE


def test_ports_go_round_robin_after_the_last_one_given():
    alloc = PortAllocator((32768, 32772), probe=always)
    first, second = alloc.allocate(), alloc.allocate()
    assert (first, second) == (32768, 32769)
    alloc.release(first)
    # A freed port is not handed out again until the allocator comes round to it.
    assert alloc.allocate() == 32770
    assert alloc.allocate() == 32771
    assert alloc.allocate() == 32772
    assert alloc.allocate() == 32768  # wrapped around; 32769 is still held
    with pytest.raises(PortInUse, match="No free host port"):
        alloc.allocate()


def test_a_restart_gets_a_new_port_even_when_the_old_one_is_free():
    alloc = PortAllocator((32768, 60999), probe=always)
    old = alloc.allocate()
    alloc.release(old)
    assert alloc.allocate() == old + 1


def test_ports_busy_on_this_machine_are_skipped():
    busy = {32768, 32770}
    alloc = PortAllocator((32768, 32775), probe=lambda port, proto, host_ip: port not in busy)
    assert [alloc.allocate() for _ in range(3)] == [32769, 32771, 32772]


def test_each_host_ip_keeps_its_own_round_robin_but_all_interfaces_conflict():
    alloc = PortAllocator((32768, 32780), probe=always)
    assert alloc.allocate("0.0.0.0") == 32768
    assert alloc.allocate("127.0.0.1") == 32769  # 32768 on all interfaces covers 127.0.0.1
    assert alloc.allocate("0.0.0.0") == 32769 + 1
    assert alloc.allocate("127.0.0.1") == 32771


def test_a_fixed_port_that_is_allocated_or_busy_is_refused():
    alloc = PortAllocator((32768, 32780), probe=lambda port, proto, host_ip: port != 8081)
    assert alloc.reserve(8080) == 8080
    with pytest.raises(PortInUse, match="already allocated"):
        alloc.reserve(8080)
    with pytest.raises(PortInUse, match="already in use"):
        alloc.reserve(8081)
    alloc.release(8080)
    assert alloc.reserve(8080) == 8080


def test_protocols_are_allocated_separately():
    alloc = PortAllocator((32768, 32780), probe=always)
    assert alloc.allocate(protocol="tcp") == 32768
    assert alloc.allocate(protocol="udp") == 32768


def test_port_is_free_sees_a_real_listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        assert port_is_free(sock.getsockname()[1]) is False
    finally:
        sock.close()
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    assert port_is_free(port) is True


def test_a_port_held_for_ipv4_alone_is_still_free_for_ipv6():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        port = sock.getsockname()[1]
        assert port_is_free(port, "tcp", "0.0.0.0") is False
        assert port_is_free(port, "tcp", "::") is True
    finally:
        sock.close()


def test_ipv4_and_ipv6_keep_apart_round_robins():
    alloc = PortAllocator(
        (32768, 32780), probe=lambda port, proto, ip: (port, ip) != (32768, "0.0.0.0")
    )
    assert (alloc.allocate("0.0.0.0"), alloc.allocate("::")) == (32769, 32768)
    assert (alloc.allocate("0.0.0.0"), alloc.allocate("::")) == (32770, 32769)
