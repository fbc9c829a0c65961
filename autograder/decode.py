"""Stage 4, decode: the runner's messages (bounded, untrusted bytes) → recorded values.

Everything here came from inside the sandbox, where the student's code could have
written anything, the runner's own frames included. ``decode`` reads ``wire`` frames up to
the bound the sandbox enforced and keeps numbers, shapes and closed-set kinds; every
text is kept as ``verdict.Untrusted``. The runner must follow the plan's sequence
(``Sequence``): cells, then for each call a request for its arguments and one result. A
frame that breaks the format or the sequence (an unknown kind, a result for a call that
was not made or made twice, a request out of turn, an impossible array) is a protocol
violation of the notebook: it is recorded with a fixed reason, never raised.
"""
import dataclasses

from autograder import wire
from autograder.verdict import Untrusted, exception_name

CALL_ERRORS = frozenset({"raised", "not-defined", "not-written", "timed-out", "forbidden"})


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    """One call's result as recorded: ``kind`` is ``"ok"`` (with ``value``), one of
    ``CALL_ERRORS``, or ``"unreadable"``; ``exception`` a built-in exception name or None;
    ``detail`` the runner's text (``Untrusted``)."""
    kind: str
    value: object = None
    exception: str | None = None
    detail: Untrusted | None = None


@dataclasses.dataclass
class Recorded:
    calls: dict = dataclasses.field(default_factory=dict)        # call id -> CallOutcome
    cell_errors: list = dataclasses.field(default_factory=list)  # [(cell number, exception name | None, Untrusted)]
    violations: list = dataclasses.field(default_factory=list)   # [{"rule", "used", "line", "cell", "call"}]
    printed: int | None = None      # characters the notebook printed; None when the runner did not finish
    last_step: Untrusted = Untrusted("start-up")   # what ran last ("cell 3", "check test_scan")
    disk_full: Untrusted | None = None             # where the scratch folder was found full
    problem: str | None = None      # the channel was cut short (the runner was stopped mid-message)
    violation: str | None = None    # the first message that broke the format or the sequence (the grader's words)

    @property
    def finished(self):
        return self.printed is not None


class Sequence:
    """The order the runner must follow, checked frame by frame: every cell before a
    check reports before its first request; calls are requested one at a time in the
    plan's order, each after the previous one's result; each result answers the request
    before it. ``problem`` is the first breach (the grader's words) or None."""

    def __init__(self, order):
        self.order = list(order)           # [(call id, cells before it)]
        self.cells = 0
        self.next = 0                      # index into order of the next call to request
        self.waiting = None                # the call requested, whose result has not come yet
        self.problem = None

    def breach(self, reason):
        if self.problem is None:
            self.problem = reason
        return False

    def cell(self, number):
        if self.waiting is not None or number != self.cells + 1:
            return self.breach("a cell report out of sequence")
        self.cells = number
        return True

    def request(self, call):
        """Whether ``call``'s arguments may be sent now."""
        if self.problem:
            return False
        if self.waiting is not None or self.next >= len(self.order):
            return self.breach("a request for arguments out of sequence")
        expected, cells_before = self.order[self.next]
        if call != expected or self.cells != cells_before:
            return self.breach("a request for arguments out of sequence")
        self.waiting, self.next = call, self.next + 1
        return True

    def result(self, call):
        if call is None or call != self.waiting:
            return self.breach("a result for a call that was not made, or made twice")
        self.waiting = None
        return True


def _int(value):
    return value if type(value) is int else None


def decode(data, order, limit=None, seal=None):
    """A ``Recorded`` from the bytes the runner sent (``limit`` bounds what is read);
    ``order`` is the plan's call sequence (``Plan.sequence()``), ``seal`` its key (every
    frame must be sealed with it) or None for unsealed frames."""
    recorded = Recorded()
    frames, problem = wire.read_frames(data, limit, seal)
    sequence = Sequence(order)
    for header, blobs in frames:
        if sequence.problem:
            break
        read_frame(header, blobs, recorded, sequence)
    if problem == "a message was cut short":
        recorded.problem = problem
    elif problem:
        sequence.breach(f"a message that breaks the format ({problem})")
    recorded.violation = sequence.problem
    return recorded


def read_frame(header, blobs, recorded, sequence):
    kind = header.get("kind")
    if kind == "step":
        recorded.last_step = Untrusted(header.get("step", ""))
    elif kind == "cell":
        cell = _int(header.get("cell"))
        if cell is None or not sequence.cell(cell):
            return sequence.breach("a malformed cell report")
        error = header.get("error")
        if error is not None:
            if not isinstance(error, dict):
                return sequence.breach("a malformed cell report")
            recorded.cell_errors.append((cell, exception_name(error.get("exception")),
                                         Untrusted(f"{error.get('exception')}: {error.get('message', '')}")))
    elif kind == "next":
        if not isinstance(header.get("id"), str):
            return sequence.breach("a malformed request for arguments")
        sequence.request(header["id"])
    elif kind == "call":
        call = header.get("id")
        if not isinstance(call, str) or not sequence.result(call):
            return sequence.breach("a result for a call that was not made, or made twice")
        status = header.get("status")
        if status == "ok":
            try:
                recorded.calls[call] = CallOutcome("ok", wire.decode_value(header.get("value"), blobs))
            except wire.WireError:
                return sequence.breach("a result that breaks the format (impossible shape, size or type)")
        elif status in CALL_ERRORS:
            recorded.calls[call] = CallOutcome(status, None, exception_name(header.get("exception")),
                                               Untrusted(f"{header.get('exception')}: {header.get('message', '')}"))
        else:
            return sequence.breach("a result of an unknown kind")
    elif kind == "violation":
        if not (isinstance(header.get("rule"), str) and isinstance(header.get("used"), str)):
            return sequence.breach("a malformed rule report")
        recorded.violations.append({"rule": header["rule"][:50], "used": Untrusted(header["used"]),
                                    "line": _int(header.get("line")), "cell": _int(header.get("cell")),
                                    "call": header["call"][:200] if isinstance(header.get("call"), str) else None})
    elif kind == "disk":
        recorded.disk_full = Untrusted(header.get("where", ""))
    elif kind == "done":
        if _int(header.get("printed")) is None or sequence.waiting is not None:
            return sequence.breach("a malformed end of run")
        recorded.printed = header["printed"]
    else:
        return sequence.breach("a message of an unknown kind")
    return True


class Feeder:
    """The trusted side of the call protocol while a run lives: the plan first, then each
    call's arguments when the runner asks for that call in turn, nothing once the sequence
    is broken. ``respond`` gets all result bytes read so far and returns bytes to send."""

    def __init__(self, plan):
        self.initial = plan.message()
        self.calls = plan.calls
        self.seal = getattr(plan, "seal", None) or None
        self.sequence = Sequence(plan.sequence())
        self.recorded = Recorded()
        self.at = 0
        self.closed = False

    def respond(self, data):
        """Bytes to write to the runner's standard input (``b""`` for none; ``None`` to close it)."""
        if self.closed:
            return b""
        frames, problem, self.at = wire.read_frames_at(data, self.at, seal=self.seal)
        if problem and problem != "a message was cut short":
            self.sequence.breach(f"a message that breaks the format ({problem})")
            self.closed = True
            return None
        out = []
        for header, blobs in frames:
            asked = header.get("kind") == "next" and self.sequence.problem is None
            read_frame(header, blobs, self.recorded, self.sequence)
            if self.sequence.problem:
                self.closed = True
                return None
            if asked:
                out.append(self.calls[header["id"]])
        return b"".join(out)
