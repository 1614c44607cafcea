"""How labkit shows itself in a notebook: the engine banner and errors without tracebacks."""

from __future__ import annotations

import html
import os
import sys
import warnings

from labkit.connect import choose
from labkit.errors import EngineWarning, LabkitError
from labkit.lab import Lab

__all__ = ["start", "show_banner", "install_error_display", "install_warning_display", "error_html"]


def start(namespace: str | None = None) -> Lab:
    """Pick the engine, say which and why in a banner, and return the student's Lab."""
    install_error_display()
    install_warning_display()
    # Every DataFrame a notebook shows (04's modes_table) without pandas' 0 1 2 index column.
    from labkit.notebook.layout import install_table_display

    install_table_display()
    engine, why = choose()
    lab = Lab(engine, namespace=namespace)
    # The kernel's own docker commands (%docker, !docker) reach the same engine as labkit.
    os.environ.update(engine.cli_environment())  # type: ignore[attr-defined]
    from labkit.notebook.magics import register

    register(lab)
    show_banner(lab, why)
    return lab


def show_banner(lab: Lab, why: str) -> None:
    from IPython.display import HTML, display

    info = lab.engine.info()
    colour = "#8a5a00" if info.simulated else "#1b5e20"
    label = "SIMULATED ENGINE" if info.simulated else "REAL ENGINE"
    # The simulator's description already carries the reason ("Simulated Docker engine (why)").
    said = info.description if why in info.description else f"{info.description} — {why}"
    text = f"{said}. Namespace: {lab.namespace}."
    display(
        HTML(
            f'<div class="labkit-banner" style="border-left:6px solid {colour};padding:4px 10px;'
            f'font-family:sans-serif"><b style="color:{colour}">labkit · {label}</b> · '
            f"{html.escape(text)}</div>"
        )
    )


def error_html(exc: LabkitError) -> str:
    lines = exc.message.splitlines()
    body = "<br>".join(html.escape(line) for line in lines)
    return f'<div class="labkit-error" style="color:#b00020;font-family:sans-serif">⚠ {body}</div>'


def install_warning_display() -> None:
    """Show the engine's warnings as the docker CLI does, one line, without the kernel's
    temporary file name and source line; other warnings as Python shows them."""
    shown = warnings.showwarning
    if getattr(shown, "labkit", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, EngineWarning):
            print(f"WARNING: {message}", file=file or sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    show.labkit = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def install_error_display() -> None:
    """Show a LabkitError as its one- or two-line message, not a traceback, in IPython."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's signature
        display(HTML(error_html(value)))
        return None

    shell.set_custom_exc((LabkitError,), handler)
