"""Stage 1, read (autograder.read): the submissions folder is student-made; links, FIFOs,
devices, huge files and odd notebooks are named, never followed, blocked on or read
without bound."""
import json
import os
import threading

import nbformat
import pytest

from autograder import read


def notebook_bytes(cells=("x = 1",)):
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])).encode()


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "ada" / "scans").mkdir(parents=True)
    (tmp_path / "ada" / "scans" / "scans.ipynb").write_bytes(notebook_bytes())
    return tmp_path


def bounded(call, seconds=5):
    """Runs ``call`` in a thread and fails if it blocks (a FIFO read would block forever)."""
    out = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, "reading blocked"
    return out[0]


def test_a_regular_notebook_is_read_with_its_digest_and_time(folder):
    submission = read.read_submission(folder, "ada/scans/scans.ipynb")
    assert submission.problem is None and submission.notebook.cells[0].source == "x = 1"
    assert len(submission.digest) == 64 and submission.mtime > 0


def test_the_submission_time_is_nbgraders_timestamp_when_it_left_one(folder):
    """nbgrader's submit writes timestamp.txt (UTC) beside the notebook and collect keeps it;
    its autograde takes the submission time from there, and so does the grader. Anything
    that is not a time (or a link, or too long) falls back to the file's time."""
    import datetime

    stamp = folder / "ada" / "scans" / "timestamp.txt"
    stamp.write_text("2026-12-06 03:15:42.123456 UTC")
    expected = datetime.datetime(2026, 12, 6, 3, 15, 42, 123456, tzinfo=datetime.timezone.utc).timestamp()
    assert read.read_submission(folder, "ada/scans/scans.ipynb").mtime == expected
    stamp.write_text("2026-12-06 03:15:42")             # no zone: UTC, as nbgrader's parse_utc reads it
    assert read.read_timestamp(folder, "ada/scans/scans.ipynb") == expected - 0.123456
    file_time = os.stat(folder / "ada" / "scans" / "scans.ipynb").st_mtime
    for bad in ("<script>", "", "9" * 300, "\xff\xfe"):
        stamp.write_text(bad)
        assert read.read_submission(folder, "ada/scans/scans.ipynb").mtime == file_time, bad
    stamp.unlink()
    stamp.symlink_to("/etc/hostname")
    assert read.read_submission(folder, "ada/scans/scans.ipynb").mtime == file_time


@pytest.mark.parametrize("make, problem", [
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: os.symlink("/dev/zero", p), "a link"),
    (lambda p: os.symlink("/etc/passwd", p), "a link"),
    (lambda p: os.mkdir(p), "not a regular file"),
])
def test_special_files_in_place_of_the_notebook_are_unreadable(folder, make, problem):
    path = folder / "ada" / "scans" / "scans.ipynb"
    path.unlink()
    make(path)
    submission = bounded(lambda: read.read_submission(folder, "ada/scans/scans.ipynb"))
    assert submission.notebook is None and submission.problem.kind == "unreadable"
    assert problem in submission.problem.text()


def test_a_link_higher_up_the_path_is_not_followed(folder, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "scans").mkdir()
    (elsewhere / "scans" / "scans.ipynb").write_bytes(notebook_bytes())
    os.symlink(elsewhere, folder / "bob")
    submission = read.read_submission(folder, "bob/scans/scans.ipynb")
    assert submission.notebook is None and "link" in submission.problem.text()
    work, _ = read.find_submissions(folder, ["scans"])
    assert [w.student for w in work] == ["ada"]


def test_reading_is_bounded(folder, monkeypatch):
    monkeypatch.setattr(read, "MAX_NOTEBOOK_BYTES", 1000)
    (folder / "ada" / "scans" / "scans.ipynb").write_bytes(b" " * 5000)
    submission = read.read_submission(folder, "ada/scans/scans.ipynb")
    assert submission.problem.kind == "unreadable" and "more than" in submission.problem.text()
    data, problem, _ = read.read_bounded(folder, "ada/scans/scans.ipynb", 10_000)
    assert len(data) == 5000 and problem is None


def test_a_hard_link_is_an_ordinary_file_read_as_untrusted_data(folder):
    os.link(folder / "ada" / "scans" / "scans.ipynb", folder / "ada" / "scans" / "copy.ipynb")
    data, problem, _ = read.read_bounded(folder, "ada/scans/copy.ipynb", 10**6)
    assert problem is None and json.loads(data)["cells"]


def test_paths_that_leave_the_folder_are_refused(folder):
    assert read.read_bounded(folder, "../etc/passwd", 100)[1] == "not a path inside the submissions folder"


def test_find_submissions_names_what_is_missing_renamed_or_ambiguous(folder):
    (folder / "bob" / "scans").mkdir(parents=True)
    (folder / "bob" / "scans" / "Homework 1.ipynb").write_bytes(notebook_bytes())
    (folder / "cy" / "scans").mkdir(parents=True)
    for name in ("a.ipynb", "b.ipynb"):
        (folder / "cy" / "scans" / name).write_bytes(notebook_bytes())
    (folder / "dee").mkdir()
    (folder / "not a student!").mkdir()
    os.mkfifo(folder / "pipe")
    work, not_graded = read.find_submissions(folder, ["scans", "losses"])
    found = {w.student: w for w in work}
    assert sorted(found) == ["ada", "bob", "cy", "dee"] and all(w.assignment == "scans" for w in work)
    assert str(found["bob"].relative) == "bob/scans/Homework 1.ipynb" and "expected scans.ipynb" in found["bob"].note
    assert found["cy"].relative is None and found["cy"].note.kind == "missing" and "a.ipynb, b.ipynb" in found["cy"].note.text()
    assert found["dee"].note.text() == "missing: no notebook was submitted"
    reasons = {entry.name: entry.reason for entry in not_graded}
    assert sorted(reasons) == ["not a student!", "pipe"]
    assert reasons["not a student!"].startswith("the name is not a student id: it holds a space, '!'")
    assert reasons["pipe"].startswith("a link, FIFO or device, not a folder")


STUDENT_IDS = ["zoë", "zoe\u0308", "李雷", "Łukasz", "ada.lovelace@uni.example", "o_neil-2", "42"]


def test_student_ids_in_any_script_are_students():
    """Letters and digits of any script (composed or with combining accents) and ``_.@-``,
    each a student of its own (nbgrader's gradebook keeps them: tests/test_grading.py)."""
    for name in STUDENT_IDS:
        assert read.student_id_problem(name) is None, name


def test_a_student_id_in_any_script_is_found_like_any_other(tmp_path):
    for name in STUDENT_IDS:
        (tmp_path / name / "scans").mkdir(parents=True)
        (tmp_path / name / "scans" / "scans.ipynb").write_bytes(notebook_bytes())
    work, not_graded = read.find_submissions(tmp_path, ["scans"])
    expected = sorted((name, f"{name}/scans/scans.ipynb") for name in STUDENT_IDS)
    assert sorted((w.student, str(w.relative)) for w in work) == expected
    assert not not_graded


@pytest.mark.parametrize("name, reason", [
    ("Zoë Smith", "it holds a space"),
    ("ada+bob", "it holds a +"),
    ("ada*", "it holds a *"),
    ("bell\x07", "it holds U+0007"),
    ("evil\u202etxt", "it holds U+202E"),
    ("=HYPERLINK(1)", "does not start with a letter or digit"),
    ("-rf", "does not start with a letter or digit"),
    ("@SUM(1)", "does not start with a letter or digit"),
    ("x" * 129, "longer than the 128 characters"),
])
def test_names_that_are_not_student_ids_say_why(name, reason):
    assert reason in read.student_id_problem(name)


def test_every_folder_is_accounted_for(tmp_path):
    """Whatever is in the submissions folder gets a row (graded, or not graded with the
    reason), except files at the top and hidden names, which are not submissions."""
    for student, assignment in [("ada", "scans"), ("Zoë Smith", "scans")]:
        (tmp_path / student / assignment).mkdir(parents=True)
        (tmp_path / student / assignment / "scans.ipynb").write_bytes(notebook_bytes())
    (tmp_path / "ada" / "Scans").mkdir()                       # a folder that is no assignment
    (tmp_path / "ada" / "notes.txt").write_text("mine")          # a file beside: not a submission
    (tmp_path / "cy").mkdir()
    (tmp_path / "cy" / "scans").write_text("a file where the folder should be")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / "grades.csv").write_text("")
    os.symlink(tmp_path / "ada", tmp_path / "bob")
    work, not_graded = read.find_submissions(tmp_path, ["scans", "losses"])
    assert [(w.student, w.assignment, w.relative is not None) for w in work] == [("ada", "scans", True),
                                                                                 ("cy", "scans", False)]
    assert work[1].note.kind == "missing" and "cy/scans is a file or a link" in work[1].note.detail.for_instructor()
    assert [(e.name, e.reason.split(":")[0].split(",")[0]) for e in not_graded] == [
        ("bob", "a link"), ("Zoë Smith", "the name is not a student id"),
        ("ada", "the folder ada/Scans is not one of the course's assignments (scans")]
    only_strays = tmp_path / "strays"
    (only_strays / "dee" / "homework1").mkdir(parents=True)
    (only_strays / "eve").mkdir()
    work, not_graded = read.find_submissions(only_strays, ["scans", "losses"])
    assert work == [] and [(e.name, e.reason) for e in not_graded] == [
        ("dee", "the folder dee/homework1 is not one of the course's assignments (scans, losses)"),
        ("eve", "the folder holds no assignment's folder")]


@pytest.mark.parametrize("raw, start", [
    (b"", "unreadable: the notebook file is empty"),
    (b"{ not json", "unreadable: not a notebook (invalid JSON at line 1"),
    (b"[1, 2]", "unreadable: JSON, but not a notebook"),
    (json.dumps({"cells": [], "nbformat": 5}).encode(), "unreadable: unsupported notebook format 5"),
    (b"[" * 100_000 + b"]" * 100_000, "unreadable: not a notebook (invalid JSON"),
])
def test_broken_notebooks_say_why(raw, start):
    assert read.parse_notebook(raw).problem.text().startswith(start)


def test_odd_but_readable_notebooks_carry_notes():
    raw = notebook_bytes(["s = 'caf\u00e9'"]).replace("caf\u00e9".encode(), b"caf\xff")
    submission = read.parse_notebook(raw)
    assert submission.notebook is not None and "not valid UTF-8" in submission.notes[0]
