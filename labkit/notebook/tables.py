"""pandas tables of what the docker CLI prints: ports, networks, inspect output, probe results.

What fills these tables comes from an engine or an app (names, version strings, replies) and is
never HTML. A DataFrame's own HTML escapes it, but pandas' Styler does not unless told: so the
tables are ``LabTable``s, whose ``.style`` escapes cells, headers and index (also after
``.format()``), and importing this module sets ``styler.format.escape`` to ``"html"`` for every
other Styler in the kernel (a notebook's own table of engine facts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from labkit.models import Container, Network, ProbeResult

pd.set_option("styler.format.escape", "html")

__all__ = [
    "LabTable",
    "SafeStyler",
    "port_table",
    "networks_table",
    "config_table",
    "endpoints_table",
    "probe_table",
    "container_networks_table",
]


class SafeStyler(Styler):
    """A Styler that escapes HTML in cells, column headers and the index, whatever ``format``
    calls follow (pandas' default is to pass text through as markup)."""

    def __init__(self, data: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("escape", "html")
        super().__init__(data, *args, **kwargs)
        self.format_index(axis=0)
        self.format_index(axis=1)

    def format(self, formatter: Any = None, subset: Any = None, *args: Any, **kwargs: Any) -> Any:
        kwargs["escape"] = kwargs.get("escape") or "html"
        return super().format(formatter, subset, *args, **kwargs)

    def format_index(self, formatter: Any = None, axis: Any = 0, *args: Any, **kwargs: Any) -> Any:
        kwargs["escape"] = kwargs.get("escape") or "html"
        return super().format_index(formatter, axis, *args, **kwargs)


class LabTable(pd.DataFrame):
    """A DataFrame whose ``.style`` is a SafeStyler; tables made from it (``assign``,
    ``concat``, a selection) stay LabTables."""

    @property
    def _constructor(self) -> type[LabTable]:
        return LabTable

    @property
    def style(self) -> SafeStyler:  # type: ignore[override]
        return SafeStyler(self)


def port_table(containers: Container | Iterable[Container]) -> pd.DataFrame:
    """What ``docker port NAME`` shows, one row per container port, the IPv6 twin folded in."""
    if isinstance(containers, Container):
        containers = [containers]
    rows = []
    for c in containers:
        for b in c.ports:
            note = ""
            if b.ipv6_differs:
                note = (
                    f"IPv6 got {b.ipv6_host_port}: each family counts apart and one skipped a "
                    "port busy on this machine"
                )
            elif not b.published:
                note = "exposed, not published"
            rows.append(
                {
                    "container": c.name,
                    "container port": b.key,
                    "host IP": b.host_ip or "",
                    "host port": b.host_port,
                    "IPv6 host port": b.ipv6_host_port,
                    "docker port shows": " | ".join(b.docker_port_lines()),
                    "note": note,
                }
            )
    columns = [
        "container",
        "container port",
        "host IP",
        "host port",
        "IPv6 host port",
        "docker port shows",
        "note",
    ]
    frame = LabTable(rows, columns=columns)
    frame["host port"] = frame["host port"].astype("Int64")
    frame["IPv6 host port"] = _dash_missing(frame["IPv6 host port"])
    return frame


def _dash_missing(column: pd.Series) -> pd.Series:
    """Integers shown as integers and a missing value as "—": a table shows pandas' ``<NA>``
    as it is, which a student reads as an error."""
    return column.astype("Int64").astype(object).where(column.notna(), "—")


def networks_table(networks: Iterable[Network]) -> pd.DataFrame:
    """``docker network ls`` columns, plus subnet, gateway and how many containers are attached."""
    rows = [
        {
            "NETWORK ID": n.short_id,
            "NAME": n.name,
            "DRIVER": n.driver,
            "SCOPE": n.scope,
            "subnet": n.subnet,
            "gateway": n.gateway,
            "containers": len(n.endpoints),
        }
        for n in networks
    ]
    return LabTable(
        rows, columns=["NETWORK ID", "NAME", "DRIVER", "SCOPE", "subnet", "gateway", "containers"]
    )


def config_table(network: Network) -> pd.DataFrame:
    """The configuration half of ``docker network inspect``, as setting / value rows."""
    rows = [
        ("name", network.name),
        ("ID", network.id),
        ("driver", network.driver),
        ("scope", network.scope),
        ("subnet", network.subnet),
        ("gateway", network.gateway),
        ("Linux bridge", network.bridge_name),
        ("internal", str(network.internal).lower()),
        ("IPv6", str(network.ipv6).lower()),
    ]
    return LabTable(rows, columns=["setting", "value"])


def endpoints_table(network: Network) -> pd.DataFrame:
    """The ``Containers`` half of ``docker network inspect``: who is attached, with which addresses."""
    rows = [
        {
            "container": e.container_name,
            "IPv4": e.ipv4,
            "IPv6": e.ipv6,
            "MAC": e.mac,
            "ID": e.container_id[:12],
        }
        for e in network.endpoints
    ]
    return LabTable(rows, columns=["container", "IPv4", "IPv6", "MAC", "ID"])


def container_networks_table(container: Container) -> pd.DataFrame:
    """A container's addresses per network (``docker inspect`` NetworkSettings.Networks)."""
    rows = [
        {
            "network": a.network,
            "IP": a.ip,
            "prefix": a.prefix_len or None,
            "gateway": a.gateway,
            "MAC": a.mac,
        }
        for a in container.networks
    ]
    frame = LabTable(rows, columns=["network", "IP", "prefix", "gateway", "MAC"])
    frame["prefix"] = _dash_missing(frame["prefix"])
    return frame


def probe_table(results: Iterable[ProbeResult]) -> pd.DataFrame:
    rows = [
        {
            "via": r.via,
            "target": r.target,
            "outcome": r.outcome,
            "HTTP": r.status,
            "ms": r.latency_ms,
            "Server IP": r.server_ip or "",
            "client seen": r.client_addr or "",
            "note": r.detail,
        }
        for r in results
    ]
    frame = LabTable(
        rows, columns=["via", "target", "outcome", "HTTP", "ms", "Server IP", "client seen", "note"]
    )
    frame["HTTP"] = _dash_missing(frame["HTTP"])
    return frame
