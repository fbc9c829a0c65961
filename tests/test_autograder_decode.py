"""Stage 4, decode (autograder.decode): the runner's bytes, untrusted, become recorded
values; malformed or forged messages are dropped, never trusted."""
import numpy as np

from autograder import decode, wire

from autograder_fixtures import ok_call, sent


def test_a_full_run_is_recorded():
    data = sent({"kind": "step", "step": "cell 1"}, {"kind": "cell", "cell": 1, "error": None, "seconds": 0.1},
                {"kind": "cell", "cell": 2, "error": "NameError: x", "seconds": 0.1},
                {"kind": "step", "step": "check test_double"},
                ok_call("test_double/0", np.array([2.0, 4.0])),
                {"kind": "call", "id": "test_double/1", "status": "error", "message": "ValueError: no"},
                {"kind": "violation", "rule": "no-autodiff", "used": "jax.grad", "line": 2, "cell": 3,
                 "call": "test_total/0"},
                {"kind": "done", "printed": 12})
    recorded = decode.decode(data)
    assert recorded.finished and recorded.printed == 12 and recorded.problem is None
    assert recorded.last_step == "check test_double" and recorded.cell_errors == [(2, "NameError: x")]
    assert recorded.calls["test_double/0"][0] == "ok" and recorded.calls["test_double/0"][1].tolist() == [2.0, 4.0]
    assert recorded.calls["test_double/1"] == ("error", "ValueError: no")
    assert recorded.violations == [{"rule": "no-autodiff", "used": "jax.grad", "line": 2, "cell": 3,
                                    "call": "test_total/0"}]


def test_the_first_result_of_a_call_counts_and_forged_values_are_errors():
    data = sent(ok_call("a/0", np.zeros(2)), ok_call("a/0", np.ones(2)),
                {"kind": "call", "id": "a/1", "status": "ok", "value": {"array": {"dtype": "|O", "shape": [1], "blob": 0}}},
                {"kind": "call", "id": "a/2", "status": "ok", "value": {"array": "out/o900.npy"}})
    recorded = decode.decode(data)
    assert recorded.calls["a/0"][1].tolist() == [0.0, 0.0]
    assert recorded.calls["a/1"][0] == recorded.calls["a/2"][0] == "error"
    assert "could not be read back" in recorded.calls["a/1"][1]
    assert not recorded.finished


def test_a_run_cut_short_keeps_what_came_before():
    data = sent(ok_call("a/0", np.zeros(2)), {"kind": "done", "printed": 0})
    recorded = decode.decode(data[:-3])
    assert "a/0" in recorded.calls and not recorded.finished and recorded.problem == "a message was cut short"
    garbage = decode.decode(sent(ok_call("a/0", np.zeros(2))) + b"\xff" * 100 + sent({"kind": "done", "printed": 0}))
    assert "a/0" in garbage.calls and not garbage.finished and garbage.problem


def test_text_from_the_sandbox_is_cut_and_odd_messages_are_ignored():
    recorded = decode.decode(sent({"kind": "cell", "cell": 1, "error": "x" * 10_000},
                                  {"kind": "unknown"}, {"kind": "violation", "rule": 3},
                                  {"kind": "disk", "where": "cell 4"}, {"kind": "done", "printed": "many"}))
    assert len(recorded.cell_errors[0][1]) == decode.MAX_TEXT
    assert recorded.violations == [] and recorded.disk_full == "cell 4" and not recorded.finished
    assert decode.decode(wire.frame({"kind": "done", "printed": 5})).printed == 5
