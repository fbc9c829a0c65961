"""The manifest of each assignment and its trusted checks: what each graded function must
compute, on which inputs, for how many points, under which rules.

``autograder/checks/<assignment>.py`` is the single source of an assignment's grade ids,
function names, points, hidden cases and rules: ``release`` checks the source notebook
against it, grading and feedback read it, and the tests read it instead of copying it.

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

from lectlib.homework.compare import compare, describe  # noqa: F401  (one implementation for students and grader)
from lectlib.homework.rules import NO_AUTODIFF, NO_LECTLIB, Rule  # noqa: F401

ASSIGNMENTS = ("scans", "losses", "bptt", "gated", "ssm")

# Course policy: no graded answer may use lectlib (its functions solve the homework).
# Functions the assignment asks to write by hand add NO_AUTODIFF.
COURSE_RULES = (NO_LECTLIB,)
BY_HAND = (NO_LECTLIB, NO_AUTODIFF)


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
    """One graded function: the notebook's test cell ``grade_id`` judges ``function``
    (written in the answer cell whose grade id is ``answer``, the function's name unless
    given) on ``cases`` against ``reference``, for ``points`` (all or nothing), under
    ``rules`` (what the answer may not use)."""
    grade_id: str
    function: str
    reference: Callable
    cases: tuple
    rtol: float = 1e-4
    atol: float = 1e-5
    points: float = 0
    rules: tuple = COURSE_RULES
    answer_id: str | None = None

    def __post_init__(self):
        if not self.points > 0:
            raise ValueError(f"the check {self.grade_id} needs points > 0 (the manifest states them)")

    @property
    def answer(self):
        """The grade id of the answer cell that defines ``function``."""
        return self.answer_id or self.function

    @property
    def hidden_labels(self):
        return [case.label for case in self.cases if case.hidden]

    def case_args(self, index):
        """The arguments of case ``index``, the same on every machine and every run."""
        seed = [ord(c) for c in f"{self.grade_id}/{index}"]
        return self.cases[index].make_args(np.random.default_rng(seed))

    @property
    def visible_cases(self):
        return [i for i, case in enumerate(self.cases) if not case.hidden]


def load(assignment):
    """``{grade_id: Check}`` of one assignment (the manifest, in the notebook's order)."""
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


def arrays(rng, *shape, scale=1.0):
    """float32 standard normal numbers of ``shape``, times ``scale``."""
    return (scale * rng.standard_normal(shape)).astype(np.float32)
