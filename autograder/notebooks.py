"""Reading submissions and planning their execution, in the trusted grading process.

A submitted notebook is data from a student: it may be empty, not JSON, an old format,
cut short, or edited anywhere. ``read_submission`` never raises on such input; it returns
the notebook it could read and what was wrong. ``build_plan`` then decides what runs:
the student's own cells in their order, the instructor's version of every locked cell
(also restored where the student deleted it), and, where each test cell stands, the
trusted check's calls of the student's function. Test cells as submitted never run.
"""
import dataclasses
import json

import nbformat
import numpy as np

from autograder import checks as checks_module

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELLS = 20_000


@dataclasses.dataclass
class Submission:
    notebook: object | None        # an nbformat v4 NotebookNode, or None when unreadable
    problem: str | None = None     # why it could not be read (then notebook is None)
    notes: list = dataclasses.field(default_factory=list)   # what was odd but gradable


def read_submission(path):
    """Reads a submitted notebook without trusting it. Returns a ``Submission``."""
    if not path.exists():
        return Submission(None, "missing: no notebook was submitted")
    size = path.stat().st_size
    if size == 0:
        return Submission(None, "unreadable: the notebook file is empty")
    if size > MAX_NOTEBOOK_BYTES:
        return Submission(None, f"unreadable: the notebook is {size / 1e6:.0f} MB, more than "
                                f"{MAX_NOTEBOOK_BYTES / 1e6:.0f} MB")
    raw = path.read_bytes()
    notes = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        notes.append(f"the file is not valid UTF-8 (byte {exc.start}); bad bytes were replaced")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Submission(None, f"unreadable: not a notebook (invalid JSON at line {exc.lineno}, column {exc.colno})")
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return Submission(None, "unreadable: JSON, but not a notebook (no cells)")
    version = data.get("nbformat")
    if version not in (3, 4):
        return Submission(None, f"unreadable: unsupported notebook format {version!r} (expected 4)")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many kinds on malformed input
        return Submission(None, f"unreadable: a broken notebook ({type(exc).__name__}: {str(exc)[:200]})")
    if version == 3:
        notes.append("an old notebook format (3) was converted to 4")
    if len(notebook.cells) > MAX_CELLS:
        return Submission(None, f"unreadable: {len(notebook.cells)} cells, more than {MAX_CELLS}")
    for cell in notebook.cells:
        if not isinstance(cell.get("source", ""), str) or not isinstance(cell.get("metadata", {}), dict):
            return Submission(None, "unreadable: a cell has a malformed source or metadata")
    return Submission(notebook, None, notes)


def grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def cell_kinds(release_notebook):
    """``[(grade_id, kind, source)]`` of the release's code cells; kind is ``"answer"``,
    ``"test"``, ``"fixed"`` (a locked cell that the instructor wrote) or ``"demo"`` (a locked
    cell tagged ``demo``: an ungraded demonstration that grading does not run)."""
    kinds = []
    for cell in release_notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            kind = "answer"
        elif meta.get("grade"):
            kind = "test"
        else:
            kind = "fixed"
        if kind == "fixed" and "demo" in cell.metadata.get("tags", []):
            kind = "demo"      # an ungraded demonstration: students run it, grading skips it
        kinds.append((meta.get("grade_id"), kind, cell.source))
    return kinds


def build_plan(submission, release_notebook, checks):
    """The steps to execute for one submission.

    Returns ``(steps, inputs, notes)``: steps in the executor's format, the input arrays
    they name, and notes on what the student changed (deleted or duplicated cells).
    """
    source = cell_kinds(release_notebook)
    position = {gid: i for i, (gid, _, _) in enumerate(source)}
    inputs = {}
    steps, notes = [], []
    emitted, seen_answers = set(), {}

    def emit_source(i):
        gid, kind, text = source[i]
        emitted.add(i)
        if kind == "fixed":
            steps.append({"cell": text})
        elif kind == "test":
            steps.append(check_step(checks[gid], inputs))
        elif kind == "answer":
            notes.append(f"the answer cell '{gid}' was deleted")

    def catch_up_to(j):
        for i in range(j):
            if i not in emitted:
                emit_source(i)

    for cell in submission.notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        gid = grade_id(cell)
        if gid not in position:
            steps.append({"cell": cell.get("source", "")})       # a cell the student added
            continue
        i = position[gid]
        kind = source[i][1]
        if kind == "answer":
            catch_up_to(i)
            seen_answers[gid] = seen_answers.get(gid, 0) + 1
            emitted.add(i)
            steps.append({"cell": cell.get("source", "")})
        elif i not in emitted:
            catch_up_to(i)
            emit_source(i)
    catch_up_to(len(source))
    notes += [f"the answer cell '{gid}' appears {n} times; all ran in order"
              for gid, n in seen_answers.items() if n > 1]
    return steps, inputs, notes


def check_step(check, inputs):
    calls = []
    for index in range(len(check.cases)):
        args = check.case_args(index)
        calls.append({"id": f"{check.grade_id}/{index}", "function": check.function,
                      "args": [argument_spec(a, inputs) for a in args]})
    return {"check": check.grade_id, "calls": calls}


def argument_spec(value, inputs):
    if isinstance(value, checks_module.Code):
        return {"code": value.source, "name": value.name}
    if isinstance(value, bool):
        raise TypeError("checks pass numbers as arrays, not bools")
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"float": value}
    if isinstance(value, tuple):
        return {"tuple": [argument_spec(v, inputs) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): argument_spec(v, inputs) for k, v in value.items()}}
    array = np.asarray(value)
    name = f"a{len(inputs)}"
    inputs[name] = array
    return {"array": name}
