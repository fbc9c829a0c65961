"""Stage 6, record: one result into nbgrader's gradebook, the autograded folder and the
grading state; the CSV of a batch; the graded notebook that feedback is made from.

Only the trusted process writes here, one submission at a time. Statuses become text
here (``Status.text``), at the edge.
"""
import csv
import datetime
import json
import warnings
from pathlib import Path

import nbformat

from autograder import checks as checks_module
from autograder.judge import GradeResult
from autograder.read import SECRET_NAME
from autograder.verdict import inert


def state_path(state_dir, student, assignment):
    return Path(state_dir) / "graded" / student / f"{assignment}.json"


def load_state(state_dir, student, assignment):
    """``(grade digest, GradeResult)`` saved for a submission, or ``(None, None)``."""
    path = state_path(state_dir, student, assignment)
    try:
        saved = json.loads(path.read_text())
        return saved["checks_digest"], GradeResult.from_json(saved["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def record(course, result, ctx, mtime):
    """Writes ``result`` into the gradebook, the autograded folder and its state file.

    The state file is removed first and written last (whole, by a rename), so a state file
    always stands for a gradebook entry written in full: a write cut short (the grader
    killed, the disk full) leaves no state, and the next run grades that submission again."""
    from nbgrader.api import MissingEntry

    state_path(course.state_dir, result.student, result.assignment).unlink(missing_ok=True)
    timestamp = gradebook_time(mtime)
    with course.gradebook() as gb, warnings.catch_warnings():
        # nbgrader's add_submission triggers SQLAlchemy autoflush warnings; they are harmless.
        warnings.simplefilter("ignore")
        gb.update_or_create_student(result.student)
        try:
            gb.remove_submission(result.assignment, result.student)
        except MissingEntry:
            pass
        gb.add_submission(result.assignment, result.student, timestamp=timestamp)
        for check in result.checks:
            grade = gb.find_grade(check.grade_id, result.assignment, result.assignment, result.student)
            grade.auto_score = check.points
        gb.db.commit()
    folder = course.autograded / result.student / result.assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(graded_notebook(ctx.release_notebook, result), folder / f"{result.assignment}.ipynb")
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp.isoformat(" "))
    # Feedback copies this folder's other files; release_feedback names the page after the secret.
    secret = folder / SECRET_NAME
    if result.secret:
        secret.write_text(result.secret)
    else:
        secret.unlink(missing_ok=True)
    state = {"checks_digest": ctx.digest, "result": result.to_json()}
    path = state_path(course.state_dir, result.student, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(path)


def gradebook_time(seconds):
    """POSIX ``seconds`` as nbgrader's gradebook keeps times: naive UTC (its ``parse_utc``),
    whatever the machine's zone; ``None`` for ``None``."""
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None)


def write_csv(results, path):
    """One row per student and assignment: ``assignment,student_id,score,max_score,status``,
    then a row per folder that could not be graded (no assignment, no score, the reason).
    Every cell is inert in a spreadsheet; what a submission chose is cut short and marked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student_id", "score", "max_score", "status"])
        for r in sorted(results, key=row_order):
            writer.writerow([r.assignment, inert(r.student), *score_cells(r), r.status.text()])
    temporary.replace(path)


def row_order(result):
    """Assignments in lecture order, students by id; rows of folders not graded last."""
    if result.assignment not in checks_module.ASSIGNMENTS:
        return len(checks_module.ASSIGNMENTS), result.student
    return checks_module.ASSIGNMENTS.index(result.assignment), result.student


def score_cells(result):
    """``(score, max_score)`` as the CSV and the table show them: blank when not graded."""
    if result.status.kind == "not-graded":
        return "", ""
    return f"{result.score:g}", f"{result.max_score:g}"


def graded_notebook(release_notebook, result):
    """The release notebook with the student's answers and, under each test cell, the verdict."""
    notebook = nbformat.v4.new_notebook(metadata=release_notebook.metadata)
    answers = result.answers
    verdicts = {c.grade_id: c for c in result.checks}
    for cell in release_notebook.cells:
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if gid in answers:
                cell.source = answers[gid]
            if gid in verdicts:
                check = verdicts[gid]
                words = f"{check.function}: {check.student_text()}"
                if check.passed:
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=words + "\n")]
                else:
                    cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=words,
                                                           traceback=[f"CheckFailed: {words}"])]
        notebook.cells.append(cell)
    return notebook
