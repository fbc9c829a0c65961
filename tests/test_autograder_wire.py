"""The grader <-> runner format (autograder.wire): what goes in comes out, and anything
malformed, oversized or cut short is refused instead of trusted."""
import struct

import numpy as np
import pytest

from autograder import wire


def roundtrip(value, plain_numbers=False):
    blobs = []
    spec = wire.encode_value(value, blobs, plain_numbers)
    frames, problem = wire.read_frames(wire.frame({"kind": "call", "value": spec}, blobs))
    assert problem is None and len(frames) == 1
    header, received = frames[0]
    return wire.decode_value(header["value"], received, allow_code=True)


def test_arrays_tuples_dicts_and_none_come_back_equal():
    value = ({"W": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float64(2.5)}, None,
             np.array([True, False]), np.zeros((0, 3), np.int64))
    back = roundtrip(value)
    assert back[1] is None and back[0]["W"].dtype == np.float32
    np.testing.assert_array_equal(back[0]["W"], value[0]["W"])
    assert back[0]["b"].shape == () and back[0]["b"] == 2.5
    np.testing.assert_array_equal(back[2], value[2])
    assert back[3].shape == (0, 3)


def test_big_endian_arrays_arrive_as_numbers_and_python_numbers_as_arrays():
    back = roundtrip(np.arange(3, dtype=">f8"))
    assert back.dtype == np.dtype("<f8") and list(back) == [0.0, 1.0, 2.0]
    assert roundtrip(3.0).shape == () and roundtrip(3.0).dtype == np.float64
    assert roundtrip((3, 2.5), plain_numbers=True) == (3, 2.5)


def test_code_travels_as_source():
    class Code:
        source, name = "lambda h, x: h + x", None
    back = roundtrip((Code(),), plain_numbers=True)
    assert isinstance(back[0], wire.CodeValue) and back[0].source == "lambda h, x: h + x"
    with pytest.raises(wire.WireError):
        wire.decode_value({"code": {"source": "x", "name": None}}, [])     # results may not carry code


@pytest.mark.parametrize("value", [np.array(["a", "b"]), np.array([object()]), np.array([1j]), "text"])
def test_what_is_not_an_array_of_numbers_is_refused_when_sent(value):
    with pytest.raises(TypeError):
        wire.encode_value(value, [])


@pytest.mark.parametrize("spec, blobs", [
    ({"array": {"dtype": "<f4", "shape": [3], "blob": 0}}, [b"\0" * 8]),         # bytes do not match the shape
    ({"array": {"dtype": "|O", "shape": [1], "blob": 0}}, [b"\0" * 8]),          # objects
    ({"array": {"dtype": "<f8", "shape": [1], "blob": 3}}, [b"\0" * 8]),         # no such blob
    ({"array": {"dtype": "<f8", "shape": [-1], "blob": 0}}, [b"\0" * 8]),
    ({"array": {"dtype": "<f8", "shape": [1] * 9, "blob": 0}}, [b"\0" * 8]),     # too many dimensions
    ({"tuple": [{"none": True}] * 1000}, []),                                     # too many items
    ({"pickle": "..."}, []),
    ({"none": True, "int": 1}, []),
    ("not a dict", []),
])
def test_malformed_values_are_refused_when_received(spec, blobs):
    with pytest.raises(wire.WireError):
        wire.decode_value(spec, blobs)


def test_deep_nesting_is_refused():
    spec = {"none": True}
    for _ in range(wire.MAX_DEPTH + 2):
        spec = {"tuple": [spec]}
    with pytest.raises(wire.WireError):
        wire.decode_value(spec, [])


def test_frames_are_read_in_order_and_a_cut_or_broken_one_stops_the_reading():
    data = wire.frame({"kind": "step", "step": "cell 1"}) + wire.frame({"kind": "done", "printed": 3}, [b"abc"])
    frames, problem = wire.read_frames(data)
    assert problem is None and [h["kind"] for h, _ in frames] == ["step", "done"] and frames[1][1] == [b"abc"]
    frames, problem = wire.read_frames(data[:-1])
    assert len(frames) == 1 and problem == "a message was cut short"
    frames, problem = wire.read_frames(data + b"\xff\xff\xff\xff garbage")
    assert len(frames) == 2 and "larger than" in problem
    frames, problem = wire.read_frames(struct.pack(">I", 5) + b"nojso" + data)
    assert frames == [] and problem == "a message header is not JSON"
    frames, problem = wire.read_frames(wire.frame({"kind": "x"}) + struct.pack(">I", 2) + b"[]")
    assert len(frames) == 1 and problem == "a message header is malformed"


def test_reading_stops_at_the_limit():
    one = wire.frame({"kind": "step", "step": "x"})
    frames, problem = wire.read_frames(one * 1000, limit=len(one) * 10)
    assert len(frames) == 10 and problem is None


def test_an_empty_array_with_a_huge_shape_is_refused_when_sent_not_when_read():
    with pytest.raises(TypeError, match="larger than any result"):
        wire.encode_value(np.empty((0, 271828, 314159)), [])
    assert wire.encode_value(np.empty((0, 3)), [])["array"]["shape"] == [0, 3]
