"""Stage 4, decode (autograder.decode): the runner's bytes, untrusted, become recorded
values; text stays ``Untrusted``; a forged, malformed or out-of-sequence message is a
protocol violation with the grader's own words, never an exception."""
import numpy as np
import pytest

from autograder import decode, wire
from autograder.verdict import Untrusted, UntrustedTextError

from autograder_fixtures import ORDER, all_passing, asked, cells, ok_call, sent


def test_a_full_run_is_recorded():
    data = sent({"kind": "step", "step": "cell 1"}, *cells(1),
                {"kind": "cell", "cell": 2, "error": {"exception": "NameError", "message": "x"}, "seconds": 0.1},
                {"kind": "step", "step": "check test_double"},
                asked("test_double/0"), ok_call("test_double/0", np.array([2.0, 4.0])),
                asked("test_double/1"),
                {"kind": "call", "id": "test_double/1", "status": "raised", "exception": "ValueError",
                 "message": "no"},
                {"kind": "violation", "rule": "no-autodiff", "used": "jax.grad", "line": 2, "cell": 3,
                 "call": "test_total/0"},
                {"kind": "done", "printed": 12})
    recorded = decode.decode(data, ORDER)
    assert recorded.finished and recorded.printed == 12 and recorded.problem is recorded.violation is None
    assert recorded.last_step == Untrusted("check test_double")
    assert recorded.cell_errors == [(2, "NameError", Untrusted("NameError: x"))]
    assert recorded.calls["test_double/0"].kind == "ok"
    assert recorded.calls["test_double/0"].value.tolist() == [2.0, 4.0]
    assert recorded.calls["test_double/1"] == decode.CallOutcome("raised", None, "ValueError",
                                                                 Untrusted("ValueError: no"))
    assert recorded.violations[0]["used"] == Untrusted("jax.grad") and recorded.violations[0]["line"] == 2


def test_an_exception_that_is_not_a_builtin_has_no_name():
    data = sent(*cells(1, 2), asked("test_double/0"),
                {"kind": "call", "id": "test_double/0", "status": "raised", "exception": "the result is 271828"})
    assert decode.decode(data, ORDER).calls["test_double/0"].exception is None


@pytest.mark.parametrize("forged, reason", [
    ([ok_call("test_double/0", np.zeros(2))], "not made"),                                    # a result never asked for
    ([*cells(1, 2), asked("test_double/0"), ok_call("test_double/0", np.zeros(2)),
      ok_call("test_double/0", np.ones(2))], "made twice"),                                    # two results for one call
    ([*cells(1), asked("test_double/0")], "out of sequence"),                                  # asked from inside a cell
    ([*cells(1, 2), asked("test_double/1")], "out of sequence"),                               # asked out of turn
    ([*cells(1, 2), asked("test_double/0"), asked("test_double/1")], "out of sequence"),        # asked before answering
    ([*cells(1, 2), asked("test_double/0"),
      {"kind": "call", "id": "test_double/0", "status": "ok",
       "value": {"array": {"dtype": "<f4", "shape": [2**62, 2**62], "blob": 0}}}], "impossible"),
    ([*cells(1, 2), asked("test_double/0"),
      {"kind": "call", "id": "test_double/0", "status": "ok",
       "value": {"array": {"dtype": "|O", "shape": [1], "blob": 0}}}], "impossible"),
    ([*cells(1, 2), asked("test_double/0"),
      {"kind": "call", "id": "test_double/0", "status": "the result is 314159"}], "unknown kind"),
    ([{"kind": "results-of-my-own"}], "unknown kind"),
    ([{"kind": "cell", "cell": 99999, "error": None}], "out of sequence"),
    ([*cells(1, 2), asked("test_double/0"), {"kind": "done", "printed": 0}], "end of run"),
])
def test_forged_or_malformed_frames_are_a_protocol_violation(forged, reason):
    recorded = decode.decode(sent(*forged, {"kind": "done", "printed": 0}), ORDER)
    assert recorded.violation and reason in recorded.violation, recorded.violation


def test_bytes_that_are_no_frame_are_a_protocol_violation_and_a_cut_is_not():
    honest = sent(*all_passing(), {"kind": "done", "printed": 0})
    assert decode.decode(honest, ORDER).violation is None
    cut = decode.decode(honest[:-3], ORDER)
    assert cut.problem == "a message was cut short" and cut.violation is None and not cut.finished
    assert "test_total/0" in cut.calls
    garbage = decode.decode(sent(*cells(1)) + b"\xff" * 100, ORDER)
    assert garbage.violation and "breaks the format" in garbage.violation


def test_text_from_the_sandbox_is_untrusted_and_cut():
    recorded = decode.decode(sent({"kind": "cell", "cell": 1, "error": {"exception": "KeyError", "message": "x" * 10_000}},
                                  {"kind": "disk", "where": "cell 4"}), ORDER)
    message = recorded.cell_errors[0][2]
    with pytest.raises(UntrustedTextError):
        f"{message}"
    assert message.for_instructor().endswith("…") and len(message.for_instructor()) < 200
    assert recorded.disk_full == Untrusted("cell 4") and not recorded.finished
    assert decode.decode(wire.frame({"kind": "done", "printed": 5}), []).printed == 5


def test_the_feeder_answers_each_request_in_turn_and_stops_at_a_breach():
    class Plan:
        calls = {call: wire.frame({"kind": "args", "id": call, "args": []}) for call, _ in ORDER}

        def message(self):
            return b"plan"

        def sequence(self):
            return ORDER

    feeder = decode.Feeder(Plan())
    data = sent(*cells(1, 2), asked("test_double/0"))
    assert feeder.respond(data) == Plan.calls["test_double/0"]
    assert feeder.respond(data) == b""                                   # nothing new, nothing sent
    data += sent(ok_call("test_double/0", np.zeros(2)), asked("test_double/1"))
    assert feeder.respond(data) == Plan.calls["test_double/1"]
    data += sent(asked("test_total/0"))                                  # asks again before answering
    assert feeder.respond(data) is None and feeder.respond(data + sent(asked("x"))) == b""


def test_a_frame_without_the_runs_seal_is_a_protocol_violation():
    key = b"k" * 32
    honest = b"".join(wire.frame(m if isinstance(m, dict) else dict(m[0], value=wire.encode_value(m[1], [])),
                                 seal=key) for m in cells(1, 2))
    assert decode.decode(honest, ORDER, seal=key).violation is None
    forged = honest + wire.frame(asked("test_double/0")) + wire.frame(cells(3)[0], seal=key)   # unsealed, by a cell
    assert "seal" in decode.decode(forged, ORDER, seal=key).violation
    wrong_key = honest + wire.frame(asked("test_double/0"), seal=b"g" * 32)
    assert "seal" in decode.decode(wrong_key, ORDER, seal=key).violation
