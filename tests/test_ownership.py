"""labkit owns only what it made: cleanup by label and namespace, on an engine of the test's own.

The adversarial cases: a container run from a ``docker commit`` of a lab container (it inherits
labkit's labels), spoofed and near-miss labels, look-alike names, namespaces made of non-ASCII
letters or punctuation, and hub users who all log in as ``jovyan``. In none of them does labkit
stop, change or remove what it did not create in that namespace.

Not covered, by design: a container that copies *all* of labkit's labels for a namespace by hand.
Whoever can reach the engine's socket can do anything to any container; labels mark what labkit
made, they do not lock it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from labkit import errors
from labkit.lab import NAMESPACE_LABEL, OWNER_LABEL, SESSION_LABEL, Lab, default_namespace


def labkit_cli(url: str, namespace: str | None, *args: str, **env_extra: str) -> str:
    env = {**os.environ, "DOCKER_HOST": url, "LABKIT_ENGINE": "docker"}
    env.pop("LABKIT_NAMESPACE", None)
    env.pop("JUPYTERHUB_USER", None)
    env.update(env_extra)
    if namespace is not None:
        env["LABKIT_NAMESPACE"] = namespace
    done = subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.docker
def test_cleanup_touches_only_labkits_objects_in_its_namespace(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    image = engine.ensure_lab_image()
    user_net = engine.create_network("users-net")
    user_box = engine.run(
        image, name="users-box", network="users-net", ports={"80/tcp": ("127.0.0.1", None)}
    )
    alice, bob = Lab(engine, namespace="alice"), Lab(engine, namespace="bob")
    for lab in (alice, bob):
        lab.create_network("labnet")
        lab.start_app("myapp2", network="labnet")

    dry = labkit_cli(private_dockerd.url, "alice", "cleanup")
    assert "alice-myapp2" in dry and "bob-myapp2" not in dry and "dry run" in dry
    assert len(alice.containers()) == 1, "a dry run removes nothing"

    labkit_cli(private_dockerd.url, "alice", "cleanup", "--yes")
    assert alice.containers() == [] and len(bob.containers()) == 1

    everyone = labkit_cli(private_dockerd.url, "alice", "cleanup", "--all-namespaces", "--yes")
    assert "bob-myapp2" in everyone and bob.containers() == []

    after = engine.container("users-box")
    assert (after.id, after.status) == (user_box.id, "running")
    assert engine.network("users-net").id == user_net.id
    names = {n.name for n in engine.networks()}
    assert "alice-labnet" not in names and "bob-labnet" not in names


STUDENT = textwrap.dedent(
    """
    import sys
    from labkit.engine.docker import DockerEngine
    from labkit.lab import Lab
    lab = Lab(DockerEngine(sys.argv[1]), namespace=sys.argv[2])
    lab.create_network("labnet")
    first = lab.start_app("myapp2", network="labnet")
    moved = lab.restart("myapp2")
    ok = all(r.ok for r in lab.probe("myapp2"))
    print(first.name, first.port(80).host_port, moved.port(80).host_port, ok)
    """
)


@pytest.mark.docker
def test_two_students_run_the_same_steps_at_once_on_one_engine(private_dockerd):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STUDENT, private_dockerd.url, ns],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ns in ("ada", "grace")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    (name_a, a1, a2, ok_a), (name_g, g1, g2, ok_g) = (o.split() for o, _ in outputs)
    assert (name_a, name_g) == ("ada-myapp2", "grace-myapp2")
    assert ok_a == ok_g == "True" and a1 != a2 and g1 != g2
    assert len({a1, a2, g1, g2}) == 4, "one allocator hands each student distinct ports"

    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    Lab(engine, namespace="ada").cleanup()
    assert [c.name for c in Lab(engine, namespace="grace").containers()] == ["grace-myapp2"]
    Lab(engine, namespace="grace").cleanup()


# -- docker commit: a container that inherits labkit's labels is not labkit's ---------------------


def _run_as_user(engine, image: str, name: str) -> str:
    """What a student types: `docker run -d --init --name NAME IMAGE`, no labkit involved."""
    api = engine.client.api
    created = api.create_container(image, name=name, host_config=api.create_host_config(init=True))
    api.start(created["Id"])
    return created["Id"]


@pytest.mark.docker
def test_containers_run_from_a_committed_lab_container_are_not_labkits(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    alice = Lab(engine, namespace="alice")
    original = alice.start_app("myapp2")
    engine.client.api.commit(original.id, repository="snap", tag="1")
    image = engine.image_labels("snap:1")
    assert image[OWNER_LABEL] == "labkit" and image[NAMESPACE_LABEL] == "alice", (
        "the premise: a commit carries the container's labels into the image"
    )
    mine = _run_as_user(engine, "snap:1", "mine")
    lookalike = _run_as_user(engine, "snap:1", "alice-myapp3")
    assert engine.container(mine).labels[OWNER_LABEL] == "labkit", "and its containers inherit them"

    assert [c.name for c in alice.containers()] == ["alice-myapp2"]
    assert alice.cleanup(dry_run=True).containers == ("alice-myapp2",)
    for call in (
        lambda: alice.restart("mine"),
        lambda: alice.stop("mine"),
        lambda: alice.remove("myapp3"),
        lambda: alice.exec("myapp3", "hostname"),
        lambda: alice.connect("bridge", "mine"),
    ):
        with pytest.raises(errors.NotOwned):
            call()

    labkit_cli(private_dockerd.url, "alice", "cleanup", "--yes")
    labkit_cli(private_dockerd.url, "alice", "cleanup", "--all-namespaces", "--yes")
    # The original's name free again, a student runs the snapshot under it: still theirs.
    twin = _run_as_user(engine, "snap:1", "alice-myapp2")
    assert Lab(engine, namespace="alice").cleanup().containers == ()
    for ref in (mine, lookalike, twin):
        assert engine.container(ref).running, "labkit left the student's containers alone"

    # labkit running that image itself, in a session of its own: that container is labkit's.
    later = Lab(engine, namespace="alice")
    ours = engine.run("snap:1", name=later.name("fromsnap"), labels=later.labels())
    assert ours.labels[SESSION_LABEL] != image[SESSION_LABEL]
    assert [c.name for c in later.containers()] == ["alice-fromsnap"]
    assert later.cleanup().containers == ("alice-fromsnap",)
    for ref in (mine, lookalike, twin):
        engine.remove(ref)


# -- spoofed labels, look-alike names: on the simulator and on an engine of the test's own ---------

SPOOFS = {
    "owner only": {OWNER_LABEL: "labkit"},
    "namespace only": {NAMESPACE_LABEL: "{ns}"},
    "owner in capitals": {OWNER_LABEL: "Labkit", NAMESPACE_LABEL: "{ns}"},
    "owner with a space": {OWNER_LABEL: "labkit ", NAMESPACE_LABEL: "{ns}"},
    "namespace with a space": {OWNER_LABEL: "labkit", NAMESPACE_LABEL: "{ns} "},
    "namespace in capitals": {OWNER_LABEL: "labkit", NAMESPACE_LABEL: "{NS}"},
    "empty namespace": {OWNER_LABEL: "labkit", NAMESPACE_LABEL: ""},
    "key in capitals": {"labkit.Owner": "labkit", NAMESPACE_LABEL: "{ns}"},
    "look-alike key": {"labkit-owner": "labkit", "labkit.namespace ": "{ns}"},
}


@pytest.fixture(params=["sim", pytest.param("docker", marks=pytest.mark.docker)])
def own_engine(request):
    """An engine nobody else uses: cleaning every namespace there harms no one."""
    if request.param == "sim":
        from labkit.engine.sim import SimulatedEngine

        engine = SimulatedEngine(reason="tests")
        yield engine
        engine.close()
    else:
        from labkit.engine.docker import DockerEngine

        daemon = request.getfixturevalue("private_dockerd")
        yield DockerEngine(daemon.url)


def _labels(template: dict[str, str], ns: str) -> dict[str, str]:
    return {k: v.format(ns=ns, NS=ns.upper()) for k, v in template.items()}


def test_spoofed_and_near_miss_labels_are_not_labkits(own_engine):
    ns = f"ada{uuid.uuid4().hex[:6]}"
    ada = Lab(own_engine, namespace=ns)
    image = own_engine.ensure_lab_image()
    ada.start_app("myapp2")
    spoofs = [
        own_engine.run(image, name=f"{ns}-spoof{i}", labels=_labels(t, ns)).id
        for i, t in enumerate(SPOOFS.values())
    ]
    nets = [
        own_engine.create_network(f"{ns}-spoofnet{i}", labels=_labels(t, ns)).id
        for i, t in enumerate(SPOOFS.values())
    ]
    assert [c.name for c in ada.containers()] == [f"{ns}-myapp2"]
    for i in range(len(SPOOFS)):
        with pytest.raises(errors.NotOwned):
            ada.remove(f"spoof{i}")
        with pytest.raises(errors.NotOwned):
            ada.remove_network(f"spoofnet{i}")
    assert ada.cleanup().containers == (f"{ns}-myapp2",)
    everyone = ada.cleanup(all_namespaces=True)  # an instructor's sweep
    # Only the namespace in capitals is a namespace labkit could have made (another student's):
    # its labels are a full copy, which labels cannot tell apart (see the module docstring).
    upper = list(SPOOFS).index("namespace in capitals")
    assert everyone.containers == (f"{ns}-spoof{upper}",)
    assert everyone.networks == (f"{ns}-spoofnet{upper}",)
    for i, ref in enumerate(spoofs):
        if i != upper:
            assert own_engine.container(ref).running
            own_engine.remove(ref)
    for i, ref in enumerate(nets):
        if i != upper:
            own_engine.remove_network(ref)


def test_look_alike_names_and_namespaces_stay_apart(own_engine):
    image = own_engine.ensure_lab_image()
    ada, ada_my = Lab(own_engine, namespace="ada"), Lab(own_engine, namespace="ada-my")
    ada.start_app("my-app")  # ada-my-app: a name ada-my could also reach for
    with pytest.raises(errors.NameInUse):
        ada_my.start_app("app")
    for call in (lambda: ada_my.restart("app"), lambda: ada_my.remove("app")):
        with pytest.raises(errors.NotOwned):
            call()
    users = own_engine.run(image, name="ada-web", ports={"80/tcp": ("127.0.0.1", None)})
    with pytest.raises(errors.NotOwned):
        ada.remove("web")
    assert ada_my.cleanup().containers == ()
    assert ada.cleanup().containers == ("ada-my-app",)
    assert own_engine.container(users.id).running
    own_engine.remove(users.id)


# -- namespaces: from LABKIT_NAMESPACE, JUPYTERHUB_USER, the login; never two names in one -------


def test_the_namespace_comes_from_labkit_namespace_then_the_hub_user_then_the_login(monkeypatch):
    monkeypatch.setenv("USER", "jovyan")
    monkeypatch.setenv("LOGNAME", "jovyan")
    monkeypatch.delenv("LABKIT_NAMESPACE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert default_namespace() == "jovyan"
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert default_namespace() == "grace"
    monkeypatch.setenv("LABKIT_NAMESPACE", "course-ada")
    assert default_namespace() == "course-ada"


@pytest.mark.parametrize(
    "names",
    [
        ("李", "王"),
        ("-", "_"),
        ("-", "--"),
        ("José", "Jose"),
        ("a b", "a-b"),
        ("x" * 33, "x" * 34),
        ("ada@uni.example", "ada@uni-example"),
        ("u--0123456789", "李"),
    ],
)
def test_two_names_never_share_a_namespace(names):
    from labkit.lab import namespace_for

    first, second = (namespace_for(n) for n in names)
    assert first != second
    for ns in (first, second):
        assert len(ns) <= 32 and ns[0].isalnum(), "a valid container-name prefix"


@pytest.mark.docker
def test_non_ascii_and_punctuation_namespaces_never_clean_each_other(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    labs = {}
    for who in ("李", "王", "-"):
        labkit_cli(private_dockerd.url, who, "cleanup")  # the CLI, as each student runs it
        labs[who] = lab = Lab(engine, namespace=who)
        lab.start_app("myapp2")
    assert len({lab.namespace for lab in labs.values()}) == 3
    out = labkit_cli(private_dockerd.url, "王", "cleanup", "--yes")
    assert labs["王"].name("myapp2") in out
    assert labs["王"].containers() == []
    for who in ("李", "-"):
        assert [c.name for c in labs[who].containers()] == [labs[who].name("myapp2")]
        labs[who].cleanup()


@pytest.mark.docker
def test_hub_users_who_all_log_in_as_jovyan_get_a_namespace_each(private_dockerd):
    from labkit.engine.docker import DockerEngine

    engine = DockerEngine(private_dockerd.url)
    hub = {"USER": "jovyan", "LOGNAME": "jovyan"}
    start = textwrap.dedent(
        """
        import sys
        from labkit.engine.docker import DockerEngine
        from labkit.lab import Lab
        lab = Lab(DockerEngine(sys.argv[1]))
        print(lab.start_app("myapp2").name)
        """
    )
    names = {}
    for user in ("ada", "grace"):
        done = subprocess.run(
            [sys.executable, "-c", start, private_dockerd.url],
            env={**os.environ, **hub, "JUPYTERHUB_USER": user, "LABKIT_NAMESPACE": ""},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        names[user] = done.stdout.strip()
    assert names == {"ada": "ada-myapp2", "grace": "grace-myapp2"}
    labkit_cli(private_dockerd.url, None, "cleanup", "--yes", JUPYTERHUB_USER="grace", **hub)
    assert [c.name for c in Lab(engine, namespace="ada").containers()] == ["ada-myapp2"]
    assert Lab(engine, namespace="grace").containers() == []
    Lab(engine, namespace="ada").cleanup()
