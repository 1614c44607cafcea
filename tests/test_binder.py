"""The Binder environment, rebuilt from binder/ alone: a fresh venv, binder/requirements.txt,
binder/postBuild, no Docker engine reachable — and every notebook runs there, on the simulator.

Slow (it installs JupyterLab and friends; pip may use its local cache). Time-bounded throughout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from test_notebooks import NOTEBOOKS, assert_clean_run, load, prepared

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"

_EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    folder = str(__import__("pathlib").Path(path).parent)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
    nbformat.write(nb, path)
    print("executed", path, flush=True)
"""


def test_binder_files_are_what_repo2docker_needs():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    post = (BINDER / "postBuild").read_text()
    assert post.startswith("#!/bin/bash") and "set -euo pipefail" in post and "pip install" in post
    assert os.access(BINDER / "postBuild", os.X_OK)
    pins = [
        line
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pins and all("==" in line for line in pins), pins
    names = {line.split("==")[0].lower().replace("_", "-") for line in pins}
    assert {
        "docker",
        "pandas",
        "plotly",
        "ipywidgets",
        "anywidget",
        "jupyterlab",
        "jupyter-server-proxy",
    } <= names


@pytest.mark.slow
def test_a_fresh_binder_environment_runs_every_notebook(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LABKIT_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        DOCKER_HOST="unix:///nonexistent.sock",  # no engine reachable, as on Binder
        LABKIT_NAMESPACE=f"nbtest-{uuid.uuid4().hex[:8]}",
    )

    def run(*args: str, timeout: int, cwd: Path = ROOT) -> str:
        done = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, (
            f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done.stdout

    run(
        str(bindir / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "-r",
        str(BINDER / "requirements.txt"),
        timeout=900,
    )
    # postBuild runs from the repository root, as repo2docker runs it; copy the tree so the
    # build leaves nothing behind in the checkout.
    src = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist"
        ),
    )
    run("bash", str(src / "binder" / "postBuild"), timeout=300, cwd=src)
    where = run(
        str(bindir / "python"),
        "-c",
        "import labkit, json; print(json.dumps(labkit.__file__))",
        timeout=60,
        cwd=tmp_path,
    )
    assert str(venv) in json.loads(where), f"labkit was not installed into the Binder venv: {where}"

    # binder/start, as repo2docker runs it before the server: the simulated engine, and its
    # DOCKER_HOST for everything the server starts (kernels, terminals).
    env["LABKIT_SIM_SOCKET"] = str(tmp_path / "sim" / "sim.sock")
    started = run("bash", str(src / "binder" / "start"), "env", timeout=60, cwd=src)
    try:
        docker_host = next(
            line.split("=", 1)[1]
            for line in started.splitlines()
            if line.startswith("DOCKER_HOST=")
        )
        assert docker_host == f"unix://{tmp_path / 'sim' / 'sim.sock'}", docker_host
        env["DOCKER_HOST"] = docker_host
        if shutil.which("docker"):  # the lab text's first command, typed in a terminal
            typed = run(
                "docker", "run", "-d", "--name", "binder-typed", "labkit/lab-app:1", timeout=60
            )
            assert len(typed.strip()) == 64, typed
            run("docker", "rm", "-f", "binder-typed", timeout=60)

        work = tmp_path / "notebooks"
        work.mkdir()
        paths = []
        for path in NOTEBOOKS:
            target = work / path.name
            nbformat.write(prepared(load(path)), target)
            paths.append(str(target))
        run(str(bindir / "python"), "-c", _EXECUTE, *paths, timeout=600, cwd=work)
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            assert_clean_run(nb, Path(path).name)
            banner = "".join(
                str(o.get("data", {}).get("text/html", "")) for o in nb.cells[1].outputs
            )
            assert "SIMULATED ENGINE" in banner and "simulated engine" in banner, banner
    finally:
        run(str(bindir / "labkit"), "sim", "stop", timeout=60)
