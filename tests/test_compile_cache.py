"""The JAX compilation cache of grading (``autograder/assignment.py``): filled once per
assignment from the reference answers, mounted read-only into every sandbox, and
without effect on what a submission's functions return."""
import os
import shutil

import nbformat
import pytest

from autograder import plan as plan_stage
from autograder import run as run_stage
from autograder import sandbox, wire
from autograder.assignment import COMPLETE, AssignmentContext, remove_abandoned_fillings
from autograder.run import compile_cache_environment
from grading_helpers import NO_SANDBOX, PLANTED_BUGS, SANDBOX_PROBLEMS, new_course, reference_notebook, with_bug

pytestmark = pytest.mark.slow
ASSIGNMENT = "scans"


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    course = new_course(tmp_path_factory.mktemp("cache") / "course")
    ctx = AssignmentContext(course, ASSIGNMENT, sandbox.Limits())
    ctx.prepare_compile_cache(sandbox.Limits())
    return ctx


def outcome(ran):
    """What the runner sent, without timings: every cell's error, every call's status and
    value (with its arrays' bytes), every rule violation. ``ran``: ``(plan, run)``."""
    plan, run = ran
    frames, problem = wire.read_frames(run.results, seal=plan.seal)
    assert problem is None
    seen = []
    for header, blobs in frames:
        if header["kind"] == "cell":
            seen.append(("cell", header["cell"], header["error"]))
        elif header["kind"] == "call":
            seen.append(("call", header["id"], header["status"], repr(header.get("value")), header.get("message"),
                         [bytes(b) for b in blobs]))
        elif header["kind"] == "violation":
            seen.append(("violation", header["rule"], header["used"], header["line"]))
    return run.status, seen


def run_notebook(ctx, notebook, **options):
    plan = plan_stage.build_plan(notebook, ctx.release_notebook, ctx.checks, 60)
    return plan, run_stage.run(plan, sandbox.Limits(), unsafe=bool(SANDBOX_PROBLEMS), **options)


def test_the_reference_answers_fill_the_cache_once(context, monkeypatch):
    folder = context.compile_cache
    assert folder is not None and (folder / COMPLETE).exists()
    entries = [p for p in folder.iterdir() if p.name != COMPLETE]
    assert len(entries) > 20          # every small operation the reference compiled

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cache was filled again although nothing changed")

    monkeypatch.setattr(run_stage, "run", must_not_run)
    again = AssignmentContext(context.course, ASSIGNMENT, sandbox.Limits())
    assert again.prepare_compile_cache(sandbox.Limits()) == folder


def test_the_cache_serves_every_program_of_the_reference_answers_wherever_it_is_mounted(context, tmp_path):
    """Run again from a copy at another path, storing whatever it has to compile: nothing
    new is stored (a key that depended on the folder's path would miss everything)."""
    copy = shutil.copytree(context.compile_cache, tmp_path / "elsewhere" / "cache")
    before = sorted(p.name for p in copy.iterdir())
    plan = plan_stage.build_plan(reference_notebook(ASSIGNMENT), context.release_notebook, context.checks, 60)
    result = run_stage.run(plan, sandbox.Limits(), unsafe=True, env=compile_cache_environment(copy, fill=True))
    assert result.status == "ok"
    assert sorted(p.name for p in copy.iterdir()) == before


@pytest.mark.parametrize("variant", ["reference"] + sorted(PLANTED_BUGS[ASSIGNMENT]))
def test_results_are_the_same_with_and_without_the_cache(context, variant):
    notebook = reference_notebook(ASSIGNMENT) if variant == "reference" else with_bug(ASSIGNMENT, variant)
    without = outcome(run_notebook(context, notebook))
    with_cache = outcome(run_notebook(context, notebook, compile_cache=context.compile_cache))
    assert without[0] == "ok"
    assert with_cache == without


@pytest.mark.skipif(bool(SANDBOX_PROBLEMS), reason=NO_SANDBOX)
def test_a_submission_cannot_change_the_cache(context):
    folder = context.compile_cache
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    victim = next(p for p in sorted(folder.iterdir()) if p.name != COMPLETE)
    notebook = reference_notebook(ASSIGNMENT)
    attack = (f"import os\n"
              f"open({str(folder / 'planted')!r}, 'w').write('x')\n")
    overwrite = f"open({str(victim)!r}, 'wb').write(b'poison')\n"
    remove = f"os.remove({str(victim)!r})\n"
    notebook.cells += [nbformat.v4.new_code_cell(attack), nbformat.v4.new_code_cell(overwrite),
                       nbformat.v4.new_code_cell(remove)]
    status, seen = outcome(run_notebook(context, notebook, compile_cache=context.compile_cache))
    errors = [entry[2] for entry in seen if entry[0] == "cell"][-3:]
    assert status == "ok"
    assert all(error and "Read-only file system" in error["message"] for error in errors), errors
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before


def test_only_fillings_of_graders_that_no_longer_run_are_removed(tmp_path):
    dead = tmp_path / f"scans-0123.filling-{os.getpid()}-999999999"      # this pid, another start: gone
    alive = tmp_path / f"scans-4567.filling-{sandbox.owner()}"
    finished = tmp_path / "scans-89ab"
    for folder in (dead, alive, finished):
        folder.mkdir()
    remove_abandoned_fillings(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, finished.name])
