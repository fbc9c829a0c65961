"""Gated recurrent unit (Cho et al., 2014), chapter 9, in the course's notation (``U``
multiplies the input, ``W`` the previous state)::

    z = σ(U_z x + W_z h + b_z)           update gate
    r = σ(U_r x + W_r h + b_r)           reset gate
    h̃ = tanh(U_h x + W_h (r ⊙ h) + b_h)  candidate
    h ← z ⊙ h + (1 − z) ⊙ h̃

Here ``z`` is the share of the old state that is kept (as in PyTorch and d2l); some
texts write ``h ← (1 − z) ⊙ h + z ⊙ h̃``, which only renames ``z`` to ``1 − z``.
"""
import jax
import jax.numpy as jnp

from lectlib.cells._common import check_sizes, check_step_inputs, gate_params, zero_state

GATES = ("z", "r", "h")


def init(key, d_x, d_h):
    """Chapter 9; tests/test_cells.py::test_init_shapes_and_determinism.

    Arguments: ``key`` a PRNG key, sizes ``d_x`` and ``d_h``.

    Returns: for ``k`` in z, r, h: ``U_k (d_h, d_x)`` (input), ``W_k (d_h, d_h)``
    (recurrent), ``b_k (d_h,)``.
    """
    check_sizes(d_x, d_h)
    return gate_params(key, GATES, d_x, d_h)


def init_state(d_h, dtype=jnp.float32):
    """The zero state ``h_0``: ``(d_h,)``. Chapter 9; tests/test_cells.py::test_init_state_starts_every_cell."""
    return zero_state(d_h, dtype)


def gates(params, h, x):
    """The update gate, the reset gate and the candidate as ``{"z", "r", "h"}``, each
    ``(d_h,)``, from ``h`` ``(d_h,)`` and ``x`` ``(d_x,)``. Chapter 9;
    tests/test_cells.py::test_gru_step_by_hand."""
    p = params
    update = jax.nn.sigmoid(p["U_z"] @ x + p["W_z"] @ h + p["b_z"])
    reset = jax.nn.sigmoid(p["U_r"] @ x + p["W_r"] @ h + p["b_r"])
    candidate = jnp.tanh(p["U_h"] @ x + p["W_h"] @ (reset * h) + p["b_h"])
    return {"z": update, "r": reset, "h": candidate}


def step(params, h, x):
    """One step of the equations above. Chapter 9; tests/test_cells.py::test_gru_step_by_hand.

    Arguments: ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns the new ``h``: ``(d_h,)``.
    """
    d_h, d_x = params["U_z"].shape
    h, x = check_step_inputs(h, x, d_h, d_x, "gru")
    g = gates(params, h, x)
    return g["z"] * h + (1.0 - g["z"]) * g["h"]
