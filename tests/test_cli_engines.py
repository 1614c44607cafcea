"""The real docker CLIs (28.2 and Debian's 20.10) drive the simulator as they drive dockerd.

Every command of the course and the lab text (tests/clicourse.py) runs with both CLIs against a
simulator daemon of each engine generation; tests marked ``docker`` run it against the real
engine and the simulator of its generation, and compare what each CLI printed, after IDs, host
ports, addresses, MACs, interface numbers and times are replaced by placeholders.
``docker exec -it`` is driven through a pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import re
import select
import time

import pytest
from clicourse import CLIS, Run, available, course, transcript
from conftest import unavailable

from labkit.generation import Generation

# The exit code each course step ends with, on either engine (a set: it depends on the generation).
EXPECTED_CODES: dict[str, int | set[int] | None] = {
    "exec T-myapp2 nosuch": {126, 127},  # 20.10's runtime says 126, 28's 127
    "run --rm --label T labkit/lab-app:1 /bin/busybox false": 1,
    "exec -i T-myapp2 sh": 1,  # the last command it read was `false`
    "run -d --init --name T-myapp2 --label T -p :80 labkit/lab-app:1": None,  # twice: see below
    "restart T-ghost": 1,
    "run --rm --label T labkit/lab-app:1 echo hi": 127,
    "run -d --name x --label T labkit/lab-app:1": 125,
    "network rm bridge": 1,
    "network connect none T-myapp2": 1,
}


def cli_or_skip(which: str) -> str:
    path = CLIS[which]
    if not available(path):
        unavailable("docker", f"the docker {which} CLI is not installed at {path}")
    return path


def run_course(cli: str, host: str) -> Run:
    run = Run(cli, host)
    try:
        return course(run)
    finally:
        run.cleanup()


@pytest.fixture(scope="module")
def sim_daemons(tmp_path_factory):
    """A simulator daemon per engine generation (LABKIT_SIM_VERSION), each on its own socket:
    generation -> its DOCKER_HOST."""
    from labkit.engine.sim import daemon

    paths = {}
    with pytest.MonkeyPatch.context() as patch:
        for generation in Generation:
            patch.setenv("LABKIT_SIM_VERSION", generation.value)
            paths[generation] = tmp_path_factory.mktemp("sim" + generation.value) / "sim.sock"
            daemon.ensure(paths[generation])
    yield {generation: daemon.url(path) for generation, path in paths.items()}
    for path in paths.values():
        daemon.stop(path, say=lambda line: None)


@pytest.fixture(scope="module")
def sim_runs(sim_daemons):
    """The course with each CLI on the simulator of each generation: (generation, cli) -> run."""
    return {
        (generation, which): run_course(cli_or_skip(which), host)
        for generation, host in sim_daemons.items()
        for which in CLIS
    }


@pytest.fixture(scope="module")
def twin_runs(sim_daemons, docker_engine):
    """The course with each CLI on the real engine and on the simulator of its generation."""
    from labkit.engine.docker import DockerEngine

    generation = docker_engine.info().generation
    twin = DockerEngine(base_url=sim_daemons[generation])
    try:
        modelled = twin.info().generation
    finally:
        twin.close()
    if modelled is not generation:
        pytest.fail(
            f"the simulator models Engine {modelled.value}, not the real engine's "
            f"{generation.value} (LABKIT_SIM_VERSION={generation.value})",
            pytrace=False,
        )
    return {
        which: (
            run_course(cli_or_skip(which), sim_daemons[generation]),
            run_course(cli_or_skip(which), docker_engine.where),
        )
        for which in CLIS
    }


@pytest.mark.parametrize("generation", list(Generation), ids=lambda g: g.value)
@pytest.mark.parametrize("which", list(CLIS))
def test_every_course_command_works_on_the_simulator(sim_runs, generation, which):
    steps = sim_runs[generation, which].steps
    runs = [s for s in steps if s.command.startswith("run -d --init --name T-myapp2")]
    assert [s.code for s in runs] == [0, 125]
    assert 'The container name "/' in runs[1].err and "is already in use" in runs[1].err
    for step in steps:
        wanted = EXPECTED_CODES.get(step.command, 0)
        if wanted is not None:
            assert step.code in (wanted if isinstance(wanted, set) else {wanted}), (
                step.command,
                step.code,
                step.err,
            )
    ports = [s.out for s in steps if s.command == "port T-myapp2"]
    assert len(ports) == 2 and ports[0] != ports[1]  # the lab text: restart moves the port
    assert re.fullmatch(r"80/tcp -> 0\.0\.0\.0:\d+\n80/tcp -> (\[::\]|::):\d+\n", ports[0])
    by_command = {s.command: s for s in steps}
    assert by_command["restart T-ghost"].err.startswith(
        "Error response from daemon: No such container:"
    )
    events = by_command[next(c for c in by_command if c.startswith("events "))].out.split("\n")
    assert events[:2] == ["create", "start"] and "restart" in events and "destroy" in events


@pytest.mark.docker
@pytest.mark.parametrize("which", list(CLIS))
def test_each_cli_prints_the_same_on_the_simulator_and_the_engine(twin_runs, which):
    simulated, real = (transcript(run) for run in twin_runs[which])
    assert [s[0] for s in simulated] == [s[0] for s in real]
    for sim_step, real_step in zip(simulated, real, strict=True):
        assert sim_step == real_step


def test_the_comparison_is_not_trivially_equal(sim_runs):
    """Guard against a normalisation that erases what the commands printed."""
    steps = {s[0]: s for s in transcript(sim_runs[Generation.V20, "28"])}
    assert "inet 172.17.0.<n>/16" in steps["exec T-myapp2 ip -4 addr"][2]
    assert "T-myapp2" in steps["ps --filter label=T"][2]
    assert "0.0.0.0:<port>->80/tcp" in steps["ps --filter label=T"][2]


# -- docker exec -it, through a pseudo-terminal ------------------------------------------------------

KEYS = [b"hostname\r", b"echo hx\x7fi\r", b"abc\x03", b"exit 3\r"]


def through_a_pty(argv: list[str], env: dict[str, str], keys: list[bytes]) -> tuple[bytes, int]:
    """Type ``keys`` into ``argv`` on a terminal, each once the program has answered the last."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the docker CLI on the terminal
        os.execve(argv[0], argv, env)
    out = b""

    def read_for(seconds: float) -> bool:
        nonlocal out
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return False
                if not data:
                    return False
                out += data
                deadline = min(deadline, time.monotonic() + 0.3)  # settle after output
        return True

    try:
        read_for(5.0)
        for key in keys:
            os.write(fd, key)
            if not read_for(3.0):
                break
        read_for(2.0)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


def exec_it(cli: str, host: str) -> tuple[bytes, int]:
    run = Run(cli, host)
    try:
        started = run.docker(
            "run", "-d", "--init", "--name", run.name("tty"), "--label", run.tag, "labkit/lab-app:1"
        )
        assert started.code == 0, started.err
        short = started.out.strip()[:12].encode()
        out, code = through_a_pty([cli, "exec", "-it", run.name("tty"), "sh"], run.env(), KEYS)
        return out.replace(short, b"<short>"), code
    finally:
        run.cleanup()


@pytest.mark.parametrize("which", list(CLIS))
def test_exec_it_is_busybox_sh_on_a_terminal(sim_daemons, which):
    out, code = exec_it(cli_or_skip(which), sim_daemons[Generation.V28])
    assert code == 3
    assert (
        out.startswith(b"\r\n\r\nBusyBox v1.35.0") and b"/ # \x1b[6nhostname\r\n<short>\r\n" in out
    )
    assert b"echo hx\x08\x1b[Ji\r\nhi\r\n" in out and b"abc^C\r\n/ # " in out


@pytest.mark.docker
@pytest.mark.parametrize("which", list(CLIS))
def test_exec_it_prints_the_same_bytes_as_the_engine(sim_daemons, docker_engine, which):
    cli = cli_or_skip(which)
    twin = sim_daemons[docker_engine.info().generation]
    assert exec_it(cli, twin) == exec_it(cli, docker_engine.where)
