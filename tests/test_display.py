"""How labkit shows the engine's warnings in a notebook: one line, as the docker CLI prints it."""

from __future__ import annotations

import warnings

from labkit.engine.base import HOST_PORTS_DISCARDED
from labkit.errors import EngineWarning
from labkit.notebook.display import install_warning_display


def test_an_engine_warning_is_one_line_and_other_warnings_are_left_alone(monkeypatch, capsys):
    passed_on = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *rest: passed_on.append(message))
    install_warning_display()
    install_warning_display()  # a second start() in the same kernel wraps nothing twice
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(HOST_PORTS_DISCARDED, EngineWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == f"WARNING: {HOST_PORTS_DISCARDED}\n"
    assert [str(m) for m in passed_on] == ["something else"]
