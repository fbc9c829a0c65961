"""Broken, hostile, lazy and odd submissions, all graded in one batch with tight limits:
each gets the points its honest cells earned, a status that names what happened, and
nobody else's grade moves. Hostile scratch folders (FIFOs, links at every level, hard
links, huge, endless and deep files, many files, no permissions), a disk filler, a
flooded or garbled results channel, shortcuts (autodiff in the by-hand backward pass,
answers that delegate to lectlib) and honest variety (numpy, float64, loops, helper
cells, prints, warnings, plots, %magics, a failing last cell) are in the same batch.
Then: parallel grading equals serial grading, and an interrupted batch continues where
it stopped."""
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from autograder.cli import main as autograder
from grading_helpers import NO_SANDBOX, POINTS, SANDBOX_PROBLEMS, new_course, read_csv, reference_notebook, submit, \
    with_answer

# Memory and fork bombs are only safe to run inside the sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(SANDBOX_PROBLEMS), reason=NO_SANDBOX)]

CELL_SECONDS = 15
LIMITS = ["--cell-seconds", str(CELL_SECONDS), "--notebook-seconds", "150", "--memory-gib", "1", "--processes", "48",
          "--disk-mib", "64"]
BATCH_SECONDS = 1800            # the whole batch, on a loaded 2-core machine
EARNED_BEFORE_THE_BREAK = 5     # scan 2 + linear_memory 1 + memory_states 2, graded before the bad cell
FULL = {assignment: sum(points.values()) for assignment, points in POINTS.items()}

# Cells that attack the trusted side through the scratch folder (the working directory),
# as the old grader read it: none may cost a point, block the batch or reach outside.
HOSTILE_SCRATCH = {
    "scratch-fifos": "import os\nfor name in ['results.jsonl', 'plan.json', 'progress.txt', 'inputs.npz']:\n"
                     "    os.mkfifo(name)\nos.makedirs('out')\nos.mkfifo('out/o1.npy')",
    "scratch-links": "import os\nos.symlink('/dev/zero', 'results.jsonl')\nos.makedirs('out')\n"
                     "os.symlink('/dev/zero', 'out/o1.npy')\nos.symlink('/etc/passwd', 'progress.txt')\n"
                     "os.symlink('/', 'root')\nos.symlink('..', 'up')\nos.makedirs('a/b')\nos.symlink('/proc', 'a/b/c')",
    "scratch-replaced-by-a-link": "import os\nhere = os.getcwd()\nos.rename(here, here + '-moved')\n"
                                  "os.symlink('/dev/zero', here)",
    "hard-links": "import os, sys\nopen('mine', 'w').write('x')\nfor i in range(100):\n    os.link('mine', f'link{i}')\n"
                  "try:\n    os.link(sys.executable, 'python')\nexcept OSError as error:\n    print(error)",
    "huge-file": "with open('huge', 'wb') as handle:\n    handle.truncate(10**9)\n"
                 "with open('huger', 'wb') as handle:\n    handle.seek(10**12)\n    handle.write(b'x')",
    "deep-tree": "import os\nstart = os.getcwd()\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
                 "os.chdir(start)",
    "many-files": "import os\nfor i in range(50_000):\n    os.close(os.open(f'f{i}', os.O_CREAT | os.O_WRONLY))",
    "no-permissions": "import os\nopen('secret', 'w').write('x')\nos.chmod('secret', 0)\nos.makedirs('locked/in')\n"
                      "os.chmod('locked', 0)\nos.chmod('.', 0)\nos.chmod('/tmp', 0)",
}

# Answers of `scan` (2 points) that delegate to lectlib; each loses exactly those points.
LECTLIB_SCANS = {
    "lectlib-import": "import lectlib\n\ndef scan(f, h, xs):\n"
                      "    return lectlib.scan(lambda c, x: (f(c, x), f(c, x)), h, xs)[1]",
    "lectlib-from-import": "def scan(f, h, xs):\n    from lectlib.scans import scan as library_scan\n"
                           "    return library_scan(lambda c, x: (f(c, x), f(c, x)), h, xs)[1]",
    "lectlib-dunder-import": "def scan(f, h, xs):\n    library = __import__('lectlib')\n"
                             "    return library.scan(lambda c, x: (f(c, x), f(c, x)), h, xs)[1]",
    "lectlib-importlib": "import importlib\n\ndef scan(f, h, xs):\n"
                         "    library = importlib.import_module('lectlib')\n"
                         "    return library.scan(lambda c, x: (f(c, x), f(c, x)), h, xs)[1]",
    "lectlib-getattr": "def scan(f, h, xs):\n    name = 'lect' + 'lib'\n"
                       "    return getattr(__import__(name), 'scan')(lambda c, x: (f(c, x), f(c, x)), h, xs)[1]",
}

LOSS = ("    def loss(p):\n        h, total = h0, 0.0\n        for x, y in zip(xs, ys):\n"
        "            h = jnp.tanh(p['b'] + p['W'] @ h + p['U'] @ x)\n"
        "            total = total + 0.5 * jnp.sum((p['c'] + p['V'] @ h - y) ** 2)\n        return total\n")

# Answers of `elman_backward` (4 points, by hand) that use autodiff; each loses exactly those points.
AUTODIFF_BACKWARD = {
    "autodiff-grad": "def elman_backward(params, xs, ys, h0):\n" + LOSS + "    return jax.grad(loss)(params)",
    "autodiff-value-and-grad": "from jax import value_and_grad as vg\n\ndef elman_backward(params, xs, ys, h0):\n"
                               + LOSS + "    return vg(loss)(params)[1]",
    "autodiff-obfuscated": "def elman_backward(params, xs, ys, h0):\n" + LOSS
                           + "    return getattr(jax, 'gr' + 'ad')(loss)(params)",
    "autodiff-internal": "def elman_backward(params, xs, ys, h0):\n" + LOSS
                         + "    value, pullback = jax._src.api.vjp(loss, params)\n    return pullback(1.0)[0]",
}
# The runner takes its results descriptor's number out of the environment: a cell looks for
# the pipes it holds (writes that would block are dropped, so the cell never hangs on one).
FIND_PIPES = ("import os, stat\n\ndef pipes():\n    found = []\n    for fd in range(3, 256):\n        try:\n"
              "            if stat.S_ISFIFO(os.fstat(fd).st_mode):\n                found.append(fd)\n"
              "        except OSError:\n            pass\n    return found\n\n"
              "def write(fd, data):\n    try:\n        os.set_blocking(fd, False)\n        os.write(fd, data)\n"
              "    except OSError:\n        pass\n\n")
AUTODIFF_HELPER_CELL = ("import jax\n\ndef my_gradient(loss, params):\n    differentiate = vars(jax)['vjp' if True else '']\n"
                        "    value, pullback = differentiate(loss, params)\n    return pullback(1.0)[0]")

HONEST_SCANS = {   # numpy, float64, Python loops, helper functions from a cell of one's own
    "scan": "def scan(f, h, xs):\n    states = []\n    for x in xs:\n        h = f(h, x)\n        states.append(h)\n"
            "    return np.stack([np.asarray(s, np.float64) for s in states])",
    "linear_memory": "def linear_memory(h, x, gamma, theta):\n    x = np.asarray(x, np.float64)\n"
                     "    return np.asarray(gamma) * np.asarray(h) + np.asarray(theta, np.float64).T @ with_one(x)",
    "memory_states": "def memory_states(step, xs, gamma, theta, h0):\n    h, out = h0, []\n    for x in xs:\n"
                     "        h = step(h, x, gamma, theta)\n        out.append(np.asarray(h))\n    return np.array(out)",
    "associative_states": "def associative_states(operator, a, b, h0):\n    h, out = np.asarray(h0, np.float64), []\n"
                          "    for a_t, b_t in zip(np.asarray(a), np.asarray(b)):\n        h = a_t * h + b_t\n"
                          "        out.append(h)\n    return np.stack(out)",
}
HONEST_BACKWARD = (
    "def elman_backward(params, xs, ys, h0):\n    p = {k: np.asarray(v, np.float64) for k, v in params.items()}\n"
    "    xs, ys, h = np.asarray(xs, np.float64), np.asarray(ys, np.float64), np.asarray(h0, np.float64)\n"
    "    hs = []\n    for x in xs:\n        h = np.tanh(p['b'] + p['W'] @ h + p['U'] @ x)\n        hs.append(h)\n"
    "    grads = {k: np.zeros_like(v) for k, v in p.items()}\n    carry = np.zeros_like(h)\n"
    "    for t in range(len(xs) - 1, -1, -1):\n        error = p['V'] @ hs[t] + p['c'] - ys[t]\n"
    "        grad_a = (1 - hs[t] ** 2) * (p['W'].T @ carry + p['V'].T @ error)\n"
    "        previous = hs[t - 1] if t else np.asarray(h0, np.float64)\n"
    "        grads['c'] += error\n        grads['V'] += np.outer(error, hs[t])\n        grads['b'] += grad_a\n"
    "        grads['W'] += np.outer(grad_a, previous)\n        grads['U'] += np.outer(grad_a, xs[t])\n"
    "        carry = grad_a\n    print('backward done', {k: v.shape for k, v in grads.items()})\n    return grads")
CHATTY = ("%matplotlib inline\n%load_ext autoreload\n!ls\nimport warnings, matplotlib.pyplot as plt\n"
          "warnings.warn('just a warning')\nprint('working on it ' * 100)\nplt.plot([1, 2, 3])\nplt.show()")


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
    for student, source in HOSTILE_SCRATCH.items():
        cases[student] = broken_at_the_middle(source)
    cases["disk-filler"] = broken_at_the_middle("with open('fill', 'wb') as handle:\n    while True:\n"
                                                "        handle.write(b'x' * 2**20)\n        handle.flush()")
    cases["results-garbage"] = broken_at_the_middle(FIND_PIPES + "for fd in pipes():\n    write(fd, b'\\xff' * 1000)")
    cases["results-flood"] = broken_at_the_middle(FIND_PIPES + "while True:\n    for fd in pipes():\n"
                                                  "        write(fd, b'x' * 65536)")
    for student, source in LECTLIB_SCANS.items():
        cases[student] = with_answer("scans", "scan", source)
    honest = reference_notebook("scans")
    for function, source in HONEST_SCANS.items():
        with_answer("scans", function, source, honest)
    honest.cells.insert(1, code_cell("def with_one(x):\n    return np.concatenate([np.ones(1, x.dtype), x])"))
    honest.cells.insert(2, code_cell(CHATTY))
    honest.cells.append(code_cell("raise RuntimeError('unfinished scratch work')"))
    cases["honest-numpy"] = honest
    for student, notebook in cases.items():
        submit(folder, student, "scans", notebook)
    bptt = {"reference": reference_notebook("bptt")}
    for student, source in AUTODIFF_BACKWARD.items():
        bptt[student] = with_answer("bptt", "elman_backward", source)
    helper = with_answer("bptt", "elman_backward", "def elman_backward(params, xs, ys, h0):\n" + LOSS
                         + "    return my_gradient(loss, params)")
    helper.cells.insert(1, code_cell(AUTODIFF_HELPER_CELL))
    bptt["autodiff-helper-cell"] = helper
    honest = with_answer("bptt", "elman_backward", HONEST_BACKWARD)
    honest.cells.insert(1, code_cell(CHATTY))
    honest.cells.append(code_cell("undefined_name + 1"))
    bptt["honest-numpy"] = honest
    for student, notebook in bptt.items():
        submit(folder, student, "bptt", notebook)
    fifo = folder / "notebook-fifo" / "scans"
    fifo.mkdir(parents=True)
    os.mkfifo(fifo / "scans.ipynb")
    (folder / "notebook-link" / "scans").mkdir(parents=True)
    os.symlink("/dev/zero", folder / "notebook-link" / "scans" / "scans.ipynb")
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
    return read_csv(csv_path), time.perf_counter() - start, folder


def row(batch, student, assignment="scans"):
    return batch[0][(student, assignment)]


def score(batch, student, assignment="scans"):
    return float(row(batch, student, assignment)["score"])


def status(batch, student, assignment="scans"):
    return row(batch, student, assignment)["status"]


@pytest.mark.parametrize("assignment", ["scans", "bptt"])
def test_the_honest_reference_is_untouched_by_the_others(batch, assignment):
    assert score(batch, "reference", assignment) == FULL[assignment] and status(batch, "reference", assignment) == "ok"


def test_every_submission_has_a_row_and_the_batch_finished_in_bounded_time(batch):
    grades, seconds, _ = batch
    students = {student for student, _ in grades}
    assert len(students) == 27 + len(HOSTILE_SCRATCH) + 3 + len(LECTLIB_SCANS) + 1 + 2 + len(AUTODIFF_BACKWARD) + 1
    assert len(grades) == 2 * len(students)        # every student, every assignment of the batch (or "missing")
    assert all(r["max_score"] == str(FULL[assignment]) for (_, assignment), r in grades.items())
    assert seconds < BATCH_SECONDS


@pytest.mark.parametrize("student", ["infinite-loop", "sleeps-forever"])
def test_a_cell_that_never_ends_is_stopped_and_the_rest_still_counts(batch, student):
    assert score(batch, student) == 10
    assert f"longer than {CELL_SECONDS} s" in status(batch, student)


@pytest.mark.parametrize("student", sorted(HOSTILE_SCRATCH))
def test_a_hostile_scratch_folder_costs_nothing_and_reaches_nothing(batch, student):
    """The grader never reads the scratch folder: results come back on a pipe it owns."""
    assert score(batch, student) == 10, status(batch, student)
    assert status(batch, student).startswith("ok"), status(batch, student)


def test_a_disk_filler_is_stopped_at_its_quota(batch):
    assert score(batch, "disk-filler") == EARNED_BEFORE_THE_BREAK
    assert status(batch, "disk-filler").startswith("disk: the notebook filled its scratch folder (64 MiB) and was "
                                                   "stopped ([submission's text] cell "), status(batch, "disk-filler")


@pytest.mark.parametrize("student", ["results-garbage", "results-flood"])
def test_a_garbled_or_flooded_results_channel_is_a_protocol_violation(batch, student):
    """Bytes a cell writes on the runner's channel are not sealed frames: the notebook broke
    the protocol and gets nothing (the batch goes on)."""
    assert score(batch, student) == 0, status(batch, student)
    assert status(batch, student).startswith("protocol-violation: the notebook broke the grader's protocol"), \
        status(batch, student)


@pytest.mark.parametrize("student", sorted(LECTLIB_SCANS))
def test_an_answer_that_delegates_to_lectlib_loses_exactly_its_points(batch, student):
    assert score(batch, student) == 10 - POINTS["scans"]["scan"], status(batch, student)
    assert status(batch, student).startswith("forbidden: scan: uses "), status(batch, student)
    assert "lectlib" in status(batch, student)
    assert ("graded answers may not use lectlib" in status(batch, student)
            or "write it plainly" in status(batch, student)), status(batch, student)


@pytest.mark.parametrize("student, used", [("autodiff-grad", "jax.grad (cell 4, line 8); this exercise is by hand"),
                                           ("autodiff-value-and-grad",
                                            "jax.value_and_grad (cell 4, line 1); this exercise is by hand"),
                                           ("autodiff-obfuscated", "getattr (cell 4, line 8); write it plainly"),
                                           ("autodiff-internal", "jax._src.api.vjp (cell 4, line 8); this exercise is by hand"),
                                           ("autodiff-helper-cell", "vars (cell 1, line 4); write it plainly")])
def test_autodiff_in_the_backward_pass_loses_exactly_its_points(batch, student, used):
    """Read over the answer's closure (a helper cell included): the rule's name, or the way
    around a name the answer took, with its cell and line, for the instructor."""
    assert score(batch, student, "bptt") == FULL["bptt"] - POINTS["bptt"]["elman_backward"], status(batch, student, "bptt")
    assert status(batch, student, "bptt").startswith("forbidden: elman_backward: uses "), status(batch, student, "bptt")
    assert f"elman_backward: uses {used}" in status(batch, student, "bptt"), status(batch, student, "bptt")


@pytest.mark.parametrize("assignment", ["scans", "bptt"])
def test_honest_variety_keeps_full_marks(batch, assignment):
    """numpy and float64 answers, loops, a helper cell, prints, warnings, a plot, %magics
    and a failing scratch cell at the end."""
    assert score(batch, "honest-numpy", assignment) == FULL[assignment], status(batch, "honest-numpy", assignment)
    assert status(batch, "honest-numpy", assignment).startswith("ok; errors in 1 cell")


@pytest.mark.parametrize("student, reason", [("notebook-fifo", "not a regular file"), ("notebook-link", "a link")])
def test_a_special_file_in_place_of_the_notebook_is_unreadable(batch, student, reason):
    assert score(batch, student) == 0
    assert status(batch, student).startswith(f"unreadable: the notebook file is {reason}")


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
    grades = batch[0]
    with course.gradebook() as gb:
        for (student, assignment), r in grades.items():
            assert gb.find_submission(assignment, student).score == pytest.approx(float(r["score"])), student


def test_grading_the_batch_again_changes_nothing_and_regrades_nothing(batch, course, tmp_path):
    grades, _, folder = batch
    states = sorted((course.state_dir / "graded").glob("*/*.json"))
    before = {p: p.stat().st_mtime_ns for p in states}
    csv_path = tmp_path / "again.csv"
    start = time.perf_counter()
    assert autograder(["--course", str(course.root), "grade", str(folder), "--csv", str(csv_path), "--quiet"]
                      + LIMITS) == 0
    assert read_csv(csv_path) == grades
    assert {p: p.stat().st_mtime_ns for p in states} == before
    assert time.perf_counter() - start < 120


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
