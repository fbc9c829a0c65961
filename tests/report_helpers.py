"""Synthetic graded results for the class report (tests/test_report.py, bench/report.py):
state files shaped as grading writes them (``.autograder/graded/<student>/<assignment>.json``,
a GradeResult with typed case verdicts), built from an assignment's manifest, so the report
is tested on the real functions, points and hidden-case labels without running notebooks."""
import json
from pathlib import Path

from autograder import checks
from autograder.judge import CheckResult, GradeResult
from autograder.status import Status
from autograder.verdict import CaseKind, CaseVerdict, InstructorText, Untrusted

ROOT = Path(__file__).resolve().parents[1]


def course_folder(folder):
    """A course directory whose solutions/ is the course's own (enough for the report)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "solutions").exists():
        (folder / "solutions").symlink_to(ROOT / "solutions")
    return folder


def graded_result(student, assignment, failing=(), rules=(), status="ok", detail="", seconds=1.0,
                  unreached=False, not_written=(), case_detail=None):
    """GradeResult JSON of one submission, made by the grader's own classes.

    ``failing``: ``{(function, case label): kind}`` of the cases that failed; ``rules``:
    ``{function: [rule names broken]}``; ``not_written``: functions left as the starter
    code; ``unreached``: the notebook stopped before any check (with ``status``)."""
    failing, rules = dict(failing), dict(rules)
    results, score, max_score = [], 0.0, 0.0
    for gid, check in checks.load(assignment).items():
        max_score += float(check.points)
        if unreached:
            results.append(CheckResult(gid, check.function, 0.0, float(check.points), not_run=status))
            continue
        cases = []
        for case in check.cases:
            kind = failing.get((check.function, case.label), CaseKind.PASSED)
            if check.function in not_written:
                kind = CaseKind.NOT_WRITTEN
            elif check.function in rules:
                kind = CaseKind.FORBIDDEN
            exception = "ValueError" if kind == CaseKind.RAISED else None
            detail_text = Untrusted(case_detail) if case_detail and kind != CaseKind.PASSED else None
            cases.append(CaseVerdict(case.label, case.hidden, CaseKind(kind), exception, None, detail_text))
        broken = tuple(rules.get(check.function, ()))
        points = float(check.points) if all(c.passed for c in cases) and not broken else 0.0
        score += points
        results.append(CheckResult(gid, check.function, points, float(check.points), tuple(cases), broken))
    return GradeResult(student, assignment, score, max_score, Status(status, InstructorText(detail)), results,
                       None, f"{assignment}.ipynb", {}, seconds).to_json()


def write_state(course_root, result):
    path = Path(course_root) / ".autograder" / "graded" / result["student"] / f"{result['assignment']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checks_digest": "synthetic", "result": result}))
    return path


def mixed_batch(n=30, assignment="scans"):
    """``n`` results: a third fail only the hidden case 'T = 1' of ``scan``; smaller groups
    fail other hidden cases, break a rule, leave a function unwritten, run out of time or
    submit nothing; the rest are correct. Grading times vary from 1 to 4 s."""
    results = []
    for i in range(n):
        student = f"s{i:03d}"
        seconds = 1.0 + (i * 7 % 31) / 10
        group = i % 15
        if group < 5:                          # a third: only scan's T = 1
            result = graded_result(student, assignment, {("scan", "T = 1"): CaseKind.WRONG_VALUE}, seconds=seconds)
        elif group == 5:
            result = graded_result(student, assignment, {("linear_memory", "zero input"): CaseKind.RAISED,
                                                         ("scan", "T = 1"): CaseKind.WRONG_SHAPE}, seconds=seconds)
        elif group == 6:
            result = graded_result(student, assignment, {("apply_outputs", "T = 1"): CaseKind.WRONG_VALUE},
                                   rules={"linear_memory": ["no-lectlib"]}, status="forbidden",
                                   detail="linear_memory: uses lectlib (line 1)", seconds=seconds)
        elif group == 7:
            result = graded_result(student, assignment, not_written=("memory_states", "apply_outputs"),
                                   seconds=seconds)
        elif group == 8:
            result = graded_result(student, assignment, unreached=True, status="timeout",
                                   detail="the notebook ran longer than 300 s and was stopped", seconds=300.0)
        elif group == 9 and i >= 15:
            result = graded_result(student, assignment, unreached=True, status="missing",
                                   detail="no notebook was submitted", seconds=0.0)
        else:
            result = graded_result(student, assignment, seconds=seconds)
        results.append(result)
    return results
