"""``make check``: a student's install check, under a minute. Not the course's test suite (that is
``make test``, CI's); just what a fresh install needs to run the course on this machine:

1. labkit imports, and ``import labkit`` stays light;
2. the engine the course will use answers, and runs the lab's first steps (run, publish, probe,
   restart, probe again, clean up) with the app answering both ways where the machine allows;
3. JupyterLab has the course's settings (no news toast, widget state kept);
4. a kernel of this environment runs the first notebook top to bottom.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_labkit_imports_and_stays_light():
    code = (
        "import sys, labkit; "
        "print(' '.join(m for m in ('docker', 'pandas', 'plotly', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_lab_runs_on_the_engine_the_course_will_use():
    from labkit.connect import choose
    from labkit.lab import Lab

    engine, why = choose()
    lab = Lab(engine, namespace=f"check-{uuid.uuid4().hex[:8]}")
    try:
        app = lab.start_app("myapp2")
        old = app.port(80).host_port
        before = lab.probe("myapp2")
        app = lab.restart("myapp2")
        after = lab.probe("myapp2")
        info = engine.info()
        where = f"{info.description} ({why})"
        assert before[0].ok and after[0].ok, f"the app did not answer via its host port on {where}"
        assert app.port(80).host_port != old, "the published port did not move on restart"
        if info.bridge_reachable:
            assert after[1].ok, f"the bridge IP did not answer on {where}"
        print(f"engine: {where}; host port {old} → {app.port(80).host_port}")
    finally:
        lab.cleanup()
        engine.close()


def test_jupyterlab_has_the_course_settings():
    installed = Path(
        sys.prefix, "share", "jupyter", "lab", "settings", "overrides.d", "labkit.json"
    )
    assert installed.exists(), "the course's JupyterLab settings are missing: run `make` again"
    settings = json.loads(installed.read_text())
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@pytest.mark.timeout(60)
def test_the_first_notebook_runs_in_a_kernel_of_this_environment(monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LABKIT_NAMESPACE", f"check-{uuid.uuid4().hex[:8]}")
    nb = nbformat.read(REPO / "notebooks" / "00-start-here.ipynb", as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=45, resources={"metadata": {"path": "notebooks"}}
    ).execute()
    shown = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "labkit-banner" in shown and "Traceback" not in shown
