"""A test run that holds a lab until it is killed: started by tests/test_killed_runs.py.

Not named test_*.py, so a normal run never collects it; pytest collects it when named.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker


def test_sleeper(docker_lab):
    """A test that holds a lab until it is killed (started by the tests below)."""
    from conftest import RUN

    docker_lab.create_network("labnet")
    docker_lab.start_app("myapp2", network="labnet")
    ready = {"namespace": docker_lab.namespace, "run": RUN}
    Path(os.environ["LABKIT_TEST_SLEEPER"]).write_text(json.dumps(ready))
    time.sleep(300)
