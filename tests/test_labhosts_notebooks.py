"""Notebooks 02 and 04 in lab-host mode: the route step and multi-host on real lab hosts.

Builds the real lab hosts (root, Linux), runs both notebooks with their exercises answered by
their solutions, tears down, and finds nothing left.
"""

from __future__ import annotations

import pytest
from conftest import unavailable
from test_labhosts import leftovers
from test_notebooks import NB_DIR, assert_clean_run, execute, load, namespace, prepared

from labkit.lab import NAMESPACE_LABEL
from labkit.labhosts import LabHosts, available

pytestmark = [pytest.mark.labhosts, pytest.mark.docker]


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
            parts.append(str(out.get("data", {}).get("text/html", "")))
    return "\n".join(parts)


def test_route_and_multihost_notebooks_on_real_lab_hosts(docker_engine, monkeypatch):
    ok, why = available()
    if not ok:
        unavailable("labhosts", why)
    hosts = LabHosts()
    ns = namespace()
    env = {"LABKIT_ENGINE": "docker", "LABKIT_NAMESPACE": ns, "LABKIT_LABHOSTS": "1"}
    try:
        bridge = execute(
            prepared(load(NB_DIR / "02-linux-bridge.ipynb")), env, monkeypatch, timeout=240
        )
        assert_clean_run(bridge, "02 on lab hosts")
        text = outputs_text(bridge)
        assert "Real lab hosts: client, agent01 and agent02" in text
        assert "ip route add 172.17.0.0/16 via 198.18.0.11" in text
        assert "unreachable" in text, (
            "before the route the bridge IP is unreachable from the client"
        )
        # Run on the real client, not the simulated classroom; Engine 20.10's agents forward the
        # routed request: the containers answer at their own addresses after the route.
        # (the simulated classroom appears too, beside it, as Engine 28's comparison)
        assert "via 198.18.0.11   # on the client\n" in text
        assert "<td>unreachable</td>" in text and "<td>yes</td>" in text, text[-3000:]

        beyond = execute(
            prepared(load(NB_DIR / "04-beyond-one-host.ipynb")), env, monkeypatch, timeout=240
        )
        assert_clean_run(beyond, "04 on lab hosts")
        text = outputs_text(beyond)
        assert "no answer" in text and "answers" in text and "via 198.19.0.2 dev vxlan0" in text
        for agent in ("agent01", "agent02"):
            assert not hosts.engine(agent).containers(labels={NAMESPACE_LABEL: ns})
    finally:
        hosts.teardown()
    assert leftovers(hosts) == []
