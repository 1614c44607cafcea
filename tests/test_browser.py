"""The panel in a real browser: JupyterLab on a loopback port, Chromium driven by Playwright.

Runs all cells of a small notebook that opens a RestartPanel, clicks Restart, and checks that the
host port shown changed and that the plotly figure rendered (offline, through JupyterLab's
bundled plotly extension). Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import required, unavailable

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
HISTORY_ROWS = ".labkit-panel table.labkit-history tr[data-host-port]"
ROWS_AT_LEAST = f"n => document.querySelectorAll('{HISTORY_ROWS}').length >= n"
BUDGET_S = 85  # the whole test, JupyterLab start to screenshot


def _notebook(namespace: str) -> dict:
    # One cell: if JupyterLab drops an early execute request, nothing half-ran and a retry is safe.
    source = (
        "from labkit.notebook import RestartPanel, start\n"
        f"lab = start(namespace={namespace!r})\n"
        "lab.start_app('myapp2')\n"
        "panel = RestartPanel(lab, 'myapp2')\n"
        "panel"
    )
    cell = {"cell_type": "code", "id": "panel", "metadata": {}, "source": source, "outputs": []}
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [{**cell, "execution_count": None}],
    }


def _wait_kernel_connected(api: str, deadline: float) -> None:
    """The browser's kernel websocket is up: before that, JupyterLab may drop an execute."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(api, timeout=1) as reply:
                kernels = json.load(reply)
            if any(
                k.get("connections", 0) >= 1 and k.get("execution_state") == "idle" for k in kernels
            ):
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("the notebook's kernel did not start and connect in time")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, deadline: float, server: subprocess.Popen, log: Path) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            pytest.fail(f"JupyterLab exited with code {server.returncode}: " + " | ".join(tail))
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail("JupyterLab did not answer within its time budget")


def _stop(server: subprocess.Popen) -> None:
    # The server and its kernel are in a process group of their own that this test started.
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _history_ports(page) -> list[str]:
    return page.eval_on_selector_all(HISTORY_ROWS, "rows => rows.map(r => r.dataset.hostPort)")


def test_restart_panel_in_jupyterlab(tmp_path):
    started = time.monotonic()
    deadline = started + BUDGET_S
    if not Path(CHROMIUM).exists():
        unavailable("browser", f"{CHROMIUM} is missing (install Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("browser", "Python Playwright is not installed (pip install playwright)")

    engine = "docker" if required("docker") else "sim"
    namespace = f"vis-browser-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "lab"
    root.mkdir()
    (root / "panel.ipynb").write_text(json.dumps(_notebook(namespace)))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "LABKIT_ENGINE": engine,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(_settings(tmp_path / "settings")),
    }
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [
        str(jupyter) if jupyter.exists() else shutil.which("jupyter") or "jupyter",
        "lab", "--no-browser", f"--port={port}", f"--ServerApp.token={token}",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI containers run as root; JupyterLab refuses that unless told
        cmd.append("--allow-root")
    logfile = tmp_path / "jupyter.log"
    log = open(logfile, "wb")
    server = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = None
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(
            f"{base}/api/status?token={token}",
            min(deadline, time.monotonic() + 40),
            server,
            logfile,
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=20_000
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1700})
                page.set_default_timeout(20_000)
                page.goto(f"{base}/lab/tree/panel.ipynb?token={token}", timeout=30_000)
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=30_000)
                page.wait_for_selector(
                    ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=30_000
                )

                _wait_kernel_connected(f"{base}/api/kernels?token={token}", deadline)
                _run_all_cells(page, deadline)

                panel = page.wait_for_selector(".labkit-panel", timeout=_left(deadline, 40))
                page.wait_for_function(ROWS_AT_LEAST, arg=1, timeout=_left(deadline, 20))
                page.wait_for_selector(
                    ".labkit-panel .js-plotly-plot .main-svg", timeout=_left(deadline, 20)
                )
                [first] = _history_ports(page)
                assert re.fullmatch(r"\d+", first), first
                assert f">{first}<" in page.inner_html(".labkit-panel table.labkit-ports")

                clicked = time.monotonic()
                page.click(".labkit-panel button:has-text('Restart')")
                page.wait_for_function(ROWS_AT_LEAST, arg=2, timeout=_left(deadline, 30))
                shown_after_s = time.monotonic() - clicked
                ports = _history_ports(page)
                assert len(ports) == 2 and ports[1] != ports[0], ports
                assert f">{ports[1]}<" in page.inner_html(".labkit-panel table.labkit-ports")
                assert not page.query_selector(".labkit-panel .labkit-error")

                # The figure is a real plotly render, showing the moved port struck through.
                svg = page.inner_html(".labkit-panel .js-plotly-plot .main-svg")
                assert "myapp2" in svg and ports[1] in svg and ports[0] in svg
                assert page.query_selector(
                    ".labkit-panel .js-plotly-plot text[data-unformatted*='<s>']"
                )
                # Offline: no plotly CDN script was ever requested.
                assert not page.query_selector("script[src*='cdn.plot.ly']")

                panel.scroll_into_view_if_needed()
                panel.screenshot(path=str(ARTIFACTS / f"restart-panel-{engine}.png"))
                page.screenshot(path=str(ARTIFACTS / f"jupyterlab-{engine}.png"))
                print(f"restart click to updated panel, in the browser: {shown_after_s:.2f} s")
            except Exception:
                if page is not None:  # what the browser showed when it went wrong
                    page.screenshot(path=str(ARTIFACTS / f"failure-{engine}.png"))
                raise
            finally:
                browser.close()
    finally:
        _stop(server)
        log.close()
        if engine == "docker":
            from labkit.engine.docker import DockerEngine
            from labkit.lab import Lab

            Lab(DockerEngine(), namespace=namespace).cleanup()


def _settings(folder: Path) -> Path:
    # Answer JupyterLab's "notified about news?" question up front: its toast covers the panel.
    path = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"fetchNews": "false"}))
    return folder


def _run_all_cells(page, deadline: float) -> None:
    """Run ▸ Run All Cells, as a student would. A click that lands before the kernel's session is
    wired up runs nothing, so look for the first code cell's prompt to change and try again
    (bounded). Markdown cells keep an empty prompt, so they are not looked at."""
    first_prompt = ".jp-CodeCell .jp-InputPrompt"  # querySelector: the first code cell
    for _ in range(5):
        try:
            # Now and then JupyterLab asks which kernel to start though the notebook names one.
            dialog = page.query_selector(".jp-Dialog:has-text('Select Kernel') .jp-mod-accept")
            if dialog is not None:
                dialog.click(timeout=3_000)
            page.click("li.lm-MenuBar-item:has-text('Run')", timeout=3_000)
            page.click(".lm-Menu-item:has-text('Run All Cells') >> nth=0", timeout=3_000)
            page.wait_for_function(
                f"() => /\\[(\\*|\\d+)\\]/"
                f".test(document.querySelector('{first_prompt}').innerText)",
                timeout=_left(deadline, 5),
            )
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: look again, bounded
            page.keyboard.press("Escape")  # close a menu left open
    pytest.fail("Run All Cells did not start the notebook's cells")


def _left(deadline: float, cap_s: float) -> float:
    """Milliseconds Playwright may wait: the smaller of ``cap_s`` and what the budget leaves."""
    return max(1.0, min(cap_s, deadline - time.monotonic())) * 1000
