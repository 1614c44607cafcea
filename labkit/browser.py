"""JupyterLab on a loopback port and Chromium driven by Playwright: what the browser test and
``labkit bench`` both use to see the course as a student does.

Chromium is Debian's (``/usr/bin/chromium``), never a browser Playwright downloads. JupyterLab
runs in a process group of its own with its own runtime, config and workspace folders, so
nothing of the user's JupyterLab is read or changed; the course's settings override (installed
with labkit into the environment) applies as it does for a student.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "JupyterLab",
    "chromium_page",
    "run_all_cells",
    "open_notebook",
    "left_ms",
    "notebook_json",
    "BrowserUnavailable",
    "CLICK_TIMER_JS",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright here: the caller skips (or fails, in CI)."""


def notebook_json(*sources: str) -> dict:
    """A notebook of code cells, stored without outputs."""
    cells: list[dict] = [
        {
            "cell_type": "code",
            "id": f"cell{i}",
            "metadata": {},
            "source": src,
            "outputs": [],
            "execution_count": None,
        }
        for i, src in enumerate(sources)
    ]
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": cells,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """``with JupyterLab(folder, env={...}) as jl: page.goto(jl.url("lab/tree/x.ipynb"))``."""

    def __init__(self, root: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        state = self.root.parent / f".{self.root.name}-jupyter"
        self.env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
            "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
            "JUPYTER_CONFIG_DIR": str(state / "config"),
            # A fresh user settings folder: what a student's first launch sees.
            "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
            **dict(env or {}),
        }
        self.env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
        self.log_path = state / "jupyter.log"
        self._server: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(self.url(f"api/{path}"), timeout=5) as reply:
            return json.load(reply)

    def start(self, timeout: float = 60.0) -> None:
        jupyter = Path(sys.executable).with_name("jupyter")
        cmd = [
            str(jupyter) if jupyter.exists() else shutil.which("jupyter") or "jupyter",
            "lab", "--no-browser", f"--port={self.port}", f"--ServerApp.token={self.token}",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.port_retries=0",
        ]  # fmt: skip
        if os.geteuid() == 0:  # CI containers run as root; JupyterLab refuses that unless told
            cmd.append("--allow-root")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the server writes it until stop()
        self._server = subprocess.Popen(
            cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(
                    f"JupyterLab exited with code {self._server.returncode}: " + " | ".join(tail)
                )
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:g} s")

    def stop(self) -> None:
        # The server and its kernels are in a process group of their own that start() made.
        server, self._server = self._server, None
        if server is None:
            return
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

    def wait_kernel_connected(self, deadline: float) -> None:
        """The browser's kernel websocket is up: before that, JupyterLab may drop an execute."""
        while time.monotonic() < deadline:
            try:
                kernels = self.api("kernels")
                if any(
                    k.get("connections", 0) >= 1 and k.get("execution_state") == "idle"
                    for k in kernels
                ):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the notebook's kernel did not start and connect in time")

    def __enter__(self) -> JupyterLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def chromium_page(viewport: tuple[int, int] = (1400, 1700)) -> Iterator[Any]:
    """A fresh page in Debian's headless Chromium; raises BrowserUnavailable if there is none."""
    if not Path(CHROMIUM).exists():
        raise BrowserUnavailable(f"{CHROMIUM} is missing (install Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable(
            "Python Playwright is not installed (pip install playwright)"
        ) from exc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=20_000)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def open_notebook(page: Any, jl: JupyterLab, name: str, deadline: float) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle and connected."""
    page.goto(jl.url(f"lab/tree/{name}"), timeout=30_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=30_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=30_000)
    jl.wait_kernel_connected(deadline)


def run_all_cells(page: Any, deadline: float) -> None:
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
                timeout=left_ms(deadline, 5),
            )
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: look again, bounded
            page.keyboard.press("Escape")  # close a menu left open
    raise TimeoutError("Run All Cells did not start the notebook's cells")


def left_ms(deadline: float, cap_s: float) -> float:
    """Milliseconds Playwright may wait: the smaller of ``cap_s`` and what the budget leaves."""
    return max(1.0, min(cap_s, deadline - time.monotonic())) * 1000


# In the page: time one Restart click to the panel's updated text (a new history row) and to
# its redrawn diagram (a new plotly plot whose SVG shows the new port), with the page's own
# clock, from the click event itself. Resolves to {text_ms, figure_ms, port}.
CLICK_TIMER_JS = """
() => new Promise((resolve, reject) => {
  const panel = document.querySelector('.labkit-panel');
  const rows = () => panel.querySelectorAll('table.labkit-history tr[data-host-port]');
  const before = rows().length;
  const oldPlot = panel.querySelector('.js-plotly-plot');
  const button = [...panel.querySelectorAll('button')].find(b => b.textContent.includes('Restart'));
  let clicked = null, text = null, port = null;
  const look = () => {
    const now = performance.now();
    if (clicked === null) return;
    if (text === null && rows().length > before) {
      text = now - clicked;
      port = rows()[rows().length - 1].dataset.hostPort;
    }
    const plot = panel.querySelector('.js-plotly-plot');
    if (text !== null && plot && plot !== oldPlot) {
      const svg = plot.querySelector('.main-svg');
      if (svg && svg.innerHTML.includes(port)) {
        observer.disconnect();
        resolve({text_ms: text, figure_ms: now - clicked, port: port});
      }
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(panel, {subtree: true, childList: true, characterData: true, attributes: true});
  button.addEventListener('click', () => { clicked = performance.now(); }, {capture: true, once: true});
  setTimeout(() => { observer.disconnect(); reject(new Error('no update within 20 s')); }, 20000);
  button.click();
})
"""
