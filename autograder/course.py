"""The instructor's pipeline: release, grade, feedback. nbgrader keeps the books.

Layout of a course directory (the repository root by default)::

    solutions/<assignment>/<assignment>.ipynb    nbgrader source notebooks (instructor)
    release/<assignment>/<assignment>.ipynb      student versions (``autograder release``)
    gradebook.db                                 nbgrader's gradebook
    autograded/<student>/<assignment>/           graded notebooks and grading.json
    feedback/<student>/<assignment>/<nb>.html    per-student feedback
    grades.csv                                   one row per student and assignment

Grading one submission: read it without trusting it (``notebooks.read_submission``),
plan what runs (``notebooks.build_plan``), run the plan in the sandbox (``sandbox``,
``executor.py``), then judge the recorded results here against the references
(``checks.verdict``). Submissions run in parallel; the gradebook is written only by
this process, one submission at a time.
"""
import concurrent.futures
import csv
import dataclasses
import datetime
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import nbformat
import numpy as np

from autograder import checks as checks_module
from autograder import notebooks, sandbox

HERE = Path(__file__).resolve().parent
EXECUTOR = HERE / "executor.py"
MAX_RESULT_BYTES = 64 * 1024 * 1024
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


class CourseError(Exception):
    """Grading or releasing cannot run at all; the message says why and what to do."""


@dataclasses.dataclass
class CheckResult:
    grade_id: str
    function: str
    points: float
    max_points: float
    message: str


@dataclasses.dataclass
class GradeResult:
    student: str
    assignment: str
    score: float
    max_score: float
    status: str
    checks: list
    digest: str | None = None
    notebook_name: str | None = None
    answers: dict = dataclasses.field(default_factory=dict)   # grade_id -> the student's answer source
    seconds: float = 0.0                                       # wall time of the sandboxed run

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["checks"] = [CheckResult(**c) for c in data["checks"]]
        return cls(**data)


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
        """``{grade_id: points}`` from the source notebook; every one must have a trusted check."""
        source = nbformat.read(self.solutions / assignment / f"{assignment}.ipynb", as_version=4)
        points = {}
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                points[meta["grade_id"]] = float(meta["points"])
        known = checks_module.load(assignment)
        if set(points) != set(known):
            raise CourseError(f"{assignment}: the test cells of the notebook ({sorted(points)}) and the checks in "
                              f"autograder/checks/{assignment}.py ({sorted(known)}) do not match")
        return points

    def release(self, assignments=None):
        """Generates the student version of each assignment into ``release/`` (nbgrader)."""
        api = self.nbgrader_api()
        released = []
        for assignment in assignments or self.assignments():
            self.check_points(assignment)
            result = api.generate_assignment(assignment, force=True, create=True)
            if not result["success"]:
                raise CourseError(f"nbgrader could not release {assignment}:\n{result.get('error') or result.get('log')}")
            released.append(self.release_dir / assignment / f"{assignment}.ipynb")
        return released

    def ensure_released(self, assignments):
        missing = [a for a in assignments if not (self.release_dir / a / f"{a}.ipynb").exists()
                   or not self.gradebook_path.exists()]
        if missing:
            self.release(missing)
        with self.gradebook() as gb:
            for assignment in assignments:
                try:
                    gb.find_assignment(assignment)
                except Exception:
                    self.release([assignment])

    # ------------------------------------------------------------ grading
    def find_submissions(self, submissions, only=None):
        """``[(student, assignment, notebook path or None, note)]`` for every student folder
        and every assignment graded."""
        submissions = Path(submissions)
        if not submissions.is_dir():
            raise CourseError(f"no submissions folder at {submissions}")
        students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
        bad = [s for s in students if not STUDENT_ID.match(s)]
        if bad:
            print(f"warning: skipping folders that are not student ids: {', '.join(bad)}", file=sys.stderr)
        students = [s for s in students if STUDENT_ID.match(s)]
        course_assignments = self.assignments()
        if only is not None:
            if only not in course_assignments:
                raise CourseError(f"unknown assignment {only!r}; the course has {', '.join(course_assignments)}")
            assignments = [only]
        else:
            assignments = [a for a in course_assignments if any((submissions / s / a).is_dir() for s in students)]
        work = []
        for student in students:
            for assignment in assignments:
                folder = submissions / student / assignment
                expected = folder / f"{assignment}.ipynb"
                if expected.is_file():
                    work.append((student, assignment, expected, None))
                    continue
                found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
                if len(found) == 1:
                    work.append((student, assignment, found[0], f"graded {found[0].name} (expected {expected.name})"))
                elif found:
                    names = ", ".join(p.name for p in found)
                    work.append((student, assignment, None, f"missing: expected {expected.name}, found {names}"))
                else:
                    work.append((student, assignment, None, "missing: no notebook was submitted"))
        return work

    def grade(self, submissions, assignment=None, jobs=None, csv_path=None, unsafe=False, limits=None,
              regrade=False, progress=True):
        """Grades every submission; returns the list of ``GradeResult``. See the module docstring."""
        if not unsafe:
            problems = sandbox.sandbox_problems()
            if problems:
                raise CourseError("the grading sandbox cannot be set up, so student code will not run:\n  - "
                                  + "\n  - ".join(problems)
                                  + "\nFix that, or pass --unsafe to grade WITHOUT isolation (only for code you trust).")
        limits = limits or sandbox.Limits()
        jobs = jobs or os.cpu_count() or 1
        work = self.find_submissions(submissions, assignment)
        assignments = sorted({a for _, a, _, _ in work}, key=checks_module.ASSIGNMENTS.index)
        self.ensure_released(assignments)
        context = {a: AssignmentContext(self, a) for a in assignments}
        for ctx in context.values():
            ctx.warm_references()
        results = [None] * len(work)
        pending = []
        for i, (student, assignment, path, note) in enumerate(work):
            previous = None if regrade else self.previous_result(student, assignment, path, context[assignment])
            if previous is not None:
                results[i] = previous
            else:
                pending.append(i)
        bar = ProgressBar(len(work), enabled=progress)
        bar.advance(len(work) - len(pending))
        lock = threading.Lock()

        def grade_one(i):
            student, assignment, path, note = work[i]
            return grade_submission(student, assignment, path, note, context[assignment], limits, unsafe)

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(grade_one, i): i for i in pending}
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # a bug in grading one submission must not stop the batch
                    student, assignment, _, _ = work[i]
                    ctx = context[assignment]
                    result = ctx.zero_result(student, f"error: grading failed ({type(exc).__name__}: {exc})")
                with lock:
                    self.record(result, work[i][2], context[result.assignment])
                results[i] = result
                bar.advance(1)
        bar.close()
        self.write_csv(results, Path(csv_path) if csv_path else self.root / "grades.csv")
        return results

    def previous_result(self, student, assignment, path, ctx):
        state = self.state_path(student, assignment)
        if not state.exists():
            return None
        try:
            saved = json.loads(state.read_text())
            result = GradeResult.from_json(saved["result"])
        except (ValueError, KeyError, TypeError):
            return None
        if saved.get("checks_digest") != ctx.digest or result.digest != file_digest(path):
            return None
        with self.gradebook() as gb:
            try:
                gb.find_submission(assignment, student)
            except Exception:
                return None
        return result

    def record(self, result, path, ctx):
        """Writes one result into the gradebook, the autograded folder and its state file."""
        from nbgrader.api import MissingEntry

        timestamp = datetime.datetime.fromtimestamp(path.stat().st_mtime) if path is not None else None
        with self.gradebook() as gb, warnings.catch_warnings():
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
        folder = self.autograded / result.student / result.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(ctx.graded_notebook(result), folder / f"{result.assignment}.ipynb")
        if timestamp is not None:
            (folder / "timestamp.txt").write_text(timestamp.isoformat(" "))
        state = {"checks_digest": ctx.digest, "result": result.to_json()}
        path = self.state_path(result.student, result.assignment)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(path)

    def state_path(self, student, assignment):
        return self.state_dir / "graded" / student / f"{assignment}.json"

    @staticmethod
    def write_csv(results, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["assignment", "student_id", "score", "max_score", "status"])
            for r in sorted(results, key=lambda r: (checks_module.ASSIGNMENTS.index(r.assignment), r.student)):
                writer.writerow([r.assignment, r.student, f"{r.score:g}", f"{r.max_score:g}", r.status])
        temporary.replace(path)

    # ------------------------------------------------------------ feedback
    def feedback(self, assignment=None, student=None):
        """HTML feedback for every graded submission (nbgrader's feedback, no hidden tests)."""
        api = self.nbgrader_api()
        written = []
        graded = sorted(self.state_dir.glob("graded/*/*.json"))
        if not graded:
            raise CourseError("nothing is graded yet: run 'autograder grade SUBMISSIONS' first")
        for state in graded:
            who, which = state.parent.name, state.stem
            if (assignment and which != assignment) or (student and who != student):
                continue
            result = api.generate_feedback(which, who, force=True)
            if not result["success"]:
                raise CourseError(f"nbgrader could not write feedback for {who}/{which}:\n{result.get('error')}")
            written += sorted((self.feedback_dir / who / which).glob("*.html"))
        return written


def flatten(value, arrays):
    """A JSON description of a reference result whose arrays go into ``arrays``."""
    if isinstance(value, tuple):
        return {"tuple": [flatten(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": {k: flatten(v, arrays) for k, v in value.items()}}
    name = f"r{len(arrays)}"
    arrays[name] = value
    return {"array": name}


def unflatten(spec, arrays):
    if "tuple" in spec:
        return tuple(unflatten(s, arrays) for s in spec["tuple"])
    if "dict" in spec:
        return {k: unflatten(s, arrays) for k, s in spec["dict"].items()}
    return arrays[spec["array"]]


def file_digest(path):
    if path is None or not Path(path).exists():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class AssignmentContext:
    """What grading one assignment needs, prepared once per run."""

    def __init__(self, course, assignment):
        self.course = course
        self.assignment = assignment
        self.checks = checks_module.load(assignment)
        self.points = course.check_points(assignment)
        self.release_notebook = course.release_notebook(assignment)
        self.max_score = sum(self.points.values())
        order = [gid for gid, kind, _ in notebooks.cell_kinds(self.release_notebook) if kind == "test"]
        self.order = order
        digest = hashlib.sha256()
        for name in ("__init__.py", f"{assignment}.py"):
            digest.update((HERE / "checks" / name).read_bytes())
        digest.update(EXECUTOR.read_bytes())
        digest.update((HERE / "notebooks.py").read_bytes())
        digest.update(nbformat.writes(self.release_notebook).encode())
        self.digest = digest.hexdigest()

    def warm_references(self):
        """Computes every reference result once per version of the checks and keeps them on
        disk (JAX compiles each small reference computation, which takes seconds)."""
        stored = self.course.state_dir / "references" / f"{self.assignment}-{self.digest[:20]}.npz"
        keys = [(check, index) for check in self.checks.values() for index in range(len(check.cases))]
        if stored.exists():
            try:
                with np.load(stored, allow_pickle=False) as saved:
                    arrays = {name: saved[name] for name in saved.files}
                specs = json.loads(str(arrays.pop("__structure__")))
                for check, index in keys:
                    value = unflatten(specs[f"{check.grade_id}/{index}"], arrays)
                    checks_module.seed_reference(check, index, value)
                return
            except (OSError, ValueError, KeyError):
                pass
        arrays, specs = {}, {}
        for check, index in keys:
            specs[f"{check.grade_id}/{index}"] = flatten(checks_module.reference_output(check, index), arrays)
        stored.parent.mkdir(parents=True, exist_ok=True)
        arrays["__structure__"] = np.array(json.dumps(specs))
        temporary = stored.with_name(stored.stem + ".tmp.npz")
        np.savez(temporary, **arrays)
        temporary.replace(stored)

    def zero_result(self, student, status, notebook_name=None, digest=None):
        results = [CheckResult(gid, self.checks[gid].function, 0.0, self.points[gid], status) for gid in self.order]
        return GradeResult(student, self.assignment, 0.0, self.max_score, status, results, digest, notebook_name)

    def graded_notebook(self, result):
        """The release notebook with the student's answers and, under each test cell, the verdict."""
        notebook = nbformat.v4.new_notebook(metadata=self.release_notebook.metadata)
        answers = result.answers
        verdicts = {c.grade_id: c for c in result.checks}
        for cell in self.release_notebook.cells:
            cell = nbformat.from_dict(json.loads(json.dumps(cell)))
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                if gid in answers:
                    cell.source = answers[gid]
                if gid in verdicts:
                    check = verdicts[gid]
                    if check.points >= check.max_points:
                        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=check.message + "\n")]
                    else:
                        cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=check.message,
                                                               traceback=[f"CheckFailed: {check.message}"])]
            notebook.cells.append(cell)
        return notebook


def grade_submission(student, assignment, path, note, ctx, limits, unsafe):
    """Grades one submission. Never raises on bad student input; returns a ``GradeResult``."""
    digest = file_digest(path)
    if path is None:
        return ctx.zero_result(student, note, digest=digest)
    submission = notebooks.read_submission(path)
    if submission.notebook is None:
        return ctx.zero_result(student, submission.problem, path.name, digest)
    notes = ([note] if note else []) + submission.notes
    answers = {}
    answer_ids = {gid for gid, kind, _ in notebooks.cell_kinds(ctx.release_notebook) if kind == "answer"}
    for cell in submission.notebook.cells:
        gid = notebooks.grade_id(cell)
        if gid in answer_ids and gid not in answers and cell.get("cell_type") == "code":
            answers[gid] = cell.get("source", "")
    steps, inputs, plan_notes = notebooks.build_plan(submission, ctx.release_notebook, ctx.checks)
    notes += plan_notes
    with tempfile.TemporaryDirectory(prefix="autograder-") as temporary:
        scratch = Path(temporary) / "scratch"
        scratch.mkdir()
        os.chmod(temporary, 0o755)
        os.chmod(scratch, 0o777)
        (scratch / "plan.json").write_text(json.dumps({"steps": steps, "cell_seconds": limits.cell_seconds}))
        np.savez(scratch / "inputs.npz", **inputs)
        run = sandbox.run_sandboxed([sys.executable, str(EXECUTOR)], scratch=scratch,
                                    readonly=[EXECUTOR] + lectlib_paths(), limits=limits, unsafe=unsafe)
        recorded, printed, cell_errors = read_results(scratch)
        last_step = (scratch / "progress.txt").read_text()[:100] if (scratch / "progress.txt").exists() else "start-up"
    finished = printed is not None
    if run.status == "ok" and not finished:
        run.status = "crashed"          # exit code 0, but the plan did not run to its end
    run_problem = describe_run(run, limits, last_step)
    check_results, score = [], 0.0
    for gid in ctx.order:
        check = ctx.checks[gid]
        per_case = []
        for index in range(len(check.cases)):
            entry = recorded.get(f"{gid}/{index}")
            if entry is None:
                entry = ("error", f"not reached: {run_problem or 'the notebook stopped before this check'}")
            per_case.append(entry)
        passed, message = checks_module.verdict(check, per_case)
        points = ctx.points[gid] if passed else 0.0
        score += points
        check_results.append(CheckResult(gid, check.function, points, ctx.points[gid], message))
    status = run_problem or "ok"
    if printed and printed > 10_000_000:
        notes.append(f"printed {printed / 1e6:.0f} MB of output (discarded)")
    if run.hit_process_limit and run.status != "process-limit":
        notes.append(f"hit the limit of {limits.pids} processes")
    if cell_errors:
        shown = "; ".join(f"cell {cell}: {error[:120]}" for cell, error in cell_errors[:2])
        more = f" and {len(cell_errors) - 2} more" if len(cell_errors) > 2 else ""
        notes.append(f"errors in {len(cell_errors)} cell{'s' if len(cell_errors) > 1 else ''} ({shown}{more})")
    if notes:
        status += "; " + "; ".join(notes)
    return GradeResult(student, assignment, score, ctx.max_score, status, check_results, digest, path.name, answers,
                       run.wall_seconds)


def lectlib_paths():
    import lectlib

    return [Path(lectlib.__file__).resolve().parent]


def describe_run(run, limits, last_step):
    if run.status == "ok":
        return None
    where = f" ({last_step})" if last_step else ""
    if run.status == "timeout":
        return f"timeout: the notebook ran longer than {limits.wall_seconds:g} s and was stopped{where}"
    if run.status == "memory":
        return f"memory: the notebook used more than {limits.memory_bytes / 2**30:g} GiB and was stopped{where}"
    if run.status == "output-limit":
        return f"output-limit: the notebook wrote more than {limits.output_bytes} bytes to the terminal{where}"
    if run.status == "process-limit":
        return f"process-limit: the notebook started more than {limits.pids} processes{where}"
    if run.returncode is not None and (run.returncode < 0 or 128 < run.returncode < 160):
        # bubblewrap reports a child killed by signal N as exit code 128 + N.
        number = -run.returncode if run.returncode < 0 else run.returncode - 128
        return f"crashed: the notebook's process was killed by signal {number}{where}"
    if run.returncode == 0:
        return f"crashed: the notebook ended the grading process early (exit code 0){where}"
    return f"crashed: the notebook ended the grading process (exit code {run.returncode}){where}"


def read_results(scratch):
    """What the executor recorded: ``{call id: ("ok", value) | ("error", message)}``, the
    number of characters printed, and the cell errors. Reads only files inside ``scratch``."""
    recorded, printed, cell_errors = {}, None, []
    results = scratch / "results.jsonl"
    if not results.is_file() or results.stat().st_size > MAX_RESULT_BYTES:
        return recorded, printed, cell_errors
    for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "printed" in record and isinstance(record["printed"], int):
            printed = record["printed"]
        elif "cell" in record and record.get("error"):
            cell_errors.append((record["cell"], str(record["error"])[:500]))
        elif isinstance(record.get("call"), str) and record["call"] not in recorded:
            if record.get("status") == "ok":
                try:
                    recorded[record["call"]] = ("ok", load_value(record.get("value"), scratch))
                except ValueError as exc:
                    recorded[record["call"]] = ("error", f"the result could not be read back ({exc})")
            else:
                recorded[record["call"]] = ("error", str(record.get("message", "failed"))[:500])
    return recorded, printed, cell_errors


def load_value(spec, scratch, depth=0):
    if depth > 5 or not isinstance(spec, dict):
        raise ValueError("malformed result")
    if "none" in spec:
        return None
    if "tuple" in spec and isinstance(spec["tuple"], list):
        return tuple(load_value(s, scratch, depth + 1) for s in spec["tuple"])
    if "dict" in spec and isinstance(spec["dict"], dict):
        return {str(k): load_value(s, scratch, depth + 1) for k, s in spec["dict"].items()}
    name = spec.get("array")
    if not isinstance(name, str) or not re.fullmatch(r"out/o\d+\.npy", name):
        raise ValueError("malformed result")
    path = scratch / name
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
        raise ValueError("missing or oversized result")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{type(exc).__name__}") from None


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
