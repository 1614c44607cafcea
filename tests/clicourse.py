"""The course's docker commands as a student types them, run by a real docker CLI against one
engine, and the normalisation that makes two engines' outputs comparable (IDs, host ports,
addresses, MACs, interface numbers and times replaced by placeholders).

Used by tests/test_cli_engines.py and labkit's benchmark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field

IMAGE = "labkit/lab-app:1"
CLIS = {"28": "/usr/local/bin/docker", "20.10": "/usr/bin/docker"}


@dataclass
class Step:
    command: str
    code: int
    out: str
    err: str


@dataclass
class Run:
    """One scenario's transcript against one engine with one CLI."""

    cli: str
    host: str
    tag: str = field(default_factory=lambda: "clit" + uuid.uuid4().hex[:6])
    steps: list[Step] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CLI_HINTS": "false"}

    def docker(self, *args: str, stdin: str | None = None, timeout: float = 60) -> Step:
        done = subprocess.run(
            [self.cli, *args],
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        shown = " ".join(a.replace(self.tag, "T") for a in args)
        step = Step(shown, done.returncode, done.stdout, done.stderr)
        self.steps.append(step)
        return step

    def name(self, short: str) -> str:
        return f"{self.tag}-{short}"

    def cleanup(self) -> None:
        """Remove what this run made (its label, its names), nothing else."""
        listed = self.docker("ps", "-aq", "--filter", f"label={self.tag}").out.split()
        if listed:
            self.docker("rm", "-f", *listed)
        nets = self.docker(
            "network", "ls", "-q", "--filter", f"name={self.tag}-", "--filter", "type=custom"
        )
        for net in nets.out.split():
            self.docker("network", "rm", net)


def available(cli: str) -> bool:
    return shutil.which(cli) is not None


def course(run: Run) -> Run:
    """The lab text's steps and the commands the notebooks print, in order."""
    t = run.tag
    app = run.name("myapp2")
    d = run.docker
    start = time.time()
    d("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
    d("info", "--format", "{{.OSType}} {{.Swarm.LocalNodeState}} {{.IPv4Forwarding}}")
    d("run", "-d", "--init", "--name", app, "--label", t, "-p", ":80", IMAGE)
    d("port", app)
    d("ps", "--filter", f"label={t}")
    d("exec", app, "hostname")
    d("exec", app, "ip", "-4", "addr")
    d("exec", app, "cat", "/proc/sys/net/ipv4/ip_forward")
    d("exec", app, "nosuch")
    d("logs", app)
    d("restart", app)
    d("port", app)
    d("inspect", "--format", "{{.Name}} {{.HostConfig.NetworkMode}} {{.State.Status}}", app)
    d("inspect", "--format", "{{.Name}} {{.Driver}}", "bridge")
    d("network", "ls", "--filter", "type=builtin")
    d("network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "bridge")
    d("network", "create", "--label", t, run.name("labnet"))
    d("network", "connect", run.name("labnet"), app)
    d(
        "network",
        "inspect",
        "--format",
        "{{range .Containers}}{{.Name}} {{end}}",
        run.name("labnet"),
    )
    d("network", "ls", "--filter", f"name={t}-")
    d("network", "disconnect", run.name("labnet"), app)
    d("network", "rm", run.name("labnet"))
    d("images", IMAGE)
    d("run", "--rm", "--label", t, IMAGE, "ip", "-4", "addr")
    d("run", "--rm", "--label", t, IMAGE, "/bin/busybox", "false")
    d("run", "-d", "--init", "--name", run.name("once"), "--label", t, IMAGE, "hostname")
    time.sleep(1.0)  # the engine needs a moment for a command that ends at once
    d("logs", run.name("once"))
    d("ps", "-a", "--filter", f"label={t}", "--filter", "status=exited")
    d("stop", app)
    d("ps", "-a", "--filter", f"name={app}")
    d("start", app)
    d("exec", "-i", app, "sh", stdin="hostname\nfalse\n")
    # What a student gets wrong: the engine's own words, through the CLI.
    d("run", "-d", "--init", "--name", app, "--label", t, "-p", ":80", IMAGE)
    d("restart", run.name("ghost"))
    d("run", "--rm", "--label", t, IMAGE, "echo", "hi")  # no echo in the image: removed, not hung
    d("run", "-d", "--name", "x", "--label", t, IMAGE)  # a container's name has two characters
    d("ps", "-a", "--filter", f"label={t}", "--filter", "status=created")
    d("network", "rm", "bridge")
    d("network", "connect", "none", app)
    d("rm", "-f", app)
    d("rm", "-f", run.name("once"))
    until = time.time() + 1
    d(
        "events",
        "--since",
        f"{start:.3f}",
        "--until",
        f"{until:.3f}",
        "--filter",
        f"label={t}",
        "--filter",
        "type=container",
        "--format",
        "{{.Action}}",
    )
    return run


# -- normalisation --------------------------------------------------------------------------------

_RULES = [
    # The 28 CLI's `run --rm` cancels its wait when the start fails, and logs that cancel or not
    # as its goroutines happen to finish (seen both ways on the same engine): not the engine's.
    (
        re.compile(
            r'(?m)^time="[^"]*" level=error msg="error waiting for container: context canceled"\n'
        ),
        "",
    ),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<short>"),
    (re.compile(r"\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b"), "<mac>"),
    (re.compile(r"\b172\.(?:1[89]|2\d|3[01])\.0\.0/16\b"), "<subnet>"),
    (re.compile(r"\b172\.17\.0\.\d+\b"), "172.17.0.<n>"),
    (re.compile(r"\b172\.(?:1[89]|2\d|3[01])\.0\.\d+\b"), "<user-ip>"),
    (re.compile(r"(?<=:)(?:3[2-9]\d{3}|[4-5]\d{4}|60\d{3})\b"), "<port>"),
    (re.compile(r"(?m)^\d+: "), "<n>: "),
    (re.compile(r"@if\d+"), "@if<n>"),
    (
        re.compile(
            r"\b(?:Less than a second|\d+ seconds?|About a minute|\d+ minutes|About an hour|"
            r"\d+ hours)\b"
        ),
        "<time>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?[kMG]?B\b"), "<size>"),
]


_STAMP = re.compile(r"\b\d{10}\.\d{3}\b")  # --since and --until


def normalise(text: str, run: Run) -> str:
    text = text.replace(run.tag, "T")
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return re.sub(r" {2,}", "  ", text)  # table columns are as wide as their widest cell


def transcript(run: Run) -> list[tuple[str, int, str, str]]:
    return [
        (_STAMP.sub("<stamp>", s.command), s.code, normalise(s.out, run), normalise(s.err, run))
        for s in run.steps
    ]
