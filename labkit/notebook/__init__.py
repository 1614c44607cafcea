"""The notebook edge of labkit: the only package that imports pandas, plotly and ipywidgets."""

from labkit.notebook.display import install_error_display, show_banner, start
from labkit.notebook.tables import (
    config_table,
    container_networks_table,
    endpoints_table,
    networks_table,
    port_table,
    probe_table,
)
from labkit.notebook.topology import Snapshot, diff_figure, snapshot, topology, topology_figure
from labkit.notebook.widgets import Observation, RestartPanel

__all__ = [
    "start",
    "show_banner",
    "install_error_display",
    "port_table",
    "networks_table",
    "config_table",
    "endpoints_table",
    "probe_table",
    "container_networks_table",
    "topology",
    "topology_figure",
    "diff_figure",
    "snapshot",
    "Snapshot",
    "RestartPanel",
    "Observation",
]
