"""The panel in a real browser: JupyterLab on a loopback port, Chromium driven by Playwright.

Runs all cells of a small notebook that opens a RestartPanel, clicks Restart, and checks that the
host port shown changed and that the plotly figure rendered (offline, through JupyterLab's
bundled plotly extension). A first launch shows no news toast (the course's settings override),
and a saved notebook reopened after its kernel restarted shows the panel as it was, not
"Error displaying widget: model not found". Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import required, unavailable

from labkit.browser import (
    CLICK_TIMER_JS,
    BrowserUnavailable,
    JupyterLab,
    chromium_page,
    left_ms,
    notebook_json,
    open_notebook,
    run_all_cells,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
HISTORY_ROWS = ".labkit-panel table.labkit-history tr[data-host-port]"
ROWS_AT_LEAST = f"n => document.querySelectorAll('{HISTORY_ROWS}').length >= n"
BUDGET_S = 110  # the whole test, JupyterLab start to the reopened notebook


def _panel_cell(namespace: str) -> str:
    # One cell: if JupyterLab drops an early execute request, nothing half-ran and a retry is safe.
    return (
        "from labkit.notebook import RestartPanel, start\n"
        f"lab = start(namespace={namespace!r})\n"
        "lab.start_app('myapp2')\n"
        "panel = RestartPanel(lab, 'myapp2')\n"
        "panel"
    )


def _history_ports(page) -> list[str]:
    return page.eval_on_selector_all(HISTORY_ROWS, "rows => rows.map(r => r.dataset.hostPort)")


def _restart_kernel(jl: JupyterLab) -> None:
    [kernel] = jl.api("kernels")
    request = urllib.request.Request(jl.url(f"api/kernels/{kernel['id']}/restart"), method="POST")
    urllib.request.urlopen(request, timeout=30).read()


def test_restart_panel_in_jupyterlab(tmp_path):
    deadline = time.monotonic() + BUDGET_S
    engine = "docker" if required("docker") else "sim"
    namespace = f"vis-browser-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "lab"
    root.mkdir()
    (root / "panel.ipynb").write_text(json.dumps(notebook_json(_panel_cell(namespace))))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = None
    try:
        with JupyterLab(root, env={"LABKIT_ENGINE": engine}) as jl, chromium_page() as page:
            try:
                open_notebook(page, jl, "panel.ipynb", deadline)
                # A first launch (fresh user settings): no "news?" toast over the notebook.
                page.wait_for_timeout(1500)
                toasts = [t.inner_text() for t in page.query_selector_all(".Toastify__toast")]
                assert not toasts, toasts

                run_all_cells(page, deadline)
                panel = page.wait_for_selector(".labkit-panel", timeout=left_ms(deadline, 40))
                page.wait_for_function(ROWS_AT_LEAST, arg=1, timeout=left_ms(deadline, 20))
                page.wait_for_selector(
                    ".labkit-panel .js-plotly-plot .main-svg", timeout=left_ms(deadline, 20)
                )
                [first] = _history_ports(page)
                assert re.fullmatch(r"\d+", first), first
                assert f">{first}<" in page.inner_html(".labkit-panel table.labkit-ports")

                timed = page.evaluate(CLICK_TIMER_JS)  # a real click event, timed in the page
                ports = _history_ports(page)
                assert len(ports) == 2 and ports[1] != ports[0] == first, ports
                assert timed["port"] == ports[1]
                assert f">{ports[1]}<" in page.inner_html(".labkit-panel table.labkit-ports")
                assert not page.query_selector(".labkit-panel .labkit-error")

                # The figure is a real plotly render, showing the moved port struck through.
                svg = page.inner_html(".labkit-panel .js-plotly-plot .main-svg")
                assert "myapp2" in svg and ports[1] in svg and ports[0] in svg
                assert page.query_selector(
                    ".labkit-panel .js-plotly-plot text[data-unformatted*='<s>']"
                )
                assert "published port" in svg  # the legend
                # Offline: no plotly CDN script was ever requested.
                assert not page.query_selector("script[src*='cdn.plot.ly']")

                panel.scroll_into_view_if_needed()
                panel.screenshot(path=str(ARTIFACTS / f"restart-panel-{engine}.png"))
                page.screenshot(path=str(ARTIFACTS / f"jupyterlab-{engine}.png"))
                print(
                    "restart click to updated panel, in the browser: "
                    f"text {timed['text_ms'] / 1000:.2f} s, diagram {timed['figure_ms'] / 1000:.2f} s"
                    " (the ratio to the engine's own restart + probe is `make bench`'s)"
                )

                # Saved, kernel restarted (a culled hub server, Kernel ▸ Restart), reopened:
                # the panel as it was, with a note, never "model not found".
                page.keyboard.press("Control+s")
                page.wait_for_function(
                    "() => !document.querySelector('.jp-mod-dirty')", timeout=left_ms(deadline, 10)
                )
                _restart_kernel(jl)
                page.reload()
                page.wait_for_selector(".labkit-panel", timeout=left_ms(deadline, 30))
                page.wait_for_function(ROWS_AT_LEAST, arg=2, timeout=left_ms(deadline, 10))
                assert "model not found" not in page.inner_text(".jp-Notebook")
                assert _history_ports(page) == ports
                assert page.query_selector(".labkit-panel .labkit-record-note")
                page.screenshot(path=str(ARTIFACTS / f"reopened-{engine}.png"))
            except Exception:
                page.screenshot(path=str(ARTIFACTS / f"failure-{engine}.png"))
                raise
    except BrowserUnavailable as exc:
        unavailable("browser", str(exc))
    finally:
        if engine == "docker":
            from labkit.engine.docker import DockerEngine
            from labkit.lab import Lab

            Lab(DockerEngine(), namespace=namespace).cleanup()
