import subprocess
import sys

import labkit

HEAVY = ("docker", "pandas", "plotly", "ipywidgets", "requests", "anywidget")


def test_import_labkit_stays_light():
    code = f"import sys, labkit; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "", f"import labkit pulled in: {out.strip()}"


def test_public_api_is_declared():
    for name in labkit.__all__:
        assert hasattr(labkit, name), name
