"""Stage 5, judge (autograder.judge): recorded values → typed verdicts, points and a typed
status, on a small fixture assignment; what a student reads is fixed words only."""
import numpy as np
import pytest

from autograder import decode, judge, plan as plan_stage
from autograder.status import Status
from autograder.verdict import CaseKind, mismatch
from lectlib.homework.compare import compare

from autograder_fixtures import CHECKS, LIMITS, ORDER, REFERENCES, all_passing, asked, cells, ok_call, \
    release_notebook, run_result, sent, submitted


def judged(messages, notebook=None, run=None, done=True):
    plan = plan_stage.build_plan(notebook or submitted(), release_notebook(), CHECKS)
    data = sent(*messages, *([{"kind": "done", "printed": 0}] if done else []))
    recorded = decode.decode(data, plan.sequence())
    return judge.judge(CHECKS, REFERENCES, plan, recorded, run or run_result(results=data), LIMITS)


def points(results):
    return {r.function: r.points for r in results}


def replaced(messages, call, outcome):
    """``messages`` with the result of ``call`` replaced by ``outcome``."""
    return [outcome if isinstance(m, tuple) and m[0]["id"] == call else m for m in messages]


def test_the_fixture_plan_asks_in_the_order_the_fixtures_answer():
    assert plan_stage.build_plan(submitted(), release_notebook(), CHECKS).sequence() == ORDER


def test_everything_right_is_full_marks_and_ok():
    results, score, status = judged(all_passing())
    assert score == 5 and status == Status("ok") and points(results) == {"double": 2, "total": 3}
    assert results[0].student_text() == "all 2 cases passed (1 visible, 1 hidden)"
    assert [c.kind for c in results[0].cases] == [CaseKind.PASSED, CaseKind.PASSED]


def test_a_wrong_hidden_case_costs_the_function_and_says_only_its_label_and_kind():
    messages = replaced(all_passing(), "test_double/1", ok_call("test_double/1", REFERENCES["test_double"][1] + 1))
    results, score, status = judged(messages)
    assert score == 3 and status.kind == "ok"
    assert results[0].student_text() == "hidden case 'random x': wrong values"


def test_a_wrong_visible_case_says_what_was_expected_from_the_reference_alone():
    messages = replaced(all_passing(), "test_double/0", ok_call("test_double/0", np.zeros((271, 828))))
    results, _, _ = judged(messages)
    text = results[0].student_text()
    assert text == "visible case 'x = [1, 2]': the result has the wrong shape (result should have shape (2,))"
    assert "271" not in text and "828" not in text


def test_raised_names_a_builtin_exception_only():
    raised = {"kind": "call", "id": "test_double/1", "status": "raised", "exception": "ValueError", "message": "xs=[9]"}
    results, _, _ = judged(replaced(all_passing(), "test_double/1", raised))
    assert results[0].student_text() == "hidden case 'random x': raised ValueError"
    raised = dict(raised, exception="the result is 271828")
    results, _, _ = judged(replaced(all_passing(), "test_double/1", raised))
    assert results[0].student_text() == "hidden case 'random x': raised an exception of its own class"
    assert "271828" in results[0].message       # the instructor's line keeps it, marked
    assert "[submission's text]" in results[0].message


def test_a_forbidden_use_in_the_source_costs_exactly_that_function():
    notebook = submitted(total_source="def total(x):\n    return jax.grad(lambda y: y)(x)")
    results, score, status = judged(all_passing(), notebook)
    assert score == 2 and points(results) == {"double": 2, "total": 0}
    assert results[1].rules == ("no-autodiff",)
    assert results[1].student_text().startswith("not judged: broke the rule ")
    assert status.kind == "forbidden" and "jax.grad" in status.text()


def test_a_forbidden_use_at_run_time_costs_the_function_it_happened_in():
    during_call = {"kind": "violation", "rule": "no-autodiff", "used": "jax.grad", "line": 4, "cell": 5,
                   "call": "test_total/0"}
    results, score, status = judged(all_passing() + [during_call])
    assert score == 2 and results[1].rules == ("no-autodiff",)
    in_answer_cell = {"kind": "violation", "rule": "no-lectlib", "used": "lectlib", "line": 1, "cell": 2, "call": None}
    results, score, status = judged(all_passing() + [in_answer_cell])
    assert score == 3 and results[0].rules == ("no-lectlib",)
    elsewhere = {"kind": "violation", "rule": "no-lectlib", "used": "lectlib", "line": 1, "cell": 6, "call": None}
    results, score, status = judged(all_passing() + [elsewhere])
    assert score == 5 and status.kind == "ok" and status.notes[0].kind == "rule-outside"


def test_autodiff_where_no_rule_forbids_it_costs_nothing():
    stray = {"kind": "violation", "rule": "no-autodiff", "used": "jax.grad", "line": 1, "cell": 2, "call": "test_double/0"}
    results, score, status = judged(all_passing() + [stray])
    assert score == 5


def test_a_protocol_violation_costs_the_notebook_with_a_fixed_message():
    forged = all_passing() + [ok_call("test_double/0", np.array([2.0, 4.0], np.float32))]
    results, score, status = judged(forged)
    assert score == 0 and status.kind == "protocol-violation"
    assert status.student_text() == "not graded: the notebook tampered with the grader"
    assert all(r.not_run == "protocol-violation" for r in results)


def until_total():
    """The fixture's messages up to the request for test_total/0, whose answer never comes."""
    return all_passing()[:-1]


@pytest.mark.parametrize("run, recorded_extra, kind, detail", [
    (run_result("timeout", -9), [], "timeout", "the notebook ran longer than 30 s and was stopped"),
    (run_result("memory", -9), [], "memory", "the notebook used more than 2 GiB and was stopped"),
    (run_result("output-limit", -9), [], "output-limit", "the notebook wrote more than 1048576 bytes to the terminal"),
    (run_result("output-limit", -9, overflowed=True), [], "output-limit", "sent back more than 64 MiB of results"),
    (run_result("process-limit", 1), [], "process-limit", "started more than 64 processes"),
    (run_result("crashed", 139), [], "crashed", "killed by signal 11"),
    (run_result("ok", 0), [{"kind": "disk", "where": "cell 3"}], "disk",
     "the notebook filled its scratch folder (64 MiB) and was stopped"),
])
def test_how_the_run_ended_is_the_status(run, recorded_extra, kind, detail):
    results, score, status = judged(until_total() + recorded_extra, run=run, done=False)
    assert status.kind == kind and detail in status.text(), status
    assert score == 2 and results[1].cases[0].kind is CaseKind.NOT_REACHED
    assert results[1].student_text() == "hidden case 'x = [1, 2]': not reached: the notebook stopped before this case" \
        or results[1].student_text().startswith("visible case 'x = [1, 2]': not reached")


def test_a_run_that_ends_early_with_exit_code_0_is_a_crash():
    results, score, status = judged(all_passing(), done=False)
    assert status.kind == "crashed" and "(exit code 0)" in status.text() and score == 5


def test_numbers_the_submission_chose_reach_the_instructor_only():
    messages = all_passing() + [{"kind": "cell", "cell": 4, "error": {"exception": "ZeroDivisionError",
                                                                         "message": "271828"}}]
    plan = plan_stage.build_plan(submitted(extra=["1/0"]), release_notebook(), CHECKS)
    recorded = decode.decode(sent(*messages, {"kind": "done", "printed": 31_415_926}), plan.sequence())
    run = run_result()
    run.hit_process_limit = True
    _, score, status = judge.judge(CHECKS, REFERENCES, plan, recorded, run, LIMITS, ["graded x.ipynb (expected y.ipynb)"])
    assert score == 5 and status.kind == "ok"
    instructor = status.text()
    assert "31 MB" in instructor and "cell 4: [submission's text] ZeroDivisionError" in instructor and "271828" in instructor
    student = status.student_text()
    assert student == ("graded; the notebook was changed in a way the grader had to work around (deleted, "
                       "duplicated or renamed cells or files); printed more than the limit; started more processes "
                       "than allowed; a cell raised an error")
    assert not any(ch.isdigit() for ch in student)


def test_mismatch_describes_the_expected_side_only():
    assert mismatch(np.ones(2), np.ones(2), 1e-5, 1e-6) is None
    assert mismatch(np.ones(3), np.ones(2), 1e-5, 1e-6) == (CaseKind.WRONG_SHAPE, "result should have shape (2,)")
    assert mismatch({"secret-key": np.ones(1)}, {"W": np.ones(1)}, 1e-5, 1e-6) == \
        (CaseKind.WRONG_TYPE, "result should be a dict with keys ['W']")
    assert mismatch((np.ones(1),), (np.ones(1), np.ones(1)), 1e-5, 1e-6)[0] is CaseKind.WRONG_TYPE
    assert mismatch(np.array([np.nan]), np.ones(1), 1e-5, 1e-6)[0] is CaseKind.WRONG_VALUE
    assert mismatch(np.array(["a"]), np.ones(1), 1e-5, 1e-6)[0] is CaseKind.WRONG_TYPE
    assert mismatch((np.zeros(2), {"W": np.ones(2)}), (np.zeros(2), {"W": np.zeros(2)}), 1e-5, 1e-6) == \
        (CaseKind.WRONG_VALUE, "result[1]['W'] has the right shape, wrong values")


def test_compare_says_what_differs_for_the_students_own_check():
    assert compare(np.ones(2), np.ones(2), 1e-5, 1e-6) is None
    assert compare(np.ones(3), np.ones(2), 1e-5, 1e-6) == "the result should have shape (2,), received shape (3,)"
    assert "differs at index (1,): expected 1, received 2" in compare(np.array([1.0, 2.0]), np.ones(2), 1e-5, 1e-6)
