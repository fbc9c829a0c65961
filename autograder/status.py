"""What happened to a submission, as a typed value: a ``kind`` from a fixed set, a
``detail`` sentence, and ``notes`` on what was odd but gradable. It becomes text only at
the edges (the CSV, the table, the feedback), with ``text()``:
``"timeout: the notebook ran longer than 300 s and was stopped (cell 12)"``,
``"ok; graded Homework1.ipynb (expected scans.ipynb)"``.
"""
import dataclasses

KINDS = ("ok", "timeout", "memory", "disk", "output-limit", "process-limit", "crashed", "unreadable", "missing",
         "forbidden", "error")


@dataclasses.dataclass(frozen=True)
class Status:
    kind: str
    detail: str = ""
    notes: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown status kind {self.kind!r}; one of {', '.join(KINDS)}")
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    def with_notes(self, *notes):
        return dataclasses.replace(self, notes=self.notes + tuple(n for n in notes if n))

    def text(self):
        head = f"{self.kind}: {self.detail}" if self.detail else self.kind
        return "; ".join((head,) + self.notes)

    def to_json(self):
        return {"kind": self.kind, "detail": self.detail, "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data):
        return cls(data["kind"], data.get("detail", ""), tuple(data.get("notes", ())))

    def __str__(self):
        return self.text()
