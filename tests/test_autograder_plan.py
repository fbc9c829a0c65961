"""Stage 2, plan (autograder.plan): what runs, in which order, with which rules, and what
the answers' source shows, on a small fixture assignment."""
from autograder import plan as plan_stage
from autograder import wire

from autograder_fixtures import CHECKS, cell, release_notebook, submitted


def kinds(plan):
    return [("cell", s["cell"].splitlines()[0]) if "cell" in s else ("check", s["check"]) for s in plan.header["steps"]]


def test_student_cells_run_in_order_with_locked_cells_restored_and_tests_replaced_by_checks():
    notebook = submitted(extra=["%matplotlib inline\nprint('scratch')"])
    notebook.cells[0].source = "import os  # edited setup"
    notebook.cells[2].source = "print('all tests passed')"     # an edited test cell never runs
    plan = plan_stage.build_plan(notebook, release_notebook(), CHECKS)
    assert kinds(plan) == [("cell", "import numpy as np"), ("cell", "def double(x):"), ("check", "test_double"),
                           ("cell", "def total(x):"), ("check", "test_total"), ("cell", "%matplotlib inline")]
    assert plan.answer_cells == {2: "double", 3: "total"} and plan.notes == [] and plan.static == {}


def test_each_check_step_calls_every_case_with_its_rules_and_inputs():
    plan = plan_stage.build_plan(submitted(), release_notebook(), CHECKS)
    step = next(s for s in plan.header["steps"] if s.get("check") == "test_total")
    assert step["rules"] == ["no-lectlib", "no-autodiff"]
    assert step["calls"] == 1 and step["function"] == "total"
    frames, problem = wire.read_frames(plan.message())
    header, blobs = frames[0]
    assert problem is None and header["kind"] == "plan" and blobs == []
    assert plan.sequence() == [("test_double/0", 2), ("test_double/1", 2), ("test_total/0", 3)]
    (call, blobs), = wire.read_frames(plan.calls["test_total/0"])[0]
    assert call["kind"] == "args" and call["id"] == "test_total/0"
    assert wire.decode_value(call["args"][0], blobs).tolist() == [1.0, 2.0]


def test_the_plan_the_runner_gets_first_holds_no_argument_of_any_case():
    plan = plan_stage.build_plan(submitted(), release_notebook(), CHECKS)
    hidden = CHECKS["test_double"].case_args(1)[0]
    assert hidden.tobytes() not in plan.message()
    assert hidden.tobytes() in plan.calls["test_double/1"]
    header = wire.read_frames(plan.message())[0][0][0]
    assert "lectlib" in header["watch"]["no-lectlib"]
    watched = header["watch"]["no-autodiff"]
    assert watched.index("jax.grad") < watched.index("jax._src.api.grad")
    assert "jax._src.interpreters.ad.JVPTrace" in watched


def test_deleted_and_duplicated_answers_are_noted():
    notebook = submitted()
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "double"]
    notebook.cells.append(cell("def total(x):\n    return x.sum()", "total", solution=True))
    plan = plan_stage.build_plan(notebook, release_notebook(), CHECKS)
    assert plan.notes == ["the answer cell 'double' was deleted", "the answer cell 'total' appears 2 times; all ran in order"]
    assert ("check", "test_double") in kinds(plan)


def test_the_answers_closure_is_read_against_its_checks_rules():
    notebook = submitted(double_source="import lectlib\ndef double(x):\n    return lectlib.scan(x)",
                         total_source="def total(x):\n    return helper(x)",
                         extra=["import jax\ndef helper(x):\n    return jax.grad(lambda y: y)(x)",
                                "print(jax.grad(lambda y: y ** 2)(3.0), total(1.0))"])
    plan = plan_stage.build_plan(notebook, release_notebook(), CHECKS)
    assert {gid: [(v.used, v.cell, v.line) for v in found] for gid, found in plan.static.items()} == {
        "test_double": [("lectlib", 2, 1), ("lectlib.scan", 2, 3)], "test_total": [("jax.grad", 4, 3)]}


def test_autodiff_is_allowed_where_the_rules_allow_it():
    plan = plan_stage.build_plan(submitted(double_source="def double(x):\n    return jax.grad(f)(x)"),
                                 release_notebook(), CHECKS)
    assert plan.static == {}
