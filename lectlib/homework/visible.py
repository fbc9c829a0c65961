"""The homework's visible tests, in the student's own kernel.

Each test cell of a released homework notebook runs::

    from lectlib.homework.visible import check
    check("scans", "test_scan", scan)

``check`` calls the student's function on the visible cases of that graded function and
says what is wrong in words: which case, what shape or value was expected, what came
back, or that the function is not written yet. It also warns when the answer's source
uses what the exercise forbids (``lectlib``; autodiff where the exercise is by hand).
It is a help while working, not the grade: grading runs every case, visible and hidden,
in the instructor's sandbox and judges the results there. The hidden cases are not in
this package; the case files hold only their number.

The cases live in ``lectlib/homework/cases/<assignment>.json`` (format:
``lectlib.homework.encoding``), exported from the grader's checks by
``python -m autograder.student export``; ``tests/test_student_package.py`` fails when they
are out of date.
"""
import dataclasses
import inspect
import json
import linecache
import os
from importlib import resources

import numpy as np

from lectlib.homework import encoding, rules
from lectlib.homework.compare import compare

#: When set, ``check`` appends one JSON line per call to this file (what
#: ``python -m lectlib.homework check`` reads back from the kernel it started).
REPORT_VARIABLE = "LECTLIB_HOMEWORK_REPORT"


@dataclasses.dataclass(frozen=True)
class VisibleCase:
    label: str
    args: tuple
    expected: object


@dataclasses.dataclass(frozen=True)
class GradedFunction:
    """What the student package knows of one graded function: its visible cases (with
    the expected results), the tolerances, the rules its answer must follow, and how many
    hidden cases grading adds (their number only)."""
    assignment: str
    grade_id: str
    function: str
    rtol: float
    atol: float
    rules: tuple
    hidden_cases: int
    cases: tuple


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of one ``check``: ``status`` is ``"passed"``, ``"failed"`` or
    ``"missing"`` (the function raises ``NotImplementedError``); ``message`` says it in
    words; ``warnings`` are the rule violations found in the answer's source."""
    grade_id: str
    function: str
    status: str
    message: str
    warnings: tuple = ()

    def to_json(self):
        return dataclasses.asdict(self)


def assignments():
    """The assignments whose visible cases ship in this package, in lecture order (the
    homework page); checked through ``load`` in tests/test_student_package.py."""
    index = json.loads(resources.files("lectlib.homework").joinpath("cases", "index.json").read_text())
    return tuple(index["assignments"])


def load(assignment):
    """``{grade_id: GradedFunction}`` of one assignment, in the notebook's order (the
    homework); tests/test_student_package.py."""
    if assignment not in assignments():
        raise ValueError(f"unknown homework {assignment!r}; the course has {', '.join(assignments())}")
    data = json.loads(resources.files("lectlib.homework").joinpath("cases", f"{assignment}.json").read_text())
    graded = {}
    for grade_id, entry in data["checks"].items():
        cases = tuple(VisibleCase(case["label"], encoding.decode(case["args"]), encoding.decode(case["expected"]))
                      for case in entry["visible"])
        graded[grade_id] = GradedFunction(assignment, grade_id, entry["function"], entry["rtol"], entry["atol"],
                                          tuple(entry["rules"]), entry["hidden_cases"], cases)
    return graded


def known_rules():
    """``{name: Rule}`` of every rule ``lectlib.homework.rules`` defines (the homework's
    by-hand rules); checked through ``rule_warnings`` in tests/test_student_package.py."""
    return {value.name: value for value in vars(rules).values() if isinstance(value, rules.Rule)}


def answer_source(function):
    """The source of the cell (or file) that defined ``function``, or ``None``.

    IPython keeps each cell's source under the cell's file name, so the whole cell is
    read: an import at its top counts for the function below it. The homework's rule
    warnings; tests/test_student_package.py.
    """
    try:
        filename = inspect.getsourcefile(function) or function.__code__.co_filename
    except (TypeError, AttributeError):
        return None
    lines = linecache.getlines(filename)
    return "".join(lines) or None


def rule_warnings(graded, source):
    """Messages for every use in ``source`` of what ``graded``'s rules forbid (the
    homework's by-hand rules); tests/test_student_package.py."""
    if not source or not graded.rules:
        return ()
    by_name = known_rules()
    active = [by_name[name] for name in graded.rules if name in by_name]
    return tuple(rules.message(graded.function, found) for found in rules.violations(source, active))


def to_numpy(value):
    """A returned value as numpy: tuples and lists become tuples, dicts keep their keys.
    The homework's visible checks; checked through ``run_cases`` in tests/test_student_package.py."""
    if isinstance(value, (tuple, list)):
        return tuple(to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {str(k): to_numpy(v) for k, v in value.items()}
    if value is None:
        return None
    return np.asarray(value)


def plural(count, one, many):
    """``one`` when ``count`` is 1, else ``many`` (the homework's messages: "the visible case
    passes"); checked through ``run_cases`` in tests/test_student_package.py."""
    return one if count == 1 else many


def run_cases(graded, function):
    """Runs the visible cases of ``graded`` on ``function``. Returns ``(status, message)``.
    The homework's visible checks; tests/test_student_package.py."""
    name = graded.function
    for case in graded.cases:
        try:
            received = function(*case.args)
        except NotImplementedError:
            return "missing", f"{name} is not written yet (it raises NotImplementedError)"
        except Exception as exc:  # the student's code may raise anything: say what and where
            return "failed", f"{name} raised {type(exc).__name__} on the case '{case.label}': {exc}"
        try:
            received = to_numpy(received)
        except Exception as exc:
            return "failed", (f"{name}, case '{case.label}': the result could not be read as numbers "
                              f"({type(exc).__name__}: {exc})")
        problem = compare(received, case.expected, graded.rtol, graded.atol)
        if problem:
            return "failed", f"{name}, case '{case.label}': {problem}"
    count, hidden = len(graded.cases), graded.hidden_cases
    return "passed", (f"{name}: {plural(count, 'the visible case passes', 'the visible cases pass')}. "
                      f"Grading also runs {hidden} hidden {plural(hidden, 'case', 'cases')} "
                      f"(other sizes and edge cases).")


def outcome(assignment, grade_id, function):
    """The ``Outcome`` of the visible cases of ``grade_id`` on ``function`` (the homework's
    visible checks); checked through ``check`` in tests/test_student_package.py."""
    graded = load(assignment).get(grade_id)
    if graded is None:
        raise ValueError(f"the homework {assignment!r} has no graded function {grade_id!r}")
    status, message = run_cases(graded, function)
    return Outcome(grade_id, graded.function, status, message, rule_warnings(graded, answer_source(function)))


def check(assignment, grade_id, function):
    """Runs the visible cases of ``grade_id`` on ``function`` and says how it went.

    Arguments: ``assignment`` (``"scans"``, ``"losses"``, ``"bptt"``); ``grade_id`` (the
    test cell's, e.g. ``"test_scan"``); ``function``: the student's function.
    Prints a warning for each rule the answer breaks, then a line when every visible case
    passes. Raises ``AssertionError`` on the first failing case, with a message that says
    what was expected and what came back (or that the function is not written yet).
    The homework's visible checks; tests/test_student_package.py.
    """
    result = outcome(assignment, grade_id, function)
    report = os.environ.get(REPORT_VARIABLE)
    if report:
        with open(report, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(result.to_json()) + "\n")
    for warning in result.warnings:
        print(f"Warning: {warning}. Grading gives this function no points while it does.")
    if result.status != "passed":
        raise AssertionError(result.message)
    print(result.message)
