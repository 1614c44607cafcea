"""The ``labkit`` command: ``tour`` (the lab's first steps in a terminal), ``doctor``, ``cleanup``,
``labhosts``, ``engine``, ``sim`` (the simulated engine's daemon), ``status`` (who is where,
for an instructor)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labkit.connect import choose
from labkit.errors import InvalidInput, LabkitError
from labkit.lab import Lab
from labkit.models import Container, PortBinding, ProbeResult
from labkit.probe import probe_old_port
from labkit.text import printable

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="labkit", description="labkit: Docker networking, hands-on"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tour", help="run the lab's first steps in this terminal, then clean up")
    doctor = sub.add_parser("doctor", help="what this machine's engine can and cannot show")
    doctor.add_argument("--brief", action="store_true", help="one line")
    cleanup = sub.add_parser("cleanup", help="remove what labkit created (a dry run unless --yes)")
    cleanup.add_argument("--yes", action="store_true", help="really remove")
    cleanup.add_argument(
        "--all-namespaces", action="store_true", help="every student's objects (instructors)"
    )
    cleanup.add_argument(
        "--namespace", metavar="NAME", help="one student's objects and progress (instructors)"
    )
    status = sub.add_parser(
        "status", help="per namespace: containers, networks, last lab step, checks passed"
    )
    status.add_argument(
        "--all-namespaces", action="store_true", help="every student on this engine (instructors)"
    )
    status.add_argument("--namespace", metavar="NAME", help="one student's namespace")
    hosts = sub.add_parser("labhosts", help="real lab hosts (root, Linux): up, down or status")
    hosts.add_argument("action", choices=("up", "down", "status"))
    hosts.add_argument(
        "--engine",
        choices=("20.10", "28"),
        help="the agents' engine for up (default: LABKIT_LABHOSTS_ENGINE, else 20.10)",
    )
    _add_engine_parser(sub)
    sub.add_parser(
        "bench", help="labkit's speed against the docker CLI, as ratios (--quick, --json)"
    )
    sub.add_parser("sim", help="the simulated engine's daemon: start | status | stop | reset")
    sub.add_parser("hub", help="a JupyterHub workshop: `labkit hub status` shows every student")
    sub.add_parser(
        "lab", help="open the course in JupyterLab on the engine the notebooks will use (make lab)"
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lab"]:  # everything after `lab` is JupyterLab's
        return _open_lab(argv[1:])
    if argv[:1] == ["hub"]:  # the hub's commands parse their own options
        from labkit.hub.cli import main as hub_main

        return hub_main(argv[1:])
    if argv[:1] == ["bench"]:  # the benchmark parses its own options
        from labkit.bench import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["sim"]:  # the simulator's daemon parses its own (labkit.engine.sim.daemon)
        from labkit.engine.sim.daemon import main as sim_main

        return sim_main(argv[1:])
    args = parser.parse_args(argv)
    try:
        return {
            "tour": _tour,
            "doctor": _doctor,
            "cleanup": _cleanup,
            "labhosts": _labhosts,
            "engine": _engine,
            "status": _status,
        }[args.command](args)
    except LabkitError as exc:
        print(f"labkit: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _tour(args: argparse.Namespace) -> int:
    engine, why = choose()
    lab = Lab(engine, session="tour")
    say = print
    # What an engine or an app says is printed as text: its terminal escapes are removed.
    say(f"Engine: {printable(engine.info().description)} ({printable(why, 400)})")
    try:
        app = lab.start_app("myapp2", step="tour", progress=say)
        old = _published(app)
        publish = f"{old.host_ip}::80" if old.host_ip not in (None, "0.0.0.0") else ":80"
        say(f"\n$ docker run -d --init --name {app.name} -p {publish} {app.image}")
        _ports(app)
        _probes(lab.probe("myapp2"))
        say(f"\n$ docker restart {app.name}")
        app = lab.restart("myapp2")
        _ports(app)
        new = _published(app)
        if old.host_port != new.host_port:
            say(f"The host port moved: {old.host_port} → {new.host_port}.")
        # Only while the old port is still this container's or nobody's: on a shared engine
        # it may be someone else's by now.
        stale = probe_old_port(engine, app, old.host_port or 0, via="old host port")
        _probes([stale, *lab.probe("myapp2")])
    finally:
        # Only what the tour made: a notebook's containers in the same namespace stay.
        plan = lab.cleanup(session_only=True)
        say(f"\n{plan}")
    return 0


def _published(c: Container) -> PortBinding:
    binding = c.port(80)
    if binding is None:  # the lab app always exposes 80; a None here is an engine fault
        raise LabkitError(f"{c.name} has no port 80", "the engine shows no such port", "")
    return binding


def _ports(c: Container) -> None:
    for b in c.ports:
        for line in b.docker_port_lines():
            print(f"  {line}")


def _probes(results: list[ProbeResult]) -> None:
    for r in results:
        seen = f"Server IP {r.server_ip}" if r.server_ip else r.detail
        sim = " (simulated)" if r.simulated else ""
        print(
            f"  probe via {r.via:<13} {printable(r.target):<22} {r.outcome:<11} "
            f"{printable(seen, 400)}{sim}"
        )


def _doctor(args: argparse.Namespace) -> int:
    from labkit.doctor import diagnose

    report = diagnose()
    print(report.brief if args.brief else report.text)
    return 0 if report.ok else 1


def _cleanup(args: argparse.Namespace) -> int:
    engine, _ = choose()
    if args.namespace and args.all_namespaces:
        raise InvalidInput(
            "--namespace and --all-namespaces ask for different things",
            "one resets one student, the other every student",
            "give one of them",
        )
    # One student's reset: the same label filter as a student's own cleanup, in their namespace.
    lab = Lab(engine, namespace=args.namespace) if args.namespace else Lab(engine)
    plan = lab.cleanup(dry_run=not args.yes, all_namespaces=args.all_namespaces)
    print(plan)
    if not args.yes and (plan.containers or plan.networks):
        print("(dry run: add --yes to remove)")
    return 0


def _status(args: argparse.Namespace) -> int:
    from labkit.exercises import EXERCISES
    from labkit.lab import default_namespace
    from labkit.progress import format_status, status

    engine, why = choose()
    namespace = None if args.all_namespaces else (args.namespace or default_namespace())
    rows = status(engine, namespace)
    print(
        f"{engine.info().description}" + ("" if why in engine.info().description else f" ({why})")
    )
    print(format_status(rows, total_checks=len(EXERCISES)))
    return 0


def _labhosts(args: argparse.Namespace) -> int:
    from labkit.labhosts import LabHosts, available

    hosts = LabHosts(engine=args.engine if args.action == "up" else None)
    if args.action == "down":
        removed = hosts.teardown()
        print("Removed: " + (", ".join(removed) if removed else "nothing (no lab hosts were up)"))
        return 0
    if args.action == "status":
        ok, why = available(hosts.generation)
        state = f"up on Engine {hosts.generation.value}" if hosts.built else "down"
        print(f"lab hosts: {state}; can build here: {'yes' if ok else 'no'} ({why})")
        return 0
    hosts.build(progress=print)
    for name, host in hosts.hosts.items():
        print(f"  {name:<8} {host.address:<14} netns {host.netns}")
    for agent in ("agent01", "agent02"):
        print(f"  {agent} engine: DOCKER_HOST={hosts.socket_url(agent)}")
    return 0


def _add_engine_parser(sub) -> None:
    engine = sub.add_parser(
        "engine",
        help="a Docker engine of labkit's own in its own network namespace (root, Linux)",
        description="Start, stop or show a dockerd of labkit's own, with a fresh data root, in "
        "network namespace lk-NAME: Engine 28+ from a Debian sid root (built on first use), or "
        "this machine's Engine 20.10. `root` only builds the sid root.",
    )
    engine.add_argument("action", choices=("up", "down", "status", "root"))
    engine.add_argument("--engine", choices=("20.10", "28"), default="28", dest="generation")
    engine.add_argument("--name", help="folder and namespace name (default d28 or d20)")
    engine.add_argument(
        "--option",
        action="append",
        default=[],
        help="a dockerd option, e.g. --allow-direct-routing",
    )
    engine.add_argument(
        "--env", action="store_true", help="print DOCKER_HOST= and LABKIT_NETNS= lines for a shell"
    )


def _engine(args: argparse.Namespace) -> int:
    from labkit.engines import SID_ROOT, EngineDaemon, sid_root
    from labkit.generation import Generation

    if args.action == "root":
        print(sid_root(SID_ROOT, progress=print))
        return 0
    generation = Generation(args.generation)
    name = args.name or ("d28" if generation is Generation.V28 else "d20")
    daemon = EngineDaemon(name, generation, tuple(args.option))
    if args.action == "down":
        removed = daemon.down()
        print("Removed: " + (", ".join(removed) if removed else f"nothing ({name} was not up)"))
        return 0
    status = daemon.up(progress=print) if args.action == "up" else daemon.status()
    if args.env:
        print(f"DOCKER_HOST={daemon.url}\nLABKIT_NETNS={daemon.netns_path}")
    else:
        print("\n".join(status.lines()))
    return 0 if status.running or args.action == "status" else 1


if __name__ == "__main__":
    raise SystemExit(main())


def _open_lab(jupyter_args: list[str]) -> int:
    """JupyterLab on the engine the notebooks will pick: a real engine when one answers, else
    the user's simulated engine, whose DOCKER_HOST every kernel and terminal then inherits (so
    the docker CLI in a terminal drives the same engine as the notebooks)."""
    import os
    import shutil

    try:
        engine, why = choose()
        print(f"labkit: the course runs on {engine.info().description} ({why})")
    except LabkitError as exc:
        print(f"labkit: {exc.message}", file=sys.stderr)
        return 2
    os.environ.update(engine.cli_environment())  # type: ignore[attr-defined]
    jupyter = shutil.which("jupyter", path=os.path.dirname(sys.executable)) or shutil.which(
        "jupyter"
    )
    if jupyter is None:
        print(
            "labkit: JupyterLab is not installed here: run `make lab` (it sets up .venv)",
            file=sys.stderr,
        )
        return 2
    os.execv(jupyter, [jupyter, "lab", *jupyter_args])
    return 0  # not reached: exec replaces this process
