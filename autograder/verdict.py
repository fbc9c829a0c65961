"""Verdicts as typed data, from judge to every renderer.

What a student's page (feedback, ``validate``) may say is built from trusted data only:
the manifest's case labels, the rules' names, a closed set of verdict kinds, Python's
built-in exception names and fixed words. Text that came back from the sandbox is kept
as ``Untrusted``: formatting it as a string raises ``UntrustedTextError``, so a renderer
cannot put it on a page by accident; only ``for_instructor`` gives it out, cut short,
marked and inert in a spreadsheet (for grades.csv and the instructor's table).

Tested in tests/test_autograder_verdict.py.
"""
import builtins
import dataclasses
import enum

MAX_UNTRUSTED = 500          # characters kept of any text from the sandbox
INSTRUCTOR_CUT = 120         # characters of it an instructor's CSV cell shows

BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                               if isinstance(value, type) and issubclass(value, BaseException))


class UntrustedTextError(TypeError):
    """Untrusted text was about to be formatted into a page."""


class Untrusted:
    """Text that came from the sandbox (student code could have chosen it). It cannot be
    turned into a string by ``str``, ``repr``, ``format`` or an f-string; ``for_instructor``
    is the one way out."""

    __slots__ = ("_text",)

    def __init__(self, text):
        object.__setattr__(self, "_text", str(text)[:MAX_UNTRUSTED] if not isinstance(text, Untrusted) else text._text)

    def __setattr__(self, name, value):
        raise AttributeError("Untrusted text is immutable")

    def _refuse(self, *args):
        raise UntrustedTextError("text from the sandbox cannot be rendered; use for_instructor() in instructor views")

    __str__ = __format__ = __html__ = __iter__ = __len__ = _refuse

    def __repr__(self):
        return "Untrusted(<not shown>)"

    def __bool__(self):
        return bool(self._text)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return type(self), (self._text,)

    def __eq__(self, other):
        return isinstance(other, Untrusted) and other._text == self._text

    def __hash__(self):
        return hash(("untrusted", self._text))

    def for_instructor(self, limit=INSTRUCTOR_CUT):
        """The text cut to ``limit`` characters, marked as the submission's, one line, inert
        in a spreadsheet."""
        text = " ".join(self._text.split())
        if len(text) > limit:
            text = text[:limit] + "…"
        return inert(f"[submission's text] {text}")

    def to_json(self):
        return {"untrusted": self._text}


class InstructorText(Untrusted):
    """The grader's own words about a submission that may quote what the sandbox
    reported (a step, an exit code): for the instructor's views only, not marked."""

    __slots__ = ()

    def for_instructor(self, limit=300):
        text = " ".join(self._text.split())
        return inert(text[:limit] + "…" if len(text) > limit else text)

    def to_json(self):
        return self._text


def inert(text):
    """``text`` as a spreadsheet shows it without evaluating: no control characters, and a
    leading ``=``, ``+``, ``-``, ``@``, tab or carriage return is escaped with a quote."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def untrusted_from_json(data):
    if isinstance(data, dict) and set(data) == {"untrusted"}:
        return Untrusted(data["untrusted"])
    return None


class CaseKind(str, enum.Enum):
    """What happened to one case: a closed set."""
    PASSED = "passed"
    WRONG_VALUE = "wrong-value"
    WRONG_SHAPE = "wrong-shape"
    WRONG_TYPE = "wrong-type"
    RAISED = "raised"
    NOT_DEFINED = "not-defined"
    NOT_WRITTEN = "not-written"
    NOT_REACHED = "not-reached"
    TIMED_OUT = "timed-out"
    FORBIDDEN = "forbidden"
    PROTOCOL_VIOLATION = "protocol-violation"


CASE_WORDS = {
    CaseKind.PASSED: "passed",
    CaseKind.WRONG_VALUE: "wrong values",
    CaseKind.WRONG_SHAPE: "the result has the wrong shape",
    CaseKind.WRONG_TYPE: "the result is not what the exercise asks for (wrong type or structure)",
    CaseKind.RAISED: "raised an exception",
    CaseKind.NOT_DEFINED: "the function is not defined (did its cell run without errors?)",
    CaseKind.NOT_WRITTEN: "not written yet (it raises NotImplementedError)",
    CaseKind.NOT_REACHED: "not reached: the notebook stopped before this case",
    CaseKind.TIMED_OUT: "ran out of time",
    CaseKind.FORBIDDEN: "stopped: it used something this exercise forbids",
    CaseKind.PROTOCOL_VIOLATION: "not graded: the notebook tampered with the grader",
}


def exception_name(name):
    """``name`` when it is one of Python's built-in exception names, else ``None``."""
    return name if isinstance(name, str) and name in BUILTIN_EXCEPTIONS else None


@dataclasses.dataclass(frozen=True)
class CaseVerdict:
    """One case of one graded function. ``label``/``hidden`` come from the manifest;
    ``expected`` is trusted text about the expected result (visible cases only: its
    structure, e.g. "result[1]['W'] should have shape (3, 3)"); ``exception`` a built-in
    exception name or ``None``; ``detail`` what the instructor may read (``Untrusted``)."""
    label: str
    hidden: bool
    kind: CaseKind
    exception: str | None = None
    expected: str | None = None
    detail: Untrusted | None = None

    def __post_init__(self):
        object.__setattr__(self, "kind", CaseKind(self.kind))
        if not isinstance(self.label, str) or not isinstance(self.hidden, bool):
            raise TypeError("a case verdict's label and hidden come from the manifest")
        if self.exception is not None and exception_name(self.exception) is None:
            raise ValueError(f"not a built-in exception name: {self.exception!r}")
        if self.expected is not None and (self.hidden or not isinstance(self.expected, str)):
            raise ValueError("only a visible case's verdict says what was expected, in trusted text")
        if self.detail is not None and not isinstance(self.detail, Untrusted):
            raise TypeError("a case verdict's detail is Untrusted")

    @property
    def passed(self):
        return self.kind is CaseKind.PASSED

    def student_text(self):
        """The verdict in words a student may see: label, kind, and, for "raised", the
        built-in exception's name; for a visible case what was expected."""
        which = "hidden" if self.hidden else "visible"
        what = CASE_WORDS[self.kind]
        if self.kind is CaseKind.RAISED:
            what = f"raised {self.exception}" if self.exception else "raised an exception of its own class"
        if self.expected and not self.hidden:
            what += f" ({self.expected})"
        return f"{which} case '{self.label}': {what}"

    def instructor_text(self):
        detail = f" — {self.detail.for_instructor()}" if self.detail is not None else ""
        exception = f" {self.exception}" if self.exception else ""
        return inert(f"{'hidden' if self.hidden else 'visible'} case '{self.label}': {self.kind.value}{exception}"
                     f"{': ' + self.expected if self.expected else ''}{detail}")

    def to_json(self):
        return {"label": self.label, "hidden": self.hidden, "kind": self.kind.value, "exception": self.exception,
                "expected": self.expected, "detail": self.detail.to_json() if self.detail is not None else None}

    @classmethod
    def from_json(cls, data):
        return cls(data["label"], data["hidden"], CaseKind(data["kind"]), data.get("exception"),
                   data.get("expected"), untrusted_from_json(data.get("detail")))


def mismatch(received, expected, rtol, atol, where="result"):
    """How ``received`` differs from ``expected`` (numpy arrays, or tuples/dicts of them):
    ``None`` when it matches (shapes exactly, values to ``|r - e| <= atol + rtol |e|``),
    else ``(CaseKind, what was expected)``, the words built from ``expected`` alone (its
    structure, shapes and the path to the part that differs), never from ``received``.
    Tested in tests/test_autograder_verdict.py."""
    import numpy as np

    if isinstance(expected, tuple):
        if not isinstance(received, tuple) or len(received) != len(expected):
            return CaseKind.WRONG_TYPE, f"{where} should be a tuple of {len(expected)}"
        for i, (r, e) in enumerate(zip(received, expected)):
            found = mismatch(r, e, rtol, atol, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(received, dict) or set(received) != set(expected):
            return CaseKind.WRONG_TYPE, f"{where} should be a dict with keys {sorted(expected)}"
        for key in sorted(expected):
            found = mismatch(received[key], expected[key], rtol, atol, f"{where}[{key!r}]")
            if found:
                return found
        return None
    shape = tuple(int(n) for n in expected.shape)
    if not isinstance(received, np.ndarray) or received.dtype.kind not in "biuf":
        return CaseKind.WRONG_TYPE, f"{where} should be an array of numbers of shape {shape}"
    if received.shape != expected.shape:
        return CaseKind.WRONG_SHAPE, f"{where} should have shape {shape}"
    received = received.astype(np.float64)
    expected = expected.astype(np.float64)
    finite = np.isfinite(received) | ~np.isfinite(expected)
    if not np.all(finite & np.isclose(received, expected, rtol=rtol, atol=atol)):
        return CaseKind.WRONG_VALUE, f"{where} has the right shape, wrong values"
    return None
