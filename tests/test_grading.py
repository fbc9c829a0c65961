"""The instructor pipeline end to end, in a temporary course directory: release, grade,
feedback, CSV and gradebook, through the `autograder` command."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import checks
from autograder.cli import main as autograder
from grading_helpers import (ASSIGNMENTS, PLANTED_BUGS, POINTS, ROOT, SANDBOX_FLAGS, new_course, read_csv,
                             reference_notebook, submit, with_bug)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return new_course(tmp_path_factory.mktemp("course") / "course")


@pytest.fixture(scope="module")
def first_batch(course, tmp_path_factory):
    """Reference solutions, untouched student versions, and one planted bug per graded
    function, graded together in one batch."""
    submissions = tmp_path_factory.mktemp("batch")
    for assignment in ASSIGNMENTS:
        submit(submissions, "reference", assignment, reference_notebook(assignment))
        submit(submissions, "untouched", assignment, course.release_notebook(assignment))
        for function in PLANTED_BUGS[assignment]:
            submit(submissions, f"bug-{function.replace('_', '-')}", assignment, with_bug(assignment, function))
    csv_path = submissions / "grades.csv"
    assert autograder(["--course", str(course.root), "grade", str(submissions), "--jobs", "2",
                       "--csv", str(csv_path), "--quiet"] + SANDBOX_FLAGS) == 0
    return submissions, read_csv(csv_path)


def test_release_has_every_assignment_without_solutions_or_hidden_tests(course):
    for assignment in ASSIGNMENTS:
        source = (ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text()
        released = (course.release_dir / assignment / f"{assignment}.ipynb").read_text()
        solution_lines = set()
        for block in re.findall(r"### BEGIN SOLUTION(.*?)### END SOLUTION", source, re.S):
            solution_lines |= {line.strip().strip('\\n",') for line in block.split("\\n") if len(line.strip()) > 12}
        assert solution_lines, assignment
        leaked = [line for line in solution_lines if line and line in released]
        assert not leaked, f"{assignment}: solution code in the release: {leaked}"
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "autograder/checks", "Graded also on hidden"):
            assert marker not in released, (assignment, marker)
        for check in checks.load(assignment).values():
            for case in check.cases:
                if case.hidden and len(case.label) > 20:     # short ones ("T = 1") are named in the intro
                    assert case.label not in released, (assignment, case.label)
        assert released.count("raise NotImplementedError()") == len(POINTS[assignment])


def test_reference_solutions_score_full_marks(first_batch):
    _, grades = first_batch
    for assignment in ASSIGNMENTS:
        row = grades[("reference", assignment)]
        assert float(row["score"]) == float(row["max_score"]) == sum(POINTS[assignment].values()), row
        assert row["status"] == "ok", row


def test_untouched_student_versions_score_zero(first_batch):
    _, grades = first_batch
    for assignment in ASSIGNMENTS:
        row = grades[("untouched", assignment)]
        assert float(row["score"]) == 0 and row["status"] == "ok", row


@pytest.mark.parametrize("assignment, function", [(a, f) for a in ASSIGNMENTS for f in PLANTED_BUGS[a]])
def test_a_planted_bug_loses_exactly_its_functions_points(first_batch, course, assignment, function):
    _, grades = first_batch
    student = f"bug-{function.replace('_', '-')}"
    row = grades[(student, assignment)]
    full = sum(POINTS[assignment].values())
    assert float(row["score"]) == full - POINTS[assignment][function], row
    state = json.loads((course.state_dir / "graded" / student / f"{assignment}.json").read_text())
    lost = [c["function"] for c in state["result"]["checks"] if c["points"] < c["max_points"]]
    assert lost == [function]


def test_failure_messages_say_what_was_wrong_without_showing_hidden_values(first_batch, course):
    from autograder import record

    _, result = record.load_state(course.state_dir, "bug-scan", "scans")
    scan = next(c for c in result.checks if c.function == "scan")
    failed = scan.first_failure()
    assert not failed.hidden and failed.expected, failed          # a visible case says what was expected
    assert scan.student_text().startswith("visible case '") and "wrong values (" in scan.student_text()
    _, result = record.load_state(course.state_dir, "bug-clip-by-global-norm", "bptt")
    clip = next(c for c in result.checks if c.function == "clip_by_global_norm")
    assert clip.student_text() == "hidden case 'a small gradient is left alone': wrong values"


def test_gradebook_holds_the_same_scores_as_the_csv(first_batch, course):
    _, grades = first_batch
    with course.gradebook() as gb:
        for (student, assignment), row in grades.items():
            submission = gb.find_submission(assignment, student)
            assert submission.score == pytest.approx(float(row["score"])), (student, assignment)
            assert submission.max_score == pytest.approx(float(row["max_score"]))


def test_feedback_shows_results_but_no_hidden_test_source(first_batch, course):
    assert autograder(["--course", str(course.root), "feedback", "--assignment", "bptt"]) == 0
    for student in ("reference", "untouched", "bug-elman-backward"):
        html = (course.feedback_dir / student / "bptt" / "bptt.html").read_text()
        assert "elman_backward" in html
        for hidden in ("BEGIN HIDDEN TESTS", "Graded also on hidden", "sequence_case(", "autograder/checks"):
            assert hidden not in html, (student, hidden)
    html = (course.feedback_dir / "bug-elman-backward" / "bptt" / "bptt.html").read_text()
    assert "CheckFailed" in html and re.search(r"all \d+ cases passed \(\d+ visible, \d+ hidden\)", html)
    assert not list(course.feedback_dir.rglob("*.json")), "grading state must not reach the students"


def test_regrading_is_idempotent(first_batch, course, tmp_path):
    submissions, grades = first_batch
    again = tmp_path / "again.csv"
    assert autograder(["--course", str(course.root), "grade", str(submissions), "--csv", str(again), "--quiet"] + SANDBOX_FLAGS) == 0
    assert read_csv(again) == grades
    forced = tmp_path / "forced.csv"
    assert autograder(["--course", str(course.root), "grade", str(submissions), "--assignment", "losses",
                       "--regrade", "--csv", str(forced), "--quiet"] + SANDBOX_FLAGS) == 0
    assert read_csv(forced) == {key: row for key, row in grades.items() if key[1] == "losses"}


def test_a_resubmission_replaces_the_old_grade(course, tmp_path):
    submissions = tmp_path / "resubmit"
    path = submit(submissions, "late-fixer", "losses", course.release_notebook("losses"))
    csv_path = tmp_path / "grades.csv"
    arguments = ["--course", str(course.root), "grade", str(submissions), "--csv", str(csv_path), "--quiet"] + SANDBOX_FLAGS
    assert autograder(arguments) == 0
    assert float(read_csv(csv_path)[("late-fixer", "losses")]["score"]) == 0
    nbformat.write(reference_notebook("losses"), path)
    os.utime(path, (path.stat().st_atime + 60, path.stat().st_mtime + 60))
    assert autograder(arguments) == 0
    assert float(read_csv(csv_path)[("late-fixer", "losses")]["score"]) == 10
    with course.gradebook() as gb:
        assert gb.find_submission("losses", "late-fixer").score == 10
        assert len(gb.find_student("late-fixer").submissions) == 1


def test_every_student_in_the_folder_gets_a_row(course, tmp_path):
    submissions = tmp_path / "mixed"
    submit(submissions, "complete", "scans", reference_notebook("scans"))
    (submissions / "no-notebook" / "scans").mkdir(parents=True)
    (submissions / "no-folder").mkdir()
    submit(submissions, "renamed", "scans", reference_notebook("scans"), name="scans (1).ipynb")
    submit(submissions, "not-json", "scans", raw=b"this is not a notebook")
    csv_path = tmp_path / "grades.csv"
    assert autograder(["--course", str(course.root), "grade", str(submissions), "--csv", str(csv_path), "--quiet"] + SANDBOX_FLAGS) == 0
    grades = read_csv(csv_path)
    assert set(grades) == {(s, "scans") for s in ("complete", "no-notebook", "no-folder", "renamed", "not-json")}
    assert grades[("complete", "scans")]["score"] == "10"
    assert grades[("renamed", "scans")]["score"] == "10" and "scans (1).ipynb" in grades[("renamed", "scans")]["status"]
    for student in ("no-notebook", "no-folder"):
        assert grades[(student, "scans")]["score"] == "0" and grades[(student, "scans")]["status"].startswith("missing")
    assert grades[("not-json", "scans")]["status"].startswith("unreadable: not a notebook")
    assert all(row["max_score"] == "10" for row in grades.values())


def test_every_folder_is_accounted_for_and_a_student_id_may_be_in_any_script(course, tmp_path, capfd):
    """``zoë`` is graded like any other student (sandboxed run, gradebook, graded notebook,
    state, feedback, kept when unchanged); folders the grader cannot grade are rows of the
    table and the CSV with the reason, not a warning line, and their cells are inert."""
    submissions = tmp_path / "accounted"
    submit(submissions, "zoë", "scans", reference_notebook("scans"))
    for name in ("Zoë Smith", "=HYPERLINK(\"x\")", "-\x1b[2Jwiped"):
        submit(submissions, name, "scans", reference_notebook("scans"))
    (submissions / "zoë" / "Scans").mkdir()
    os.mkfifo(submissions / "pipe")
    csv_path = tmp_path / "grades.csv"
    arguments = ["--course", str(course.root), "grade", str(submissions), "--csv", str(csv_path), "--quiet"]
    arguments += SANDBOX_FLAGS
    assert autograder(arguments) == 0
    out, err = capfd.readouterr()
    assert "warning" not in err and "\x1b" not in out
    grades = read_csv(csv_path)
    assert grades[("zoë", "scans")]["score"] == "10" and grades[("zoë", "scans")]["status"] == "ok"
    not_graded = {student: row for (student, assignment), row in grades.items() if assignment == ""}
    assert sorted(not_graded) == sorted(["'-\x20[2Jwiped", "'=HYPERLINK(\"x\")", "Zoë Smith", "pipe", "zoë"])
    for student, row in not_graded.items():
        assert row["score"] == row["max_score"] == "" and row["status"].startswith("not-graded: "), row
        assert student in out and row["status"] in out
    assert "zoë/Scans is not one of the course's assignments" in not_graded["zoë"]["status"]
    assert "it holds a space" in not_graded["Zoë Smith"]["status"]
    for row in grades.values():
        assert all(value[:1] not in ("=", "+", "-", "@", "\t", "\r") for value in row.values()), row
    assert "3 grades written" not in out and "1 grades written" in out and "5 folder(s) that could not be graded" in out
    with course.gradebook() as gb:
        assert gb.find_submission("scans", "zoë").score == 10
        names = {student.id for student in gb.students}
        assert "zoë" in names and not names & {"Zoë Smith", "pipe", "=HYPERLINK(\"x\")"}
        for other in ("李雷", "zoe\u0308", "ada.lovelace@uni.example"):      # kept by the gradebook as they are
            gb.update_or_create_student(other)
        assert {"李雷", "zoe\u0308", "ada.lovelace@uni.example"} <= {student.id for student in gb.students}
    assert (course.autograded / "zoë" / "scans" / "scans.ipynb").exists()
    assert (course.state_dir / "graded" / "zoë" / "scans.json").exists()
    assert autograder(["--course", str(course.root), "feedback", "--assignment", "scans", "--student", "zoë"]) == 0
    assert "memory_states" in (course.feedback_dir / "zoë" / "scans" / "scans.html").read_text(encoding="utf-8")
    state = course.state_dir / "graded" / "zoë" / "scans.json"
    before = state.stat().st_mtime_ns
    assert autograder(arguments) == 0 and state.stat().st_mtime_ns == before      # unchanged: kept, not regraded


def test_grade_refuses_clearly_when_it_cannot_run(course, tmp_path):
    command = [sys.executable, "-m", "autograder", "--course", str(course.root), "grade"]
    missing = subprocess.run(command + [str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 1 and "no submissions folder" in missing.stderr
    not_a_course = subprocess.run([sys.executable, "-m", "autograder", "--course", str(tmp_path), "grade", "x"],
                                  capture_output=True, text=True)
    assert not_a_course.returncode == 1 and "no solutions/ folder" in not_a_course.stderr
    (tmp_path / "subs").mkdir()
    no_bwrap = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    refused = subprocess.run(command + [str(tmp_path / "subs")], capture_output=True, text=True, env=no_bwrap)
    assert refused.returncode == 1
    assert "bubblewrap is not installed" in refused.stderr and "--unsafe" in refused.stderr


def test_validate_tells_a_student_their_score(course, tmp_path):
    notebook = tmp_path / "losses.ipynb"
    nbformat.write(with_bug("losses", "clock_loss"), notebook)
    result = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), "validate",
                             str(notebook)] + SANDBOX_FLAGS, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "losses: 8 of 10 points" in result.stdout
    assert "[FAILED] 0/2  clock_loss" in result.stdout and "[passed] 3/3  masked_sequence_mse" in result.stdout


def test_the_visible_check_in_the_notebook_explains_a_failure():
    from autograder.student import check

    def scan_without_the_first_step(f, h, xs):
        import jax.numpy as jnp
        states = []
        for x in xs:
            states.append(h)
            h = f(h, x)
        return jnp.stack(states)

    with pytest.raises(AssertionError, match=r"scan, case .*differs at index \(0, 0\): expected 1, received 0"):
        check("scans", "test_scan", scan_without_the_first_step)


def test_checks_and_notebook_test_cells_must_match(course, tmp_path):
    from autograder.course import Course, CourseError

    broken = tmp_path / "broken"
    (broken / "solutions" / "scans").mkdir(parents=True)
    notebook = reference_notebook("scans")
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_combine"]
    nbformat.write(notebook, broken / "solutions" / "scans" / "scans.ipynb")
    with pytest.raises(CourseError, match="do not match"):
        Course(broken).check_points("scans")


def test_release_refuses_a_notebook_whose_points_differ_from_the_manifest(tmp_path):
    from autograder.course import Course, CourseError

    broken = tmp_path / "broken"
    (broken / "solutions" / "scans").mkdir(parents=True)
    notebook = reference_notebook("scans")
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_combine":
            cell.metadata["nbgrader"]["points"] = 7
    nbformat.write(notebook, broken / "solutions" / "scans" / "scans.ipynb")
    with pytest.raises(CourseError, match=r"the points do not match: test_combine is worth 7 in the notebook "
                                          r"and 2 in autograder/checks/scans.py"):
        Course(broken).release(["scans"])
    assert not (broken / "release").exists()


def test_a_change_to_a_reference_function_regrades(course, tmp_path):
    """The cache key covers lectlib: with a copy of the packages whose sequence_mse (the
    reference of clock_loss) is changed, an unchanged submission is graded again."""
    packages = tmp_path / "packages"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "lectlib", packages / "lectlib", ignore=ignore)
    shutil.copytree(ROOT / "autograder", packages / "autograder", ignore=ignore)
    submissions = tmp_path / "subs"
    submit(submissions, "steady", "losses", reference_notebook("losses"))
    csv_path = tmp_path / "grades.csv"
    command = [sys.executable, "-m", "autograder", "--course", str(course.root), "grade", str(submissions),
               "--csv", str(csv_path), "--quiet"] + SANDBOX_FLAGS
    env = {**os.environ, "PYTHONPATH": str(packages)}      # run from tmp_path: `-m` puts the working folder first
    state = course.state_dir / "graded" / "steady" / "losses.json"

    def grade():
        subprocess.run(command, check=True, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=900)
        return read_csv(csv_path)[("steady", "losses")]["score"], state.stat().st_mtime_ns

    score, graded_at = grade()
    assert score == "10"
    assert grade() == (score, graded_at), "an unchanged submission and course must not be graded again"
    losses = packages / "lectlib" / "losses.py"
    original = "    return jnp.mean(per_step_square_error(y_hat, y))\n"
    assert losses.read_text().count(original) == 1
    losses.write_text(losses.read_text().replace(original, "    return 2 * jnp.mean(per_step_square_error(y_hat, y))\n"))
    score, regraded_at = grade()
    assert regraded_at != graded_at and score == "8"      # clock_loss (2 points) no longer matches the reference


def test_the_selective_scan_must_be_the_associative_scan():
    """Homework 5 asks for jax.lax.associative_scan: the same answer by jax.lax.scan breaks
    the manifest's rule (read from the source, before anything runs); the reference does not."""
    from lectlib.homework.rules import closure_violations

    check = checks.load("ssm")["test_selective_scan"]
    sequential = """
def selective_scan(us, deltas, A, Bs, Cs):
    def step(h, inputs):
        u, delta, B, C = inputs
        h = jnp.exp(delta[:, None] * A) * h + delta[:, None] * B[None, :] * u[:, None]
        return h, h @ C

    return jax.lax.scan(step, jnp.zeros(A.shape), (us, deltas, Bs, Cs))[1]
"""
    found = closure_violations([(1, "import jax\nimport jax.numpy as jnp"), (2, sequential)], "selective_scan",
                               check.rules)
    assert [(v.rule, v.used) for v in found] == [("no-sequential-scan", "jax.lax.scan")], found
    reference = next(cell.source for cell in reference_notebook("ssm").cells
                     if cell.metadata.get("nbgrader", {}).get("grade_id") == "selective_scan")
    assert closure_violations([(1, "import jax\nimport jax.numpy as jnp"), (2, reference)], "selective_scan",
                              check.rules) == []
