"""How labkit lays tables out in a notebook: the student's own rows first, everyone else's folded,
no index column, addresses kept on one line; and a table beside the JSON it comes from.

On a shared engine ``docker network inspect bridge`` lists every student's containers (about 90
in one workshop, the student's own on row 88). ``table(frame, lab=lab)`` shows the rows whose
object is the student's (named with the lab's namespace) and folds the rest under a line that
says how many there are; ``side_by_side`` does the same for each table it holds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection

import pandas as pd
from IPython.display import HTML

from labkit.lab import Lab

__all__ = [
    "table",
    "table_html",
    "side_by_side",
    "own_rows",
    "command_output",
    "install_table_display",
]

_NAME_COLUMNS = ("container", "NAME", "name", "network")
# IPv4 (with /prefix or :port), [IPv6]:port (also IPv4-mapped, [::ffff:172.17.0.1]:53134, the
# client an app sees), bare IPv6, MAC, and a plain number (15.77 ms): never broken across lines.
_ADDRESS = re.compile(
    r"^\s*(\d+(\.\d+)?|\d{1,3}(\.\d{1,3}){3}(/\d{1,2}|:\d+)?|\[[0-9a-fA-F:.]+\](:\d+)?|"
    r"[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}(/\d{1,3})?|([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})\s*$"
)
_BUILTIN_NETWORKS = ("bridge", "host", "none")
_LONG_WORD = 24  # longer than any word or name the tables show; an ID or a digest is longer
_CSS = (
    "<style>"
    ".labkit-table{border-collapse:collapse;font-size:12px;margin:2px 0 6px 0}"
    ".labkit-table th,.labkit-table td{text-align:left!important;padding:2px 8px;"
    "border-bottom:1px solid #e0e0e0;vertical-align:top}"
    ".labkit-table th{background:#f5f5f5;white-space:nowrap}"
    # Words wrap between words ("agent01" never breaks as "agent0|1" in a narrow column); a
    # long token (a 64-hex ID) may break anywhere, so it does not push the table out of sight ...
    ".labkit-table td{overflow-wrap:break-word}"
    ".labkit-table td.labkit-long{overflow-wrap:anywhere}"
    # ... but an address is read as one token: 172.17.0.2/16 never breaks after '172.17.'.
    ".labkit-table td.labkit-addr{white-space:nowrap;overflow-wrap:normal}"
    ".labkit-fold summary{cursor:pointer;color:#555;font-size:12px;margin:2px 0}"
    "</style>"
)


def own_rows(
    frame: pd.DataFrame,
    lab: Lab | None = None,
    *,
    mine: Collection[str] | None = None,
    column: str | None = None,
) -> pd.Series:
    """Which rows are the student's: their object is named in ``mine``, or carries the lab's
    namespace prefix (``alice-myapp2``); the built-in networks count as everyone's own."""
    column = column or _name_column(frame)
    if column is None:
        return pd.Series(True, index=frame.index)
    names = frame[column].astype(str)
    if mine is not None:
        wanted = set(mine)
        return names.isin(wanted)
    if lab is None:
        return pd.Series(True, index=frame.index)
    prefix = f"{lab.namespace}-"
    return names.str.startswith(prefix) | names.isin(_BUILTIN_NETWORKS)


def table_html(
    frame: pd.DataFrame,
    lab: Lab | None = None,
    *,
    mine: Collection[str] | None = None,
    column: str | None = None,
    what: str = "",
) -> str:
    """The HTML of ``table``, for a caller that composes it with other HTML."""
    frame = frame.reset_index(drop=True)
    if frame.empty:  # a header row over nothing read as a broken table ("Containers": {})
        return _CSS + "<i class='labkit-empty'>(none)</i>"
    if lab is None and mine is None:
        return _CSS + _frame_html(frame)
    own = own_rows(frame, lab, mine=mine, column=column)
    yours, others = frame[own], frame[~own]
    if others.empty:
        return _CSS + _frame_html(yours)
    kind = what or _kind(column or _name_column(frame) or "")
    head = _frame_html(yours) if not yours.empty else f"<i>None of these {kind} is yours.</i>"
    summary = (
        f"{len(others)} more {kind} that are not yours "
        "(other students' on this shared engine, or made outside the course): show them"
    )
    return (
        _CSS
        + head
        + f"<details class='labkit-fold'><summary>{html.escape(summary)}</summary>"
        + _frame_html(others)
        + "</details>"
    )


def table(
    frame: pd.DataFrame,
    lab: Lab | None = None,
    *,
    mine: Collection[str] | None = None,
    column: str | None = None,
    what: str = "",
) -> HTML:
    """A table as a student should read it: no index column, addresses on one line, and with
    ``lab`` (or ``mine``, a set of names) the student's own rows first, the others folded."""
    return HTML(table_html(frame, lab, mine=mine, column=column, what=what))


def side_by_side(
    *items: pd.DataFrame | str, titles: tuple[str, ...] = (), lab: Lab | None = None
) -> HTML:
    """One row of columns: DataFrames as tables (each folded for ``lab`` as ``table`` does),
    strings (raw JSON, command output) as scrollable preformatted text, each under its title.
    Wraps onto several rows in a narrow window."""
    columns = []
    for i, item in enumerate(items):
        title = (
            f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(titles[i])}</div>"
            if i < len(titles)
            else ""
        )
        if isinstance(item, pd.DataFrame):
            folds = lab is not None and _name_column(item) in ("container", "NAME")
            body = table_html(item, lab if folds else None)
        else:
            body = (
                "<pre style='max-height:420px;overflow:auto;font-size:11px;margin:0;"
                f"background:#f7f7f7;padding:6px'>{html.escape(str(item))}</pre>"
            )
        columns.append(
            f"<div style='flex:1 1 320px;min-width:280px;overflow:auto'>{title}{body}</div>"
        )
    return HTML(
        "<div class='labkit-side-by-side' style='display:flex;flex-wrap:wrap;gap:16px;"
        f"align-items:flex-start'>{''.join(columns)}</div>"
    )


def command_output(
    command: str, output: str, *, lab: Lab | None = None, simulated: bool | None = None
) -> HTML:
    """``$ command`` and what it printed, as a terminal shows it; marked **SIMULATED** when the
    output is the simulator's model (``lab`` on a simulated engine, or ``simulated=True``), so
    ``ip -4 addr`` or ``cat /proc/sys/net/ipv4/ip_forward`` never pass for a real machine's."""
    if simulated is None:
        simulated = bool(lab is not None and lab.engine.info().simulated)
    badge = (
        "<span class='labkit-simulated' style='color:#8a5a00;font-weight:bold;"
        "font-family:sans-serif;font-size:11px'>SIMULATED · modelled by labkit's simulated "
        "engine</span><br>"
        if simulated
        else ""
    )
    return HTML(
        f"<div class='labkit-command'>{badge}<pre style='margin:0 0 6px 0;background:#f7f7f7;"
        f"padding:4px 6px'>$ {html.escape(command)}\n{html.escape(output.rstrip())}</pre></div>"
    )


def install_table_display() -> None:
    """Show every DataFrame in this kernel as ``table`` does (no index, addresses on one line).
    ``labkit.notebook.start`` is the place to call it; outside IPython it does nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, lambda frame: table_html(frame))


# -- rendering -------------------------------------------------------------------------------


def _frame_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for value in values:
            text = "—" if _missing(value) else str(value)
            cls = (
                " class='labkit-addr'"
                if _ADDRESS.match(text)
                else " class='labkit-long'"
                if any(len(word) > _LONG_WORD for word in text.split())
                else ""
            )
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<table class='labkit-table'><thead><tr>"
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False  # a list or other container: shown as it is


def _name_column(frame: pd.DataFrame) -> str | None:
    return next((c for c in _NAME_COLUMNS if c in frame.columns), None)


def _kind(column: str) -> str:
    return "networks" if column in ("NAME", "network") else "containers"
