"""Container lifecycle: create, start, stop, restart, kill, rm, and what ``docker logs``,
``attach`` and ``wait`` read; PID 1's own end (a command that exits at once)."""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence

from labkit.engine._checks import (
    check_container_name,
    check_labels,
    check_ports,
    name_in_use,
    no_such_program,
    not_running,
)
from labkit.engine.base import HOST_PORTS_DISCARDED, PortSpec
from labkit.engine.sim import inspect as raw
from labkit.engine.sim.core import APP_CMD, APP_PORT, LabImage
from labkit.engine.sim.ipam import new_id
from labkit.engine.sim.networks import Networks
from labkit.engine.sim.shell import missing_program, pid1_result, run_command
from labkit.engine.sim.state import (
    ZERO_TIME,
    ContainerRec,
    ContainerStatus,
    EndpointRec,
    LogLine,
    NetworkDriver,
    NetworkRec,
    WaitCondition,
    now_iso,
)
from labkit.engine.sim.terminal import is_interactive_shell
from labkit.engine.sim.world import network_name
from labkit.errors import EngineWarning, InvalidInput, LabkitError, NetworkNotFound
from labkit.generation import Generation
from labkit.models import Container, ExecResult

__all__ = ["Lifecycle"]

_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15}
_LOG_LINES = 1000  # log writes kept per container
# For the names the engine picks itself (`docker run --rm IMAGE` without --name).
_ADJECTIVES = (
    "brave calm eager fond gentle happy jolly keen lucid merry nifty quirky sharp swift tender "
    "vivid wise zen"
).split()
_SURNAMES = (
    "baran cerf davies hopper kahn lamport lovelace metcalfe perlman postel ritchie shannon "
    "thompson turing"
).split()


class Lifecycle(Networks):
    # -- create and run ----------------------------------------------------------------------

    def run(
        self,
        image: str,
        *,
        name: str,
        ports: Mapping[str, PortSpec] | None = None,
        network: str | None = None,
        labels: Mapping[str, str] | None = None,
        init: bool = True,
        command: Sequence[str] | None = None,
        hostname: str | None = None,
        dns: Sequence[str] | None = None,
    ) -> Container:
        """``docker run -d``: create, then start; a start that fails (a host port taken)
        leaves nothing behind, as the Docker backend does."""
        check_container_name(name)
        labels = check_labels(labels)
        with self._lock:
            cid, said = self.create(
                image,
                name=name,
                ports=ports,
                network=network,
                labels=labels,
                init=init,
                command=command,
                hostname=hostname,
                dns=dns,
            )
            for text in said:
                # The engine warns and ignores them; the Docker backend does not even send them.
                warnings.warn(text, EngineWarning, stacklevel=2)
            rec = self.container_recs[cid]
            try:
                self._start(rec)
            except LabkitError:
                self._forget(rec)
                self._emit(rec, "destroy")
                raise
            self._emit(rec, "start")
            self._settle_pid1(rec)
            return self._model(rec)

    def create(
        self,
        image: str,
        *,
        name: str | None = None,
        ports: Mapping[str, PortSpec] | None = None,
        network: str | None = None,
        labels: Mapping[str, str] | None = None,
        init: bool = False,
        command: Sequence[str] | None = None,
        hostname: str | None = None,
        dns: Sequence[str] | None = None,
        auto_remove: bool = False,
        tty: bool = False,
        open_stdin: bool = False,
    ) -> tuple[str, list[str]]:
        """``docker create`` (``POST /containers/create``): the new container's ID and the
        engine's warnings. Without a ``name`` the engine picks one, as Docker does."""
        if name is not None:
            check_container_name(name)
        specs = check_ports(ports)
        with self._lock:
            self._check_open()
            # The engine's order: the image, then the name, then the network.
            self._check_image(image)
            if name is None:
                name = self._free_name()
            if name in self._names:
                raise name_in_use("container", name, self._names[name])
            mode = network or self.generation.default_network_mode
            net = self._find_net(network) if network else self._find_net("bridge")
            said = []
            if net.driver is NetworkDriver.HOST and specs:
                said.append(HOST_PORTS_DISCARDED)
                specs = {}
            cid = new_id()
            exposed = sorted({APP_PORT, *specs}, key=lambda pp: f"{pp[0]}/{pp[1]}")
            if net.driver is NetworkDriver.HOST:
                host_name = self.host_hostname
            else:
                host_name = hostname or cid[:12]
            rec = ContainerRec(
                id=cid,
                name=name,
                image=image,
                image_id=LabImage.id(),
                created=now_iso(time.time()),
                labels=dict(labels or {}),
                port_specs=specs,
                exposed=exposed,
                network_mode=mode,
                init=init,
                cmd=list(command) if command else list(APP_CMD),
                hostname=host_name,
                dns=list(dns) if dns else None,
                auto_remove=auto_remove,
                tty=tty,
                open_stdin=open_stdin,
            )
            aliases = [cid[:12]] if net.user_defined else None
            rec.endpoints[net.id] = EndpointRec(net.id, aliases=aliases)
            self.container_recs[cid] = rec
            self._names[name] = cid
            self._emit(rec, "create")
            return rec.id, said

    def _free_name(self) -> str:
        """A name like the engine's own picks (adjective_surname), not yet in use."""
        while True:
            name = f"{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
            if name not in self._names:
                return name

    # -- start -------------------------------------------------------------------------------

    def _start(self, rec: ContainerRec) -> None:
        """Join networks (lowest free address each), publish ports, open listeners."""
        program = missing_program(rec.cmd)
        if program and not rec.init:  # with docker-init, the init starts and exits 127 instead
            raise no_such_program(rec.name, program, self.generation)
        for net_id in rec.endpoints:
            if net_id not in self.network_recs:
                raise NetworkNotFound(
                    f"Container {rec.name!r} cannot start: its network is gone",
                    f"network {net_id[:12]} was removed while the container was stopped",
                    "disconnect it (lab.disconnect(...)) or remove and run it again",
                ).answering(404, f"network {net_id} not found")
        taken: list[tuple[EndpointRec, NetworkRec]] = []
        rec.next_dev = 0
        rec.next_ifindex = 2
        try:
            for ep in self._join_order(rec):  # veths made in the order the networks join...
                net = self.network_recs[ep.network_id]
                self._join(rec, ep, net)
                taken.append((ep, net))
                self._pass_gateway(rec, [e for e, _n in taken], ep)
            if self.generation.orders_interfaces_on_restart:
                # ...but on 20.10 named in network-name order: eth0 is the gateway endpoint's.
                named = sorted(
                    (ep for ep in rec.endpoints.values() if ep.dev),
                    key=lambda ep: network_name(ep, self.network_recs),
                )
                for n, ep in enumerate(named):
                    ep.dev = f"eth{n}"
            rec.status = ContainerStatus.RUNNING  # the listener's responder reads it
            self._publish_all(rec)
        except LabkitError:
            for ep, net in taken:
                self._leave(rec, ep, net)
            never_started = rec.started_at == ZERO_TIME
            rec.status = ContainerStatus.CREATED if never_started else ContainerStatus.EXITED
            raise
        rec.sandbox_id = new_id()
        rec.pid = next(self._pids)
        rec.exit_code = 0
        rec.started_at = now_iso(time.time())

    def _settle_pid1(self, rec: ContainerRec) -> None:
        """A command that ends at once (a lookup, a program the image lacks) takes its
        container down with it, as on the engine, where it dies a moment after start; what
        it printed stays in the container's logs."""
        if rec.tty and rec.open_stdin and is_interactive_shell(rec.cmd):
            return  # `docker run -it IMAGE sh`: the shell waits for its terminal
        result = pid1_result(rec, self)
        if result is None or not rec.running:
            return
        if result.output:
            self._log(rec, 2 if result.exit_code == 127 else 1, result.output)
        self._halt(rec, result.exit_code)
        self._emit(rec, "die", exitCode=str(result.exit_code))
        self._exited(rec)

    def _log(self, rec: ContainerRec, stream: int, text: str) -> None:
        line = LogLine(stream, time.time(), text)
        rec.logs.append(line)
        del rec.logs[:-_LOG_LINES]
        for deliver in self._attached.get(rec.id, ()):
            deliver(line)

    # -- the end of a process ------------------------------------------------------------------

    def _halt(self, rec: ContainerRec, exit_code: int) -> None:
        """Everything a stop undoes: listeners and host ports, addresses, the process."""
        had_ports = bool(rec.port_network)
        self._unpublish_all(rec)
        if self.generation is Generation.V28 and had_ports:
            # The endpoints leave gateway first; each next one is the gateway for a moment and
            # maps the ports anew (moby's sbLeave), which moves the round robin on.
            live = sum(1 for ep in rec.endpoints.values() if ep.ip is not None)
            for _ in range(live - 1):
                self._ports_in_passing(rec)
        for net_id, ep in rec.endpoints.items():
            net = self.network_recs.get(net_id)
            if net is not None:
                self._leave(rec, ep, net)
            else:
                ep.ip, ep.mac, ep.endpoint_id = None, "", ""
        rec.status = ContainerStatus.EXITED
        rec.exit_code = exit_code
        rec.pid = 0
        rec.exits += 1
        for deliver in self._attached.pop(rec.id, ()):
            deliver(None)  # the attach stream ends with the process
        self._changes.notify_all()
        rec.finished_at = now_iso(time.time())

    def _exited(self, rec: ContainerRec) -> None:
        """After PID 1 ended or a stop: `docker run --rm` removes its container."""
        if rec.auto_remove and rec.id in self.container_recs:
            self._forget(rec)
            self._emit(rec, "destroy")

    def _forget(self, rec: ContainerRec) -> None:
        if rec.running:
            self._halt(rec, 137)
        for net_id in rec.endpoints:
            net = self.network_recs.get(net_id)
            if net is not None:
                net.members.pop(rec.id, None)
        self.container_recs.pop(rec.id, None)
        self._names.pop(rec.name, None)
        for exec_id in [e.id for e in self.exec_recs.values() if e.container_id == rec.id]:
            del self.exec_recs[exec_id]
        rec.removed = True
        self._changes.notify_all()

    def _graceful(self, rec: ContainerRec) -> bool:
        """Whether PID 1 honours SIGTERM: docker-init does; busybox httpd as PID 1 does not,
        so without init the engine waits out the stop timeout and then kills."""
        return rec.init or rec.cmd != APP_CMD

    def _stop_locked(self, rec: ContainerRec, graceful: bool) -> None:
        self._emit(rec, "kill", signal="15")
        if not graceful:
            self._emit(rec, "kill", signal="9")
        code = 143 if graceful else 137
        self._halt(rec, code)
        if not self.generation.orders_restart_events:
            # 28's stop and die race; every stop measured here came as kill, stop, die.
            self._emit(rec, "stop")
            self._emit(rec, "die", exitCode=str(code))
        else:  # 20.10: kill, die, stop
            self._emit(rec, "die", exitCode=str(code))
            self._emit(rec, "stop")

    def _wait_for_stop(self, ref: str, timeout: int) -> None:
        # Outside the lock: a stop that waits out its timeout must not freeze the other calls.
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            slow = rec.running and not self._graceful(rec)
        if slow:
            time.sleep(max(0, timeout))

    # -- the container API ---------------------------------------------------------------------

    def container(self, ref: str) -> Container:
        with self._lock:
            self._check_open()
            return self._model(self._find(ref))

    def containers(
        self, *, labels: Mapping[str, str] | None = None, all: bool = True
    ) -> list[Container]:
        with self._lock:
            self._check_open()
            wanted = dict(labels or {})
            found = []
            # newest first, like `docker ps`
            for rec in reversed(list(self.container_recs.values())):
                if not all and not rec.running:
                    continue
                merged = {**LabImage.labels(), **rec.labels}
                if all_match(merged, wanted):
                    found.append(self._model(rec, summary=True))
            return found

    def inspect_container(self, ref: str) -> dict:
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            return raw.container_json(rec, self.network_recs, LabImage.labels(), self.generation)

    def restart(self, ref: str, *, timeout: int = 10) -> Container:
        self._wait_for_stop(ref, timeout)
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if rec.running:
                self._stop_locked(rec, self._graceful(rec))
            self._start(rec)
            self._emit(rec, "start")
            self._emit(rec, "restart")
            self._settle_pid1(rec)
            return self._model(rec)

    def stop(self, ref: str, *, timeout: int = 10) -> Container:
        self._wait_for_stop(ref, timeout)
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if rec.running:  # stopping a stopped container is a no-op (HTTP 304)
                self._stop_locked(rec, self._graceful(rec))
                self._exited(rec)
            return self._model(rec)

    def start(self, ref: str) -> Container:
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running:  # starting a running container is a no-op (HTTP 304)
                try:
                    self._start(rec)
                except LabkitError:
                    # dockerd removes a --rm container that failed to start, and the CLI's
                    # `docker run --rm` waits for that removal before it exits.
                    if rec.auto_remove:
                        self._forget(rec)
                        self._emit(rec, "destroy")
                    raise
                self._emit(rec, "start")
                self._settle_pid1(rec)
            return self._model(rec)

    def remove(self, ref: str, *, force: bool = True) -> None:
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if rec.running:
                if not force:
                    error = InvalidInput(
                        f"Container {rec.name!r} is running",
                        f"You cannot remove a running container {rec.id}. Stop the container "
                        "before attempting removal or force remove",
                        "stop it first (lab.stop(...)), or remove with force=True",
                    )
                    raise error.answering(409, error.why)
                self._emit(rec, "kill", signal="9")
                self._halt(rec, 137)
                self._emit(rec, "die", exitCode="137")
            self._forget(rec)
            self._emit(rec, "destroy")

    def kill(self, ref: str, signal: str = "SIGKILL") -> None:
        """``docker kill``: SIGKILL (or the signal given) to PID 1; the container dies at once
        (the lab image's processes do not survive a signal)."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running:
                raise not_running(ref, rec.id).answering(
                    409, f"Cannot kill container: {ref}: Container {rec.id} is not running"
                )
            number = str(_SIGNALS.get(signal.upper().removeprefix("SIG"), signal))
            self._emit(rec, "kill", signal=number)
            if number in ("1", "2", "15") and not self._graceful(rec):
                return  # busybox httpd as PID 1 ignores them, as the kernel lets PID 1 do
            code = 128 + int(number) if number.isdigit() else 137
            self._halt(rec, code)
            self._emit(rec, "die", exitCode=str(code))
            self._exited(rec)

    # -- PID 1's terminal (`docker run -it IMAGE sh`) --------------------------------------------

    def terminal_session(self, ref: str) -> Callable[[str], ExecResult]:
        """For `docker run -it IMAGE sh`: the function that runs one line of PID 1's shell."""
        with self._lock:
            rec = self._find(ref)

        def run_line(line: str) -> ExecResult:
            with self._lock:
                if not rec.running:
                    return ExecResult(137, "")
                return run_command(rec, ["sh", "-c", line], self)

        return run_line

    def end_pid1(self, ref: str, exit_code: int) -> None:
        """PID 1 ended on its own (an interactive shell typed `exit`)."""
        with self._lock:
            rec = self.container_recs.get(ref) or self._find(ref)
            if rec.running:
                self._halt(rec, exit_code)
                self._emit(rec, "die", exitCode=str(exit_code))
                self._exited(rec)

    # -- what `docker logs`, `attach` and `wait` read --------------------------------------------

    def logs(self, ref: str) -> list[LogLine]:
        with self._lock:
            self._check_open()
            return list(self._find(ref).logs)

    def attach(self, ref: str, deliver: Callable[[LogLine | None], None]) -> Callable[[], None]:
        """Stream the container's output to ``deliver`` (None: the process ended) until the
        returned function detaches it. A container that is not running ends at once unless it
        was never started (`docker run` attaches before it starts)."""
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            if not rec.running and rec.status is not ContainerStatus.CREATED:
                deliver(None)
                return lambda: None
            self._attached.setdefault(rec.id, []).append(deliver)
            self._emit(rec, "attach")

        def detach() -> None:
            with self._lock:
                watchers = self._attached.get(rec.id, [])
                if deliver in watchers:
                    watchers.remove(deliver)

        return detach

    def waiter(
        self, ref: str, condition: str = WaitCondition.NOT_RUNNING
    ) -> Callable[[Callable[[], bool]], int | None]:
        """``POST /containers/{id}/wait``: look the container up now and return the function
        that blocks until ``condition`` holds (``not-running``, ``next-exit`` or ``removed``)
        and gives the exit code, or None once ``abandoned()`` says the client left."""
        wanted = WaitCondition(condition)
        with self._lock:
            self._check_open()
            rec = self._find(ref)
            exits = rec.exits

        def done() -> bool:
            if wanted is WaitCondition.REMOVED:
                return rec.removed
            if wanted is WaitCondition.NEXT_EXIT:
                return rec.exits > exits
            return not rec.running

        def wait(abandoned: Callable[[], bool]) -> int | None:
            with self._lock:
                while not done():
                    if abandoned() or self._closed:
                        return None
                    self._changes.wait(0.5)
                return rec.exit_code

        return wait


def all_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())
