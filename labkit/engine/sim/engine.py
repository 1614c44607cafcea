"""SimulatedEngine: Docker Engine 20.10 or 28 modelled in memory, for Binder and machines
without an engine. The ``labkit sim`` daemon holds one and serves it as the Engine API
(``api.py``); state lives for the daemon's life; published app ports listen for real on
127.0.0.1; bridge addresses are answered by the model (``model_http``), and requests routed from
another host by ``routed_http`` (see ``labkit.engine.sim.routing``).

The engine is put together from its jobs, one module each: the modelled world (``core``, with
the rules in ``world``), publishing (``publishing``), networks (``networks``), container
lifecycle (``lifecycle``) and exec (``execs``); this module adds the engine's own calls (info,
events, the modelled network's answers)."""

from __future__ import annotations

import errno
import ipaddress
import random
import time
from collections.abc import Callable, Mapping, Sequence

from labkit.engine.base import LAB_IMAGE
from labkit.engine.sim import routing
from labkit.engine.sim.core import APP_CMD, LabImage
from labkit.engine.sim.events import as_model
from labkit.engine.sim.execs import Execs
from labkit.engine.sim.hostcmd import run_host_command
from labkit.engine.sim.lifecycle import Lifecycle, all_match
from labkit.engine.sim.listener import SERVED_PATHS, not_found_page
from labkit.engine.sim.state import now_iso
from labkit.engine.sim.world import who_answers
from labkit.errors import InvalidInput
from labkit.generation import SIM_VERSION, Generation
from labkit.models import EngineInfo, Event, ExecResult, HttpReply, ProbeResult

__all__ = ["SimulatedEngine", "ENGINE_VERSION"]

# 20.10's version, kept for callers from before generations; an engine's own is info().version.
ENGINE_VERSION = SIM_VERSION[Generation.V20]


class SimulatedEngine(Execs, Lifecycle):
    """A Docker engine modelled in memory: the embedded default where no engine answers.

    ``reason`` says why the simulator runs (shown in the banner). ``generation`` is the engine
    generation it models (``Generation``, "20.10" or "28"; default ``$LABKIT_SIM_VERSION``,
    else 28). ``allow_direct_routing`` is Engine 28's daemon option of that name.
    ``port_range`` overrides the kernel's ephemeral range; ``publish_range`` (within it) is where
    host ports are handed out from, when not all of it; ``port_probe(port, proto, host_ip)
    -> bool`` overrides the check that a host port is free on this machine (for ports without
    a real listener).
    """

    kind = "sim"

    def __init__(
        self,
        reason: str = "no Docker engine answered",
        *,
        generation: Generation | str | None = None,
        allow_direct_routing: bool = False,
        port_range: tuple[int, int] | None = None,
        publish_range: tuple[int, int] | None = None,
        port_probe: Callable[[int, str, str], bool] | None = None,
    ) -> None:
        super().__init__(
            reason,
            generation=generation,
            port_range=port_range,
            publish_range=publish_range,
            port_probe=port_probe,
        )
        if allow_direct_routing:
            self.set_allow_direct_routing(True)

    # -- engine ----------------------------------------------------------------------------

    def info(self) -> EngineInfo:
        return EngineInfo(
            kind="sim",
            version=self.version,
            description=f"Simulated Docker engine {self.version} ({self.reason})",
            local=True,
            host="127.0.0.1",
            bridge_name="docker0",
            bridge_address="172.17.0.1/16",
            ip_forward=True,
            port_range=self.port_range,
            bridge_reachable=True,
            bridge_reason=(
                "the bridge is modelled: probes of container IPs are answered by the simulator, "
                "published ports are real listeners on 127.0.0.1"
            ),
            simulated=True,
        )

    def ping(self) -> None:
        self._check_open()

    def close(self) -> None:
        """Stop every listener and the event thread. The engine refuses calls afterwards."""
        with self._lock:
            self._closed = True
            for rec in self.container_recs.values():
                rec.listening.clear()
        self._hub.close()
        self._events.close()

    def ensure_lab_image(self, progress: Callable[[str], None] | None = None) -> str:
        self._check_open()
        if not self._image_built and progress is not None:
            progress(
                f"The simulated engine provides the lab app image {LAB_IMAGE} (nothing to build)"
            )
        self._image_built = True
        return LAB_IMAGE

    # -- watching and the modelled network -----------------------------------------------------

    def watch(
        self, callback: Callable[[Event], None], *, labels: Mapping[str, str] | None = None
    ) -> Callable[[], None]:
        """Deliver container events (create, start, kill, die, stop, restart, destroy, exec_*)
        to ``callback`` from a background thread, in order; return the function that stops it."""
        self._check_open()
        wanted = dict(labels or {})

        def match(raw: dict) -> bool:
            attributes = raw["Actor"]["Attributes"]
            return raw["Type"] == "container" and all_match(attributes, wanted)

        return self._events.subscribe(lambda raw: callback(as_model(raw)), match)

    def subscribe(
        self, callback: Callable[[dict], None], match: Callable[[dict], bool] | None = None
    ) -> Callable[[], None]:
        """Every event (containers and networks) in the daemon's JSON, for ``GET /events``."""
        self._check_open()
        return self._events.subscribe(callback, match)

    def past_events(self, since: float, until: float | None = None) -> list[dict]:
        return self._events.history(since, until)

    def wait_events(self, timeout: float = 2.0) -> bool:
        """Wait until every event emitted so far was delivered to the watchers."""
        return self._events.wait_idle(timeout)

    def lab_image(self) -> dict:
        """The one image the simulator has, for ``GET /images/...``: its ID, tag, labels,
        command and creation time (when the engine started)."""
        return {
            "id": LabImage.id(),
            "tag": LAB_IMAGE,
            "labels": LabImage.labels(),
            "cmd": list(APP_CMD),
            "created": now_iso(self.started),
        }

    def host_command(self, argv: Sequence[str]) -> ExecResult:
        """A command on the simulated engine's host (``ip addr show docker0``, ``ip route``,
        ``cat /proc/sys/net/ipv4/ip_forward``): see ``labkit.engine.sim.hostcmd``."""
        with self._lock:
            self._check_open()
            return run_host_command(argv, self)

    def model_http(self, host: str, port: int, path: str = "/") -> HttpReply | None:
        """Answer GET http://host:port/path for an address inside one of the simulator's subnets.

        - a running lab app container's address, port 80: its page, the client being the
          network's gateway (``[::ffff:172.17.0.1]:<port>``) as the host's requests look there;
        - that address on another port, a container that does not serve the app, or a gateway:
          ``ConnectionRefusedError``;
        - any other address of a simulated subnet (a stopped or removed container's old IP):
          ``OSError(EHOSTUNREACH)``, as the Linux bridge answers when nobody has the address;
        - an address outside every simulated subnet: None, meaning "use the real network"
          (published ports on 127.0.0.1 are real listeners).
        """
        started = time.perf_counter()
        try:
            target = ipaddress.IPv4Address(host)
        except ValueError:
            return None
        with self._lock:
            self._check_open()
            net, rec, _ep = who_answers(target, self.container_recs, self.network_recs)
            if net is None:
                return None
            pool = net.addresses
            if rec is None and target != pool.gateway:
                raise OSError(errno.EHOSTUNREACH, f"No route to host ({host})")
            if rec is None or port != 80 or not self.serves_app(rec):
                raise ConnectionRefusedError(
                    errno.ECONNREFUSED, f"Connection refused ({host}:{port})"
                )
            low, high = self._ports.range
            client = f"[::ffff:{pool.gateway}]:{random.randint(low, high)}"
            latency = (time.perf_counter() - started) * 1000 + random.uniform(0.2, 0.6)
            if (path or "/").split("?", 1)[0] not in SERVED_PATHS:
                return HttpReply(404, not_found_page(), latency)
            return HttpReply(200, self.page(rec, client), latency)

    def routed_http(
        self,
        host: str,
        port: int = 80,
        path: str = "/",
        *,
        client: str = routing.DEFAULT_CLIENT,
        agent: str = routing.DEFAULT_AGENT,
        in_interface: str = routing.DEFAULT_INTERFACE,
        timeout: float = 2.0,
    ) -> ProbeResult:
        """GET http://host:port/path from another host that routes the engine's networks
        through this engine's host (``agent``; the lab text's ``ip route add 172.17.0.0/16 via
        <host>``), arriving on ``in_interface``: 20.10 forwards it, 28 drops it unless opened
        (daemon option, gateway mode or trusted interface). ``host=agent`` with a published
        host port goes through that port instead. The raw table's counters move."""
        with self._lock:
            self._check_open()
            return routing.routed_get(
                self,
                self.routing,
                host,
                port,
                path,
                client=client,
                agent=agent,
                in_interface=in_interface,
                timeout=timeout,
            )

    def raw_prerouting(self) -> str:
        """What ``iptables -t raw -L PREROUTING -v -n`` prints on the engine's host now."""
        with self._lock:
            self._check_open()
            return routing.raw_listing(self, self.routing)

    def raw_rules(self) -> str:
        """What ``iptables -t raw -S`` prints on the engine's host now."""
        with self._lock:
            self._check_open()
            return routing.raw_specs(self, self.routing)

    def set_allow_direct_routing(self, allowed: bool = True) -> None:
        """Engine 28's daemon option ``--allow-direct-routing``, as if the daemon had been
        restarted with (or without) it: Docker's raw rules are rewritten (their counters start
        at 0). Engine 20.10 has no such option."""
        if allowed and self.generation is Generation.V20:
            raise InvalidInput(
                "Engine 20.10 has no --allow-direct-routing option",
                "dockerd 20.10 refuses to start with it (unknown flag); it forwards routed "
                "traffic to containers anyway",
                "leave it off on 20.10, or simulate Engine 28 (LABKIT_SIM_VERSION=28)",
            )
        with self._lock:
            self.routing.allow_direct_routing = allowed
            self.routing.counters.clear()
