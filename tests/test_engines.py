"""labkit's own engines: the Debian sid root's build (with a stand-in debootstrap, no network
needed) and, as root, Engine 20.10 and 28 started fresh in namespaces of their own and stopped by
their pid files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import unavailable

from labkit.engines import (
    SID_ROOT,
    EngineDaemon,
    build_sid_root,
    daemon_pid,
    processes_of,
    sid_root,
)
from labkit.errors import EngineUnavailable
from labkit.generation import Generation


@pytest.fixture
def fake_debootstrap(tmp_path, monkeypatch):
    """A debootstrap that writes ``$TARGET/usr/sbin/dockerd``, or fails as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "debootstrap"

    def make(body: str) -> None:
        script.write_text(f'#!/bin/sh\ntarget="$4"\nmkdir -p "$target/usr/sbin"\n{body}\n')
        script.chmod(0o755)

    make('echo "I: Retrieving InRelease"; touch "$target/usr/sbin/dockerd"')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return make


def test_a_root_is_built_in_a_temporary_folder_then_renamed(tmp_path, fake_debootstrap):
    lines = []
    abandoned = tmp_path / ".sid.building-999999999"  # a killed build's, its pid long gone
    (abandoned / "usr").mkdir(parents=True)
    seconds = build_sid_root(tmp_path / "sid", lines.append)
    assert (tmp_path / "sid/usr/sbin/dockerd").exists() and (tmp_path / "sid/state").is_dir()
    assert seconds >= 0 and not abandoned.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert lines[0].startswith("Building Engine 28's root") and "Retrieving InRelease" in lines[1]
    assert sid_root(tmp_path / "sid") == tmp_path / "sid"  # cached: no second build


def test_a_failed_build_leaves_no_half_root(tmp_path, fake_debootstrap):
    fake_debootstrap('echo "E: Failed getting release file https://deb.debian.org/..."; exit 1')
    with pytest.raises(EngineUnavailable, match="mirror.*cannot be reached") as caught:
        build_sid_root(tmp_path / "sid")
    assert "check the network" in caught.value.fix and len(str(caught.value).splitlines()) <= 2
    assert list(tmp_path.glob("*sid*")) == []


def test_building_needs_root_and_debootstrap(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EngineUnavailable, match="needs root"):
        build_sid_root(tmp_path / "sid")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda _tool: None)
    with pytest.raises(EngineUnavailable, match="apt-get install debootstrap"):
        build_sid_root(tmp_path / "sid")


def test_starting_an_engine_needs_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EngineUnavailable, match="need root"):
        EngineDaemon("tnoroot").up()


@pytest.mark.labhosts
@pytest.mark.parametrize("generation", [Generation.V20, Generation.V28], ids=lambda g: g.value)
def test_an_engine_of_our_own_starts_fresh_and_stops_by_its_pid_file(tmp_path, generation):
    if os.geteuid() != 0 or shutil.which("nsenter") is None:
        unavailable("labhosts", "starting engines in namespaces needs root and nsenter")
    if generation is Generation.V28 and not (SID_ROOT / "usr/sbin/dockerd").exists():
        if shutil.which("debootstrap") is None:
            unavailable("labhosts", "Engine 28 needs debootstrap to build its root")
    daemon = EngineDaemon(f"t{os.getpid() % 10000}", generation, state_root=tmp_path)
    try:
        status = daemon.up()
        assert status.running and status.generation is generation
        assert status.url == f"unix://{tmp_path / daemon.name / 'docker.sock'}"
        assert Path(daemon.netns_path).exists() and daemon_pid(daemon.folder) == status.pid
        assert status.pid in processes_of(daemon.folder)
        assert daemon.up().pid == status.pid  # idempotent while it runs
    finally:
        removed = daemon.down()
    assert removed[0] == f"dockerd {daemon.name}" and not daemon.status().running
    assert not Path(daemon.netns_path).exists() and not daemon.folder.exists()
    assert processes_of(tmp_path / daemon.name) == []
