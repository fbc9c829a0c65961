"""Stage 5, judge (autograder.judge): recorded values → points and a typed status, on a
small fixture assignment; and the comparison students and grader share."""
import numpy as np
import pytest

from autograder import decode, judge, plan as plan_stage
from autograder.status import Status
from lectlib.homework.compare import compare

from autograder_fixtures import CHECKS, LIMITS, REFERENCES, all_passing, ok_call, release_notebook, run_result, \
    sent, submitted


def judged(messages, notebook=None, run=None, done=True):
    plan = plan_stage.build_plan(notebook or submitted(), release_notebook(), CHECKS)
    data = sent(*messages, *([{"kind": "done", "printed": 0}] if done else []))
    recorded = decode.decode(data)
    return judge.judge(CHECKS, REFERENCES, plan, recorded, run or run_result(results=data), LIMITS)


def points(results):
    return {r.function: r.points for r in results}


def test_everything_right_is_full_marks_and_ok():
    results, score, status = judged(all_passing())
    assert score == 5 and status == Status("ok") and points(results) == {"double": 2, "total": 3}
    assert results[0].message == "double: all 2 cases passed (1 visible, 1 hidden)"


def test_a_wrong_hidden_case_costs_the_function_without_showing_values():
    messages = all_passing()
    messages[1] = ok_call("test_double/1", REFERENCES["test_double"][1] + 1)
    results, score, status = judged(messages)
    assert score == 3 and status.kind == "ok"
    assert results[0].message == "double: hidden case 'random x': the result has the right shape but wrong values (3 of 3 differ)"


def test_a_forbidden_use_in_the_source_costs_exactly_that_function():
    notebook = submitted(total_source="def total(x):\n    return jax.grad(lambda y: y)(x)")
    results, score, status = judged(all_passing(), notebook)
    assert score == 2 and points(results) == {"double": 2, "total": 0}
    assert results[1].message == "total: uses jax.grad (line 2); this exercise is by hand"
    assert status.kind == "forbidden" and status.detail == results[1].message


def test_a_forbidden_use_at_run_time_is_placed_by_call_or_by_cell():
    during_call = {"kind": "violation", "rule": "no-autodiff", "used": "jax.grad", "line": 4, "cell": 5,
                   "call": "test_total/0"}
    results, score, status = judged(all_passing() + [during_call], submitted(extra=["helper"]))
    assert score == 2 and results[1].message == "total: uses jax.grad (line 4 of cell 5); this exercise is by hand"
    in_answer_cell = {"kind": "violation", "rule": "no-lectlib", "used": "lectlib", "line": 1, "cell": 2, "call": None}
    results, score, status = judged(all_passing() + [in_answer_cell])
    assert score == 3 and results[0].message.startswith("double: uses lectlib (line 1); graded answers may not use")
    elsewhere = {"kind": "violation", "rule": "no-lectlib", "used": "lectlib", "line": 1, "cell": 6, "call": None}
    results, score, status = judged(all_passing() + [elsewhere], submitted(extra=["import lectlib"]))
    assert score == 5 and status.kind == "ok" and "cell 6: uses lectlib (line 1)" in status.notes[0]


def test_autodiff_where_no_rule_forbids_it_costs_nothing():
    stray = {"kind": "violation", "rule": "no-autodiff", "used": "jax.grad", "line": 1, "cell": 2, "call": "test_double/0"}
    results, score, status = judged(all_passing() + [stray])
    assert score == 5


@pytest.mark.parametrize("run, recorded_extra, kind, detail", [
    (run_result("timeout", -9), [], "timeout", "the notebook ran longer than 30 s and was stopped (check test_total)"),
    (run_result("memory", -9), [], "memory", "the notebook used more than 2 GiB and was stopped (check test_total)"),
    (run_result("output-limit", -9), [], "output-limit", "the notebook wrote more than 1048576 bytes to the terminal"),
    (run_result("output-limit", -9, overflowed=True), [], "output-limit", "sent back more than 64 MiB of results"),
    (run_result("process-limit", 1), [], "process-limit", "started more than 64 processes"),
    (run_result("crashed", 139), [], "crashed", "killed by signal 11 (check test_total)"),
    (run_result("ok", 0), [{"kind": "disk", "where": "cell 3"}], "disk",
     "the notebook filled its scratch folder (64 MiB) and was stopped (cell 3)"),
])
def test_how_the_run_ended_is_the_status(run, recorded_extra, kind, detail):
    messages = all_passing()[:1] + [{"kind": "step", "step": "check test_total"}] + recorded_extra
    results, score, status = judged(messages, run=run, done=False)
    assert status.kind == kind and detail in status.detail, status
    assert score == 0       # test_double/1 never came back: all or nothing
    assert "not reached" in results[1].message


def test_a_run_that_ends_early_with_exit_code_0_is_a_crash():
    results, score, status = judged(all_passing(), done=False)
    assert status.kind == "crashed" and "early (exit code 0)" in status.detail and score == 5


def test_notes_name_cell_errors_printing_and_processes():
    messages = all_passing() + [{"kind": "cell", "cell": 6, "error": "ZeroDivisionError: division by zero"}]
    plan = plan_stage.build_plan(submitted(extra=["1/0"]), release_notebook(), CHECKS)
    recorded = decode.decode(sent(*messages, {"kind": "done", "printed": 20_000_000}))
    run = run_result()
    run.hit_process_limit = True
    _, score, status = judge.judge(CHECKS, REFERENCES, plan, recorded, run, LIMITS, ["graded x.ipynb (expected y.ipynb)"])
    assert score == 5 and status.kind == "ok"
    assert status.text() == ("ok; graded x.ipynb (expected y.ipynb); printed 20 MB of output (discarded); "
                             "hit the limit of 64 processes; errors in 1 cell (cell 6: ZeroDivisionError: division by zero)")


def test_compare_says_what_differs():
    assert compare(np.ones(2), np.ones(2), 1e-5, 1e-6) is None
    assert compare(np.ones(3), np.ones(2), 1e-5, 1e-6) == "the result should have shape (2,), received shape (3,)"
    assert "differs at index (1,): expected 1, received 2" in compare(np.array([1.0, 2.0]), np.ones(2), 1e-5, 1e-6)
    assert compare((np.ones(1),), (np.ones(1), np.ones(1)), 1e-5, 1e-6).startswith("the result should be a tuple of 2")
    assert "NaN" in compare(np.array([np.nan]), np.ones(1), 1e-5, 1e-6)
    assert compare(np.zeros(2), np.ones(2), 1e-5, 1e-6, show_values=False) == \
        "the result has the right shape but wrong values (2 of 2 differ)"
