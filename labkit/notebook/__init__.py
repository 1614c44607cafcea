"""The notebook edge of labkit: the only package that imports pandas, plotly and ipywidgets."""

from labkit.exercises import exercise
from labkit.notebook.course import (
    addresses,
    both_ways,
    bridge,
    classroom,
    containers,
    old_ways,
    open_app,
    ports,
    route_step,
)
from labkit.notebook.display import install_error_display, show_banner, start
from labkit.notebook.facts import (
    engine_facts,
    for_each_engine,
    mac_fact,
    port_families,
    route_openings,
)
from labkit.notebook.multihost_figure import (
    agents_link,
    hops_table,
    lab_hosts,
    modes_table,
    packet_path_figure,
    routes_table,
    wire_headers_figure,
)
from labkit.notebook.networks import container_networks, network_inspect, network_ls
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
from labkit.tasks import terminal_task

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
    "exercise",
    "terminal_task",
    # notebooks 00-02: the picture beside each typed command, and each engine's truth
    "ports",
    "containers",
    "open_app",
    "both_ways",
    "old_ways",
    "bridge",
    "addresses",
    "classroom",
    "route_step",
    "route_openings",
    "engine_facts",
    "for_each_engine",
    "port_families",
    "mac_fact",
    # notebooks 03 and 04: exercises, terminal tasks, network views, the two-host model
    "network_ls",
    "network_inspect",
    "container_networks",
    "modes_table",
    "routes_table",
    "hops_table",
    "packet_path_figure",
    "wire_headers_figure",
    "agents_link",
    "lab_hosts",
]
