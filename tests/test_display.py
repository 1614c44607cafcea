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


def test_start_shows_every_dataframe_without_the_index_column(monkeypatch, sim_engine):
    # h8's walk: notebook 04's modes_table() came out with pandas' 0 1 2 3 index column,
    # because nothing installed layout's table display in the student's kernel.
    from IPython.core.interactiveshell import InteractiveShell

    from labkit.notebook import display as nb_display
    from labkit.notebook.multihost_figure import modes_table

    shell = InteractiveShell.instance()
    try:
        monkeypatch.setattr("IPython.get_ipython", lambda: shell)
        monkeypatch.setenv("DOCKER_HOST", "unset-after-the-test")  # start() sets it
        monkeypatch.setattr(nb_display, "choose", lambda: (sim_engine, "a test"))
        monkeypatch.setattr(nb_display, "show_banner", lambda lab, why: None)
        nb_display.start(namespace="walk")
        data, _ = shell.display_formatter.format(modes_table())
        assert "labkit-table" in data["text/html"] and "<th></th>" not in data["text/html"]
    finally:
        InteractiveShell.clear_instance()
