"""Check a homework notebook before you hand it in::

    python -m lectlib.homework check scans.ipynb

Runs the notebook top to bottom in a fresh kernel (this Python's), from the notebook's
own folder, the way a grader starts from a clean slate; then says, for each graded
function, whether its visible cases pass, what is wrong when they do not, and which
functions are still missing. It warns when an answer uses what the exercise forbids
(``lectlib``; autodiff where the exercise is by hand). The notebook file is not changed.

It needs no sandbox and no hidden cases: grading runs the hidden cases too, so passing
here is necessary, not sufficient. Exit status: 0 when every graded function passes its
visible cases and follows its rules, 1 otherwise, 2 when the notebook cannot be checked.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lectlib.homework import rules, visible

MARKS = {"passed": "passed", "failed": "FAILED", "missing": "missing"}


class CheckError(Exception):
    """The notebook cannot be checked at all; the message says why."""


def read_notebook(path):
    import nbformat

    if not path.is_file():
        raise CheckError(f"no notebook at {path}")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook, a broken file: say so, do not crash
        raise CheckError(f"{path.name} is not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from None


def nbgrader_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def which_assignment(notebook, name):
    """The homework this notebook is, from its test cells' grade ids (a renamed download
    such as ``scans (1).ipynb`` is still ``scans``)."""
    ids = {nbgrader_id(cell) for cell in notebook.cells}
    for assignment in visible.assignments():
        if set(visible.load(assignment)) <= ids:
            return assignment
    raise CheckError(f"{name} is not one of the course's homework notebooks ({', '.join(visible.assignments())}): "
                     f"its test cells are missing. Check the notebook you downloaded from the course website.")


def student_cells(notebook):
    """``[(cell number, source)]`` of the code cells the student writes: the answer cells and
    the cells they added, not the instructor's locked cells (numbered as the messages count)."""
    cells = []
    for number, cell in enumerate(notebook.cells, start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        meta = meta if isinstance(meta, dict) else {}
        if cell.cell_type == "code" and (meta.get("solution") or not (meta.get("locked") or meta.get("grade"))):
            cells.append((number, cell.source))
    return cells


def static_warnings(notebook, graded):
    """Rule violations in what each graded function uses, across the student's cells (the
    grader's static check), read without running them."""
    cells = student_cells(notebook)
    by_name = visible.known_rules()
    warnings = {}
    for grade_id, function in graded.items():
        active = [by_name[name] for name in function.rules if name in by_name]
        warnings[grade_id] = tuple(rules.message(function.function, found)
                                   for found in rules.closure_violations(cells, function.function, active))
    return warnings


def this_python_kernels():
    """A kernel spec manager that always starts this interpreter's ipykernel, whatever
    kernels the machine has registered."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              display_name=f"Python ({sys.executable})", language="python", resource_dir="")

    return ThisPython()


def execute(notebook, folder, timeout):
    """Runs ``notebook`` in a fresh kernel in ``folder``; every cell runs even after an
    error. Returns ``(executed notebook, [Outcome as dict])``."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.jsonl"
        previous = os.environ.get(visible.REPORT_VARIABLE)
        os.environ[visible.REPORT_VARIABLE] = str(report)
        try:
            manager = KernelManager(kernel_name="python3", kernel_spec_manager=this_python_kernels())
            client = NotebookClient(notebook, km=manager, timeout=timeout, allow_errors=True,
                                    resources={"metadata": {"path": str(folder)}})
            client.execute(stderr=subprocess.DEVNULL)   # the kernel's own log (e.g. its TCP warning)
        finally:
            if previous is None:
                os.environ.pop(visible.REPORT_VARIABLE, None)
            else:
                os.environ[visible.REPORT_VARIABLE] = previous
        records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return notebook, records


def cell_error(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def summarize(notebook, assignment, records, warnings):
    """The verdict lines, in notebook order. Returns ``(lines, passed, missing, failing)``."""
    graded = visible.load(assignment)
    by_id = {}
    for record in records:
        by_id[record["grade_id"]] = record      # a test cell run twice: its last run counts
    lines, passed, missing, failing = [], [], [], []
    test_cells = {nbgrader_id(cell): (i, cell) for i, cell in enumerate(notebook.cells)}
    for grade_id, function in graded.items():
        name = function.function
        record = by_id.get(grade_id)
        if record is not None:
            status, message = record["status"], record["message"]
        else:
            index, cell = test_cells[grade_id]
            error = cell_error(cell)
            status = "failed"
            message = (f"{name}: the test cell (cell {index + 1}) stopped before checking: {error}" if error else
                       f"{name}: the test cell (cell {index + 1}) did not run its check; keep the test cells as "
                       f"they came")
        lines.append(f"[{MARKS[status]:>7}] {message}")
        for warning in warnings.get(grade_id, ()):
            lines.append(f"[warning] {warning}. Grading gives {name} no points while it does.")
        if warnings.get(grade_id):
            failing.append(name)
        elif status == "passed":
            passed.append(name)
        elif status == "missing":
            missing.append(name)
        else:
            failing.append(name)
    return lines, passed, missing, failing


def other_errors(notebook):
    """Errors in cells other than the test cells (an answer that does not even run)."""
    found = []
    for i, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or (isinstance(meta, dict) and meta.get("grade")):
            continue
        error = cell_error(cell)
        if error:
            found.append(f"cell {i + 1}{' (' + nbgrader_id(cell) + ')' if nbgrader_id(cell) else ''} raised {error}")
    return found


def check_notebook(path, timeout=600, out=sys.stdout):
    """Checks one notebook and prints the verdicts. Returns the exit status."""
    path = Path(path)
    notebook = read_notebook(path)
    assignment = which_assignment(notebook, path.name)
    graded = visible.load(assignment)
    warnings = static_warnings(notebook, graded)
    print(f"Running {path.name} (homework '{assignment}') in a fresh kernel...", file=out, flush=True)
    notebook, records = execute(notebook, path.resolve().parent, timeout)
    lines, passed, missing, failing = summarize(notebook, assignment, records, warnings)
    for line in lines:
        print(line, file=out)
    errors = other_errors(notebook)
    for error in errors:
        print(f"[  error] {error}", file=out)
    total = len(graded)
    hidden = sum(function.hidden_cases for function in graded.values())
    print(file=out)
    if missing:
        print(f"Still missing: {', '.join(missing)}.", file=out)
    if failing:
        print(f"To fix: {', '.join(failing)}.", file=out)
    print(f"{len(passed)} of {total} graded functions pass their visible cases. Grading also runs "
          f"{hidden} hidden cases, which this check does not have.", file=out)
    if errors:
        print("Some cells raise errors (listed above): fix them, the grader runs every cell.", file=out)
    elif len(passed) == total:
        print(f"Ready to hand in: {path.name} (hand it in as {assignment}.ipynb).", file=out)
    return 0 if len(passed) == total and not errors else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lectlib.homework", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run a homework notebook and its visible tests")
    check.add_argument("notebook", type=Path, help="the notebook, e.g. scans.ipynb")
    check.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    try:
        return check_notebook(args.notebook, args.timeout)
    except CheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
