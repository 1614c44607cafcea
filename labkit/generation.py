"""Engine generations: what the course teaches differs between Docker Engine 20.10 and 28+.

Every behaviour that holds for one generation only is keyed here by version *range*, never by
an exact version, so Engine 29 (and later) is treated as 28 until it is measured otherwise.
"""

from __future__ import annotations

import enum
import re

__all__ = ["Generation", "generation_of", "API_VERSION", "SIM_VERSION"]


class Generation(str, enum.Enum):
    """The engine generations the course knows. The value is what LABKIT_SIM_VERSION takes."""

    V20 = "20.10"  # Debian 12's docker.io; API 1.41
    V28 = "28"  # Engine 28 and later (what students install today); API 1.51 on 28.5

    @property
    def bridge_gateway_on_first_start(self) -> bool:
        """Whether the default bridge's ``IPAM.Config`` shows ``Gateway`` after the daemon's
        first start: 28 does; 20.10 shows it only from the second start on (moby/moby#26799)."""
        return self is Generation.V28

    @property
    def same_port_twins(self) -> bool:
        """27+ gives the IPv4 and IPv6 bindings of one port the same host port; 20.10 allocates
        each family on its own."""
        return self is Generation.V28

    @property
    def random_macs(self) -> bool:
        """28 makes container MACs random; 20.10 derives them from the IP (02:42:ac:11:00:02)."""
        return self is Generation.V28

    @property
    def drops_routed_traffic(self) -> bool:
        """28 drops traffic routed from another host to a container address (a raw-table
        ``PREROUTING -d <ip>/32 ! -i docker0 -j DROP`` rule per container); 20.10 forwards it."""
        return self is Generation.V28

    # Measured on 28.5.2 beside 20.10.24 (helper h1, issue 11), each something a student sees.

    @property
    def default_network_mode(self) -> str:
        """``HostConfig.NetworkMode`` of a container run without ``--network``."""
        return "bridge" if self is Generation.V28 else "default"

    @property
    def lists_dns_names(self) -> bool:
        """28 lists the names a container answers to on a network under ``DNSNames`` (its name,
        short ID, aliases) and leaves ``Aliases`` to the aliases asked for; 20.10 puts the short
        ID among ``Aliases`` on a user network and has no ``DNSNames``."""
        return self is Generation.V28

    def start_refused(self, program: str) -> str:
        """The engine's words when a container's command is not in its image (runc, via
        containerd; 28 names the task and the container init)."""
        where = f'exec: "{program}": executable file not found in $PATH'
        if self is Generation.V28:
            return (
                "failed to create task for container: failed to create shim task: OCI runtime "
                "create failed: runc create failed: unable to start container process: error "
                f"during container init: {where}"
            )
        return (
            "failed to create shim task: OCI runtime create failed: runc create failed: unable "
            f"to start container process: {where}: unknown"
        )

    @property
    def missing_program_exit_code(self) -> int:
        """``docker exec`` of a program the image lacks: 126 on 20.10, 127 on 28."""
        return 127 if self is Generation.V28 else 126

    @property
    def orders_restart_events(self) -> bool:
        """``docker restart`` sends kill, die, stop, start, restart: 20.10 always in that order;
        28 sends die and stop in either order (the exit and the stop race)."""
        return self is Generation.V20

    @property
    def orders_interfaces_on_restart(self) -> bool:
        """20.10 names a restarted container's interfaces eth0, eth1... in network-name order
        (the gateway network's is eth0); 28 does not: teach no interface order there."""
        return self is Generation.V20

    @property
    def dns_forwards_to_host_loopback(self) -> bool:
        """28's embedded DNS passes a ``--dns 127.0.0.1`` on to the engine host's own loopback
        (the generated resolv.conf says ``ExtServers: [127.0.0.1]``): with nothing listening
        there an unknown name fails at once (SERVFAIL); 20.10 asks the container's loopback and
        times out."""
        return self is Generation.V28


# The API version each generation's engine speaks (and the simulator advertises for it).
API_VERSION = {Generation.V20: "1.41", Generation.V28: "1.51"}
# The engine version the simulator reports for each generation it models.
SIM_VERSION = {Generation.V20: "20.10.24", Generation.V28: "28.5.2"}


def generation_of(version: str) -> Generation:
    """``'20.10.24+dfsg1'`` → V20, ``'28.5.2'`` → V28, ``'29.1.0'`` → V28; anything below 28
    (or unreadable) is taught as 20.10, the older behaviour."""
    match = re.match(r"\s*(\d+)", version or "")
    major = int(match.group(1)) if match else 0
    return Generation.V28 if major >= 28 else Generation.V20
