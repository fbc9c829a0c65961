"""Broken, hostile and odd submissions, all graded in one batch with tight limits: each
gets the points its honest cells earned, a status that names what happened, and nobody
else's grade moves. Then: parallel grading equals serial grading, and an interrupted
batch continues where it stopped."""
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from autograder.cli import main as autograder
from grading_helpers import NO_SANDBOX, SANDBOX_PROBLEMS, new_course, read_csv, reference_notebook, submit

# Memory and fork bombs are only safe to run inside the sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(SANDBOX_PROBLEMS), reason=NO_SANDBOX)]

LIMITS = ["--cell-seconds", "6", "--notebook-seconds", "60", "--memory-gib", "1", "--processes", "48"]
EARNED_BEFORE_THE_BREAK = 5     # scan 2 + linear_memory 1 + memory_states 2, graded before the bad cell


def code_cell(source):
    return nbformat.v4.new_code_cell(source)


def with_cell_after(notebook, grade_id, source):
    """``notebook`` with a new cell right after the cell ``grade_id``."""
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    notebook.cells.insert(index + 1, code_cell(source))
    return notebook


def broken_at_the_middle(source):
    return with_cell_after(reference_notebook("scans"), "test_memory_states", source)


def cells_of(notebook, kind):
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if kind == "answer" and meta.get("solution") or kind == "test" and meta.get("grade") and not meta.get("solution"):
            yield cell


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return new_course(tmp_path_factory.mktemp("robust") / "course")


@pytest.fixture(scope="module")
def batch(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    untouched = lambda: course.release_notebook("scans")   # noqa: E731
    cases = {
        "reference": reference_notebook("scans"),
        "infinite-loop": broken_at_the_middle("while True:\n    pass"),
        "sleeps-forever": broken_at_the_middle("import time\ntime.sleep(10**6)"),
        "memory-bomb": broken_at_the_middle("chunks = []\nwhile True:\n    chunks.append(b'x' * 2**26)"),
        "fork-bomb": broken_at_the_middle("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"),
        "sys-exit": broken_at_the_middle("import sys\nsys.exit(3)"),
        "os-exit": broken_at_the_middle("import os\nos._exit(0)"),
        "segfault": broken_at_the_middle("import ctypes\nctypes.string_at(0)"),
        "prints-gigabytes": broken_at_the_middle("import os\nfor _ in range(1500):\n    print('x' * 10**6)\n"
                                                 "    os.write(1, b'y' * 10**6)"),
        "ten-thousand-cells": reference_notebook("scans"),
        "deleted-cells": reference_notebook("scans"),
        "duplicated-cells": reference_notebook("scans"),
        "patched-numpy": untouched(),
        "rigged-comparisons": reference_notebook("scans"),
        "tampered-kernel": untouched(),
        "edited-tests": untouched(),
        "edited-metadata": untouched(),
        "forged-results": untouched(),
        "reads-solutions": untouched(),
    }
    cases["ten-thousand-cells"].cells += [code_cell(f"x_{i} = {i}") for i in range(10_000)]
    deleted = cases["deleted-cells"]
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in
                     ("setup", "test_scan", "test_combine", "combine")]
    duplicated = cases["duplicated-cells"]
    duplicated.cells = duplicated.cells + [c for c in duplicated.cells if c.metadata.get("nbgrader", {}).get("solution")]
    cases["patched-numpy"].cells.insert(1, code_cell(
        "import numpy as np, jax.numpy as jnp\n"
        "np.allclose = np.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
        "jnp.allclose = lambda *a, **k: True"))
    for cell in cells_of(cases["rigged-comparisons"], "answer"):
        if cell.metadata["nbgrader"]["grade_id"] == "scan":
            cell.source = ("class Always:\n    def __eq__(self, other):\n        return True\n"
                           "    __ne__ = lambda self, other: False\n\n"
                           "def scan(f, h, xs):\n    return Always()")
    cases["tampered-kernel"].cells.insert(1, code_cell(
        "import sys\nip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "ip.run_cell = lambda *a, **k: None\nsys.excepthook = lambda *a: None\n"
        "print('All tests passed. Score: 10 / 10')"))
    for cell in cells_of(cases["edited-tests"], "test"):
        cell.source = "print('passed')"
        cell.metadata["nbgrader"]["points"] = 100
        cell.metadata["nbgrader"].pop("checksum", None)
    for cell in cells_of(cases["edited-metadata"], "answer"):
        cell.metadata["nbgrader"].update(grade=True, solution=False, locked=True, points=50, checksum="0" * 32)
    cases["forged-results"].cells.insert(1, code_cell(
        "import json, os, numpy as np\nos.makedirs('out', exist_ok=True)\n"
        "os.symlink('/etc/passwd', 'out/o900.npy')\nnp.save('out/o901.npy', np.zeros(3))\n"
        "with open('results.jsonl', 'a') as f:\n"
        "    for gid in ['test_scan', 'test_linear_memory', 'test_memory_states', 'test_apply_outputs',"
        " 'test_combine', 'test_associative_states']:\n"
        "        for i in range(6):\n"
        "            f.write(json.dumps({'call': f'{gid}/{i}', 'status': 'ok', 'value': {'array': 'out/o900.npy'}}) + '\\n')\n"
        "    f.write(json.dumps({'printed': 0}) + '\\n')"))
    cases["reads-solutions"].cells.insert(1, code_cell(
        f"source = open({str(course.solutions / 'scans' / 'scans.ipynb')!r}).read()\nexec(source)"))
    for student, notebook in cases.items():
        submit(folder, student, "scans", notebook)
    raw = reference_notebook("scans")
    submit(folder, "not-json", "scans", raw=b"{ this is not json")
    submit(folder, "empty-file", "scans", raw=b"")
    submit(folder, "old-format", "scans", raw=nbformat.writes(nbformat.convert(raw, 3)).encode())
    wrong = json.loads(nbformat.writes(raw))
    wrong["nbformat"] = 5
    submit(folder, "wrong-format", "scans", raw=json.dumps(wrong).encode())
    submit(folder, "wrong-name", "scans", raw, name="Homework1 final.ipynb")
    (folder / "missing" / "scans").mkdir(parents=True)
    submit(folder, "extra-files", "scans", raw)
    (folder / "extra-files" / "scans" / "notes.txt").write_text("scratch work")
    (folder / "extra-files" / "scans" / "data.npy").write_bytes(b"\x93NUMPY junk")
    text = nbformat.writes(raw).encode()
    marker = b"A lighthouse keeper"
    assert marker in text
    submit(folder, "non-utf8", "scans", raw=text.replace(marker, b"A lighthouse \xff\xfe keeper"))

    csv_path = folder / "grades.csv"
    start = time.perf_counter()
    assert autograder(["--course", str(course.root), "grade", str(folder), "--jobs", "2", "--csv", str(csv_path),
                       "--quiet"] + LIMITS) == 0
    return read_csv(csv_path), time.perf_counter() - start


def row(batch, student):
    grades, _ = batch
    return grades[(student, "scans")]


def score(batch, student):
    return float(row(batch, student)["score"])


def status(batch, student):
    return row(batch, student)["status"]


def test_the_honest_reference_is_untouched_by_the_others(batch):
    assert score(batch, "reference") == 10 and status(batch, "reference") == "ok"


def test_every_submission_has_a_row_and_the_batch_finished_in_bounded_time(batch):
    grades, seconds = batch
    assert len(grades) == 27
    assert all(r["max_score"] == "10" for r in grades.values())
    assert seconds < 600


@pytest.mark.parametrize("student", ["infinite-loop", "sleeps-forever"])
def test_a_cell_that_never_ends_is_stopped_and_the_rest_still_counts(batch, student):
    assert score(batch, student) == 10
    assert "longer than 6 s" in status(batch, student)


def test_a_memory_bomb_is_stopped_by_the_memory_limit(batch):
    assert score(batch, "memory-bomb") == EARNED_BEFORE_THE_BREAK
    assert status(batch, "memory-bomb").startswith("memory: the notebook used more than 1 GiB")


def test_a_fork_bomb_is_contained(batch):
    assert score(batch, "fork-bomb") in (EARNED_BEFORE_THE_BREAK, 10)
    assert "processes" in status(batch, "fork-bomb")


def test_sys_exit_in_a_cell_is_an_error_in_that_cell(batch):
    assert score(batch, "sys-exit") == 10
    assert "SystemExit" in status(batch, "sys-exit")


def test_os_exit_ends_the_run_and_later_checks_get_nothing(batch):
    assert score(batch, "os-exit") == EARNED_BEFORE_THE_BREAK
    assert status(batch, "os-exit").startswith("crashed: the notebook ended the grading process early")


def test_a_segfault_is_a_crash(batch):
    assert score(batch, "segfault") == EARNED_BEFORE_THE_BREAK
    assert status(batch, "segfault").startswith("crashed: the notebook's process was killed by signal 11")


def test_gigabytes_of_output_are_discarded_not_kept(batch):
    assert score(batch, "prints-gigabytes") == 10
    assert "printed 1500 MB" in status(batch, "prints-gigabytes")


def test_ten_thousand_cells_are_graded(batch):
    assert score(batch, "ten-thousand-cells") == 10


def test_deleted_cells_cost_only_the_deleted_answer(batch):
    assert score(batch, "deleted-cells") == 8
    assert "the answer cell 'combine' was deleted" in status(batch, "deleted-cells")


def test_duplicated_cells_run_in_order(batch):
    assert score(batch, "duplicated-cells") == 10
    assert "appears 2 times" in status(batch, "duplicated-cells")


@pytest.mark.parametrize("student, reason", [
    ("not-json", "unreadable: not a notebook (invalid JSON"),
    ("empty-file", "unreadable: the notebook file is empty"),
    ("wrong-format", "unreadable: unsupported notebook format 5"),
    ("missing", "missing: no notebook was submitted"),
])
def test_unreadable_or_missing_notebooks_score_zero_and_say_why(batch, student, reason):
    assert score(batch, student) == 0
    assert status(batch, student).startswith(reason)


@pytest.mark.parametrize("student, note", [
    ("old-format", "an old notebook format (3) was converted to 4"),
    ("wrong-name", "graded Homework1 final.ipynb (expected scans.ipynb)"),
    ("non-utf8", "not valid UTF-8"),
    ("extra-files", "ok"),
])
def test_odd_but_readable_notebooks_are_graded(batch, student, note):
    assert score(batch, student) == 10
    assert note in status(batch, student)


@pytest.mark.parametrize("student, expected", [
    ("patched-numpy", 0),          # comparison functions patched in the sandbox judge nothing
    ("rigged-comparisons", 8),     # an object that equals everything is not an array of numbers
    ("tampered-kernel", 0),        # a broken shell and fake output earn nothing
    ("edited-tests", 0),           # test cells never run as submitted; points come from the checks
    ("edited-metadata", 0),        # answer cells relabelled as graded cells worth 50
    ("forged-results", 0),         # results written by the student point outside or hold wrong values
    ("reads-solutions", 0),        # the solutions are not in the sandbox
])
def test_tampering_earns_nothing(batch, student, expected):
    assert score(batch, student) == expected, status(batch, student)
    assert row(batch, student)["max_score"] == "10"


def test_the_gradebook_agrees_with_the_csv(batch, course):
    grades, _ = batch
    with course.gradebook() as gb:
        for (student, assignment), r in grades.items():
            assert gb.find_submission(assignment, student).score == pytest.approx(float(r["score"])), student


def test_parallel_grading_equals_serial_grading(course, tmp_path):
    folder = tmp_path / "subs"
    submit(folder, "p-reference", "losses", reference_notebook("losses"))
    submit(folder, "p-untouched", "losses", course.release_notebook("losses"))
    submit(folder, "p-broken", "losses", raw=b"not json")
    submit(folder, "p-crash", "losses", with_cell_after(reference_notebook("losses"), "test_clock_loss",
                                                       "import os\nos._exit(1)"))
    results = {}
    for jobs in ("1", "2"):
        csv_path = tmp_path / f"jobs{jobs}.csv"
        assert autograder(["--course", str(course.root), "grade", str(folder), "--jobs", jobs, "--regrade",
                           "--csv", str(csv_path), "--quiet"]) == 0
        results[jobs] = read_csv(csv_path)
    assert results["1"] == results["2"]
    assert results["1"][("p-crash", "losses")]["score"] == "4"


def test_an_interrupted_batch_continues_where_it_stopped(course, tmp_path):
    folder = tmp_path / "subs"
    students = [f"r-{i}" for i in range(4)]
    for student in students:
        submit(folder, student, "losses", reference_notebook("losses"))
    command = [sys.executable, "-m", "autograder", "--course", str(course.root), "grade", str(folder),
               "--jobs", "1", "--quiet", "--csv", str(tmp_path / "g.csv")]
    states = [course.state_dir / "graded" / s / "losses.json" for s in students]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while sum(p.exists() for p in states) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p: p.stat().st_mtime_ns for p in states if p.exists()}
    assert 2 <= len(done_before) < 4, "the batch was not interrupted midway"
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in done_before.items()), "finished work was redone"
    grades = read_csv(tmp_path / "g.csv")
    assert all(grades[(s, "losses")]["score"] == "10" for s in students)
