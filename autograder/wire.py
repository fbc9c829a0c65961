"""The one format between the grader and the runner in the sandbox (both import this file).

A message is a frame: 4 bytes (big-endian length of the header), a JSON header (a dict),
then the raw bytes of the arrays the header names, one blob after another, their
lengths listed in ``header["blobs"]``. Values inside headers (arguments, results) are::

    value = {"none": true} | {"int": n} | {"float": x} | {"code": {"source": text, "name": None | name}}
          | {"array": {"dtype": "<f4", "shape": [2, 3], "blob": i}}
          | {"tuple": [value, ...]} | {"dict": {key: value}}

Grader → runner, on the runner's standard input: first the plan, with no call's arguments::

    {"kind": "plan", "steps": [step, ...], "cell_seconds": s, "scratch_bytes": n,
     "watch": {rule name: [dotted name, ...]}, "reasons": {rule name: text}, "seal": hex key}
    step = {"cell": source} | {"check": grade_id, "function": name, "rules": [rule name, ...], "calls": count}

then, each only in answer to the runner's request for it, ``{"kind": "args", "id":
"grade_id/case", "args": [value, ...]}``. The grader stops answering (and closes the
runner's standard input) at the first message out of sequence.

Runner → grader, on the file descriptor named by ``AUTOGRADER_RESULTS_FD``, sealed frames
(each followed by an HMAC-SHA256 of itself keyed by the plan's ``seal``, a secret of this
run that the runner keeps out of the cells' names, so a cell that writes on the channel
without reaching into the runner breaks the protocol), of kinds
``step`` (``{"step": "cell 3"}``, what runs now), ``cell`` (``{"cell": i, "error": None |
{"exception": type name, "message": text}, "seconds": s}``), ``next`` (``{"id": id}``: the
arguments of this call, please), ``call`` (``{"id": id, "status": "ok", "value": value}`` or
``{"id": id, "status": "raised" | "not-defined" | "not-written" | "timed-out" | "forbidden",
"exception": type name, "message": text}``), ``violation`` (``{"rule", "used", "line", "cell",
"call"}``), ``disk`` (``{"where": "cell 3"}``: the scratch folder is full) and ``done``
(``{"printed": n}``). The order is the plan's (``decode.Sequence``): every cell reports,
then each call is asked for and answered once, one at a time.

The runner trusts nothing it receives from student code; the grader trusts nothing it
receives from the runner: ``read_frames`` and ``decode_value`` check every length, type,
shape and dtype, never unpickle, and stop at a fixed byte bound. numpy and the standard
library only (the runner in the sandbox imports nothing else from the course).
"""
import hmac
import json
import struct

import numpy as np

# Bound before any student code runs in the runner (a cell may patch numpy afterwards).
_asarray = np.asarray
_frombuffer = np.frombuffer
_dumps = json.dumps
_loads = json.loads
_pack = struct.pack
_unpack = struct.unpack
_hmac_digest = hmac.digest
_hmac_compare = hmac.compare_digest

SEAL_BYTES = 32           # an HMAC-SHA256 of the frame, keyed by the run's secret seal
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 6
MAX_ITEMS = 256
MAX_DIMS = 8
MAX_ELEMENTS = 1 << 28     # no result array is larger; an empty array may not claim 2^62 × 2^62
DTYPES = frozenset({"|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"})


class CodeValue(tuple):
    """A function passed as Python source (``source``, and the ``name`` it defines, or None
    for an expression); the runner evaluates it."""

    def __new__(cls, source, name=None):
        return super().__new__(cls, (source, name))

    source = property(lambda self: self[0])
    name = property(lambda self: self[1])


class WireError(ValueError):
    """A message that breaks the format (cut short, too large, or malformed)."""


# ---------------------------------------------------------------- writing

def encode_value(value, blobs, plain_numbers=False, depth=0):
    """The header description of ``value`` (None, numbers and arrays of numbers, tuples,
    lists, dicts, or an object with ``source``/``name`` for code); array bytes go to ``blobs``.
    Python ints and floats stay plain numbers with ``plain_numbers`` (arguments), else they
    become 0-d arrays (results, as ``numpy.asarray`` makes them). Raises ``TypeError`` for
    anything else, e.g. an array of strings or objects."""
    if depth > MAX_DEPTH:
        raise TypeError("the result is nested too deeply")
    if value is None:
        return {"none": True}
    if hasattr(value, "source") and hasattr(value, "name") and isinstance(getattr(value, "source"), str):
        return {"code": {"source": value.source, "name": value.name}}
    if isinstance(value, (tuple, list)):
        if len(value) > MAX_ITEMS:
            raise TypeError(f"the result holds {len(value)} items, more than {MAX_ITEMS}")
        return {"tuple": [encode_value(v, blobs, plain_numbers, depth + 1) for v in value]}
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise TypeError(f"the result holds {len(value)} items, more than {MAX_ITEMS}")
        return {"dict": {str(k): encode_value(v, blobs, plain_numbers, depth + 1) for k, v in value.items()}}
    if plain_numbers and type(value) is int:
        return {"int": value}
    if plain_numbers and type(value) is float:
        return {"float": value}
    array = _asarray(value)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise TypeError(f"returned {type(value).__name__}, which is not an array of numbers")
    array = array.astype(array.dtype.newbyteorder("<"), copy=False) if array.dtype.byteorder == ">" else array
    dtype = array.dtype.str
    if dtype not in DTYPES:
        raise TypeError(f"returned an array of dtype {array.dtype}, which cannot be graded")
    if array.ndim > MAX_DIMS:
        raise TypeError(f"returned an array with {array.ndim} dimensions, more than {MAX_DIMS}")
    extent = 1
    for n in array.shape:
        extent *= max(int(n), 1)
    if extent > MAX_ELEMENTS:
        raise TypeError("returned an array whose shape is larger than any result")
    blobs.append(array.tobytes(order="C"))
    return {"array": {"dtype": dtype, "shape": [int(n) for n in array.shape], "blob": len(blobs) - 1}}


def frame(header, blobs=(), seal=None):
    """One message as bytes; with ``seal`` (a key), followed by its ``SEAL_BYTES`` seal."""
    header = dict(header, blobs=[len(b) for b in blobs])
    text = _dumps(header, allow_nan=True).encode("utf-8")
    if len(text) > MAX_HEADER_BYTES:
        raise TypeError(f"a message of {len(text)} bytes is larger than {MAX_HEADER_BYTES}")
    data = _pack(">I", len(text)) + text + b"".join(blobs)
    return data + _seal(seal, data) if seal is not None else data


def _seal(key, data):
    return _hmac_digest(key, data, "sha256")


# ---------------------------------------------------------------- reading

def read_frames(data, limit=None, seal=None):
    """The messages in ``data`` (bytes), in order, as ``(header, blobs)``.

    Returns ``(frames, problem)``: ``problem`` is ``None`` when ``data`` ends exactly after
    a frame, else what was wrong with the first bad frame (nothing after it is read). A
    frame cut short by the end of ``data`` (the runner was killed mid-write) is a problem
    too. ``limit`` bounds the total bytes looked at.
    """
    frames, problem, _ = read_frames_at(data, 0, limit, seal)
    return frames, problem


def read_frames_at(data, start, limit=None, seal=None):
    """``read_frames`` from offset ``start``; also returns the offset after the last whole
    frame read: ``(frames, problem, end)``. With ``seal`` (a key) every frame must carry
    the seal ``frame`` gives it with that key."""
    with memoryview(data) as view:
        return _read_frames(view, start, len(data) if limit is None else min(len(data), limit), seal)


def _read_frames(view, at, end, seal=None):
    extra = SEAL_BYTES if seal is not None else 0
    frames = []
    while at < end:
        if end - at < 4:
            return frames, "a message was cut short", at
        (size,) = _unpack(">I", view[at:at + 4])
        if size > MAX_HEADER_BYTES:
            return frames, f"a message header of {size} bytes is larger than {MAX_HEADER_BYTES}", at
        if at + 4 + size > end:
            return frames, "a message was cut short", at
        try:
            header = _loads(bytes(view[at + 4:at + 4 + size]).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return frames, "a message header is not JSON", at
        if not isinstance(header, dict) or not isinstance(header.get("blobs", []), list):
            return frames, "a message header is malformed", at
        lengths = header.get("blobs", [])
        if not all(type(n) is int and n >= 0 for n in lengths):
            return frames, "a message header is malformed", at
        if at + 4 + size + sum(lengths) + extra > end:
            return frames, "a message was cut short", at
        start, at = at, at + 4 + size
        blobs = []
        for n in lengths:
            blobs.append(bytes(view[at:at + n]))
            at += n
        if seal is not None:
            if not _hmac_compare(bytes(view[at:at + SEAL_BYTES]), _seal(seal, view[start:at])):
                return frames, "a message without the runner's seal", start
            at += SEAL_BYTES
        frames.append((header, blobs))
    return frames, None, at


def decode_value(spec, blobs, depth=0, allow_code=False):
    """The value that ``spec`` describes, checked: numpy arrays of numbers, None, tuples,
    dicts, ints and floats (and code, as a ``CodeValue``, only with ``allow_code``). Raises ``WireError`` on anything malformed."""
    if depth > MAX_DEPTH or not isinstance(spec, dict) or len(spec) != 1:
        raise WireError("malformed value")
    (kind, body), = spec.items()
    if kind == "none":
        return None
    if kind == "int" and type(body) is int:
        return body
    if kind == "float" and type(body) in (int, float):
        return float(body)
    if kind == "code" and allow_code and isinstance(body, dict) and isinstance(body.get("source"), str):
        name = body.get("name")
        return CodeValue(body["source"], name if isinstance(name, str) else None)
    if kind == "tuple" and isinstance(body, list) and len(body) <= MAX_ITEMS:
        return tuple(decode_value(s, blobs, depth + 1, allow_code) for s in body)
    if kind == "dict" and isinstance(body, dict) and len(body) <= MAX_ITEMS:
        return {str(k): decode_value(s, blobs, depth + 1, allow_code) for k, s in body.items()}
    if kind == "array" and isinstance(body, dict):
        dtype, shape, index = body.get("dtype"), body.get("shape"), body.get("blob")
        if dtype not in DTYPES or type(index) is not int or not 0 <= index < len(blobs):
            raise WireError("malformed array")
        if not isinstance(shape, list) or len(shape) > MAX_DIMS or \
                not all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape):
            raise WireError("malformed array shape")
        count, extent = 1, 1
        for n in shape:
            count *= n
            extent *= max(n, 1)
        blob = blobs[index]
        if extent > MAX_ELEMENTS:
            raise WireError("an array's shape is larger than any result")
        if count * np.dtype(dtype).itemsize != len(blob):
            raise WireError("an array's bytes do not match its shape")
        try:
            return _frombuffer(blob, dtype=np.dtype(dtype)).reshape(shape).copy()
        except (ValueError, OverflowError, MemoryError) as exc:
            raise WireError("an array could not be rebuilt") from exc
    raise WireError("malformed value")
