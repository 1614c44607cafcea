"""The course notebooks: stored clean, executed top to bottom on both engines, exercises checked.

The answer convention (documented in ``labkit.check``): an exercise's answer cell is tagged
``answer``, names its question in ``metadata.labkit.question`` and holds
``answer = None  # your answer here``. To answer an exercise as a student would, the harness
replaces that cell's source — with ``answer = q.solution(show=False)`` (the checks must pass) or
with a wrong value of the right type (the checks must say ✗).

The terminal convention (documented in ``labkit.tasks``): a cell tagged ``terminal`` shows a
task and names its variable in ``metadata.labkit.task``; the next cell starts with
``<variable>.check();``. The harness does the task as a student does in a terminal — it inserts
``<variable>.run_in_terminal()`` between the two, which runs the printed docker command lines
with a shell and the terminal's environment — unless a test asks for the task left undone.

Each run gets its own namespace (``LABKIT_NAMESPACE=nbtest-<random>``) and must leave nothing of
it behind: neither labkit's objects nor a container named with the namespace (one made by hand).
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
PLACEHOLDER = "answer = None  # your answer here"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
MIN_EXERCISES = {"01": 2, "02": 2, "03": 2, "04": 1}
TYPED = ("00", "01", "02", "03", "04")  # every notebook: the typed course

# Injected into a wrong-answer run: a wrong answer of the right type for any question.
_WRONG = """
def _labkit_wrong(q):
    import ipaddress
    right = q.solution(show=False)
    if q.choices:
        return next(c for c in q.choices if c.lower() != str(right).lower())
    if isinstance(right, bool):
        return not right
    if isinstance(right, int):
        return right + 1
    try:
        net = ipaddress.ip_network(right, strict=False)
        if "/" in right:
            return str(ipaddress.ip_network((int(net.network_address) + net.num_addresses, net.prefixlen)))
        return str(ipaddress.ip_address(right) + 1)
    except ValueError:
        return str(right) + "-not-it"
"""

# Appended to every run: the notebook's own cleanup left nothing of its namespace on the engine,
# labkit's or typed by hand in a terminal (a name with the namespace prefix); the namespace's
# progress record (labkit.progress) stays, as it does for a student.
_LEFTOVERS = """
from labkit.progress import marker_name as _marker
_left = [c.name for c in lab.engine.containers() if c.name != _marker(lab.namespace) and (lab.owns(c) or c.name.startswith(lab.namespace + "-"))]
_left += [n.name for n in lab.networks() if lab.owns(n.labels) or n.name.startswith(lab.namespace + "-")]
assert not _left, f"the notebook's cleanup left {_left}"
lab.cleanup()  # the progress record outlives a notebook by design; a test run removes it too
print("labkit-test: nothing left in", lab.namespace)
"""


def load(path: Path):
    return nbformat.read(path, as_version=4)


def answer_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if "answer" in c.metadata.get("tags", [])]


def terminal_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if "terminal" in c.metadata.get("tags", [])]


def prepared(nb, *, wrong: bool = False, terminal: bool = True):
    nb = copy.deepcopy(nb)
    if terminal:  # the student types the task's commands in a terminal before the check
        for i, cell in reversed(terminal_cells(nb)):
            var = cell.metadata["labkit"]["task"]
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell(f"{var}.run_in_terminal()"))
    for _, cell in answer_cells(nb):
        q = cell.metadata["labkit"]["question"]
        cell.source = (
            f"{_WRONG}\nanswer = _labkit_wrong({q})"
            if wrong
            else f"answer = {q}.solution(show=False)"
        )
    nb.cells.append(nbformat.v4.new_code_cell(_LEFTOVERS))
    return nb


def execute(nb, env: dict[str, str], monkeypatch, timeout: int = 180):
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NB_DIR)}}
    )
    client.execute()
    return nb


def check_results(nb) -> list[str]:
    """The feedback each exercise's check cell (the cell after its answer cell) showed. The cell
    ends in ``;``, so the student sees the feedback alone, not a ``True`` or ``False`` below it."""
    results = []
    for i, _ in answer_cells(nb):
        outputs = nb.cells[i + 1].outputs
        assert not [o for o in outputs if o.output_type == "execute_result"], outputs
        html = "".join(
            o.get("data", {}).get("text/html", "")
            for o in outputs
            if o.output_type == "display_data"
        )
        assert "labkit-check" in html, f"check cell {i + 1} showed no feedback: {outputs}"
        results.append(html)
    return results


def assert_no_errors(nb, name: str) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{name}: error output {out}"
            assert "labkit-error" not in str(out.get("data", {}).get("text/html", "")), (
                f"{name}: a labkit error: {out}"
            )


def terminal_check_results(nb) -> list[str]:
    """The feedback each terminal task's check cell showed."""
    results = []
    for i, cell in terminal_cells(nb):
        var = cell.metadata["labkit"]["task"]
        check = next(c for c in nb.cells[i + 1 :] if c.source.startswith(f"{var}.check();"))
        results.append("".join(str(o.get("data", {}).get("text/html", "")) for o in check.outputs))
    return results


def assert_clean_run(nb, name: str) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{name}: error output {out}"
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "Traceback" not in text, f"{name}: a traceback in the output: {text[:500]}"
            assert "labkit-error" not in str(out.get("data", {}).get("text/html", "")), (
                f"{name}: a labkit error: {out}"
            )
    assert "labkit-test: nothing left" in nb.cells[-1].outputs[0]["text"]
    for html in check_results(nb):
        assert "labkit-check-right" in html, f"{name}: a check with the solution failed: {html}"
    for html in terminal_check_results(nb):
        assert "labkit-check-right" in html, f"{name}: a terminal task done is not seen: {html}"


def namespace() -> str:
    return f"nbtest-{uuid.uuid4().hex[:8]}"


# -- stored form -----------------------------------------------------------------------------------


def test_there_are_five_notebooks_in_order():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04"]


def test_the_start_page_gives_each_notebook_the_time_it_says_itself():
    # 00's table said 20 and 10 min where 03 and 04 say "About 25/15 minutes" (h8's walk).
    overview = load(NOTEBOOKS[0]).cells
    table = next(c.source for c in overview if "| notebook |" in c.source)
    listed = dict(re.findall(r"^\| `(\d\d)-[^`]+` \|.*\| (\d+) min \|$", table, re.M))
    said = {}
    for path in NOTEBOOKS[1:]:
        intro = load(path).cells[0].source
        said[path.stem[:2]] = re.search(r"About (\d+) minutes", intro).group(1)
    assert listed == said


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs_and_with_kernelspec(path):
    nb = load(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec") == KERNELSPEC, (
        f"{path.name}: kernelspec {nb.metadata.get('kernelspec')}"
    )
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: stored with outputs"
            assert cell.execution_count is None, f"{path.name}: stored with execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_course_conventions(path):
    nb = load(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "nb.start()" in code[0].source, f"{path.name}: the first code cell must start the lab"
    assert "lab.cleanup(session_only=True)" in code[-1].source, (
        f"{path.name}: the last cell must clean up"
    )
    text = "\n".join(c.source for c in nb.cells)
    assert "10.1.20." not in text, (
        f"{path.name}: the lab text's classroom addresses must not appear"
    )
    assert "PuTTY" not in text.replace("No PuTTY", "").replace("PuTTY and a Windows", ""), path.name
    answers = answer_cells(nb)
    assert len(answers) >= MIN_EXERCISES.get(path.stem[:2], 0), f"{path.name}: too few exercises"
    for i, cell in answers:
        q = cell.metadata["labkit"]["question"]
        assert cell.source == PLACEHOLDER, f"{path.name}: answer cell {i} is not the placeholder"
        above = nb.cells[i - 1].source
        assert f"{q} = Question(" in above or f"{q} = nb.exercise(" in above, (
            f"{path.name}: {q} is not defined just above"
        )
        assert nb.cells[i + 1].source.startswith(f"{q}.check(answer);"), (
            f"{path.name}: no check after answer {q}"
        )

    tasks = terminal_cells(nb)
    assert tasks, f"{path.name}: no exercise done in a terminal"
    for i, cell in tasks:
        var = cell.metadata["labkit"]["task"]
        assert nb.cells[i + 1].source.startswith(f"{var}.check();"), f"no check after task {var}"


# What a student-facing cell must not contain: plumbing in front of the lesson (issue 14, 5).
_PLUMBING = {
    "an import other than labkit.notebook": re.compile(
        r"^\s*(from\s+\S+\s+)?import (?!labkit\.notebook as nb$)", re.M
    ),
    "an f-string": re.compile(r"\bf[\"']"),
    "a comprehension": re.compile(r"[\[{(][^\]})]*\bfor\b[^\]})]*\bin\b"),
    "pandas": re.compile(r"\bpd\.|\.style\b|\.assign\(|\.concat\("),
    "a lambda": re.compile(r"\blambda\b"),
    "a print of a built command": re.compile(r"print\([\"']\$"),
}


@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if p.stem[:2] in TYPED], ids=lambda p: p.stem
)
def test_student_cells_read_like_the_lab_step(path):
    nb = load(path)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    imports = [line for src in code for line in src.splitlines() if "import " in line]
    assert imports == ["import labkit.notebook as nb"], f"{path.name}: imports {imports}"
    for src in code:
        if "# your answer here" in src:
            continue
        for what, pattern in _PLUMBING.items():
            assert not pattern.search(src), f"{path.name}: {what} in a cell: {src!r}"
    typed = [src for src in code if src.startswith(("%docker ", "%host "))]
    assert len(typed) >= 3, f"{path.name}: the lab's commands are not typed ({len(typed)} cells)"


def test_stored_notebooks_have_no_unanswered_checks_that_raise(monkeypatch):
    """Run All with every answer left at None: checks say "not answered yet", nothing stops."""
    nb = copy.deepcopy(load(NB_DIR / "01-ephemeral-ports.ipynb"))
    execute(nb, {"LABKIT_ENGINE": "sim", "LABKIT_NAMESPACE": namespace()}, monkeypatch)
    for html in check_results(nb):
        assert "Not answered yet" in html and "labkit-check-right" not in html
    for html in terminal_check_results(nb):  # the terminal task left undone: the engine says so
        assert "labkit-check-wrong" in html and "Not done yet" in html
    assert_no_errors(nb, "01 with nothing answered")


# -- executed on the simulated engine ----------------------------------------------------------------


def test_course_on_the_simulated_engine(monkeypatch, record_property):
    started = time.perf_counter()
    timings = {}
    for path in NOTEBOOKS:
        t0 = time.perf_counter()
        nb = execute(
            prepared(load(path)),
            {"LABKIT_ENGINE": "sim", "LABKIT_NAMESPACE": namespace()},
            monkeypatch,
        )
        timings[path.stem] = round(time.perf_counter() - t0, 2)
        assert_clean_run(nb, path.name)
        if path.stem.startswith("03"):  # -p :80 on the host network: the engine's one-line warning
            # %docker prints the CLI's stderr with its stdout, as a terminal shows both.
            printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
            assert (
                "WARNING: Published ports are discarded" in printed and "UserWarning" not in printed
            )
        banner = "".join(str(o.get("data", {}).get("text/html", "")) for o in nb.cells[1].outputs)
        assert "SIMULATED ENGINE" in banner
    total = time.perf_counter() - started
    record_property("sim_seconds", timings)
    print(f"\nsimulated engine: {timings}, total {total:.1f} s")


@pytest.mark.parametrize("stem", ["01-ephemeral-ports", "03-docker-networks", "04-beyond-one-host"])
def test_a_wrong_answer_makes_the_check_say_so(stem, monkeypatch):
    nb = execute(
        prepared(load(NB_DIR / f"{stem}.ipynb"), wrong=True),
        {"LABKIT_ENGINE": "sim", "LABKIT_NAMESPACE": namespace()},
        monkeypatch,
    )
    results = check_results(nb)
    assert results
    for html in results:
        assert "labkit-check-wrong" in html and "Not quite" in html


# -- executed on the real engine ---------------------------------------------------------------------


@pytest.mark.docker
def test_course_on_the_real_engine_twice_in_a_row(docker_engine, monkeypatch):
    """The whole course, twice, in one namespace per round: the second round only works if the
    first cleaned up completely. Nothing of either namespace is left; bystanders are checked
    untouched by the conftest's session fixture."""
    from labkit.lab import NAMESPACE_LABEL, Lab
    from labkit.progress import marker_name

    for round_ in (1, 2):
        ns = namespace()
        started = time.perf_counter()
        timings = {}
        for path in NOTEBOOKS:
            t0 = time.perf_counter()
            nb = execute(
                prepared(load(path)),
                {"LABKIT_ENGINE": "docker", "LABKIT_NAMESPACE": ns},
                monkeypatch,
            )
            timings[path.stem] = round(time.perf_counter() - t0, 2)
            assert_clean_run(nb, path.name)
            banner = "".join(
                str(o.get("data", {}).get("text/html", "")) for o in nb.cells[1].outputs
            )
            assert "REAL ENGINE" in banner
        print(
            f"\nreal engine, round {round_}: {timings}, total {time.perf_counter() - started:.1f} s"
        )
        left = docker_engine.containers(labels={NAMESPACE_LABEL: ns})
        assert [c.name for c in left if c.name != marker_name(ns)] == []
        assert not [n for n in docker_engine.networks() if n.labels.get(NAMESPACE_LABEL) == ns]
        Lab(docker_engine, namespace=ns).cleanup()  # the progress record, as a reset removes it


def test_session_only_cleanup_leaves_other_sessions(sim_engine):
    from labkit.lab import Lab

    ns = namespace()
    mine, other = Lab(sim_engine, namespace=ns), Lab(sim_engine, namespace=ns)
    mine.start_app("a")
    other.start_app("b")
    plan = mine.cleanup(session_only=True)
    assert plan.containers == (f"{ns}-a",)
    assert [c.name for c in other.containers()] == [f"{ns}-b"]
    other.cleanup()
