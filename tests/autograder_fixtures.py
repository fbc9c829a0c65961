"""Small fixtures for the grader's stage tests: a two-function assignment with plain
numpy references, its release notebook, and helpers to fake what the runner sends."""
import nbformat
import numpy as np

from autograder import wire
from autograder.checks import BY_HAND, Case, Check
from autograder.sandbox import Limits, RunResult


def double(x):
    return 2 * x


def total(x):
    return np.sum(x)


CHECKS = {
    "test_double": Check("test_double", "double", double, (
        Case("x = [1, 2]", lambda rng: (np.array([1.0, 2.0], np.float32),)),
        Case("random x", lambda rng: (rng.standard_normal(3).astype(np.float32),), hidden=True),
    ), points=2),
    "test_total": Check("test_total", "total", total, (
        Case("x = [1, 2]", lambda rng: (np.array([1.0, 2.0], np.float32),)),
    ), points=3, rules=BY_HAND),
}
REFERENCES = {gid: [check.reference(*check.case_args(i)) for i in range(len(check.cases))]
              for gid, check in CHECKS.items()}
LIMITS = Limits(wall_seconds=30, disk_bytes=64 * 2**20)


def cell(source, grade_id=None, solution=False, grade=False, tags=()):
    result = nbformat.v4.new_code_cell(source)
    if grade_id:
        result.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution}
        if grade:
            result.metadata["nbgrader"]["points"] = 1
    if tags:
        result.metadata["tags"] = list(tags)
    return result


def release_notebook():
    return nbformat.v4.new_notebook(cells=[
        cell("import numpy as np", "setup"),
        cell("raise NotImplementedError()", "double", solution=True),
        cell("check('test_double')", "test_double", grade=True),
        cell("print('demo')", "demo", tags=["demo"]),
        cell("raise NotImplementedError()", "total", solution=True),
        cell("check('test_total')", "test_total", grade=True),
    ])


def submitted(double_source="def double(x):\n    return 2 * x", total_source="def total(x):\n    return np.sum(x)",
              extra=()):
    notebook = release_notebook()
    notebook.cells[1].source = double_source
    notebook.cells[4].source = total_source
    notebook.cells += [cell(source) for source in extra]
    return notebook


def sent(*messages):
    """The bytes a runner sends: each message a header, or ``(header, value)`` for a call."""
    data = b""
    for message in messages:
        if isinstance(message, tuple):
            header, value = message
            blobs = []
            header = dict(header, value=wire.encode_value(value, blobs))
            data += wire.frame(header, blobs)
        else:
            data += wire.frame(message)
    return data


def ok_call(call, value):
    return ({"kind": "call", "id": call, "status": "ok"}, value)


def asked(call):
    """The runner's request for ``call``'s arguments."""
    return {"kind": "next", "id": call}


# The fixture notebook's call sequence: two cells (setup, double) before test_double, three before test_total.
ORDER = [("test_double/0", 2), ("test_double/1", 2), ("test_total/0", 3)]


def cells(*numbers):
    return [{"kind": "cell", "cell": n, "error": None, "seconds": 0.1} for n in numbers]


def run_result(status="ok", returncode=0, results=b"", overflowed=False):
    return RunResult(status, returncode, b"", b"", 1.0, False, results, overflowed)


def all_passing():
    """What an honest runner sends for the fixture notebook, in the protocol's order."""
    return [*cells(1, 2), asked("test_double/0"), ok_call("test_double/0", np.array([2.0, 4.0], np.float32)),
            asked("test_double/1"), ok_call("test_double/1", REFERENCES["test_double"][1]),
            *cells(3), asked("test_total/0"), ok_call("test_total/0", np.float32(3.0))]
