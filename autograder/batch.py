"""Grading a folder of submissions: the batch around the stages (``autograder.pipeline``).

Submissions run in parallel on worker threads; each has a deadline of its own in this
process, so a stuck submission (or a bug of ours) costs that submission, never the
batch; the gradebook is written only by the main thread, one submission at a time. A
submission unchanged since it was graded (the same notebook, the same digest of
everything its grade depends on) keeps its grade.

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

from autograder import checks as checks_module
from autograder import judge as judge_stage
from autograder import pipeline
from autograder import read as read_stage
from autograder import record as record_stage
from autograder import sandbox
from autograder.assignment import AssignmentContext
from autograder.course import CourseError
from autograder.status import Status

GRACE_SECONDS = 120     # beyond the notebook's own limit, for start-up, decoding and judging
DRAIN_SECONDS = 30      # after an interruption, for submissions under way to finish (or stop)


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


def grade(course, submissions, assignment=None, jobs=None, csv_path=None, unsafe=False, limits=None,
          regrade=False, progress=True):
    """Grades every submission in the folder ``submissions`` for ``course``; returns the
    list of ``GradeResult``, one per student and assignment, then one (status
    ``not-graded``, no points) per entry of the folder that cannot be graded, with the
    reason (``read.find_submissions``); those are in the CSV too, not in the gradebook.
    See the module docstring.

    Raises ``Interrupted`` when a signal stopped it (what was complete is recorded)."""
    with _Interruption() as interruption:
        try:
            return _grade(course, submissions, assignment, jobs, csv_path, unsafe, limits, regrade, progress,
                          interruption)
        except Interrupted:
            sandbox.cleanup_live()
            raise


def _grade(course, submissions, assignment, jobs, csv_path, unsafe, limits, regrade, progress, interruption):
    prepare_machine(unsafe)
    limits = limits or sandbox.Limits()
    jobs = jobs or os.cpu_count() or 1
    submissions = Path(submissions)
    work, not_graded = course.find_work(submissions, assignment)
    not_graded = [pipeline.not_graded(entry) for entry in not_graded]
    assignments = sorted({w.assignment for w in work}, key=checks_module.ASSIGNMENTS.index)
    released = not course.unreleased(assignments)
    if not released:
        course.ensure_released(assignments)
    context = {a: AssignmentContext(course, a, limits) for a in assignments}
    for ctx in context.values():
        ctx.warm_references()
    root = submissions.resolve()
    results = [None] * len(work)
    pending = []
    for i, item in enumerate(work):
        previous = None if regrade else previous_result(course, item, root, context[item.assignment])
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
        return pipeline.grade_submission(item, root, context[item.assignment], limits, unsafe)

    def failed(i, text):
        item = work[i]
        ctx = context[item.assignment]
        return judge_stage.zero_result(item.student, item.assignment, ctx.checks, Status("error", text))

    deadline = limits.wall_seconds + GRACE_SECONDS
    interruption.in_batch = True      # from here on a signal winds the batch down
    try:
        # With the release notebooks there, the gradebook (nbgrader: a second to import) is
        # checked while the first submissions run.
        check_gradebook = (lambda: course.ensure_released(assignments)) if released else None
        for i, result, mtime in run_with_deadlines(grade_one, pending, jobs, deadline, failed,
                                                   interruption.stop, on_start=check_gradebook):
            pipeline.record(course, result, context[result.assignment], mtime)   # never cut short by a signal
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
    course.write_csv(graded + not_graded, Path(csv_path) if csv_path else course.root / "grades.csv")
    if interruption.stop.is_set():
        raise Interrupted(interruption.signals[0], len(graded), len(work))
    return results + not_graded


def prepare_machine(unsafe):
    """Checks that the sandbox can run here (unless ``unsafe``) and removes what a grader
    killed outright left behind; ``CourseError`` says what to fix."""
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


def previous_result(course, item, root, ctx):
    """The saved result of ``item`` if neither the notebook nor anything the grade
    depends on (``ctx.digest``) changed since, and the gradebook has it."""
    digest, result = record_stage.load_state(course.state_dir, item.student, item.assignment)
    if result is None or digest != ctx.digest:
        return None
    if item.relative is None:
        current = None
    else:
        data, _, _ = read_stage.read_bounded(root, item.relative, read_stage.MAX_NOTEBOOK_BYTES)
        current = None if data is None else hashlib.sha256(data).hexdigest()
    if result.digest != current:
        return None
    with course.gradebook() as gb:
        try:
            gb.find_submission(item.assignment, item.student)
        except Exception:
            return None
    return result


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
