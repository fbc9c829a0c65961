"""nbgrader's own tools find this course's folders and gradebook without flags, through
the repository's nbgrader_config.py (tried in a copy of the course)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading_helpers import ROOT

NBGRADER = Path(sys.executable).parent / "nbgrader"
pytestmark = pytest.mark.slow


def nbgrader(*args, cwd):
    return subprocess.run([str(NBGRADER), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_nbgrader_finds_the_gradebook_and_folders_without_flags(tmp_path):
    from autograder.course import Course

    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    Course(course).release(["scans"])
    with Course(course).gradebook() as gb:
        gb.update_or_create_student("ada-lovelace", first_name="Ada", last_name="Lovelace")
    listed = nbgrader("db", "student", "list", cwd=course)
    assert listed.returncode == 0, listed.stderr
    assert "ada-lovelace (Lovelace, Ada)" in listed.stdout
    assignments = nbgrader("db", "assignment", "list", cwd=course)
    assert "scans" in assignments.stdout, assignments.stderr
    exported = nbgrader("export", cwd=course)
    assert exported.returncode == 0, exported.stderr
    assert "ada-lovelace" in (course / "gradebook-export.csv").read_text()
    assert not (course / "grades.csv").exists()        # autograder's CSV is left alone
    listed_elsewhere = nbgrader("db", "student", "list", cwd=tmp_path)
    assert "ada-lovelace" not in listed_elsewhere.stdout   # the config, not luck, found it
