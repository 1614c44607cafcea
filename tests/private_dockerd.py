"""A private dockerd for tests that stop an engine or clean up every namespace.

It has its own socket, data and exec roots and its own bridge interface, so stopping or emptying
it never disturbs the machine's main engine or anyone's containers on it. (Never start a second
dockerd with --bridge=none: it deletes docker0 from under the main engine.)

``PrivateDockerd(netns=True)`` runs it in a network namespace of its own, where no other engine
holds host ports: its port allocator then behaves as on a quiet machine (its published ports are
reached only from inside that namespace).

Each one writes an ``owner`` file (the test process's pid, its bridge and namespace) into its
root, so that ``PrivateDockerd.sweep_dead()`` can remove what a killed test run left.

A stopped dockerd leaves the Linux bridges of its user-defined networks (``br-`` + 12 hex) on the
host, each holding one of Docker's default address pools: 31 of them fill every pool on the
machine, and every engine's next ``network create`` fails. Both ways out remove those bridges.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from labkit import errors

_counter = itertools.count()
_subnets = itertools.count()


class PrivateDockerd:
    def __init__(self, *, netns: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lkd-"))
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        # Its own bridge, in the RFC 2544 test range that only this machine's tests use.
        self.bridge = f"lkd{os.getpid() % 100000}{next(_counter)}"
        self.netns = f"{self.bridge}ns" if netns else None
        self._in_ns: list[str] = []
        if self.netns:
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            # nsenter --net, not `ip netns exec` (which remounts /sys for the whole command).
            self._in_ns = ["nsenter", f"--net=/var/run/netns/{self.netns}"]
            subprocess.run([*self._in_ns, "ip", "link", "set", "lo", "up"], check=True)
        ip = [*self._in_ns, "ip"]
        subprocess.run([*ip, "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(
            [*ip, "addr", "add", f"198.18.{250 - next(_subnets) % 40}.1/24", "dev", self.bridge],
            check=True,
        )
        subprocess.run([*ip, "link", "set", self.bridge, "up"], check=True)
        owner = {"pid": os.getpid(), "bridge": self.bridge, "netns": self.netns}
        (self.root / "owner").write_text(json.dumps(owner))

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            [
                *self._in_ns,
                "dockerd",
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "docker.pid"),
                "-H",
                self.url,
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        from labkit.engine.docker import DockerEngine

        while time.monotonic() < deadline:
            try:
                DockerEngine(self.url, timeout=2).ping()
                return
            except errors.EngineUnavailable:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError(
            f"private dockerd did not start: {(self.root / 'dockerd.log').read_text()[-500:]}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    @staticmethod
    def sweep_dead() -> list[str]:
        """Remove the private dockerds whose test process is gone (killed before teardown)."""
        removed = []
        for owner in Path(tempfile.gettempdir()).glob("lkd-*/owner"):
            try:
                found = json.loads(owner.read_text())
                os.kill(found["pid"], 0)
                continue  # its run is alive
            except ProcessLookupError:
                pass
            except (OSError, ValueError, KeyError):
                continue
            root = owner.parent
            try:
                pid = int((root / "docker.pid").read_text())
                # Only that dockerd: its command line names this root (a reused pid does not).
                if str(root) not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
                    errors="replace"
                ):
                    raise ProcessLookupError
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)
            except (OSError, ValueError):
                pass
            in_ns = ["nsenter", f"--net=/var/run/netns/{found['netns']}"] if found["netns"] else []
            subprocess.run([*in_ns, "ip", "link", "del", found["bridge"]], capture_output=True)
            if found["netns"]:
                subprocess.run(["ip", "netns", "del", found["netns"]], capture_output=True)
            _remove_network_bridges(root / "data", in_ns)
            subprocess.run(["umount", "-R", str(root / "data")], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
            removed.append(str(root))
        return removed

    def destroy(self) -> None:
        self.stop()
        if self.proc:  # its containerd, should it have outlived dockerd
            subprocess.run(["pkill", "-f", str(self.root)], capture_output=True)
        _remove_network_bridges(self.root / "data", self._in_ns)
        subprocess.run(["umount", "-R", str(self.root / "data")], capture_output=True)
        subprocess.run([*self._in_ns, "ip", "link", "del", self.bridge], capture_output=True)
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _remove_network_bridges(data_root: Path, in_ns: list[str]) -> None:
    """Delete the bridges of every network this dockerd made (it must have stopped).

    The network IDs come from its own store, so this works for a killed daemon too. The store
    also keeps IDs of networks removed earlier: their bridges are gone, and deleting them is a no-op.
    """
    store = data_root / "network" / "files" / "local-kv.db"
    try:
        found = set(re.findall(rb"network/([0-9a-f]{64})", store.read_bytes()))
    except OSError:
        return
    for network_id in found:
        bridge = "br-" + network_id[:12].decode()
        subprocess.run([*in_ns, "ip", "link", "del", bridge], capture_output=True)
