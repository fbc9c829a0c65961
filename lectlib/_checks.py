"""Input validation shared by the public functions.

Every public function checks shapes and dtypes in plain Python before it calls into
JAX, so a wrong input gives a ValueError naming the expected and the received shape
instead of an XLA traceback. Tracers carry static shapes, so the checks also run
under ``jax.jit``, ``jax.grad`` and ``jax.vmap``.
"""
import jax.numpy as jnp
import numpy as np


def as_array(value, name):
    """Returns ``value`` as a JAX array, or raises ValueError saying what ``name`` was."""
    if isinstance(value, (list, tuple)) or np.isscalar(value):
        value = np.asarray(value)
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise ValueError(f"{name} must be an array, received {type(value).__name__}")
    return jnp.asarray(value)


def check_inexact(array, name):
    """Raises ValueError unless ``array`` holds floating-point or complex numbers."""
    if not jnp.issubdtype(array.dtype, jnp.inexact):
        raise ValueError(
            f"{name} must hold floating-point numbers, received dtype {array.dtype} "
            f"(convert with .astype(jnp.float32))"
        )


def check_integer(array, name):
    """Raises ValueError unless ``array`` holds integers."""
    if not jnp.issubdtype(array.dtype, jnp.integer):
        raise ValueError(f"{name} must hold integers, received dtype {array.dtype}")


def check_positive_int(value, name):
    """Raises ValueError unless ``value`` is an integer ≥ 1 (a size, a length, a count): a
    Python int or a numpy integer (sizes read off arrays), never a float or a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, received {value!r}")


def check_shape(array, expected, name):
    """Checks ``array.shape`` against ``expected``, a tuple of ints, None (any size) or
    str (a named size that must agree everywhere it appears). Returns the sizes bound
    to the names, so callers can chain checks across arguments.

    Example: ``check_shape(a, ("T", "d"), "a")`` accepts any 2-d array.
    """
    return check_shapes([(array, expected, name)])


def check_shapes(specs, bound=None):
    """Checks several ``(array, expected, name)`` triples whose named sizes must agree.

    Returns the dict of sizes bound to names.
    """
    bound = dict(bound or {})
    for array, expected, name in specs:
        shape = tuple(array.shape)
        described = _describe(expected, bound)
        if len(shape) != len(expected):
            raise ValueError(
                f"{name} must have shape {described} ({len(expected)} axes), "
                f"received shape {shape}"
            )
        for size, want in zip(shape, expected):
            if want is None:
                continue
            if isinstance(want, str):
                if want in bound and bound[want] != size:
                    raise ValueError(
                        f"{name} must have shape {_describe(expected, bound)}, received "
                        f"shape {shape} ({want} is {bound[want]} from the other inputs)"
                    )
                bound[want] = size
            elif size != want:
                raise ValueError(f"{name} must have shape {described}, received shape {shape}")
    return bound


def _describe(expected, bound):
    parts = []
    for want in expected:
        if want is None:
            parts.append("any")
        elif isinstance(want, str) and want in bound:
            parts.append(f"{want}={bound[want]}")
        else:
            parts.append(str(want))
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def as_sequence(xs, d_x="d_x", name="xs"):
    """Returns ``xs`` as a floating-point JAX array of shape ``(T, d_x)``, or raises ValueError.

    ``d_x``: the input size the caller's parameters expect (an int), or a name for any size.
    """
    xs = as_array(xs, name)
    check_inexact(xs, name)
    check_shapes([(xs, ("T", d_x), name)])
    return xs
