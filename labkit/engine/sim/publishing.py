"""Published ports: host ports allocated as the engine's generation does, through the gateway
endpoint, with a real listener on 127.0.0.1 where the lab app serves."""

from __future__ import annotations

import re
from collections.abc import Callable

from labkit.engine.sim.core import APP_CMD, APP_PORT, EngineCore
from labkit.engine.sim.state import ContainerRec, EndpointRec
from labkit.engine.sim.views import is_ipv6
from labkit.engine.sim.world import gateway_endpoint
from labkit.errors import LabkitError, PortInUse
from labkit.generation import Generation

__all__ = ["Publishing"]


class Publishing(EngineCore):
    def _gateway_network(self, rec: ContainerRec) -> str:
        """The ID of the network whose endpoint carries the default route and the published
        ports ("" when the container has no address)."""
        ep = gateway_endpoint(rec.endpoints.values(), self.network_recs)
        return ep.network_id if ep is not None else ""

    def _pass_gateway(self, rec: ContainerRec, joined: list[EndpointRec], new: EndpointRec) -> None:
        """Engine 28 maps the ports of each endpoint that becomes the gateway as the networks
        join one by one; all but the last such mapping are undone before the start ends, but
        each moved the host-port round robin on (20.10 maps once, at the end)."""
        if self.generation is not Generation.V28 or len(joined) < 2:
            return
        before = gateway_endpoint((ep for ep in joined if ep is not new), self.network_recs)
        if before is not None and gateway_endpoint(joined, self.network_recs) is new:
            self._ports_in_passing(rec)

    def _ports_in_passing(self, rec: ContainerRec) -> None:
        """Allocate and at once release the ephemeral host ports of a gateway endpoint that
        carries them only for a moment (Engine 28, while a container joins or leaves several
        networks)."""
        if rec.network_mode in ("host", "none"):
            return
        for (_port, proto), (host_ip, fixed) in rec.port_specs.items():
            if fixed is not None:
                continue  # a named port does not move the round robin
            ips = [host_ip] if host_ip else ["0.0.0.0", "::"]
            try:
                port = self._ports.allocate_together(ips, proto)
            except LabkitError:
                continue  # the engine logs it and goes on
            for ip in ips:
                self._ports.release(port, ip, proto)

    def _publish_all(self, rec: ContainerRec) -> None:
        """Publish the container's ports through its gateway endpoint, as the engine does; on
        host, none or no network: nothing."""
        rec.published = {}
        rec.port_network = self._gateway_network(rec)
        rec.publish_seq = next(self._seq)
        if not rec.port_network or rec.network_mode in ("host", "none"):
            return
        try:
            for (port, proto), (host_ip, fixed) in rec.port_specs.items():
                rec.published[(port, proto)] = self._publish(rec, port, proto, host_ip, fixed)
        except LabkitError:
            self._unpublish_all(rec)
            raise

    def _republish(self, rec: ContainerRec) -> None:
        """The gateway endpoint changed: the ports move with it (new host ports)."""
        self._unpublish_all(rec)
        self._publish_all(rec)

    def _unpublish_all(self, rec: ContainerRec) -> None:
        for (_port, proto), bindings in rec.published.items():
            self._unpublish(rec, bindings, proto)
        rec.published = {}
        rec.port_network = ""

    def _publish(
        self, rec: ContainerRec, port: int, proto: str, host_ip: str, fixed: int | None
    ) -> list[tuple[str, int]]:
        """Host bindings for one published port, as NetworkSettings.Ports lists them.

        All interfaces (no host IP) means an IPv4 and an IPv6 binding: 20.10 allocates them
        apart (when a port is busy for IPv4 alone, the two host ports differ); 28 allocates
        one port for both.
        """
        serve = (port, proto) == APP_PORT and rec.cmd == APP_CMD

        def listen(host_port: int, protocol: str, ip: str) -> bool:
            # Free on all interfaces, as the engine's proxy needs; the simulated app then
            # answers for real on 127.0.0.1 (IPv4 only).
            free = self._ports.probe(host_port, protocol, ip)
            if free and serve and not is_ipv6(ip):
                return self._hub.try_open(host_port, self._responder(rec))
            return free

        bindings: list[tuple[str, int]] = []
        ips = [host_ip] if host_ip else ["0.0.0.0", "::"]
        if self.generation.same_port_twins:
            try:
                if fixed is None:
                    host_port = self._ports.allocate_together(ips, proto, listen)
                else:
                    host_port = self._ports.reserve_together(fixed, ips, proto, listen)
            except OSError as exc:  # out of file descriptors, not a busy port
                raise _no_listener(rec, exc) from exc
            bindings = [(ip, host_port) for ip in ips]
            if serve and any(not is_ipv6(ip) for ip in ips):
                rec.listening.append(host_port)
            return bindings
        try:
            for ip in ips:
                if fixed is None:
                    host_port = self._ports.allocate(ip, proto, listen)
                else:
                    host_port = self._ports.reserve(fixed, ip, proto, listen)
                bindings.append((ip, host_port))
                if serve and not is_ipv6(ip):
                    rec.listening.append(host_port)
        except OSError as exc:  # out of file descriptors, not a busy port
            self._unpublish(rec, bindings, proto)
            raise _no_listener(rec, exc) from exc
        except LabkitError as exc:
            self._unpublish(rec, bindings, proto)
            if isinstance(exc, PortInUse) and exc.reply is None:
                exc.answering(500, _port_failure(rec, exc.why))
            raise
        return bindings

    def _unpublish(self, rec: ContainerRec, bindings: list[tuple[str, int]], proto: str) -> None:
        for host_ip, host_port in bindings:
            if not is_ipv6(host_ip) and host_port in rec.listening:
                rec.listening.remove(host_port)
                self._hub.close_port(host_port)
            self._ports.release(host_port, host_ip, proto)

    def _responder(self, rec: ContainerRec) -> Callable[[int], str]:
        def respond(client_port: int) -> str:
            # Runs on the listener thread: read-only, no engine lock (a page may be a moment stale).
            gateway = self._primary_gateway(rec)
            return self.page(rec, f"[::ffff:{gateway}]:{client_port}")

        return respond

    def _primary_gateway(self, rec: ContainerRec) -> str:
        """Where a request through a published port comes from: the carrying network's gateway."""
        net = self.network_recs.get(rec.port_network)
        return str(net.pool.gateway) if net is not None and net.pool is not None else "127.0.0.1"


def _no_listener(rec: ContainerRec, exc: OSError) -> PortInUse:
    return PortInUse(
        f"Cannot open a listener for {rec.name!r}",
        exc.strerror or str(exc),
        "remove containers you no longer need (lab.cleanup()) and try again",
    )


def _port_failure(rec: ContainerRec, why: str) -> str:
    """The daemon's words when a host port cannot be published for ``rec``."""
    words = re.sub(r" \(another [^)]*\)$", "", why)
    if words.startswith("listen "):
        words = "Error starting userland proxy: " + words
    endpoint = next((ep.endpoint_id for ep in rec.endpoints.values() if ep.endpoint_id), "")
    return f"driver failed programming external connectivity on endpoint {rec.name} ({endpoint}): {words}"
