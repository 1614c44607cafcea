"""``labkit bench``: labkit's speed as ratios against baselines measured in the same run.

Baselines are the docker CLI and naive use of the Docker SDK, on the same engine, the same
containers, the same minute. Every figure is a median over repeats. Nothing here asserts a
timing: the table and JSON are for people to read (and for the closing notes of the team).

A benchmark may be killed (a CI time-out, Ctrl-C): SIGTERM and SIGINT end it through its
``finally``, which removes its containers; and every run first removes what an earlier run left
when it was killed outright (SIGKILL), found by its labels (``labkit.lab.sweep_dead_runs``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from unittest import mock

from labkit.connect import choose
from labkit.lab import Lab, run_namespace, sweep_dead_runs

__all__ = ["main", "Figure"]


@dataclass
class Figure:
    name: str
    labkit_s: float | None = None
    baseline: str = ""
    baseline_s: float | None = None
    target: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.labkit_s is None or not self.baseline_s:
            return None
        return self.labkit_s / self.baseline_s


def median_time(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _cli(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def bench_restart(lab: Lab, repeats: int, real: bool) -> Figure:
    app = lab.start_app("bench-restart")
    fig = Figure("restart + ports + probe both ways (lab app)", target="ratio <= 1.0")
    fig.labkit_s = median_time(
        lambda: (lab.restart("bench-restart"), lab.probe("bench-restart")), repeats
    )
    if real and shutil.which("docker"):

        def cli_round() -> None:
            _cli("restart", app.name)
            port = _cli("port", app.name, "80").splitlines()[0].rsplit(":", 1)[1]
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()

        fig.baseline, fig.baseline_s = (
            "docker restart + docker port + one GET (CLI)",
            median_time(cli_round, repeats),
        )
    return fig


def bench_browser_click(engine_kind: str, clicks: int) -> Figure | None:
    """Restart click to updated panel, in JupyterLab in Chromium, as a ratio to labkit's own
    restart + probe on the same engine, measured in the same minute: one baseline round before
    each click, so a busy machine slows both alike. Timed in the page from the click event to
    the new history row (the panel's text) and to the redrawn diagram showing the new port;
    the ratio is the later of the two. None where there is no Chromium or Playwright."""
    from labkit.browser import (
        CLICK_TIMER_JS,
        BrowserUnavailable,
        JupyterLab,
        chromium_page,
        notebook_json,
        open_notebook,
        run_all_cells,
    )

    namespace = f"benchclick{uuid.uuid4().hex[:6]}"
    cell = (
        "from labkit.notebook import RestartPanel, start\n"
        f"lab = start(namespace={namespace!r})\n"
        "lab.start_app('myapp2')\n"
        "panel = RestartPanel(lab, 'myapp2')\n"
        "panel"
    )
    engine, _ = choose() if engine_kind == "docker" else (None, "")
    if engine is None:
        from labkit.engine.sim import SimulatedEngine

        engine = SimulatedEngine(reason="benchmark")  # the kernel's engine is another, alike
    base = Lab(engine, namespace=f"{namespace}b")
    base.start_app("myapp2")
    clicked: list[dict] = []
    rounds: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lab"
        root.mkdir()
        (root / "panel.ipynb").write_text(json.dumps(notebook_json(cell)))
        try:
            with (
                JupyterLab(root, env={"LABKIT_ENGINE": engine_kind}) as jl,
                chromium_page() as page,
            ):
                deadline = time.monotonic() + 120
                open_notebook(page, jl, "panel.ipynb", deadline)
                run_all_cells(page, deadline)
                page.wait_for_selector(".labkit-panel .js-plotly-plot .main-svg", timeout=60_000)
                page.evaluate(CLICK_TIMER_JS)  # a first click warms the browser's renderers
                for _ in range(clicks):
                    rounds.append(
                        median_time(lambda: (base.restart("myapp2"), base.probe("myapp2")), 1)
                    )
                    clicked.append(page.evaluate(CLICK_TIMER_JS))
        except BrowserUnavailable as exc:
            print(f"browser click: skipped ({exc})")
            return None
        except Exception as exc:  # noqa: BLE001 - Playwright's errors too: a benchmark reports
            # A machine too busy to start JupyterLab in time: say so, keep the other figures.
            print(f"browser click: not measured ({type(exc).__name__}: {exc})")
            return None
        finally:
            base.cleanup()
            Lab(engine, namespace=namespace).cleanup()
    text_s = statistics.median(c["text_ms"] for c in clicked) / 1000
    figure_s = statistics.median(c["figure_ms"] for c in clicked) / 1000
    return Figure(
        f"browser: restart click to updated panel ({engine_kind})",
        labkit_s=figure_s,
        baseline="labkit's own restart + probe, same engine, interleaved",
        baseline_s=statistics.median(rounds),
        target="ratio <= 1.2",
        extra={
            "clicks": clicks,
            "text_updated_s": _round(text_s),
            "text_ratio": round(text_s / statistics.median(rounds), 3),
        },
    )


def bench_port_tables(lab: Lab, sizes: list[int], repeats: int, real: bool) -> list[Figure]:
    from labkit.notebook.tables import port_table

    figures, running = [], 0
    for n in sizes:
        for i in range(running, n):
            lab.start_app(f"bench-{i:03d}")
        running = n
        names = [c.name for c in lab.containers() if c.name.startswith(lab.name("bench-"))]
        labkit_s = median_time(lambda: port_table(lab.containers()), repeats)
        fig = Figure(
            f"port table of {n} containers",
            labkit_s=labkit_s,
            target=">= 20x vs CLI, >= 5x vs reloads at 100",
        )
        if real and shutil.which("docker"):
            fig.baseline = "docker port, once per container (CLI)"
            fig.baseline_s = median_time(partial(_cli_each, "port", names), max(1, repeats // 2))
            fig.extra["sdk_reload_each_s"] = _round(
                median_time(partial(_sdk_reload_each, names), repeats)
            )
            fig.extra["speedup_vs_cli"] = round(fig.baseline_s / labkit_s, 1)
            fig.extra["speedup_vs_sdk_reloads"] = round(
                fig.extra["sdk_reload_each_s"] / labkit_s, 1
            )
        figures.append(fig)
    return figures


def _round(seconds: float) -> float:
    return round(seconds, 4)


def _cli_each(command: str, names: list[str]) -> list[str]:
    return [_cli(command, name) for name in names]


def _sdk_reload_each(names: list[str]) -> list:
    import docker  # the naive baseline: what a first attempt with the SDK looks like

    client = docker.from_env()
    ports = []
    for name in names:
        c = client.containers.get(name)
        c.reload()
        ports.append(c.attrs["NetworkSettings"]["Ports"])
    client.close()
    return ports


def bench_import(repeats: int) -> Figure:
    def run(code: str) -> Callable[[], object]:
        return lambda: subprocess.run([sys.executable, "-c", code], check=True)

    fig = Figure("import labkit", target="under 0.2 s more than python -c pass")
    fig.labkit_s = median_time(run("import labkit"), repeats)
    fig.baseline, fig.baseline_s = "python -c pass", median_time(run("pass"), repeats)
    fig.extra["extra_s"] = round(fig.labkit_s - fig.baseline_s, 4)
    return fig


def bench_topology(sizes: list[int], repeats: int) -> list[Figure]:
    """Figures built from real snapshots of a simulated lab spread over up to 10 networks."""
    from labkit.engine.sim import SimulatedEngine
    from labkit.notebook.topology import snapshot, topology_figure

    figures = []
    for n in sizes:
        engine = SimulatedEngine(reason="benchmark")
        lab = Lab(engine, namespace="bench")
        nets = [lab.create_network(f"net{i}").name for i in range(min(10, max(1, n // 20)))]
        for i in range(n):
            lab.start_app(f"c{i:03d}", network=nets[i % len(nets)])
        snap = snapshot(lab)
        seconds = median_time(partial(topology_figure, snap), repeats)
        size = len(topology_figure(snap).to_json())
        engine.close()
        figures.append(
            Figure(
                f"topology figure, {n} containers / {len(nets)} networks",
                labkit_s=seconds,
                target="< 0.3 s at 200; JSON < 1 MB",
                extra={"json_bytes": size},
            )
        )
    return figures


def bench_sim_cycles(cycles: int) -> Figure:
    from labkit.engine.base import LAB_IMAGE
    from labkit.engine.sim import SimulatedEngine

    engine = SimulatedEngine(reason="benchmark")
    started = time.perf_counter()
    for i in range(cycles):
        name = f"cycle{i}"
        engine.run(LAB_IMAGE, name=name, ports={"80/tcp": None})
        engine.restart(name)
        engine.remove(name)
    seconds = time.perf_counter() - started
    engine.close()
    return Figure(
        f"simulated engine: {cycles} run+restart cycles",
        labkit_s=seconds,
        target="about a second per 1,000",
    )


def bench_notebooks(engine_kind: str, namespace: str) -> Figure | None:
    notebooks = sorted(Path("notebooks").glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        return None

    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    # The kernels inherit this process's environment: point them at the engine to measure.
    kernel_env = {"LABKIT_ENGINE": engine_kind, "LABKIT_NAMESPACE": namespace}
    started = time.perf_counter()
    # Kernels talk over Unix sockets in a folder of their own: over TCP each one prints a
    # warning about unencrypted traffic that buries the table.
    with mock.patch.dict(os.environ, kernel_env), tempfile.TemporaryDirectory() as sockets:
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            kernel = KernelManager(
                kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel")
            )
            try:
                NotebookClient(
                    nb, km=kernel, timeout=300, resources={"metadata": {"path": "notebooks"}}
                ).execute()
            finally:  # a kernel manager handed in is ours to shut down, not nbclient's
                if kernel.has_kernel:
                    kernel.shutdown_kernel(now=True)
    target = "sim < 30 s" if engine_kind == "sim" else "real engine < 90 s"
    return Figure(
        f"all {len(notebooks)} notebooks executed ({engine_kind})",
        labkit_s=time.perf_counter() - started,
        target=target,
    )


def _simulator_figures(repeats: int, quick: bool, real: bool) -> list[Figure]:
    """The simulator daemon's figures (labkit.bench_sim): CLI ratios against the real engine."""
    from labkit.bench_sim import bench_simulator

    real_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock") if real else None
    return bench_simulator(repeats, quick=quick, real_host=real_host)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="labkit bench")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small N, few repeats: keeps the benchmark working in CI",
    )
    parser.add_argument("--json", default="bench-results/bench.json")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    sizes = [5, 10] if args.quick else [10, 100, 300]
    # SIGTERM (a time-out's kill) ends the run as Ctrl-C does: through the finally below.
    previous = signal.signal(signal.SIGTERM, _interrupt)  # main thread: the CLI's
    engine, why = choose()
    real = not engine.info().simulated
    print(
        f"labkit bench on {engine.info().description} ({why}){'' if real else ' — no CLI baselines on the simulator'}"
    )
    left = sweep_dead_runs(engine, "bench")
    if left.containers or left.networks:
        print(f"Removed what a killed benchmark left: {left}")
    lab = Lab(engine, namespace=run_namespace("bench"))
    figures: list[Figure] = []
    try:
        figures.append(bench_restart(lab, repeats, real))
        figures += bench_port_tables(lab, sizes, repeats, real)
        lab.cleanup()
        figures.append(bench_import(repeats))
        figures += bench_topology([10, 100, 200] if not args.quick else [10, 50], repeats)
        figures.append(bench_sim_cycles(100 if args.quick else 1000))
        figures += _simulator_figures(repeats, args.quick, real)
        click = bench_browser_click("docker" if real else "sim", 3 if args.quick else 7)
        if click:
            figures.append(click)
        if not args.quick:
            for kind in ["sim", "docker"] if real else ["sim"]:
                nb = bench_notebooks(kind, lab.namespace)
                if nb:
                    figures.append(nb)
    except KeyboardInterrupt:
        print("\nlabkit bench: interrupted; removing its containers", file=sys.stderr)
        return 130
    finally:
        # Every session in the benchmark's namespace: its own and the notebooks' kernels'.
        lab.cleanup()
        signal.signal(signal.SIGTERM, previous)
    _print(figures)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "engine": engine.info().description,
                "quick": args.quick,
                "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print(figures: list[Figure]) -> None:
    print(f"\n{'figure':<48} {'labkit':>9} {'baseline':>9} {'ratio':>7}  baseline / notes")
    for f in figures:
        base = f"{f.baseline_s:9.4f}" if f.baseline_s else f"{'—':>9}"
        ratio = f"{f.ratio:7.3f}" if f.ratio is not None else f"{'—':>7}"
        notes = ", ".join(f"{k}={v}" for k, v in f.extra.items())
        print(
            f"{f.name:<48} {f.labkit_s:9.4f} {base} {ratio}  {f.baseline or ''}{' · ' if f.baseline and notes else ''}{notes}  [{f.target}]"
        )


if __name__ == "__main__":
    raise SystemExit(main())
