"""The course: its folders, nbgrader's books and releasing homework. Grading a folder of
submissions is ``autograder.batch`` (the scheduler, signals, progress) around
``autograder.pipeline`` (one submission through the stages).

Layout of a course directory (the repository root by default)::

    solutions/<assignment>/<assignment>.ipynb    nbgrader source notebooks (instructor)
    release/<assignment>/<assignment>.ipynb      student versions (``autograder release``)
    gradebook.db                                 nbgrader's gradebook
    autograded/<student>/<assignment>/           graded notebooks
    feedback/<student>/<assignment>/<nb>.html    per-student feedback
    grades.csv                                   one row per student and assignment
    .autograder/                                 grading state and cached references
"""
import os
import sys
from pathlib import Path

import nbformat

from autograder import checks as checks_module
from autograder import read as read_stage
from autograder import record as record_stage


class CourseError(Exception):
    """Grading or releasing cannot run at all; the message says why and what to do."""


class Course:
    def __init__(self, root):
        self.root = Path(root).resolve()
        self.solutions = self.root / "solutions"
        self.release_dir = self.root / "release"
        self.autograded = self.root / "autograded"
        self.feedback_dir = self.root / "feedback"
        self.gradebook_path = self.root / "gradebook.db"
        self.state_dir = self.root / ".autograder"      # what grading remembers, not for students
        if not self.solutions.is_dir():
            raise CourseError(f"{self.root} is not a course directory: it has no solutions/ folder "
                              f"(run from the course root or pass --course)")

    # ------------------------------------------------------------ nbgrader
    @staticmethod
    def _tools_on_path():
        # nbgrader runs the `alembic` command of this environment when it creates a gradebook.
        tools = str(Path(sys.executable).parent)
        if tools not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")

    @property
    def db_url(self):
        return f"sqlite:///{self.gradebook_path}"

    def nbgrader_api(self):
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        self._tools_on_path()
        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.source_directory = "solutions"
        config.CourseDirectory.release_directory = "release"
        config.CourseDirectory.autograded_directory = "autograded"
        config.CourseDirectory.feedback_directory = "feedback"
        config.CourseDirectory.db_url = self.db_url
        config.Exchange.root = str(self.root / ".exchange")
        config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
        coursedir = CourseDirectory(config=config)
        return NbGraderAPI(coursedir=coursedir, config=config)

    def gradebook(self):
        from nbgrader.api import Gradebook

        self._tools_on_path()
        return Gradebook(self.db_url)

    # ------------------------------------------------------------ assignments
    def assignments(self):
        """Assignments with a source notebook, in lecture order."""
        found = [a for a in checks_module.ASSIGNMENTS if (self.solutions / a / f"{a}.ipynb").exists()]
        if not found:
            raise CourseError(f"no assignments in {self.solutions} (expected <assignment>/<assignment>.ipynb)")
        return found

    def release_notebook(self, assignment):
        path = self.release_dir / assignment / f"{assignment}.ipynb"
        return nbformat.read(path, as_version=4)

    def check_points(self, assignment):
        """Checks the source notebook against the manifest (``autograder/checks/<assignment>.py``):
        the same graded cells in the same order, the same points, an answer cell for every
        graded function. Returns ``{grade_id: points}``; raises ``CourseError`` saying what differs."""
        source = nbformat.read(self.solutions / assignment / f"{assignment}.ipynb", as_version=4)
        tests, answers = {}, set()
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                answers.add(meta.get("grade_id"))
            elif meta.get("grade"):
                tests[meta["grade_id"]] = float(meta.get("points", 0))
        manifest = checks_module.load(assignment)
        where = f"autograder/checks/{assignment}.py"
        if set(tests) != set(manifest):
            raise CourseError(f"{assignment}: the test cells of the notebook ({sorted(tests)}) and the checks in "
                              f"{where} ({sorted(manifest)}) do not match")
        if list(tests) != list(manifest):
            raise CourseError(f"{assignment}: the notebook's test cells come in the order {list(tests)}, the checks in "
                              f"{where} in the order {list(manifest)}; put them in the same order")
        wrong = [f"{gid} is worth {tests[gid]:g} in the notebook and {check.points:g} in {where}"
                 for gid, check in manifest.items() if float(check.points) != tests[gid]]
        if wrong:
            raise CourseError(f"{assignment}: the points do not match: " + "; ".join(wrong))
        missing = [check.answer for check in manifest.values() if check.answer not in answers]
        if missing:
            raise CourseError(f"{assignment}: no answer cell with grade id {', '.join(missing)} in the notebook, "
                              f"which {where} grades")
        return tests

    def release(self, assignments=None):
        """Generates the student version of each assignment into ``release/`` (nbgrader),
        after checking the source notebook against its manifest."""
        api = self.nbgrader_api()
        released = []
        for assignment in assignments or self.assignments():
            self.check_points(assignment)
            result = api.generate_assignment(assignment, force=True, create=True)
            if not result["success"]:
                raise CourseError(f"nbgrader could not release {assignment}:\n{result.get('error') or result.get('log')}")
            released.append(self.release_dir / assignment / f"{assignment}.ipynb")
        return released

    def unreleased(self, assignments):
        """Those of ``assignments`` without a release notebook, or all if there is no gradebook."""
        return [a for a in assignments if not (self.release_dir / a / f"{a}.ipynb").exists()
                or not self.gradebook_path.exists()]

    def ensure_released(self, assignments):
        missing = self.unreleased(assignments)
        if missing:
            self.release(missing)
        with self.gradebook() as gb:
            for assignment in assignments:
                try:
                    gb.find_assignment(assignment)
                except Exception:
                    self.release([assignment])

    # ------------------------------------------------------------ grading
    def grade(self, submissions, assignment=None, jobs=None, csv_path=None, unsafe=False, limits=None,
              regrade=False, progress=True):
        """Grades every submission in the folder ``submissions`` (``autograder.batch.grade``);
        returns the list of ``GradeResult``. Raises ``batch.Interrupted`` when a signal
        stopped it (what was complete is recorded)."""
        from autograder import batch

        return batch.grade(self, submissions, assignment, jobs, csv_path, unsafe, limits, regrade, progress)

    def find_work(self, submissions, assignment=None):
        """``read.find_submissions`` of the folder ``submissions``, for ``assignment`` or every
        assignment of the course; ``CourseError`` if there is no such folder or assignment."""
        submissions = Path(submissions)
        if not submissions.is_dir():
            raise CourseError(f"no submissions folder at {submissions}")
        course_assignments = self.assignments()
        if assignment is not None and assignment not in course_assignments:
            raise CourseError(f"unknown assignment {assignment!r}; the course has {', '.join(course_assignments)}")
        return read_stage.find_submissions(submissions, course_assignments, assignment)

    def record(self, result, ctx, mtime=None):
        record_stage.record(self, result, ctx, mtime)

    @staticmethod
    def write_csv(results, path):
        record_stage.write_csv(results, path)

    def state_path(self, student, assignment):
        return record_stage.state_path(self.state_dir, student, assignment)

    # ------------------------------------------------------------ feedback
    def feedback(self, assignment=None, student=None):
        """HTML feedback for every graded submission, readable offline (autograder/student_feedback)."""
        from autograder import student_feedback as feedback_module

        try:
            return feedback_module.write_feedback(self, assignment, student)
        except feedback_module.FeedbackError as exc:
            raise CourseError(str(exc)) from None
