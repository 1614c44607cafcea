"""labkit.commands.fit: a typed docker command fitted to the student's namespace."""

from __future__ import annotations

import pytest

from labkit.commands import fit
from labkit.errors import InvalidInput

LABELS = {"labkit.owner": "labkit", "labkit.namespace": "alice"}


def fitted(*typed: str, existing=(), local: bool = True):
    return fit(
        typed,
        namespace="alice",
        labels=LABELS,
        exists=lambda kind, name: (kind, name) in set(existing),
        local=local,
    )


def test_run_gets_the_namespace_labels_init_dns_and_loopback():
    f = fitted("run", "-d", "--name", "myapp2", "-p", ":80", "labkit/lab-app:1")
    assert f.shown == (
        "docker run -d --name alice-myapp2 -p 127.0.0.1::80 --init --dns 127.0.0.1 labkit/lab-app:1"
    )
    assert f.creates == "container"
    assert ("--label", "labkit.namespace=alice") == f.argv[
        -3:-1
    ] or "labkit.namespace=alice" in f.argv
    assert f.argv[-1] == "labkit/lab-app:1"


def test_a_remote_engine_publishes_as_typed():
    f = fitted("run", "-d", "--name", "web", "-p", ":80", "labkit/lab-app:1", local=False)
    assert "-p :80" in f.shown


def test_the_containers_command_is_left_alone():
    f = fitted("run", "--rm", "--name", "t", "labkit/lab-app:1", "ip", "-4", "addr", "-p")
    assert f.argv[-5:] == ("labkit/lab-app:1", "ip", "-4", "addr", "-p")


@pytest.mark.parametrize(
    ("typed", "existing", "expected"),
    [
        (("port", "myapp2"), [("container", "alice-myapp2")], "docker port alice-myapp2"),
        (("port", "myapp2"), [], "docker port myapp2"),  # made by hand in a terminal
        (("restart", "-t", "3", "myapp2"), [("container", "alice-myapp2")], "docker restart -t 3 alice-myapp2"),
        (("exec", "myapp2", "ip", "addr", "-4"), [("container", "alice-myapp2")], "docker exec alice-myapp2 ip addr -4"),
        (("network", "connect", "mynet", "web"), [("network", "alice-mynet"), ("container", "alice-web")], "docker network connect --alias web alice-mynet alice-web"),
        (("network", "connect", "--alias", "w", "mynet", "web"), [("network", "alice-mynet"), ("container", "alice-web")], "docker network connect --alias w alice-mynet alice-web"),
        (("network", "connect", "mynet", "byhand"), [("network", "alice-mynet")], "docker network connect alice-mynet byhand"),
        (("network", "inspect", "bridge"), [("network", "alice-bridge")], "docker network inspect bridge"),
        (("inspect", "mynet"), [("network", "alice-mynet")], "docker inspect alice-mynet"),
        (("ps", "-a"), [], "docker ps -a"),
        (("network", "create", "mynet"), [], "docker network create alice-mynet"),
        (("network", "create", "alice-mynet"), [], "docker network create alice-mynet"),
    ],
)  # fmt: skip
def test_names(typed, existing, expected):
    assert fitted(*typed, existing=existing).shown == expected


@pytest.mark.parametrize(
    "typed",
    [
        (),
        ("exec", "-it", "myapp2", "sh"),
        ("run", "-it", "--name", "x", "labkit/lab-app:1", "sh"),
        ("attach", "myapp2"),
        ("run", "-d", "labkit/lab-app:1"),  # no --name
        ("network", "create", "a", "b"),
    ],
)
def test_what_cannot_run_in_a_cell_says_so(typed):
    with pytest.raises(InvalidInput) as caught:
        fitted(*typed)
    assert "\n  → " in caught.value.message
