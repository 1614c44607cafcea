"""labkit.check: right answers pass, wrong ones say so, wrong types are clear errors, and the
expected value is the fact as it was when the question was shown."""

import subprocess
import sys

import pytest

from labkit.check import Exercise, Feedback, NotAnswerable, Question
from labkit.errors import InvalidInput, LabkitError


def test_right_answer_passes_and_says_so(capsys):
    q = Question("Which port?", expected=lambda: 32769, explain="the allocator moved on")
    assert q.check(32769) is True
    out = capsys.readouterr().out
    assert "✓" in out and "32769" in out and "allocator" in out


def test_wrong_answer_says_so(capsys):
    q = Question("Which port?", expected=lambda: 32769, name="q_port")
    assert q.check(32768) is False
    out = capsys.readouterr().out
    assert "✗" in out and "32768" in out and "q_port.hint()" in out


def test_known_mistake_gets_its_own_why(capsys):
    q = Question(
        "Which port now?",
        expected=lambda: 32769,
        mistakes=lambda: {32768: "That was the port before the restart."},
    )
    assert q.check(32768) is False
    assert "before the restart" in capsys.readouterr().out


def test_expected_is_the_fact_when_the_question_was_shown(capsys):
    state = {"port": 32768}
    q = Question("Which port?", expected=lambda: state["port"], changed_by="the restart")
    state["port"] = 32771  # the student ran the restart cell, then came back to answer
    assert q.check(32768) is True
    out = capsys.readouterr().out
    assert "that was right before the restart; now it is 32771" in out.lower()
    assert q.check(32771) is True  # what is true now is not marked wrong either
    assert "before the restart it was 32768" in capsys.readouterr().out
    assert q.check(32770) is False
    assert q.solution(show=False) == 32768


def test_a_question_shown_before_its_fact_pins_it_at_the_first_check(capsys):
    state: dict = {"port": None}
    q = Question("Which port?", expected=lambda: state["port"])
    state["port"] = 40000
    assert q.check(40000) is True


def test_expected_must_be_a_callable():
    with pytest.raises(InvalidInput) as caught:
        Question("Which port?", expected=32768)  # type: ignore[arg-type]
    assert "→" in str(caught.value) and "lambda" in str(caught.value)


def test_empty_prompt_is_refused():
    with pytest.raises(InvalidInput):
        Question("  ", expected=lambda: 1)


@pytest.mark.parametrize(
    ("expected", "answer", "wants"),
    [
        (32768, [32768], "whole number"),
        (32768, "port 32768", "whole number"),
        (32768, True, "whole number"),
        ("172.17.0.1", 172, "string"),
        (True, "yes", "True or False"),
        (["a", "b"], "a,b", "list"),
    ],
)
def test_wrong_type_is_a_clear_labkit_error(expected, answer, wants):
    q = Question("?", expected=lambda: expected)
    with pytest.raises(InvalidInput) as caught:
        q.check(answer)
    err = caught.value
    assert isinstance(err, LabkitError)
    assert wants in err.why and err.fix.startswith("set answer =")
    assert "\n" in err.message and "→" in err.message  # what: why, then what to do


def test_not_answered_yet_is_not_an_error(capsys):
    q = Question("?", expected=lambda: 1)
    assert q.check(None) is False
    assert "Not answered yet" in capsys.readouterr().out
    assert q.attempts == 0


def test_digit_strings_count_as_numbers(capsys):
    q = Question("?", expected=lambda: 32768)
    assert q.check("32768") is True
    assert q.check(" 32768\n") is True
    assert q.check(32768.0) is True


@pytest.mark.parametrize(
    "odd", ["²", "３２７６８", "٣", "32 768", "0x8000", "-1", "", float("nan")]
)
def test_odd_input_for_a_number_is_a_clear_message(odd):
    q = Question("?", expected=lambda: 32768)
    with pytest.raises(InvalidInput) as caught:
        q.check(odd)
    err = caught.value
    assert "whole number" in err.why and "0-9" in err.why and err.fix.startswith("set answer =")
    assert repr(odd) in err.what


def test_numpy_values_are_plain_values(capsys):
    np = pytest.importorskip("numpy")
    q = Question("?", expected=lambda: np.int64(32768))
    assert q.check(np.int64(32768)) is True
    assert q.check(32768) is True
    assert q.check(np.int32(32769)) is False
    assert Question("?", expected=lambda: True).check(np.bool_(True)) is True
    assert Question("?", expected=lambda: ["a"]).check([np.str_("a")]) is True


def test_gateway_with_a_prefix_length_gets_specific_feedback(capsys):
    q = Question("What is docker0's own address?", expected=lambda: "172.17.0.1")
    assert q.check("172.17.0.1/16") is True
    out = capsys.readouterr().out
    assert "/16 is the subnet's prefix length" in out
    assert q.check("172.17.0.0/16") is False
    assert "whole subnet" in capsys.readouterr().out
    assert q.check("172.17.0.9") is False
    assert q.check("172.17.0.9/16") is False
    assert "another one" in capsys.readouterr().out


def test_a_subnet_question_answered_with_an_address_says_what_is_missing(capsys):
    q = Question("Subnet?", expected=lambda: "172.18.0.0/16")
    assert q.check("172.18.0.0") is False
    assert "prefix length" in capsys.readouterr().out
    assert q.check("172.18.0.0/24") is False
    assert "/24 is not" in capsys.readouterr().out


def test_strings_ignore_case_and_blanks(capsys):
    q = Question("?", expected=lambda: "docker0")
    assert q.check("  Docker0 ") is True
    assert q.check("eth0") is False


def test_addresses_compare_as_addresses(capsys):
    q = Question("?", expected=lambda: "172.18.0.0/16")
    assert q.check("172.18.0.0/16") is True
    assert q.check("172.18.0.1/16") is True  # same network, written from a host address
    assert q.check("172.19.0.0/16") is False
    assert q.check("my subnet") is False
    assert "not an IP address" in capsys.readouterr().out
    ip = Question("?", expected=lambda: "172.17.0.2")
    assert ip.check("172.17.0.2") is True and ip.check("172.17.0.3") is False


def test_choices(capsys):
    q = Question("Which?", expected=lambda: "host", choices=("bridge", "host", "none"))
    assert q.check("HOST") is True
    assert q.check("none") is False
    with pytest.raises(InvalidInput) as caught:
        q.check("overlay")
    assert "'bridge'" in caught.value.fix


def test_collections_compare_as_sets_unless_ordered(capsys):
    q = Question("?", expected=lambda: ["bridge", "host", "none"])
    assert q.check(("none", "Bridge", "host")) is True
    assert q.check(["bridge", "host"]) is False
    ordered = Question("?", expected=lambda: ["a", "b"], ordered=True)
    assert ordered.check(["b", "a"]) is False


def test_bools(capsys):
    q = Question("?", expected=lambda: False)
    assert q.check(False) is True and q.check(True) is False


def test_hint_and_solution_show_text(capsys):
    port = {"now": 40000}
    q = Question(
        "?",
        expected=lambda: port["now"],
        hint="look at the table",
        explain=lambda: f"it is {port['now']}",
        changed_by="the restart",
    )
    q.hint()
    assert q.solution() == 40000
    out = capsys.readouterr().out
    assert "look at the table" in out and "40000" in out and "it is 40000" in out
    port["now"] = 40001
    assert q.solution() == 40000
    assert "Now it is 40001: the restart changed it since" in capsys.readouterr().out


def test_on_check_hears_every_checked_answer_and_cannot_break_it(capsys):
    heard = []
    q = Question("?", expected=lambda: 1, on_check=heard.append)
    q.check(1), q.check(2), q.check(None)
    assert heard == [True, False]

    def broken(right):
        raise RuntimeError("engine gone")

    assert Question("?", expected=lambda: 1, on_check=broken).check(1) is True


def test_facts_remembered_as_shown():
    from labkit.check import history, recall, remember

    class Lab:  # any object a notebook holds as its lab
        namespace = "alice"

    lab = Lab()
    assert recall(lab, "myapp2.host_port") is None
    for port in (32768, 32768, 32769):
        remember(lab, "myapp2.host_port", port)
    assert recall(lab, "myapp2.host_port") == 32769
    assert history(lab, "myapp2.host_port") == [32768, 32769]
    assert recall(Lab(), "myapp2.host_port") is None  # another lab has its own record


def test_nothing_to_check_against_is_a_clear_error():
    q = Question("Which port?", expected=lambda: None)
    with pytest.raises(NotAnswerable) as caught:
        q.check(1)
    assert "run the notebook's cells above" in str(caught.value)


def test_feedback_renders_escaped_html():
    fb = Feedback("wrong", "Not quite: '<script>' is not the answer.")
    assert "<script>" not in fb._repr_html_() and "&lt;script&gt;" in fb._repr_html_()


def test_exercise_is_an_alias():
    assert Exercise is Question


def test_import_check_stays_light():
    code = "import sys, labkit.check; print(' '.join(m for m in ('docker','pandas','plotly','ipywidgets','IPython') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_the_port_range_question_explains_the_tempting_wrong_answers(sim_lab, capsys):
    # h8's walk: the range typed without quotes (32768-60999) reached the check as -28231 with
    # generic feedback; the kernel's default 32768 is not this simulated host's low end.
    from labkit.exercises import exercise

    low, high = sim_lab.engine.info().port_range
    q = exercise("01.range", sim_lab)
    assert q.check(32768 - 60999) is False
    assert "without quotes Python subtracted" in capsys.readouterr().out
    assert q.check(low - high) is False
    assert "without quotes Python subtracted" in capsys.readouterr().out
    if low != 32768:
        assert q.check(32768) is False
        assert "kernel's default" in capsys.readouterr().out
    assert q.check(high) is False
    assert "top of the range" in capsys.readouterr().out
    assert q.check(low) is True


def test_a_yes_no_question_says_to_answer_true_or_false():
    # Notebook 02's "Did myapp2 keep its bridge IP this time?" did not say how to write "no".
    assert (
        "<code>True</code> or <code>False</code>" in Question("Kept?", lambda: False)._repr_html_()
    )
    assert "True</code> or" not in Question("Port?", lambda: 33768)._repr_html_()


def test_the_vxlan_question_explains_udp_s_28_and_the_missing_inner_header(sim_lab, capsys):
    # h8's walk: 28 (flannel UDP's overhead, in the same table) got generic feedback.
    from labkit.exercises import exercise

    q = exercise("04.vxlan_bytes", sim_lab)
    assert q.check(28) is False
    assert "flannel UDP's" in capsys.readouterr().out
    assert q.check(36) is False
    assert "inner Ethernet header" in capsys.readouterr().out
    assert q.check(50) is True


def test_the_port_question_explains_the_container_port_80(sim_lab, capsys):
    # h8's walk: 80, the container's port, got generic feedback.
    from labkit.exercises import exercise

    sim_lab.start_app("myapp2")
    q = exercise("01.port", sim_lab)
    assert q.check(80) is False
    assert "80 is the container's port" in capsys.readouterr().out
    assert q.check(q.solution(show=False)) is True
