"""Simulator daemons on one machine publish from slices of their own (labkit.engine.sim.portslice):
one student's freed port is never another student's app on a hub that runs every server here."""

from __future__ import annotations

import json
import socket

from labkit.engine.sim import daemon, portslice
from labkit.engine.sim.ports import read_port_range


def test_slices_are_apart_and_come_back_when_released(tmp_path):
    whole = (32768, 60999)
    first = portslice.claim(whole, lock_dir=tmp_path)
    second = portslice.claim(whole, lock_dir=tmp_path)
    assert first.port_range == (32768, 33267)  # a student alone starts where Docker does
    assert second.port_range == (33268, 33767)
    assert not first.shared and not second.shared
    first.release()
    assert portslice.claim(whole, lock_dir=tmp_path).port_range == (32768, 33267)


def test_every_slice_held_means_the_whole_range_shared(tmp_path):
    held = [portslice.claim((40000, 40999), size=500, lock_dir=tmp_path) for _ in range(2)]
    third = portslice.claim((40000, 40999), size=500, lock_dir=tmp_path)
    assert [h.port_range for h in held] == [(40000, 40499), (40500, 40999)]
    assert third.shared and third.port_range == (40000, 40999)


def test_a_lock_folder_that_is_a_file_means_the_whole_range(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    got = portslice.claim((40000, 40999), lock_dir=blocker)
    assert got.shared and got.port_range == (40000, 40999)


def _ranges(sock_path) -> tuple[list[int], list[int]]:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock_path))
        s.sendall(b"GET /labkit/v1/info HTTP/1.0\r\nHost: sim\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    info = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    return list(info["PortRange"]), list(info["PublishRange"])


def test_two_students_daemons_publish_from_different_slices(tmp_path):
    paths = [tmp_path / "a" / "sim.sock", tmp_path / "b" / "sim.sock"]
    try:
        for p in paths:
            daemon.ensure(p, say=lambda line: None)
        (shown_a, (a_low, a_high)), (shown_b, (b_low, b_high)) = (_ranges(p) for p in paths)
        assert a_high - a_low == b_high - b_low == portslice.SLICE_SIZE - 1
        assert a_high < b_low or b_high < a_low
        # What both students see as the host's range (docker info, ip_local_port_range) is the
        # kernel's, and their slices lie within it.
        assert shown_a == shown_b == list(read_port_range())
        assert shown_a[0] <= min(a_low, b_low) and max(a_high, b_high) <= shown_a[1]
    finally:
        for p in paths:
            daemon.stop(p, say=lambda line: None)
