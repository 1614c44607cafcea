"""``labkit hub status | singleuser``: the instructor's view of a hub, and a student's start command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from labkit.errors import LabkitError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["singleuser"]:  # everything after it belongs to the Jupyter server
        from labkit.hub.singleuser import main as singleuser

        return singleuser(argv[1:])
    parser = argparse.ArgumentParser(prog="labkit hub", description="labkit on a JupyterHub")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="every student's namespace, objects and progress")
    status.add_argument(
        "--url",
        default=os.environ.get("JUPYTERHUB_URL", ""),
        help="the hub's address (default: JUPYTERHUB_URL)",
    )
    status.add_argument(
        "--token",
        default=os.environ.get("JUPYTERHUB_API_TOKEN", ""),
        help="a token that may list users and access their servers (default: JUPYTERHUB_API_TOKEN)",
    )
    status.add_argument("--json", action="store_true", help="the servers' reports as JSON")
    sub.add_parser("singleuser", help="start a student's server (the hub runs this)")
    args = parser.parse_args(argv)
    if not args.url or not args.token:
        print(
            "labkit: labkit hub status needs the hub's address and a token\n"
            "  → pass --url and --token, or set JUPYTERHUB_URL and JUPYTERHUB_API_TOKEN",
            file=sys.stderr,
        )
        return 2
    from labkit.hub.client import Hub
    from labkit.hub.room import format_room, room

    try:
        reports = room(Hub(args.url, args.token))
    except LabkitError as exc:
        print(f"labkit: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(reports, indent=2) if args.json else format_room(reports))
    return 0
