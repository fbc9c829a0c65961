"""How a homework result is compared with the expected one, in words a student can act on.

The visible tests in a student's notebook and the grader use this one implementation,
so a case that passes while working passes when graded. numpy only: it never imports JAX.
"""
import numpy as np


def describe(value):
    """A short description of a result's structure: ``an array of shape (3, 2)``,
    ``a tuple of 2 (...)``, ``a dict with keys [...]``, ``None``.

    Arguments: ``value``: a numpy array, ``None``, or a tuple/dict of them.
    The homework's messages; checked through ``compare`` in tests/test_autograder_judge.py.
    """
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} ({', '.join(describe(v) for v in value)})"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if value is None:
        return "None"
    return f"an array of shape {tuple(value.shape)}"


def compare(received, expected, rtol, atol, show_values=True, where="the result"):
    """``None`` when ``received`` matches ``expected``; otherwise a message saying what differs.

    Both are numpy arrays, or tuples/dicts of them. Shapes must match exactly (no
    broadcasting); values to ``|r - e| <= atol + rtol |e|``. With ``show_values=False``
    (hidden cases) the message says what kind of difference it is, not the numbers.
    The homework's verdicts; tested in ``tests/test_autograder_judge.py``.
    """
    if isinstance(expected, tuple):
        if not isinstance(received, tuple) or len(received) != len(expected):
            return f"{where} should be a tuple of {len(expected)}, received {describe(received)}"
        for i, (r, e) in enumerate(zip(received, expected)):
            problem = compare(r, e, rtol, atol, show_values, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(received, dict) or set(received) != set(expected):
            return f"{where} should be a dict with keys {sorted(expected)}, received {describe(received)}"
        for key in sorted(expected):
            problem = compare(received[key], expected[key], rtol, atol, show_values, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if not isinstance(received, np.ndarray):
        return f"{where} should be an array of shape {tuple(expected.shape)}, received {describe(received)}"
    if received.shape != expected.shape:
        return f"{where} should have shape {tuple(expected.shape)}, received shape {tuple(received.shape)}"
    if received.dtype.kind not in "biuf":
        return f"{where} should hold numbers, received dtype {received.dtype}"
    received = received.astype(np.float64)
    expected = expected.astype(np.float64)
    if not np.all(np.isfinite(received) | ~np.isfinite(expected)):
        return f"{where} contains NaN or infinity where the expected values are finite"
    close = np.isclose(received, expected, rtol=rtol, atol=atol)
    if np.all(close):
        return None
    gap = float(np.max(np.abs(received - expected)))
    if not show_values:
        return f"{where} has the right shape but wrong values ({int(np.sum(~close))} of {close.size} differ)"
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    at = f" at index {index}" if index else ""
    return (f"{where} differs{at}: expected {expected[index]:.6g}, received {received[index]:.6g} "
            f"({int(np.sum(~close))} of {close.size} values differ; largest difference {gap:.3g})")
