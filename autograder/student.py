"""What the homework notebooks call in their test cells, in the student's own kernel.

``check`` runs the visible cases of one graded function and says what is wrong in
words: which case, what shape or value was expected, what came back. It is a help while
working, not the grade: grading runs every case, visible and hidden, in the sandbox and
judges the results in a separate trusted process.
"""
from autograder import checks


def check(assignment, grade_id, function):
    """Runs the visible cases of ``grade_id`` on ``function``; raises AssertionError on the
    first failing case, with a message that says what was expected."""
    the_check = checks.load(assignment)[grade_id]
    for index in the_check.visible_cases:
        label = the_check.cases[index].label
        args = checks.evaluate_code(the_check.case_args(index))
        try:
            received = checks.to_numpy(function(*args))
        except NotImplementedError:
            raise AssertionError(f"{the_check.function} is not written yet (it raises NotImplementedError)") from None
        except Exception as exc:
            raise AssertionError(f"{the_check.function} raised {type(exc).__name__} on the case '{label}': {exc}") from exc
        problem = checks.compare(received, checks.reference_output(the_check, index), the_check.rtol, the_check.atol)
        if problem:
            raise AssertionError(f"{the_check.function}, case '{label}': {problem}")
    hidden = sum(case.hidden for case in the_check.cases)
    print(f"{the_check.function}: the visible case{'s' if len(the_check.visible_cases) > 1 else ''} pass. "
          f"Grading also runs {hidden} hidden cases (random sizes and edge cases).")
