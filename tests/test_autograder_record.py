"""Stage 6, record (autograder.record) and the typed status: text only at the edges."""
import csv

import pytest

from autograder import judge, record
from autograder.status import Note, Status
from autograder.verdict import CaseKind, CaseVerdict, UntrustedTextError

from autograder_fixtures import CHECKS, release_notebook


def test_a_status_says_fixed_words_to_a_student_and_keeps_detail_for_the_instructor():
    status = Status("crashed", "the notebook ended the grading process (exit code 113) (cell 271828)")
    assert status.student_text() == "crashed"
    with pytest.raises(UntrustedTextError):
        f"{status.detail}"
    assert Status("ok", notes=[Note("cell-errors", "errors in 31 cells")]).student_text() == "graded; a cell raised an error"


def test_every_csv_cell_is_inert_in_a_spreadsheet(tmp_path):
    results = [judge.zero_result(student, "scans", CHECKS, Status("error", detail)) for student, detail in
               [("=cmd|' /C calc'!A0", "+1+1"), ("@sum", "-2"), ("ada", "\tx\rNOW()")]]
    record.write_csv(results, tmp_path / "grades.csv")
    for row in read_rows(tmp_path / "grades.csv"):
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_status_is_typed_and_rendered_at_the_edge():
    status = Status("timeout", "the notebook ran longer than 300 s and was stopped (cell 12)").with_notes("a note")
    assert status.text() == "timeout: the notebook ran longer than 300 s and was stopped (cell 12); a note"
    assert Status("ok").with_notes("graded a.ipynb (expected b.ipynb)").text() == "ok; graded a.ipynb (expected b.ipynb)"
    assert Status.from_json(status.to_json()) == status
    with pytest.raises(ValueError, match="unknown status kind"):
        Status("fine")


def test_results_round_trip_through_the_state_file_format():
    result = judge.zero_result("ada", "scans", CHECKS, Status("missing", "no notebook was submitted"))
    assert judge.GradeResult.from_json(result.to_json()) == result
    assert result.max_score == 5 and [c.max_points for c in result.checks] == [2, 3]


def test_the_csv_has_one_row_per_result_with_the_status_as_text(tmp_path):
    results = [judge.zero_result(student, "scans", CHECKS, status) for student, status in
               [("bob", Status("unreadable", "not a notebook")), ("ada", Status("ok", notes=("graded x.ipynb",)))]]
    record.write_csv(results, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["student_id"], r["score"], r["max_score"], r["status"]) for r in rows] == [
        ("ada", "0", "5", "ok; graded x.ipynb"), ("bob", "0", "5", "unreadable: not a notebook")]


def test_folders_not_graded_are_rows_of_their_own_without_a_score(tmp_path):
    """A folder that cannot be graded (``read.NotGraded``) is a row after the grades: no
    assignment, no score, the reason; its name, whatever it is, inert; any script kept."""
    from autograder import pipeline
    from autograder.read import NotGraded

    results = [judge.zero_result("zoë", "scans", CHECKS, Status("ok")),
               pipeline.not_graded(NotGraded("=HYPERLINK(\"x\")", "the name does not start with a letter or digit")),
               pipeline.not_graded(NotGraded("-\x1b[31mred", "the name does not start with a letter or digit")),
               pipeline.not_graded(NotGraded("ada", "the folder ada/=1+1 is not one of the course's assignments"))]
    record.write_csv(results, tmp_path / "grades.csv")
    rows = [(r["assignment"], r["student_id"], r["score"], r["max_score"], r["status"])
            for r in read_rows(tmp_path / "grades.csv")]
    assert rows == [("scans", "zoë", "0", "5", "ok"),
                    ("", "'-\u241b[31mred".replace("\u241b", " "), "", "",
                     "not-graded: the name does not start with a letter or digit"),
                    ("", "'=HYPERLINK(\"x\")", "", "", "not-graded: the name does not start with a letter or digit"),
                    ("", "ada", "", "", "not-graded: the folder ada/=1+1 is not one of the course's assignments")]
    assert results[1].status.student_text() == "could not be graded (your instructor has the reason)"


def test_the_graded_notebook_shows_answers_and_verdicts_but_no_test_code():
    result = judge.zero_result("ada", "scans", CHECKS, Status("timeout", "ran longer than 300 s (cell 9)"))
    result.checks[0] = judge.CheckResult("test_double", "double", 2, 2, cases=[
        CaseVerdict("x = [1, 2]", False, CaseKind.PASSED), CaseVerdict("random x", True, CaseKind.PASSED)])
    result.answers = {"double": "def double(x):\n    return x + x"}
    notebook = record.graded_notebook(release_notebook(), result)
    sources = [c.source for c in notebook.cells]
    assert "def double(x):\n    return x + x" in sources
    test_double, test_total = notebook.cells[2], notebook.cells[5]
    assert test_double.outputs[0]["text"] == "double: all 2 cases passed (1 visible, 1 hidden)\n"
    assert test_total.outputs[0]["ename"] == "CheckFailed" and test_total.outputs[0]["evalue"] == "total: not graded: ran out of time"


def test_submission_times_are_naive_utc_as_in_nbgraders_gradebook(monkeypatch):
    import datetime
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert record.gradebook_time(0) == datetime.datetime(1970, 1, 1, 0, 0)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert record.gradebook_time(None) is None
