"""Stage 4, decode: the runner's messages (bounded, untrusted bytes) → recorded values.

Everything here came from inside the sandbox, where the student's code could have
written anything. ``decode`` reads ``wire`` frames up to the bound the sandbox enforced,
keeps only well-formed messages of known kinds, the first result of each call id, and
numbers and shapes (``wire.decode_value``: no pickles, no code).
"""
import dataclasses

from autograder import wire

MAX_TEXT = 500


@dataclasses.dataclass
class Recorded:
    calls: dict = dataclasses.field(default_factory=dict)        # call id -> ("ok", value) | ("error", message)
    cell_errors: list = dataclasses.field(default_factory=list)  # [(cell number, error text)]
    violations: list = dataclasses.field(default_factory=list)   # [{"rule", "used", "line", "cell", "call"}]
    printed: int | None = None      # characters the notebook printed; None when the runner did not finish
    last_step: str = "start-up"     # what ran last ("cell 3", "check test_scan")
    disk_full: str | None = None    # where the scratch folder was found full
    problem: str | None = None      # the first malformed message, if any

    @property
    def finished(self):
        return self.printed is not None


def _text(value):
    return str(value)[:MAX_TEXT]


def _int(value):
    return value if type(value) is int else None


def decode(data, limit=None):
    """A ``Recorded`` from the bytes the runner sent (``limit`` bounds what is read)."""
    recorded = Recorded()
    frames, recorded.problem = wire.read_frames(data, limit)
    for header, blobs in frames:
        kind = header.get("kind")
        if kind == "step":
            recorded.last_step = _text(header.get("step", ""))[:100]
        elif kind == "cell":
            if header.get("error") and _int(header.get("cell")) is not None:
                recorded.cell_errors.append((header["cell"], _text(header["error"])))
        elif kind == "call":
            call = header.get("id")
            if not isinstance(call, str) or call in recorded.calls:
                continue
            if header.get("status") == "ok":
                try:
                    recorded.calls[call] = ("ok", wire.decode_value(header.get("value"), blobs))
                except wire.WireError as exc:
                    recorded.calls[call] = ("error", f"the result could not be read back ({exc})")
            else:
                recorded.calls[call] = ("error", _text(header.get("message", "failed")))
        elif kind == "violation":
            if isinstance(header.get("rule"), str) and isinstance(header.get("used"), str):
                recorded.violations.append({"rule": header["rule"][:50], "used": header["used"][:200],
                                            "line": _int(header.get("line")), "cell": _int(header.get("cell")),
                                            "call": header["call"][:200] if isinstance(header.get("call"), str)
                                            else None})
        elif kind == "disk":
            recorded.disk_full = _text(header.get("where", ""))[:100]
        elif kind == "done":
            if _int(header.get("printed")) is not None:
                recorded.printed = header["printed"]
    return recorded
