"""What happened to a submission, as a typed value: a ``kind`` from a fixed set, the
instructor's ``detail`` and ``notes`` on what was odd but gradable (each a ``Note`` with
a kind of its own).

A student's page says only fixed words per kind (``student_text``): a detail may quote
what the sandbox reported (a step, an exit code, a file name the student chose), so it is
kept as ``verdict.InstructorText``, which no student renderer can print. The instructor's
text (``text()``) is one line, inert in a spreadsheet:
``"timeout: the notebook ran longer than 300 s and was stopped (cell 12)"``.
"""
import dataclasses

from autograder.verdict import InstructorText, Untrusted, inert

STUDENT_WORDS = {
    "ok": "graded",
    "timeout": "ran out of time",
    "memory": "ran out of memory",
    "disk": "filled its scratch folder",
    "output-limit": "printed more than the limit",
    "process-limit": "started more processes than allowed",
    "crashed": "crashed",
    "unreadable": "the notebook file could not be read",
    "missing": "no notebook was submitted",
    "forbidden": "used something a rule of this assignment forbids",
    "protocol-violation": "not graded: the notebook tampered with the grader",
    "not-graded": "could not be graded (your instructor has the reason)",
    "error": "grading failed (your instructor has the reason)",
}
KINDS = tuple(STUDENT_WORDS)

NOTE_WORDS = {
    "cell-errors": "a cell raised an error",
    "printed": "printed more than the limit",
    "process-limit": "started more processes than allowed",
    "results": "some results could not be read back",
    "rule-outside": "a cell outside the graded functions used something this assignment forbids",
    "rule": "used something a rule of this assignment forbids",
    "notebook": "the notebook was changed in a way the grader had to work around (deleted, duplicated or "
                "renamed cells or files)",
    "stopped": "the notebook stopped early",
}


@dataclasses.dataclass(frozen=True)
class Note:
    kind: str
    detail: InstructorText = InstructorText("")

    def __post_init__(self):
        if self.kind not in NOTE_WORDS:
            raise ValueError(f"unknown note kind {self.kind!r}; one of {', '.join(NOTE_WORDS)}")
        if not isinstance(self.detail, Untrusted):
            object.__setattr__(self, "detail", InstructorText(self.detail))

    def to_json(self):
        return {"kind": self.kind, "detail": self.detail.to_json()}


def as_note(value):
    """A ``Note`` from a ``Note``, its JSON, or a plain instructor sentence (kind "notebook")."""
    if isinstance(value, Note):
        return value
    if isinstance(value, dict):
        detail = value.get("detail", "")
        return Note(value["kind"], Untrusted(detail["untrusted"]) if isinstance(detail, dict) else detail)
    return Note("notebook", value)


@dataclasses.dataclass(frozen=True)
class Status:
    kind: str
    detail: InstructorText = InstructorText("")
    notes: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown status kind {self.kind!r}; one of {', '.join(KINDS)}")
        if not isinstance(self.detail, Untrusted):
            object.__setattr__(self, "detail", InstructorText(self.detail))
        object.__setattr__(self, "notes", tuple(as_note(n) for n in self.notes))

    def with_notes(self, *notes):
        return dataclasses.replace(self, notes=self.notes + tuple(as_note(n) for n in notes if n))

    def text(self):
        """The instructor's one line: kind, detail, notes (cut, marked where the submission
        chose the text, inert in a spreadsheet)."""
        detail = self.detail.for_instructor()
        head = f"{self.kind}: {detail}" if detail else self.kind
        return inert("; ".join([head] + [n.detail.for_instructor() or NOTE_WORDS[n.kind] for n in self.notes]))

    def student_text(self):
        """Fixed words only: what happened, and one phrase per kind of note."""
        words = [STUDENT_WORDS[self.kind]]
        words += [NOTE_WORDS[kind] for kind in dict.fromkeys(n.kind for n in self.notes)]
        return "; ".join(words)

    def to_json(self):
        return {"kind": self.kind, "detail": self.detail.to_json(), "notes": [n.to_json() for n in self.notes]}

    @classmethod
    def from_json(cls, data):
        detail = data.get("detail", "")
        detail = Untrusted(detail["untrusted"]) if isinstance(detail, dict) else detail
        return cls(data["kind"], detail, tuple(as_note(n) for n in data.get("notes", ())))

    def __str__(self):
        return self.text()
