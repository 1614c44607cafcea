"""``labkit bench``'s figures for the simulator's daemon: the docker CLI against it, as ratios to
the same CLI commands against the real engine in the same run, and the daemon's memory with the
whole course loaded. Called from ``labkit.bench``; a daemon of its own on a temporary socket, so
the user's simulator is left alone.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from labkit.bench import Figure
from labkit.engine.base import LAB_IMAGE

__all__ = ["bench_simulator"]

_TARGETS = {"port": "ratio <= 1.0", "run -d": "ratio <= 0.3", "restart": "ratio <= 0.3"}


def bench_simulator(repeats: int, *, quick: bool, real_host: str | None) -> list[Figure]:
    """``docker port``, ``docker run -d`` and ``docker restart`` through the CLI, simulator over
    real engine (``real_host``: its DOCKER_HOST, None without one), and the daemon's RSS."""
    from labkit.engine.sim import daemon

    cli = shutil.which("docker")
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as folder:
        path = Path(folder) / "sim.sock"
        found = daemon.ensure(path, say=lambda line: None)
        try:
            figures = []
            if cli:
                figures += _cli_figures(cli, found.url, real_host, repeats)
            figures.append(_memory(found.pid or 0, path, quick))
            return figures
        finally:
            daemon.stop(path, say=lambda line: None)


def _docker(cli: str, host: str) -> Callable[..., str]:
    def run(*args: str) -> str:
        return subprocess.run(
            [cli, *args],
            env={**os.environ, "DOCKER_HOST": host, "DOCKER_CLI_HINTS": "false"},
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    return run


def _cli_figures(cli: str, sim: str, real: str | None, repeats: int) -> list[Figure]:
    """Each command timed on the simulator and on the real engine in turn, repeat by repeat,
    so a busy moment of the machine weighs on both sides alike."""
    benches = {"sim": _Bench(cli, sim), **({"real": _Bench(cli, real)} if real else {})}
    times: dict[str, dict[str, list[float]]] = {k: {c: [] for c in _TARGETS} for k in benches}
    try:
        for bench in benches.values():
            bench.setup()
        for command in _TARGETS:
            for _ in range(max(repeats, 15) if command == "port" else repeats):
                for kind, bench in benches.items():
                    times[kind][command].append(bench.time(command))
    finally:
        for bench in benches.values():
            bench.cleanup()
    figures = []
    for command, target in _TARGETS.items():
        fig = Figure(f"docker {command} (CLI) on the simulator", target=target)
        fig.labkit_s = statistics.median(times["sim"][command])
        if "real" in times:
            fig.baseline = f"docker {command} on the real engine"
            fig.baseline_s = statistics.median(times["real"][command])
        figures.append(fig)
    return figures


class _Bench:
    """The CLI against one engine: a lab app to port and restart, containers it ran to remove."""

    def __init__(self, cli: str, host: str) -> None:
        self.cli, self.host = cli, host
        self.docker = _docker(cli, host)
        self.tag = f"benchsim{uuid.uuid4().hex[:6]}"
        self.app = f"{self.tag}-myapp2"
        self.made: list[str] = []
        self.runs = 0

    def _run(self, name: str) -> None:
        publish = ["--label", self.tag, "-p", "127.0.0.1::80", LAB_IMAGE]
        self.made.append(self.docker("run", "-d", "--init", "--name", name, *publish).strip())

    def setup(self) -> None:
        self._run(self.app)

    def time(self, command: str) -> float:
        started = time.perf_counter()
        if command == "port":
            self.docker("port", self.app)
        elif command == "restart":
            self.docker("restart", self.app)
        else:
            self.runs += 1
            self._run(f"{self.tag}-run{self.runs}")
        return time.perf_counter() - started

    def cleanup(self) -> None:
        for cid in self.made:
            subprocess.run(
                [self.cli, "rm", "-f", cid],
                env={**os.environ, "DOCKER_HOST": self.host},
                capture_output=True,
                timeout=60,
            )


def _rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return fields


def _memory(pid: int, path: Path, quick: bool) -> Figure:
    """The daemon's resident memory after the course ran on it: every notebook (or, with
    --quick, the course's containers and networks made at once)."""
    before = _rss_kib(pid)
    if quick:
        _load_the_course(path)
        how = "the course's containers and networks"
    else:
        from labkit.bench import bench_notebooks

        with mock.patch.dict(os.environ, {"LABKIT_SIM_SOCKET": str(path)}):
            bench_notebooks("sim", f"benchsim{os.getpid()}")
        how = "all notebooks executed on it"
    after = _rss_kib(pid)
    fig = Figure(f"simulator daemon memory ({how})", target="<= 80 MB")
    fig.labkit_s = after.get("VmHWM", 0) / 1024  # MB, in the seconds column
    fig.extra = {
        "unit": "MB",
        "rss_at_start_mb": round(before.get("VmRSS", 0) / 1024, 1),
        "rss_now_mb": round(after.get("VmRSS", 0) / 1024, 1),
        "peak_rss_mb": round(after.get("VmHWM", 0) / 1024, 1),
    }
    return fig


def _load_the_course(path: Path) -> None:
    from labkit.engine.docker import DockerEngine
    from labkit.lab import Lab

    engine = DockerEngine(base_url=f"unix://{path}")
    lab = Lab(engine, namespace="benchcourse")
    try:
        lab.start_app("myapp2")
        lab.start_app("web", network=lab.create_network("labnet").name)
        lab.start_app("web2", network="labnet")
        lab.start_app("onhost", network="host")
        lab.start_app("nowhere", network="none")
        lab.connect("labnet", "myapp2")
        for name in ("myapp2", "web", "web2"):
            lab.restart(name)
            lab.probe(name)
            lab.exec(name, ["ip", "addr"])
        lab.networks()
    finally:
        lab.cleanup()
        engine.close()
