"""Put tables and raw text next to each other: an inspect table beside the JSON it comes from."""

from __future__ import annotations

import html

import pandas as pd
from IPython.display import HTML

__all__ = ["side_by_side"]


def side_by_side(*items: pd.DataFrame | str, titles: tuple[str, ...] = ()) -> HTML:
    """One row of columns: DataFrames as tables, strings (raw JSON, command output) as scrollable
    preformatted text, each under its title. Wraps onto several rows in a narrow window."""
    columns = []
    for i, item in enumerate(items):
        title = (
            f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(titles[i])}</div>"
            if i < len(titles)
            else ""
        )
        if isinstance(item, pd.DataFrame):
            body = item.to_html(index=False, escape=True, border=0)
        else:
            body = (
                "<pre style='max-height:420px;overflow:auto;font-size:11px;margin:0;"
                f"background:#f7f7f7;padding:6px'>{html.escape(str(item))}</pre>"
            )
        columns.append(
            f"<div style='flex:1 1 320px;min-width:280px;overflow:auto'>{title}{body}</div>"
        )
    # Left-aligned cells that may wrap: JupyterLab right-aligns table cells, and one long value
    # (a 64-hex network ID) then pushes every other value of the column out of sight.
    style = (
        "<style>.labkit-side-by-side td,.labkit-side-by-side th{text-align:left!important}"
        ".labkit-side-by-side td{overflow-wrap:anywhere;white-space:normal}</style>"
    )
    return HTML(
        f"{style}<div class='labkit-side-by-side' style='display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start'>{''.join(columns)}</div>"
    )
