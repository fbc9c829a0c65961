"""What the student package gets from the grader: the visible cases, exported as data.

The released notebooks' test cells run ``lectlib.homework.visible.check`` in the
student's kernel, from the student package alone. That package cannot import the
grader, so the visible cases are exported from the trusted checks into JSON files inside
it, ``lectlib/homework/cases/<assignment>.json``: for each graded function its name, the
visible cases (label, arguments, expected result), the tolerances, the rules its answer
must follow, and the NUMBER of hidden cases — nothing else about them (no labels, no
arguments, no results).

The files are committed. After changing a check, refresh them::

    .venv/bin/python -m autograder.student export

``tests/test_student_package.py`` fails while they are out of date.

``check`` is kept here for the instructor's own scripts; it is the student package's.
"""
import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from autograder import checks
from lectlib.homework import encoding
from lectlib.homework.visible import check  # noqa: F401  (re-exported for the instructor's scripts)

CASES_DIR = Path(__file__).resolve().parents[1] / "lectlib" / "homework" / "cases"
FORMAT = 1


def rule_names(check_):
    """The names of the rules a check's answer must follow (``()`` for none)."""
    return [getattr(rule, "name", str(rule)) for rule in getattr(check_, "rules", ())]


def export(assignment):
    """The case file of one assignment, as a JSON-ready dict (visible cases only)."""
    exported = {}
    for grade_id, check_ in checks.load(assignment).items():
        visible = []
        for index in check_.visible_cases:
            visible.append({
                "label": check_.cases[index].label,
                "args": encoding.encode(check_.case_args(index), checks.Code),
                "expected": encoding.encode(checks.reference_output(check_, index)),
            })
        exported[grade_id] = {
            "function": check_.function,
            "rtol": check_.rtol,
            "atol": check_.atol,
            "rules": rule_names(check_),
            "hidden_cases": sum(case.hidden for case in check_.cases),
            "visible": visible,
        }
    return {"format": FORMAT, "assignment": assignment, "checks": exported}


def render(data):
    """JSON with one line per list of numbers, so that a diff shows which values changed."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[\s*([-+0-9.eE,\s]*?)\s*\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)).strip() + "]", text) + "\n"


def write(folder=CASES_DIR):
    """Writes every assignment's case file and the index into ``folder``. Returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for assignment in checks.ASSIGNMENTS:
        path = folder / f"{assignment}.json"
        path.write_text(render(export(assignment)), encoding="utf-8")
        written.append(path)
    index = folder / "index.json"
    index.write_text(render({"format": FORMAT, "assignments": list(checks.ASSIGNMENTS)}), encoding="utf-8")
    return written + [index]


def _comparable(spec):
    """A case file's content with arrays as numpy (compared with a tolerance) and
    functions as their source text."""
    return encoding.decode(spec, functions=False)


def _same(a, b, path=""):
    """``None`` when two decoded values agree (arrays to 1e-6 relative), else where they differ."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            problem = _same(x, y, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b):
        for key in a:
            problem = _same(a[key], b[key], f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(a, (np.ndarray, np.generic)) and isinstance(b, (np.ndarray, np.generic)):
        if a.shape == b.shape and a.dtype == b.dtype and np.allclose(a, b, rtol=1e-6, atol=1e-7):
            return None
        return f"{path}: the arrays differ"
    return None if type(a) is type(b) and a == b else f"{path}: {a!r} != {b!r}"


def stale(folder=CASES_DIR):
    """What is out of date in ``folder`` compared with the checks: ``[]`` when nothing."""
    problems = []
    index = folder / "index.json"
    if not index.exists() or json.loads(index.read_text())["assignments"] != list(checks.ASSIGNMENTS):
        problems.append("index.json does not list the assignments of autograder.checks")
    for assignment in checks.ASSIGNMENTS:
        path = folder / f"{assignment}.json"
        if not path.exists():
            problems.append(f"{path.name} is missing")
            continue
        stored, current = json.loads(path.read_text()), export(assignment)
        if stored["checks"].keys() != current["checks"].keys():
            problems.append(f"{path.name}: graded functions {list(stored['checks'])}, the checks have "
                            f"{list(current['checks'])}")
            continue
        for grade_id, now in current["checks"].items():
            then = stored["checks"][grade_id]
            for key in ("function", "rtol", "atol", "rules", "hidden_cases"):
                if then[key] != now[key]:
                    problems.append(f"{path.name} {grade_id}: {key} is {then[key]!r}, the check says {now[key]!r}")
            if [c["label"] for c in then["visible"]] != [c["label"] for c in now["visible"]]:
                problems.append(f"{path.name} {grade_id}: the visible cases' labels differ")
                continue
            for old, new in zip(then["visible"], now["visible"]):
                for key in ("args", "expected"):
                    problem = _same(_comparable(old[key]), _comparable(new[key]))
                    if problem:
                        problems.append(f"{path.name} {grade_id} case '{new['label']}': {key}{problem}")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.student", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["export", "stale"],
                        help="export: write the case files; stale: say what is out of date (exit 1 if anything)")
    args = parser.parse_args(argv)
    if args.command == "export":
        for path in write():
            print(f"wrote {path}")
        return 0
    problems = stale()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
