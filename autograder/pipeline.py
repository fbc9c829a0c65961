"""One submission through the stages, one module each:

    read    untrusted notebook → validated submission          (autograder.read)
    plan    what runs, and what the answers' source uses       (autograder.plan)
    run     the sandbox                                        (autograder.run)
    decode  bounded untrusted results → values                 (autograder.decode)
    judge   values → verdicts and a status                     (autograder.judge)
    record  gradebook, graded notebook, state                  (autograder.record)

``grade_submission`` (stages 1 to 5) runs on the batch's worker threads and never raises
on bad student input; ``record`` runs in the batch's main thread, one submission at a
time, since only that thread writes the gradebook (``autograder.batch``).
"""
from autograder import decode as decode_stage
from autograder import judge as judge_stage
from autograder import plan as plan_stage
from autograder import read as read_stage
from autograder import record as record_stage
from autograder import run as run_stage
from autograder.status import Status


def grade_submission(item, root, ctx, limits, unsafe):
    """Grades ``item`` (a ``read.Work`` below the folder ``root``) for the assignment
    ``ctx`` (an ``AssignmentContext``). Returns ``(GradeResult, mtime of the notebook or None)``."""
    if item.relative is None:
        return not_submitted(item, ctx), None
    submission = read_stage.read_submission(root, item.relative)
    if submission.notebook is None:
        return unreadable(item, ctx, submission), submission.mtime
    plan = plan_stage.build_plan(submission.notebook, ctx.release_notebook, ctx.checks, limits.cell_seconds)
    run = run_stage.run(plan, limits, unsafe, compile_cache=ctx.compile_cache)
    recorded = decode_stage.decode(run.results, plan.sequence(), limits.result_bytes, plan.seal)
    checks, score, status = judge_stage.judge(ctx.checks, ctx.references, plan, recorded, run, limits,
                                              notes(item, submission) + plan.notes)
    return graded(item, root, ctx, submission, checks, score, status, run), submission.mtime


def record(course, result, ctx, mtime):
    """Stage 6: ``result`` into the gradebook, the autograded folder and the grading state."""
    record_stage.record(course, result, ctx, mtime)


def not_graded(entry):
    """The row of an entry of the submissions folder that cannot be graded (a ``read.NotGraded``):
    no assignment, no points, the reason for the instructor; never recorded in the gradebook."""
    return judge_stage.GradeResult(entry.name, "", 0.0, 0.0, Status("not-graded", entry.reason), [])


def not_submitted(item, ctx):
    """No points: ``item`` has no notebook (its note says why, when it is a ``Status``)."""
    status = item.note if isinstance(item.note, Status) else Status("missing", "no notebook was submitted")
    return judge_stage.zero_result(item.student, item.assignment, ctx.checks, status)


def unreadable(item, ctx, submission):
    """No points: the notebook could not be read (``submission.problem`` says why)."""
    return judge_stage.zero_result(item.student, item.assignment, ctx.checks, submission.problem,
                                   item.relative.name, submission.digest)


def notes(item, submission):
    """What was odd but gradable, in the folder (``item.note``) and in the notebook."""
    return ([item.note] if item.note else []) + submission.notes


def graded(item, root, ctx, submission, checks, score, status, run):
    """The ``GradeResult`` of a submission that ran: judge's verdicts, the answers that
    feedback shows, and the nbgrader secret that hands the feedback back."""
    answers = read_stage.answers(submission.notebook, {c.answer for c in ctx.checks.values()})
    return judge_stage.GradeResult(item.student, item.assignment, score, ctx.max_score, status, checks,
                                   submission.digest, item.relative.name, answers, run.wall_seconds,
                                   read_stage.read_secret(root, item.relative))
