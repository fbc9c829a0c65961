"""The visible cases' file format: arguments and expected results as plain JSON.

The homework's visible cases ship inside the student package as JSON files in
``lectlib/homework/cases/`` (written by ``python -m autograder.student export``, read by
``lectlib.homework.visible``). JSON, not pickles: reading a case file runs no code, and a
reviewer can read every number a student's notebook is checked against.

Each value is tagged with its kind, so that it comes back exactly as it went in:

- ``{"array": {"dtype": "float32", "shape": [2, 3], "data": [...]}}`` a numpy array
  (``"scalar": true`` for a numpy scalar such as ``np.float32(2.0)``); float32 values
  survive the trip exactly (a float32 is a float64 is a JSON number);
- ``{"int": 3}``, ``{"float": 0.5}``, ``{"none": true}``;
- ``{"tuple": [...]}``, ``{"dict": {"key": ...}}``;
- ``{"code": "lambda h, x: 0.5 * h + x", "name": null}`` a function passed to the
  student's code, as Python source (a ``def`` block with the ``name`` it defines, or an
  expression); it is evaluated with ``np``, ``jax`` and ``jnp`` in scope, as the grader does.
"""
import numpy as np


def encode(value, code_type=None):
    """A JSON-ready description of ``value``.

    Arguments:
        value: a numpy array or scalar, a Python int/float, ``None``, or a tuple/list/dict
            of them; or an object of ``code_type`` (with ``.source`` and ``.name``).
        code_type: the class of functions-as-source (the grader's ``Code``), or ``None``.
    Returns: nested dicts and lists of JSON types (see the module docstring).
    The homework's visible cases; tests/test_student_package.py.
    """
    if code_type is not None and isinstance(value, code_type):
        return {"code": value.source, "name": value.name}
    if value is None:
        return {"none": True}
    if isinstance(value, bool):
        raise TypeError("the homework passes numbers as arrays, not bools")
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"float": value}
    if isinstance(value, (tuple, list)):
        return {"tuple": [encode(v, code_type) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, code_type) for k, v in value.items()}}
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"cannot store a value of type {type(value).__name__} (dtype {array.dtype}) in a case file")
    encoded = {"dtype": array.dtype.name, "shape": list(array.shape), "data": array.ravel().tolist()}
    if isinstance(value, np.generic):
        encoded["scalar"] = True
    return {"array": encoded}


def decode(spec, functions=True):
    """The value ``encode`` described.

    Arguments:
        spec: what ``encode`` returned (after a JSON round trip).
        functions: turn ``{"code": ...}`` into the function it defines (``True``), or
            keep it as the source text (``False``, to compare case files).
    Returns: numpy arrays and scalars, ints, floats, ``None``, tuples, dicts, functions.
    The homework's visible cases; tests/test_student_package.py.
    """
    if "array" in spec:
        array = spec["array"]
        value = np.asarray(array["data"], dtype=np.dtype(array["dtype"])).reshape(array["shape"])
        return value[()] if array.get("scalar") else value
    if "int" in spec:
        return int(spec["int"])
    if "float" in spec:
        return float(spec["float"])
    if "none" in spec:
        return None
    if "tuple" in spec:
        return tuple(decode(v, functions) for v in spec["tuple"])
    if "dict" in spec:
        return {k: decode(v, functions) for k, v in spec["dict"].items()}
    if "code" in spec:
        return function_from_source(spec["code"], spec.get("name")) if functions else ("code", spec["code"])
    raise ValueError(f"not a value of a case file: {sorted(spec)}")


def function_from_source(source, name=None):
    """The function written in ``source``: an expression (``name`` is ``None``) or a
    ``def`` block that defines ``name``; ``np``, ``jax`` and ``jnp`` are in scope. The
    homework's cases that take a function; checked through ``decode`` in
    tests/test_student_package.py."""
    import jax
    import jax.numpy as jnp

    scope = {"np": np, "jax": jax, "jnp": jnp}
    if name is None:
        return eval(source, scope)  # the course's own case files, shipped in this package
    exec(source, scope)
    return scope[name]
