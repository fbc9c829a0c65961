"""The instructor's commands: release, grade, feedback. nbgrader keeps the books.

Layout of a course directory (the repository root by default)::

    solutions/<assignment>/<assignment>.ipynb    nbgrader source notebooks (instructor)
    release/<assignment>/<assignment>.ipynb      student versions (``autograder release``)
    gradebook.db                                 nbgrader's gradebook
    autograded/<student>/<assignment>/           graded notebooks
    feedback/<student>/<assignment>/<nb>.html    per-student feedback
    grades.csv                                   one row per student and assignment
    .autograder/                                 grading state and cached references

Grading one submission is a pipeline of stages, one module each: ``read`` (untrusted
notebook → validated submission), ``plan`` (what runs, and what the answers' source
uses), ``run`` (the sandbox), ``decode`` (bounded untrusted results → values), ``judge``
(values → verdicts and a status), ``record`` (gradebook, state, CSV, feedback).
Submissions run in parallel on worker threads; each has a deadline of its own in this
process, so a stuck submission (or a bug of ours) costs that submission, never the
batch; the gradebook is written only by the main thread, one submission at a time.

Ctrl-C, SIGTERM or SIGHUP during grading stop the batch cleanly: no new submission
starts, every sandboxed run is killed and its control group and scratch folder removed,
results that were complete are recorded (each submission's gradebook entry, graded
notebook and state, in that order, so that one cut short is graded again), and
``Interrupted`` says how many are graded; the same command then continues where it
stopped. What a grader killed outright (``kill -9``) left behind is removed at the next start.
"""
import hashlib
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat

from autograder import checks as checks_module
from autograder import decode as decode_stage
from autograder import judge as judge_stage
from autograder import plan as plan_stage
from autograder import read as read_stage
from autograder import record as record_stage
from autograder import run as run_stage
from autograder import sandbox
from autograder.assignment import AssignmentContext
from autograder.status import Status

GRACE_SECONDS = 120     # beyond the notebook's own limit, for start-up, decoding and judging
DRAIN_SECONDS = 30      # after an interruption, for submissions under way to finish (or stop)


class CourseError(Exception):
    """Grading or releasing cannot run at all; the message says why and what to do."""


class Interrupted(Exception):
    """Grading stopped on a signal. Everything recorded is consistent, nothing is left
    running; ``graded`` of ``total`` submissions have a grade (``None`` before grading began)."""

    def __init__(self, signum, graded=None, total=None):
        self.signum, self.graded, self.total = signum, graded, total
        if graded is None:
            text = "interrupted before grading began; run the same command again to grade"
        else:
            text = f"interrupted: {graded} of {total} graded; run the same command again to continue"
        super().__init__(text)

    @property
    def exit_code(self):
        """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + self.signum


class _Interruption:
    """Catches SIGINT, SIGTERM and SIGHUP while grading (in the main thread only). Before the
    batch starts, a signal stops grading at once (``Interrupted``); during it, the signal
    kills every live sandboxed run and sets ``stop``, and the batch winds down."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.stop = threading.Event()
        self.signals = []
        self.in_batch = False
        self.previous = {}

    def __enter__(self):
        sandbox.resume()
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:     # e.g. SIGHUP under nohup stays ignored
                    self.previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False

    def handle(self, signum, frame):
        self.signals.append(signum)
        self.stop.set()
        sandbox.interrupt()
        if not self.in_batch:
            raise Interrupted(signum)


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
        """Grades every submission; returns the list of ``GradeResult``. See the module docstring.

        Raises ``Interrupted`` when a signal stopped it (what was complete is recorded)."""
        with _Interruption() as interruption:
            try:
                return self._grade(submissions, assignment, jobs, csv_path, unsafe, limits, regrade, progress,
                                   interruption)
            except Interrupted:
                sandbox.cleanup_live()
                raise

    def _grade(self, submissions, assignment, jobs, csv_path, unsafe, limits, regrade, progress, interruption):
        if not unsafe:
            problems = sandbox.sandbox_problems()
            if problems:
                raise CourseError("the grading sandbox cannot be set up, so student code will not run:\n  - "
                                  + "\n  - ".join(problems)
                                  + "\nFix that, or pass --unsafe to grade WITHOUT isolation (only for code you trust).")
        groups, folders = sandbox.remove_stale()
        if groups or folders:
            print(f"note: removed {groups} control group(s) and {folders} scratch folder(s) left by a grading run "
                  f"that was killed", file=sys.stderr)
        limits = limits or sandbox.Limits()
        jobs = jobs or os.cpu_count() or 1
        submissions = Path(submissions)
        work, skipped = self.find_work(submissions, assignment)
        if skipped:
            print(f"warning: skipping what is not a student's folder: {', '.join(skipped)}", file=sys.stderr)
        assignments = sorted({w.assignment for w in work}, key=checks_module.ASSIGNMENTS.index)
        released = not self.unreleased(assignments)
        if not released:
            self.ensure_released(assignments)
        context = {a: AssignmentContext(self, a, limits) for a in assignments}
        for ctx in context.values():
            ctx.warm_references()
        root = submissions.resolve()
        results = [None] * len(work)
        pending = []
        for i, item in enumerate(work):
            previous = None if regrade else self.previous_result(item, root, context[item.assignment])
            if previous is not None:
                results[i] = previous
            else:
                pending.append(i)
        for name in sorted({work[i].assignment for i in pending}, key=checks_module.ASSIGNMENTS.index):
            context[name].prepare_compile_cache(limits)
        bar = ProgressBar(len(work), enabled=progress)
        bar.advance(len(work) - len(pending))

        def grade_one(i):
            item = work[i]
            return grade_submission(item, root, context[item.assignment], limits, unsafe)

        def failed(i, text):
            item = work[i]
            ctx = context[item.assignment]
            return judge_stage.zero_result(item.student, item.assignment, ctx.checks, Status("error", text))

        deadline = limits.wall_seconds + GRACE_SECONDS
        interruption.in_batch = True      # from here on a signal winds the batch down
        try:
            # With the release notebooks there, the gradebook (nbgrader: a second to import) is
            # checked while the first submissions run.
            check_gradebook = (lambda: self.ensure_released(assignments)) if released else None
            for i, result, mtime in run_with_deadlines(grade_one, pending, jobs, deadline, failed,
                                                       interruption.stop, on_start=check_gradebook):
                self.record(result, context[result.assignment], mtime)   # never cut short by a signal
                results[i] = result
                bar.advance(1)
        except BaseException:
            sandbox.interrupt()
            sandbox.cleanup_live()
            raise
        finally:
            bar.close()
        if interruption.stop.is_set():
            sandbox.cleanup_live()     # runs whose threads did not finish their own cleanup in time
        graded = [r for r in results if r is not None]
        self.write_csv(graded, Path(csv_path) if csv_path else self.root / "grades.csv")
        if interruption.stop.is_set():
            raise Interrupted(interruption.signals[0], len(graded), len(work))
        return results

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

    def previous_result(self, item, root, ctx):
        """The saved result of ``item`` if neither the notebook nor anything the grade
        depends on (``ctx.digest``) changed since, and the gradebook has it."""
        digest, result = record_stage.load_state(self.state_dir, item.student, item.assignment)
        if result is None or digest != ctx.digest:
            return None
        if item.relative is None:
            current = None
        else:
            data, _, _ = read_stage.read_bounded(root, item.relative, read_stage.MAX_NOTEBOOK_BYTES)
            current = None if data is None else hashlib.sha256(data).hexdigest()
        if result.digest != current:
            return None
        with self.gradebook() as gb:
            try:
                gb.find_submission(item.assignment, item.student)
            except Exception:
                return None
        return result

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


def grade_submission(item, root, ctx, limits, unsafe):
    """Grades one submission through the stages. Never raises on bad student input.

    Returns ``(GradeResult, mtime of the notebook or None)``."""
    if item.relative is None:
        status = item.note if isinstance(item.note, Status) else Status("missing", "no notebook was submitted")
        return judge_stage.zero_result(item.student, item.assignment, ctx.checks, status), None
    submission = read_stage.read_submission(root, item.relative)
    name = item.relative.name
    if submission.notebook is None:
        return judge_stage.zero_result(item.student, item.assignment, ctx.checks, submission.problem, name,
                                       submission.digest), submission.mtime
    notes = ([item.note] if item.note else []) + submission.notes
    plan = plan_stage.build_plan(submission.notebook, ctx.release_notebook, ctx.checks, limits.cell_seconds)
    run = run_stage.run(plan, limits, unsafe, compile_cache=ctx.compile_cache)
    recorded = decode_stage.decode(run.results, plan.sequence(), limits.result_bytes)
    checks, score, status = judge_stage.judge(ctx.checks, ctx.references, plan, recorded, run, limits,
                                              notes + plan.notes)
    answers = read_stage.answers(submission.notebook, {c.answer for c in ctx.checks.values()})
    return judge_stage.GradeResult(item.student, item.assignment, score, ctx.max_score, status, checks,
                                   submission.digest, name, answers, run.wall_seconds,
                                   read_stage.read_secret(root, item.relative)), submission.mtime


def run_with_deadlines(work, items, jobs, deadline, failed, stop=None, drain_seconds=DRAIN_SECONDS, on_start=None):
    """Runs ``work(i)`` for every ``i`` of ``items`` on ``jobs`` daemon threads and yields
    ``(i, result, mtime)`` as each finishes, in this thread. ``work`` returns
    ``(result, mtime)``. An item that raises, or runs longer than ``deadline`` seconds, yields
    ``failed(i, text)`` instead (a stuck thread is abandoned and replaced; being a daemon,
    it cannot keep the process alive).

    Once ``stop`` (a ``threading.Event``) is set, no item starts; those under way get up to
    ``drain_seconds`` to finish and are yielded if they do, except those whose run was
    stopped (``work`` raised ``sandbox.Interrupted``), which yield nothing; then it returns.
    ``on_start()``, if given, runs in this thread once the workers have started."""
    stop = stop if stop is not None else threading.Event()
    todo = queue.Queue()
    for i in items:
        todo.put(i)
    done = queue.Queue()
    started = {}
    lock = threading.Lock()

    def worker():
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            with lock:
                started[i] = time.monotonic()
            try:
                result, mtime = work(i)
                done.put((i, result, mtime))
            except sandbox.Interrupted:
                done.put((i, None, None))     # stopped by an interruption: no result
            except Exception as exc:  # a bug in grading one submission must not stop the batch
                done.put((i, failed(i, f"grading failed ({type(exc).__name__}: {exc})"), None))

    def start_worker():
        threading.Thread(target=worker, daemon=True).start()

    for _ in range(max(1, min(jobs, len(items)))):
        start_worker()
    if on_start is not None:
        on_start()
    finished = set()
    drain_until = None
    while len(finished) < len(items):
        if stop.is_set():
            if drain_until is None:
                drain_until = time.monotonic() + drain_seconds
            with lock:
                under_way = [i for i in started if i not in finished]
            if not under_way or time.monotonic() >= drain_until:
                return
            try:
                i, result, mtime = done.get(timeout=0.2)
            except queue.Empty:
                continue
        else:
            try:
                i, result, mtime = done.get(timeout=1.0)
            except queue.Empty:
                i = None
        if i is None:
            now = time.monotonic()
            with lock:
                late = [i for i, t in started.items() if i not in finished and now - t > deadline]
            for i in late:
                finished.add(i)
                yield i, failed(i, f"grading this submission did not finish within {deadline:g} s and was given up "
                                   f"(a fault of the grader, not of the notebook)"), None
                start_worker()
            continue
        if i in finished:
            continue       # it finished after it was given up
        finished.add(i)
        if result is not None:
            yield i, result, mtime


class ProgressBar:
    def __init__(self, total, enabled=True):
        self.total, self.done, self.enabled = total, 0, enabled and total > 0
        self.start = time.perf_counter()

    def advance(self, count):
        self.done += count
        if self.enabled:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            seconds = time.perf_counter() - self.start
            sys.stderr.write(f"\rgrading [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                             f"({seconds:.0f} s)")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
