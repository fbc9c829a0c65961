"""Output modeling (chapter 5): the memory stores, an output function reads.

A recurrent model is two functions: ``f(h, x)`` updates the memory and ``g(h, x)`` reads
from it what the current input asks for. Step 1 scans ``f`` over the sequence to get every
state; step 2 maps ``g`` over every (state, input) pair. Both steps are independent of how
many steps came before, so the same model reads sequences of any length.
"""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_shapes
from lectlib.cells import linear_memory
from lectlib.cells._common import with_bias
from lectlib.scans import run


def read_all(read, params, hs, xs):
    """Step 2: ``[g(h_1, x_1), …, g(h_T, x_T)]`` with ``jax.vmap``. Chapter 5;
    tests/test_readout.py::test_read_all_equals_a_loop.

    Arguments: ``read(params, h, x) -> y``; ``hs`` ``(T, d_h)``; ``xs`` ``(T, d_x)``.
    Returns: ``(T, *y.shape)``.
    """
    hs = as_array(hs, "hs")
    xs = as_array(xs, "xs")
    check_shapes([(hs, ("T", "d_h"), "hs"), (xs, ("T", "d_x"), "xs")])
    return jax.vmap(read, in_axes=(None, 0, 0))(params, hs, xs)


def scan_then_read(step, read, params, xs, h0):
    """Both steps: the states of ``step`` over ``xs`` from ``h0``, then ``read`` at every step.
    Chapter 5; tests/test_readout.py::test_recall_outputs_is_scan_then_read.

    Arguments: ``step(params["memory"], h, x) -> h``; ``read(params["read"], h, x) -> y``;
    ``xs`` ``(T, d_x)``; ``h0`` ``(d_h,)``.
    Returns: ``(T, *y.shape)``.
    """
    hs = run(step, params["memory"], xs, h0)
    return read_all(read, params["read"], hs, xs)


def query_read(params, h, x):
    """A read-out that asks the input which part of the memory to report:
    ``g(h, x) = hᵀ (A x̄)``, the state weighted by a query computed from the input.
    Chapter 5; tests/test_readout.py::test_query_read_is_the_state_weighted_by_the_query.

    Arguments: ``params`` ``{"A": (d_h, d_x + 1)}``; ``h`` ``(d_h,)``; ``x`` ``(d_x,)``.
    Returns: a scalar.
    """
    return h @ (params["A"] @ with_bias(x))


def favourite_read(params, h, x):
    """The recall function of *"what is your favourite?"*: ``g(h, x) = argmax_i h_i``, the
    index of the largest count in the memory (the first one on a tie); ``params`` and ``x``
    are not used. Chapter 5; tests/test_readout.py::test_favourite_read_is_the_most_eaten_flavour.

    Arguments: ``h`` ``(d_h,)``. Returns: an int32 scalar.
    """
    h = as_array(h, "h")
    check_shapes([(h, ("d_h",), "h")])
    return jnp.argmax(h)


def recall_init(key, d_x, d_h):
    """Parameters of a linear memory read by ``query_read``: ``{"memory": ..., "read": {"A"}}``.
    Chapter 5; tests/test_readout.py::test_recall_outputs_is_scan_then_read."""
    k_memory, k_read = jax.random.split(key)
    return {"memory": linear_memory.init(k_memory, d_x, d_h),
            "read": {"A": 0.1 * jax.random.normal(k_read, (d_h, d_x + 1))}}


def recall_outputs(params, xs):
    """The recall model on one sequence ``xs`` ``(T, d_x)``: ``(T,)`` answers, one per step.
    Chapter 5; tests/test_readout.py::test_recall_outputs_is_scan_then_read."""
    xs = as_array(xs, "xs")
    check_inexact(xs, "xs")
    d_h = params["memory"]["gamma"].shape[0]
    return scan_then_read(linear_memory.step, query_read, params, xs, jnp.zeros(d_h, xs.dtype))
