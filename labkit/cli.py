"""The ``labkit`` command: ``tour`` (the lab's first steps in a terminal), ``doctor``, ``cleanup``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labkit.connect import choose
from labkit.errors import LabkitError
from labkit.lab import Lab
from labkit.models import Container, ProbeResult
from labkit.probe import probe_address

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
    hosts = sub.add_parser("labhosts", help="real lab hosts (root, Linux): up, down or status")
    hosts.add_argument("action", choices=("up", "down", "status"))
    sub.add_parser(
        "bench", help="labkit's speed against the docker CLI, as ratios (--quick, --json)"
    )
    sub.add_parser("hub", help="a JupyterHub workshop: `labkit hub status` shows every student")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hub"]:  # the hub's commands parse their own options
        from labkit.hub.cli import main as hub_main

        return hub_main(argv[1:])
    if argv[:1] == ["bench"]:  # the benchmark parses its own options
        from labkit.bench import main as bench_main

        return bench_main(argv[1:])
    args = parser.parse_args(argv)
    try:
        return {"tour": _tour, "doctor": _doctor, "cleanup": _cleanup, "labhosts": _labhosts}[
            args.command
        ](args)
    except LabkitError as exc:
        print(f"labkit: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _tour(args: argparse.Namespace) -> int:
    engine, why = choose()
    lab = Lab(engine, session="tour")
    say = print
    say(f"Engine: {engine.info().description} ({why})")
    try:
        app = lab.start_app("myapp2", step="tour", progress=say)
        old = app.port(80)
        publish = f"{old.host_ip}::80" if old.host_ip not in (None, "0.0.0.0") else ":80"
        say(f"\n$ docker run -d --init --name {app.name} -p {publish} {app.image}")
        _ports(app)
        _probes(lab.probe("myapp2"))
        say(f"\n$ docker restart {app.name}")
        app = lab.restart("myapp2")
        _ports(app)
        new = app.port(80)
        if old.host_port != new.host_port:
            say(f"The host port moved: {old.host_port} → {new.host_port}.")
        stale = probe_address(engine, engine.info().host, old.host_port, via="old host port")
        _probes([stale, *lab.probe("myapp2")])
    finally:
        # Only what the tour made: a notebook's containers in the same namespace stay.
        plan = lab.cleanup(session_only=True)
        say(f"\n{plan}")
    return 0


def _ports(c: Container) -> None:
    for b in c.ports:
        for line in b.docker_port_lines():
            print(f"  {line}")


def _probes(results: list[ProbeResult]) -> None:
    for r in results:
        seen = f"Server IP {r.server_ip}" if r.server_ip else r.detail
        sim = " (simulated)" if r.simulated else ""
        print(f"  probe via {r.via:<13} {r.target:<22} {r.outcome:<11} {seen}{sim}")


def _doctor(args: argparse.Namespace) -> int:
    from labkit.doctor import diagnose

    report = diagnose()
    print(report.brief if args.brief else report.text)
    return 0 if report.ok else 1


def _cleanup(args: argparse.Namespace) -> int:
    engine, _ = choose()
    plan = Lab(engine).cleanup(dry_run=not args.yes, all_namespaces=args.all_namespaces)
    print(plan)
    if not args.yes and (plan.containers or plan.networks):
        print("(dry run: add --yes to remove)")
    return 0


def _labhosts(args: argparse.Namespace) -> int:
    from labkit.labhosts import LabHosts, available

    hosts = LabHosts()
    if args.action == "down":
        removed = hosts.teardown()
        print("Removed: " + (", ".join(removed) if removed else "nothing (no lab hosts were up)"))
        return 0
    if args.action == "status":
        ok, why = available()
        state = "up" if hosts.built else "down"
        print(f"lab hosts: {state}; can build here: {'yes' if ok else 'no'} ({why})")
        return 0
    hosts.build(progress=print)
    for name, host in hosts.hosts.items():
        print(f"  {name:<8} {host.address:<14} netns {host.netns}")
    for agent in ("agent01", "agent02"):
        print(f"  {agent} engine: DOCKER_HOST={hosts.socket_url(agent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
