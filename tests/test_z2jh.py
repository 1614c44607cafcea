"""The Zero to JupyterHub configuration in deploy/z2jh: its shape, and what it promises a class.

The chart (and its values.schema.json) is published on JupyterHub's Helm repository, not in any
package registry this project reaches, so the full check runs only when a chart is at hand:
``LABKIT_Z2JH_CHART=/path/to/jupyterhub`` (an unpacked chart, e.g. ``helm pull --untar``, or the
chart folder of the zero-to-jupyterhub-k8s repository), and is skipped with that reason
otherwise. Always checked here: the files load, every key is one the chart documents (the list
below, read from chart 4.x's values.schema.yaml), and the values keep labkit's promises: the
start command, a simulated engine by default, memory above the benchmark's figure, culling
longer than the course.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "z2jh"
OVERLAYS = ("values-engine-sysbox.yaml", "values-engine-rootless.yaml")

# Key paths chart 4.x documents for the parts these files set. A path ending in "*" is a
# pass-through the chart hands to JupyterHub or Kubernetes as it is (any keys below it).
DOCUMENTED = {
    "hub.config.*",
    "hub.concurrentSpawnLimit",
    "hub.services.*",
    "hub.loadRoles.*",
    "singleuser.image.name",
    "singleuser.image.tag",
    "singleuser.cmd",
    "singleuser.defaultUrl",
    "singleuser.extraEnv.*",
    "singleuser.memory.guarantee",
    "singleuser.memory.limit",
    "singleuser.cpu.guarantee",
    "singleuser.cpu.limit",
    "singleuser.startTimeout",
    "singleuser.storage.type",
    "singleuser.storage.extraVolumes",
    "singleuser.storage.extraVolumeMounts",
    "singleuser.networkPolicy.enabled",
    "singleuser.extraPodConfig.*",
    "singleuser.extraContainers",
    "cull.enabled",
    "cull.timeout",
    "cull.every",
    "cull.maxAge",
    "prePuller.hook.enabled",
    "prePuller.continuous.enabled",
}

COURSE_MINUTES = 65  # README's table: notebooks 00-04
BENCH_RSS_MB = (
    351  # make bench-workshop, simulated engine: peak RSS per student (docs/workshop-hub.md)
)


def _load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def _paths(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _paths(value, path + ".")
        else:
            yield path


def _documented(path: str) -> bool:
    if path in DOCUMENTED:
        return True
    return any(d.endswith(".*") and path.startswith(d[:-1]) for d in DOCUMENTED)


def _megabytes(quantity: str) -> float:
    units = {"K": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit in sorted(units, key=len, reverse=True):
        if str(quantity).endswith(unit):
            return float(str(quantity)[: -len(unit)]) * units[unit] / 2**20
    return float(quantity) / 2**20


@pytest.mark.parametrize("name", ["values.yaml", *OVERLAYS])
def test_every_key_is_one_the_chart_documents(name):
    values = _load(name)
    unknown = [p for p in _paths(values) if not _documented(p)]
    assert not unknown, f"{name}: keys the chart does not document: {unknown}"


def test_default_is_a_simulated_engine_per_student_started_by_labkit():
    single = _load("values.yaml")["singleuser"]
    assert single["cmd"] == ["python", "-m", "labkit.hub.singleuser"]
    assert single["extraEnv"]["LABKIT_ENGINE"] == "sim"
    assert "DOCKER_HOST" not in single["extraEnv"]  # the start command sets it per student


def test_sizing_and_culling_fit_the_course():
    values = _load("values.yaml")
    memory = values["singleuser"]["memory"]
    assert _megabytes(memory["guarantee"]) >= BENCH_RSS_MB
    assert _megabytes(memory["limit"]) >= 2 * BENCH_RSS_MB
    cull = values["cull"]
    assert cull["enabled"] and cull["timeout"] > COURSE_MINUTES * 60
    assert cull["maxAge"] == 0 or cull["maxAge"] > cull["timeout"]


@pytest.mark.parametrize("name", OVERLAYS)
def test_real_engine_overlays_share_the_engine_socket(name):
    single = _load(name)["singleuser"]
    host = single["extraEnv"]["DOCKER_HOST"]
    assert single["extraEnv"]["LABKIT_ENGINE"] == "docker"
    (engine,) = single["extraContainers"]
    mount = next(m for m in engine["volumeMounts"] if m["name"] == "engine-socket")
    assert host == f"unix://{mount['mountPath']}/docker.sock"
    assert f"--host={host}" in engine["args"]
    notebook_mount = next(
        m for m in single["storage"]["extraVolumeMounts"] if m["name"] == "engine-socket"
    )
    assert notebook_mount["mountPath"] == mount["mountPath"]
    assert any(v["name"] == "engine-socket" for v in single["storage"]["extraVolumes"])


# -- against the chart itself, where one is at hand ---------------------------------------------


def _merge(base, over):
    """Helm's merge of values: maps merge key by key, anything else replaces, null removes."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    merged = dict(base)
    for key, value in over.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(base.get(key), value)
    return merged


def _chart() -> Path:
    chart = os.environ.get("LABKIT_Z2JH_CHART")
    if not chart:
        pytest.skip(
            "the z2jh chart is not in any package registry reachable here: "
            "set LABKIT_Z2JH_CHART to an unpacked chart (helm pull jupyterhub/jupyterhub --untar)"
        )
    return Path(chart)


@pytest.mark.parametrize("overlay", [None, *OVERLAYS])
def test_values_pass_the_charts_own_schema(overlay):
    import json

    jsonschema = pytest.importorskip("jsonschema")
    chart = _chart()
    schema_file = chart / "values.schema.json"
    if schema_file.exists():
        schema = json.loads(schema_file.read_text())
    else:  # the chart's source keeps it as YAML
        schema = yaml.safe_load((chart / "values.schema.yaml").read_text())
    merged = _merge(yaml.safe_load((chart / "values.yaml").read_text()), _load("values.yaml"))
    if overlay:
        merged = _merge(merged, _load(overlay))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(merged), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
