"""The course's JupyterLab settings override, installed with labkit into the environment.

It turns off the first launch's "news?" toast (it covers the notebook) and the update check, and
has JupyterLab save widget state, so that a saved notebook reopened after its kernel stopped
shows the panel as it was instead of "Error displaying widget: model not found".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "labkit" / "jupyter" / "overrides.json"
INSTALLED = (
    Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "labkit.json"
)
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
WIDGETS = "@jupyter-widgets/jupyterlab-manager:plugin"


def test_the_override_says_what_the_course_needs():
    settings = json.loads(SOURCE.read_text())
    assert settings[NOTIFICATION] == {"fetchNews": "false", "checkForUpdates": False}
    assert settings[WIDGETS] == {"saveState": True}


def test_the_package_installs_it_into_jupyterlabs_settings_folder():
    shared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["shared-data"]
    assert shared == {
        "labkit/jupyter/overrides.json": "share/jupyter/lab/settings/overrides.d/labkit.json"
    }
    assert INSTALLED.exists(), f"{INSTALLED} is missing: reinstall labkit (make)"
    assert json.loads(INSTALLED.read_text()) == json.loads(SOURCE.read_text())


@pytest.mark.timeout(90)
def test_jupyterlab_serves_the_course_settings(tmp_path):
    """A JupyterLab of this environment, with a fresh user settings folder, applies them."""
    from labkit.browser import JupyterLab

    root = tmp_path / "lab"
    root.mkdir()
    with JupyterLab(root) as jl:
        import urllib.request

        for plugin, key, value in (
            (NOTIFICATION, "fetchNews", "false"),
            (NOTIFICATION, "checkForUpdates", False),
            (WIDGETS, "saveState", True),
        ):
            with urllib.request.urlopen(jl.url(f"lab/api/settings/{plugin}"), timeout=10) as r:
                served = json.load(r)
            # The override becomes the schema's default; no user setting says otherwise.
            default = served["schema"]["properties"][key]["default"]
            assert default == value, (plugin, key, default)
            assert key not in served["settings"]
