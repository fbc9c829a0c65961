"""Scans (chapter 4): a step function applied along a sequence, keeping what it produces.

Two contracts, both taught in chapter 4:

- ``scan_states(f, h, xs)``: the lecture's scan. ``f(h, x)`` returns the new state and the
  scan returns every state stacked, ``(T, *h.shape)``. Homework 1's ``scan`` is this form.
- ``scan(f, init, xs)``: ``jax.lax.scan``'s contract as a plain Python loop. ``f(carry, x)``
  returns ``(new_carry, y)`` and the scan returns ``(final_carry, ys)``; the lecture's scan is
  the case ``y = new_carry``. Homework 1's ``memory_states`` uses this contract.

``scan`` is the reference every faster scan is tested against. ``linear_recurrence``
computes ``h_t = a_t * h_{t-1} + b_t`` three ways: the loop, ``jax.lax.scan``, and
``jax.lax.associative_scan`` (O(log T) depth).
"""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, as_sequence, check_inexact, check_shapes

METHODS = ("loop", "scan", "associative")


def scan(f, init, xs, length=None):
    """Runs ``f`` along ``xs`` with a Python loop; same contract as ``jax.lax.scan``.

    Arguments:
        f: ``f(carry, x) -> (carry, y)``.
        init: the initial carry (any pytree).
        xs: a pytree of arrays sharing a leading axis of ``T`` steps, or None with ``length``.
        length: the number of steps when ``xs`` is None.

    Returns:
        ``(final_carry, ys)`` where ``ys`` stacks every ``y`` on a new leading axis ``T``.

    Chapter 4; tests/test_scans.py::test_scan_matches_lax_scan.
    """
    leaves = jax.tree_util.tree_leaves(xs)
    if leaves:
        steps = {leaf.shape[0] if getattr(leaf, "ndim", 0) else None for leaf in leaves}
        if None in steps:
            raise ValueError("every array in xs needs a leading time axis; received a scalar")
        if len(steps) != 1:
            raise ValueError(f"every array in xs must have the same number of steps, received {sorted(steps)}")
        (num_steps,) = steps
        if length is not None and length != num_steps:
            raise ValueError(f"length={length} but xs has {num_steps} steps")
    elif length is None:
        raise ValueError("scan needs xs with a leading time axis, or length when xs is None")
    else:
        num_steps = length

    carry = init
    ys = []
    for t in range(num_steps):
        x = jax.tree_util.tree_map(lambda leaf: leaf[t], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if ys:
        stacked = jax.tree_util.tree_map(lambda *step_ys: jnp.stack(step_ys), *ys)
    else:
        stacked = _empty_outputs(f, init, xs)
    return carry, stacked


def scan_states(f, h, xs):
    """The lecture's scan: every state of ``h_t = f(h_{t-1}, x_t)``, starting from ``h``.

    ``f`` returns only the new state, and the scan keeps them all. It is ``scan`` (the
    ``jax.lax.scan`` contract) with a body that carries the new state and also outputs it.
    Homework 1's ``scan(f, h, xs)`` asks for this form, written as a loop.

    Arguments:
        f: ``f(h, x) -> new h`` (same shape and dtype as ``h``).
        h: the initial state ``h_0`` (an array, or any pytree).
        xs: ``(T, ...)`` inputs (or a pytree of arrays with a leading axis ``T``).

    Returns:
        ``(T, *h.shape)``: the states ``h_1 … h_T`` (``h_0`` not included).

    Chapter 4; tests/test_scans.py::test_scan_states_is_the_loop_that_keeps_every_state.
    """
    def body(carry, x):
        new = f(carry, x)
        return new, new

    _, states = scan(body, h, xs)
    return states


def _empty_outputs(f, init, xs):
    """The ``ys`` of a zero-step scan: arrays with a leading axis of size 0."""
    x_shape = jax.tree_util.tree_map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype), xs)
    _, y_shape = jax.eval_shape(f, init, x_shape)
    return jax.tree_util.tree_map(lambda s: jnp.zeros((0,) + s.shape, s.dtype), y_shape)


def linear_recurrence(a, b, h0=None, method="scan"):
    """All states of ``h_t = a_t * h_{t-1} + b_t`` (elementwise), starting from ``h0``.

    Arguments:
        a: ``(T, d)`` multipliers (the forgetting factors ``γ``).
        b: ``(T, d)`` inputs (``θᵀx̄_t``).
        h0: ``(d,)`` initial state; zeros when None.
        method: ``"loop"`` (Python loop), ``"scan"`` (``jax.lax.scan``) or
            ``"associative"`` (``jax.lax.associative_scan``). All agree.

    Returns:
        ``(T, d)``: the states ``h_1 … h_T``.

    Chapters 3 and 4; tests/test_scans.py::test_three_methods_agree_with_numpy_loop.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, received {method!r}")
    a = as_array(a, "a")
    b = as_array(b, "b")
    check_inexact(a, "a")
    check_inexact(b, "b")
    bound = check_shapes([(a, ("T", "d"), "a"), (b, ("T", "d"), "b")])
    if h0 is None:
        h0 = jnp.zeros((bound["d"],), jnp.result_type(a, b))
    else:
        h0 = as_array(h0, "h0")
        check_inexact(h0, "h0")
        check_shapes([(h0, ("d",), "h0")], bound)
    return _RECURRENCES[method](a, b, h0)


def _linear_step(h, ab):
    a_t, b_t = ab
    h = a_t * h + b_t
    return h, h


def _by_loop(a, b, h0):
    _, hs = scan(_linear_step, h0, (a, b))
    return hs


def _by_lax_scan(a, b, h0):
    _, hs = jax.lax.scan(_linear_step, h0, (a, b))
    return hs


def compose_affine(earlier, later):
    """The associative operator of the linear recurrence.

    Each element ``(a, b)`` stands for the map ``h ↦ a * h + b``; composing ``earlier``
    then ``later`` gives ``h ↦ a₂a₁ h + (a₂b₁ + b₂)``. Works on stacked elements too.

    Chapter 4; tests/test_scans.py::test_compose_affine_is_associative.
    """
    a1, b1 = earlier
    a2, b2 = later
    return a2 * a1, a2 * b1 + b2


def _by_associative_scan(a, b, h0):
    # Fold h0 into the first element so the prefix compositions give the states directly.
    b = b.at[0].add(a[0] * h0)
    _, hs = jax.lax.associative_scan(compose_affine, (a, b))
    return hs


# Compiled once per shape: run eagerly, an associative scan dispatches O(log T) rounds of
# small operations one by one (seconds for T = 500). "loop" stays the plain Python loop.
_RECURRENCES = {"loop": _by_loop, "scan": jax.jit(_by_lax_scan),
                "associative": jax.jit(_by_associative_scan)}


def run(step, params, xs, h0):
    """Scans a cell's ``step(params, h, x) -> h`` over a sequence with ``jax.lax.scan``.

    Arguments:
        step: a cell's step function (e.g. ``lectlib.cells.elman.step``).
        params: the cell's parameters.
        xs: ``(T, d_x)`` inputs.
        h0: the initial carry (``(d_h,)``, or ``(h, c)`` for the LSTM).

    Returns:
        All states stacked on axis 0: ``(T, d_h)``, or a tuple ``(hs, cs)`` for the LSTM.

    Chapters 3-10; tests/test_scans.py::test_run_equals_python_loop_of_steps.
    """
    xs = as_sequence(xs)

    def body(h, x):
        h = step(params, h, x)
        return h, h

    _, hs = jax.lax.scan(body, h0, xs)
    return hs
