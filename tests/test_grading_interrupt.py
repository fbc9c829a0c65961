"""An interrupted batch leaves nothing behind: Ctrl-C (SIGINT) or SIGTERM during
``autograder grade`` kills every sandboxed process (the runner, what it forked, what
escaped into a session of its own), removes the control groups and scratch folders,
leaves the gradebook and the grading state agreeing, exits 130 or 143 saying how much is
graded, and the same command then grades only the rest, to the same scores as a batch
that was never interrupted. Also: debris of a grader killed outright (``kill -9``) is
removed at the next start, and what a running grader owns is not.

The batch runs as a subprocess with a wall-clock bound on every wait; whatever happens,
the test kills its process group at the end."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder import record as record_stage
from autograder import sandbox
from autograder.batch import Interrupted, _Interruption, run_with_deadlines
from autograder.sandbox import cgroups, owners
from grading_helpers import POINTS, SANDBOX_FLAGS, new_course, read_csv, reference_notebook, submit

MARKER = f"autograder-interrupt-test-{uuid.uuid4().hex[:12]}"
CELL_SECONDS = 40           # the two endless submissions time out at this in the batch that completes
LIMITS = ["--cell-seconds", str(CELL_SECONDS), "--notebook-seconds", "150", "--processes", "48",
          "--memory-gib", "1", "--disk-mib", "64"]
WAIT_SECONDS = 600          # the most any step of a test waits (a loaded 2-core machine)
EXIT_SECONDS = 90           # the most an interrupted grader may take to exit
FULL = sum(POINTS["scans"].values())

# A child that sleeps for ever under a name the test can find in /proc.
SLEEPER = f"[sys.executable, '-c', 'import time; time.sleep(10**6)', {MARKER!r}]"
FORKS = ("import os, sys, time\n"
         "for _ in range(2):\n"
         "    if os.fork() == 0:\n"
         "        os.setsid()                     # a session of its own, out of the runner's process group\n"
         "        if os.fork() == 0:              # an orphan, reparented when its parent execs away\n"
         f"            os.execv(sys.executable, {SLEEPER})\n"
         f"        os.execv(sys.executable, {SLEEPER})\n"
         "time.sleep(10**6)")
SLEEPS = "import time\ntime.sleep(10**6)"
STUDENTS = ["a1-reference", "a2-reference", "b1-forks", "b2-sleeps", "c1-reference", "c2-untouched"]


def with_cell_after(notebook, grade_id, source):
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    """Two quick submissions graded first (with ``--jobs 2``), then two that never end (one
    forks children into sessions of their own), then two more that never start."""
    folder = tmp_path_factory.mktemp("interrupt") / "submitted"
    stuck = {"b1-forks": FORKS, "b2-sleeps": SLEEPS}
    for student in STUDENTS:
        if student in stuck:
            notebook = with_cell_after(reference_notebook("scans"), "test_memory_states", stuck[student])
        elif student == "c2-untouched":
            notebook = nbformat.read(Path(__file__).resolve().parents[1] / "solutions" / "scans" / "scans.ipynb",
                                     as_version=4)
            for cell in notebook.cells:
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = "raise NotImplementedError()"
        else:
            notebook = reference_notebook("scans")
        submit(folder, student, "scans", notebook)
    return folder


def command(course, folder, csv_path):
    return [sys.executable, "-m", "autograder", "--course", str(course.root), "grade", str(folder), "--jobs", "2",
            "--quiet", "--csv", str(csv_path)] + LIMITS + SANDBOX_FLAGS


@pytest.fixture(scope="module")
def uninterrupted(submissions, tmp_path_factory):
    """The grades of the same batch run to the end without interruption."""
    course = new_course(tmp_path_factory.mktemp("uninterrupted") / "course")
    csv_path = course.root / "grades.csv"
    finished = subprocess.run(command(course, submissions, csv_path), capture_output=True, text=True,
                              timeout=WAIT_SECONDS)
    assert finished.returncode == 0, finished.stderr[-3000:]
    grades = read_csv(csv_path)
    assert {s for s, _ in grades} == set(STUDENTS)
    return grades


# ---------------------------------------------------------------- what a batch leaves

def processes():
    """``{pid: (ppid, start time, cmdline, cgroup, environ)}`` of every live process now
    (zombies, dead and waiting for their new parent to reap them, are not)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cgroup = (entry / "cgroup").read_text()
            try:
                environ = (entry / "environ").read_bytes().decode(errors="replace")
            except OSError:
                environ = ""
        except OSError:
            continue
        if fields[0] in ("Z", "X"):
            continue
        found[int(entry.name)] = (int(fields[1]), fields[19], cmdline, cgroup, environ)
    return found


def descendants(pid, table):
    """``{(pid, start time)}`` of every process descended from ``pid``."""
    children = {}
    for child, (parent, *_) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.add((child, table[child][1]))
        todo += children.get(child, [])
    return found


def belongs_to_batch(pid, info, grader):
    """A process of the grader's batch, found by what it cannot shed: its control group
    (named after the grader), its scratch folder in its environment (``--unsafe``), or the
    test's marker in its command line."""
    _, _, cmdline, cgroup, environ = info
    return (f"autograder-{grader}-" in cgroup or f"{sandbox.UNSAFE_PREFIX}{grader}-" in environ
            or MARKER in cmdline)


def batch_cgroups(grader):
    return [child for parent in cgroups.parents() for child in parent.glob(f"autograder-{grader}-*")]


def batch_scratch(grader):
    return sorted(Path(tempfile.gettempdir()).glob(f"{sandbox.UNSAFE_PREFIX}{grader}-*"))


def states(course):
    return {(p.parent.name, p.stem): p for p in sorted((course.state_dir / "graded").glob("*/*.json"))}


def assert_gradebook_agrees_with_state(course):
    """Every recorded submission has its gradebook entry, graded notebook and state, and they agree."""
    saved = states(course)
    with course.gradebook() as gb:
        in_gradebook = {(s.student.id, s.assignment.name): s.score for s in gb.assignment_submissions("scans")}
    assert set(in_gradebook) == set(saved), (sorted(in_gradebook), sorted(saved))
    for (student, assignment), path in saved.items():
        digest, result = record_stage.load_state(course.state_dir, student, assignment)
        assert result is not None, f"{path} is not a whole state file"
        assert in_gradebook[(student, assignment)] == pytest.approx(result.score), student
        assert (course.autograded / student / assignment / f"{assignment}.ipynb").exists(), student
    assert not list((course.state_dir / "graded").glob("*/*.tmp")), "a half-written state file was left"


# ---------------------------------------------------------------- the tests

@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_batch_leaves_nothing_behind_and_continues(submissions, uninterrupted, tmp_path, signum, code):
    course = new_course(tmp_path / "course")
    csv_path = course.root / "grades.csv"
    out, err = open(tmp_path / "out.txt", "w+"), open(tmp_path / "err.txt", "w+")
    grader = subprocess.Popen(command(course, submissions, csv_path), stdout=out, stderr=err, start_new_session=True)
    try:
        # Wait until the quick two are graded and the endless two run, their children included.
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and grader.poll() is None:
            table = processes()
            forked = [pid for pid, info in table.items() if MARKER in info[2]]
            graded = [s for s, _ in states(course)]
            if len(forked) >= 4 and sorted(graded) == ["a1-reference", "a2-reference"] \
                    and len(batch_cgroups(grader.pid)) >= 2:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"the batch never reached the point to interrupt (exit {grader.poll()}): "
                        f"{Path(err.name).read_text()[-3000:]}")
        time.sleep(1.0)
        table = processes()
        before = descendants(grader.pid, table)
        assert len([pid for pid, info in table.items() if MARKER in info[2]]) >= 4
        assert batch_cgroups(grader.pid), "the batch's control groups are not where the test looks"
        if SANDBOX_FLAGS:
            assert batch_scratch(grader.pid), "the batch's scratch folders are not where the test looks"

        grader.send_signal(signum)
        returncode = grader.wait(timeout=EXIT_SECONDS)

        assert returncode == code
        message = Path(err.name).read_text()
        counted = re.search(r"interrupted: (\d+) of 6 graded; run the same command again to continue", message)
        assert counted, message
        assert int(counted.group(1)) == 2
        time.sleep(0.5)
        after = processes()
        left = [(pid, after[pid][2]) for pid, start in before if pid in after and after[pid][1] == start]
        assert not left, f"processes of the batch survived: {left}"
        strays = [(pid, info[2]) for pid, info in after.items() if belongs_to_batch(pid, info, grader.pid)]
        assert not strays, f"processes of the batch survived: {strays}"
        assert not batch_cgroups(grader.pid), "control groups were left behind"
        assert not batch_scratch(grader.pid), "scratch folders were left behind"
        assert_gradebook_agrees_with_state(course)
        assert set(states(course)) == {("a1-reference", "scans"), ("a2-reference", "scans")}
        assert {s for s, _ in read_csv(csv_path)} == {"a1-reference", "a2-reference"}
        graded_before = {key: path.stat().st_mtime_ns for key, path in states(course).items()}

        # The same command again: grades only the rest, to the scores of the uninterrupted batch.
        again = subprocess.run(command(course, submissions, csv_path), capture_output=True, text=True,
                               timeout=WAIT_SECONDS)
        assert again.returncode == 0, again.stderr[-3000:]
        assert {key: states(course)[key].stat().st_mtime_ns for key in graded_before} == graded_before, \
            "what was graded before the interruption was graded again"
        assert_gradebook_agrees_with_state(course)
        grades = read_csv(csv_path)
        assert {s for s, _ in grades} == set(STUDENTS)
        assert {k: (r["score"], r["status"]) for k, r in grades.items()} == \
               {k: (r["score"], r["status"]) for k, r in uninterrupted.items()}
        assert grades[("a1-reference", "scans")]["score"] == f"{FULL:g}"
        assert f"ran longer than {CELL_SECONDS} s" in grades[("b2-sleeps", "scans")]["status"]
    finally:
        if grader.poll() is None:
            os.killpg(grader.pid, signal.SIGKILL)
            grader.wait(timeout=30)
        out.close()
        err.close()


def test_a_stopped_batch_starts_nothing_new_and_yields_only_complete_results():
    """After ``stop``: the item whose run finished is still yielded (and recorded), the one
    whose run was stopped yields nothing, and no further item starts."""
    stop, go, started = threading.Event(), threading.Event(), []

    def work(i):
        started.append(i)
        if i == 0:
            return "graded 0", None
        assert go.wait(timeout=60)
        if i == 1:
            return "graded 1", None        # its run had finished: a complete result
        raise sandbox.Interrupted("stopped")

    yielded = {}
    for i, result, _ in run_with_deadlines(work, list(range(6)), 2, deadline=120, failed=lambda i, text: text,
                                           stop=stop, drain_seconds=60):
        yielded[i] = result
        stop.set()
        go.set()
    assert yielded == {0: "graded 0", 1: "graded 1"}
    assert set(started) <= {0, 1, 2}


def test_a_signal_before_the_batch_stops_at_once_and_during_it_winds_down():
    """Before the batch (releasing, references) a signal raises ``Interrupted`` with the
    shell's exit code; during the batch it only sets ``stop`` (and stops live runs), so a
    result being recorded is never cut short. The previous handlers come back after."""
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as raised:
        with _Interruption():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert raised.value.exit_code == 143 and "interrupted before grading began" in str(raised.value)
    assert signal.getsignal(signal.SIGTERM) is before
    try:
        with _Interruption() as interruption:
            interruption.in_batch = True
            os.kill(os.getpid(), signal.SIGINT)
            assert interruption.stop.wait(timeout=5)
            assert sandbox.interrupted() and interruption.signals == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is not interruption.handle
        assert str(Interrupted(signal.SIGINT, 2, 6)) == \
            "interrupted: 2 of 6 graded; run the same command again to continue"
        assert Interrupted(signal.SIGINT, 2, 6).exit_code == 130
    finally:
        sandbox.resume()


def test_a_record_cut_short_leaves_no_state_so_the_submission_is_graded_again(tmp_path, monkeypatch):
    """The state file stands for a gradebook entry written in full: removed before the
    gradebook is touched, written last. A write that dies in between (here: writing the
    graded notebook fails, after the gradebook changed) leaves no state behind."""
    from autograder import judge
    from autograder.assignment import AssignmentContext
    from autograder.status import Status

    course = new_course(tmp_path / "course")
    ctx = AssignmentContext(course, "scans", sandbox.Limits())
    result = judge.zero_result("ada", "scans", ctx.checks, Status("missing", "no notebook was submitted"))
    record_stage.record(course, result, ctx, None)
    assert_gradebook_agrees_with_state(course)

    def dies(*args, **kwargs):
        raise OSError("the grader was killed here")

    monkeypatch.setattr(record_stage.nbformat, "write", dies)
    with pytest.raises(OSError):
        record_stage.record(course, result, ctx, None)
    assert record_stage.load_state(course.state_dir, "ada", "scans") == (None, None)   # graded again next run


def test_an_interrupted_run_raises_and_leaves_nothing(tmp_path):
    """``sandbox.interrupt()`` during a run (``--unsafe``: the only mode that needs no
    bubblewrap) kills it and the process it started in a session of its own, removes its
    scratch folder and control group, and makes the run raise ``Interrupted``; runs
    refuse to start until ``resume()``."""
    marker = f"{MARKER}-unit"
    escapee = ("import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n"
               f"    os.execv(sys.executable, {SLEEPER.replace(MARKER, marker)})\ntime.sleep(600)")
    limits = sandbox.Limits(wall_seconds=120)
    outcome = {}

    def run():
        try:
            outcome["result"] = sandbox.run_sandboxed([sys.executable, "-c", escapee], readonly=[], limits=limits,
                                                      unsafe=True)
        except sandbox.Interrupted as exc:
            outcome["interrupted"] = exc

    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 60
        while not [pid for pid, info in processes().items() if marker in info[2]]:
            assert time.monotonic() < deadline and thread.is_alive(), outcome
            time.sleep(0.05)
        assert batch_scratch(os.getpid())
        sandbox.interrupt()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert "interrupted" in outcome, outcome
        time.sleep(0.2)
        assert not [pid for pid, info in processes().items() if marker in info[2]], "the escaped child survived"
        assert not batch_scratch(os.getpid()) and not batch_cgroups(os.getpid())
        assert sandbox.live_runs() == 0
        with pytest.raises(sandbox.Interrupted):
            sandbox.run_sandboxed(["/bin/true"], readonly=[], limits=limits, unsafe=True)
        assert not batch_scratch(os.getpid()) and not batch_cgroups(os.getpid())
    finally:
        sandbox.resume()
        sandbox.cleanup_live()
    assert sandbox.run_sandboxed(["/bin/true"], readonly=[], limits=limits, unsafe=True).status == "ok"


def test_debris_of_a_killed_grader_is_removed_and_a_live_graders_is_kept(tmp_path):
    """A grader killed with ``kill -9`` cannot clean up: its control groups and scratch
    folders are removed at the next start; those of a grader still running are not."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    dead_owner = f"{dead.pid}-999999999"      # a pid that ran and is gone (the start time cannot match)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        live_owner = f"{live.pid}-{owners.start_time(live.pid)}"
        made = []
        parents = cgroups.parents()
        if not parents:
            pytest.skip("no control groups can be made here")
        for parent in parents:
            for owner in (dead_owner, live_owner):
                path = parent / f"autograder-{owner}-{uuid.uuid4().hex[:8]}"
                path.mkdir()
                made.append(path)
        # A process left running in the dead owner's group (as --unsafe can leave one) dies too.
        dead_group = [p for p in made if dead_owner in p.name]
        stray = subprocess.Popen(["/bin/sh", "-c", " && ".join(f"echo $$ > {p / 'cgroup.procs'}" for p in dead_group)
                                  + " && exec sleep 600"], start_new_session=True)
        folders = {owner: Path(tempfile.mkdtemp(prefix=f"{sandbox.UNSAFE_PREFIX}{owner}-")) for owner in
                   (dead_owner, live_owner)}
        (folders[dead_owner] / "left.txt").write_text("student's file")
        try:
            deadline = time.monotonic() + 30
            while not all((p / "cgroup.procs").read_text().split() for p in dead_group):
                assert time.monotonic() < deadline and stray.poll() is None, "the stray never joined its group"
                time.sleep(0.05)
            groups, removed = sandbox.remove_stale()
            assert stray.wait(timeout=30) == -signal.SIGKILL
            assert groups >= len(dead_group) and removed >= 1
            assert not any(p.exists() for p in dead_group)
            assert not folders[dead_owner].exists()
            assert all(p.exists() for p in made if live_owner in p.name), "a running grader's groups were removed"
            assert folders[live_owner].exists(), "a running grader's scratch folder was removed"
        finally:
            if stray.poll() is None:
                stray.kill()
                stray.wait(timeout=30)
            for path in made:
                if path.exists():
                    path.rmdir()
            for folder in folders.values():
                if folder.exists():
                    folder.rmdir()
    finally:
        live.kill()
        live.wait(timeout=30)

