"""Trusted checks: what each graded function must compute, on which inputs, and how a
result is compared with the reference.

A ``Check`` belongs to one nbgrader grade cell (its ``grade_id``, e.g. ``"test_scan"``) and
names the student's function it judges. Its cases are ``Case`` objects: a label the
student may see, whether the case is hidden, and a function that builds the arguments
from a seeded ``numpy.random.Generator``. The reference (usually a ``lectlib`` function)
is computed here, in the trusted grading process; the student's function only ever runs
in the sandbox, and only its returned arrays come back.

Points are all or nothing per graded function: every case, visible and hidden, must
pass. Partial credit comes from the several functions of an assignment.
"""
import dataclasses
import importlib
from typing import Callable

import numpy as np

ASSIGNMENTS = ("scans", "losses", "bptt")


@dataclasses.dataclass(frozen=True)
class Code:
    """A function passed to the student's code, as Python source: an expression such as
    ``"lambda h, x: h + x"``, or a ``def`` block together with the ``name`` it defines. It is
    evaluated with ``np``, ``jax`` and ``jnp`` in scope, in the sandbox for the student's
    call and here for the reference."""
    source: str
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class Case:
    label: str
    make_args: Callable[[np.random.Generator], tuple]
    hidden: bool = False


@dataclasses.dataclass(frozen=True)
class Check:
    grade_id: str
    function: str
    reference: Callable
    cases: tuple
    rtol: float = 1e-4
    atol: float = 1e-5

    def case_args(self, index):
        """The arguments of case ``index``, the same on every machine and every run."""
        seed = [ord(c) for c in f"{self.grade_id}/{index}"]
        return self.cases[index].make_args(np.random.default_rng(seed))

    @property
    def visible_cases(self):
        return [i for i, case in enumerate(self.cases) if not case.hidden]


def load(assignment):
    """``{grade_id: Check}`` of one assignment."""
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {assignment!r}; the course has {', '.join(ASSIGNMENTS)}")
    module = importlib.import_module(f"autograder.checks.{assignment}")
    return {check.grade_id: check for check in module.CHECKS}


def evaluate_code(value):
    """Turns ``Code`` arguments (also inside tuples and dicts) into callables."""
    if isinstance(value, Code):
        import jax
        import jax.numpy as jnp

        scope = {"np": np, "jax": jax, "jnp": jnp}
        if value.name is None:
            return eval(value.source, scope)  # trusted: written in this package
        exec(value.source, scope)
        return scope[value.name]
    if isinstance(value, tuple):
        return tuple(evaluate_code(v) for v in value)
    if isinstance(value, dict):
        return {k: evaluate_code(v) for k, v in value.items()}
    return value


_REFERENCE_CACHE = {}


def reference_output(check, index):
    """The reference result of case ``index`` as plain numpy (tuples and dicts kept),
    computed once per grading run."""
    key = (check.grade_id, check.function, index)
    if key not in _REFERENCE_CACHE:
        args = evaluate_code(check.case_args(index))
        _REFERENCE_CACHE[key] = to_numpy(check.reference(*args))
    return _REFERENCE_CACHE[key]


def seed_reference(check, index, value):
    """Stores a reference result computed earlier (the grading cache on disk)."""
    _REFERENCE_CACHE[(check.grade_id, check.function, index)] = value


def to_numpy(value):
    if isinstance(value, (tuple, list)):
        return tuple(to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {str(k): to_numpy(v) for k, v in value.items()}
    return np.asarray(value)


def describe(value):
    """A short description of a result's structure: ``array (3, 2)``, ``tuple of 2``, ..."""
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} ({', '.join(describe(v) for v in value)})"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if value is None:
        return "None"
    return f"an array of shape {tuple(value.shape)}"


def compare(received, expected, rtol, atol, show_values=True, where="the result"):
    """``None`` when ``received`` matches ``expected``; otherwise a message saying what differs.

    Both are numpy arrays, or tuples/dicts of them. Shapes must match exactly (no
    broadcasting); values to ``|r - e| <= atol + rtol |e|``. With ``show_values=False``
    (hidden cases) the message says what kind of difference it is, not the numbers.
    """
    if isinstance(expected, tuple):
        if not isinstance(received, tuple) or len(received) != len(expected):
            return f"{where} should be a tuple of {len(expected)}, received {describe(received)}"
        for i, (r, e) in enumerate(zip(received, expected)):
            problem = compare(r, e, rtol, atol, show_values, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(received, dict) or set(received) != set(expected):
            return f"{where} should be a dict with keys {sorted(expected)}, received {describe(received)}"
        for key in sorted(expected):
            problem = compare(received[key], expected[key], rtol, atol, show_values, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if not isinstance(received, np.ndarray):
        return f"{where} should be an array of shape {tuple(expected.shape)}, received {describe(received)}"
    if received.shape != expected.shape:
        return f"{where} should have shape {tuple(expected.shape)}, received shape {tuple(received.shape)}"
    if received.dtype.kind not in "biuf":
        return f"{where} should hold numbers, received dtype {received.dtype}"
    received = received.astype(np.float64)
    expected = expected.astype(np.float64)
    if not np.all(np.isfinite(received) | ~np.isfinite(expected)):
        return f"{where} contains NaN or infinity where the expected values are finite"
    close = np.isclose(received, expected, rtol=rtol, atol=atol)
    if np.all(close):
        return None
    gap = float(np.max(np.abs(received - expected)))
    if not show_values:
        return f"{where} has the right shape but wrong values ({int(np.sum(~close))} of {close.size} differ)"
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    at = f" at index {index}" if index else ""
    return (f"{where} differs{at}: expected {expected[index]:.6g}, received {received[index]:.6g} "
            f"({int(np.sum(~close))} of {close.size} values differ; largest difference {gap:.3g})")


def verdict(check, results):
    """Judges one graded function from the sandbox's recorded results.

    Arguments: ``check``; ``results`` a list, one per case, of ``("ok", value)`` or
    ``("error", message)`` as the sandbox recorded them.
    Returns: ``(passed, message)``; the message describes the first failing case (hidden
    cases by label only) or summarizes the passes.
    """
    hidden_count = sum(case.hidden for case in check.cases)
    for index, (case, (status, value)) in enumerate(zip(check.cases, results)):
        name = f"{'hidden' if case.hidden else 'visible'} case '{case.label}'"
        if status != "ok":
            return False, f"{check.function}: {name}: {value}"
        problem = compare(value, reference_output(check, index), check.rtol, check.atol,
                          show_values=not case.hidden)
        if problem:
            return False, f"{check.function}: {name}: {problem}"
    visible = len(check.cases) - hidden_count
    return True, f"{check.function}: all {len(check.cases)} cases passed ({visible} visible, {hidden_count} hidden)"


def arrays(rng, *shape, scale=1.0):
    """float32 standard normal numbers of ``shape``, times ``scale``."""
    return (scale * rng.standard_normal(shape)).astype(np.float32)
