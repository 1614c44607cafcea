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

    @property
    def bridge_gateway_on_first_start(self) -> bool:
        """Whether the default bridge's ``IPAM.Config`` shows ``Gateway`` after the daemon's
        first start: 28 does; 20.10 shows it only from the second start on (moby/moby#26799)."""
        return self is Generation.V28

    @property
    def default_network_mode(self) -> str:
        """``HostConfig.NetworkMode`` of a container run without a network: 28 says
        ``bridge``, 20.10 ``default``."""
        return "bridge" if self is Generation.V28 else "default"

    @property
    def dns_names(self) -> bool:
        """28's endpoints list ``DNSNames`` (name, aliases, short ID) and keep only the aliases
        the user gave in ``Aliases``; 20.10 puts the short ID in ``Aliases`` and has no
        ``DNSNames``."""
        return self is Generation.V28

    @property
    def interface_order_fixed(self) -> bool:
        """20.10 names a started container's interfaces eth0, eth1, ... in network-name order;
        28 names them in the order it joins the networks, which is a random rotation of the
        order they were connected in (so after a restart, eth0 may be any network)."""
        return self is Generation.V20


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
