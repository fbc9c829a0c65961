"""The minimal gated unit of the lecture (chapter 8), in the course's notation (``U``
multiplies the input, ``W`` the previous state, ``σ`` the logistic sigmoid)::

    f = σ(U_f x + W_f h + b_f)              forget gate
    h̃ = σ(U_h x + W_h (f ⊙ h) + b_h)        candidate, reading the gated state
    h ← f ⊙ h + (1 − f) ⊙ h̃

The lecture writes the same unit with ``x̄ = [1, x]`` as ``f = σ(θ₁ᵀx̄ + θ₂ᵀh)``,
``h̃ = σ(θ₃ᵀx̄ + θ₄ᵀ(f ⊙ h))``: ``θ₁`` stacks the row ``b_fᵀ`` on ``U_fᵀ``, ``θ₂ = W_fᵀ``,
and likewise ``θ₃``, ``θ₄`` for the candidate (``from_thetas`` converts).

Where the original paper differs (Zhou et al., 2016, "Minimal gated unit for recurrent
neural networks"): its candidate uses ``tanh`` rather than ``σ``, so the state can go
negative, and its gate weighs the other way round, ``h ← (1 − f) ⊙ h + f ⊙ h̃``, so
``f`` there is the share of the new candidate, not of the old state. Both are the same
family: one gate that both forgets and writes.
"""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_shapes
from lectlib.cells._common import check_sizes, check_step_inputs, gate_params, zero_state

GATES = ("f", "h")


def init(key, d_x, d_h):
    """Chapter 8; tests/test_cells.py::test_init_shapes_and_determinism.

    Arguments: ``key`` a PRNG key, sizes ``d_x`` and ``d_h``.

    Returns: for ``k`` in f (the gate), h (the candidate): ``U_k (d_h, d_x)`` (input),
    ``W_k (d_h, d_h)`` (recurrent), ``b_k (d_h,)``. The forget bias ``b_f`` starts at +1
    so the unit remembers by default.
    """
    check_sizes(d_x, d_h)
    return gate_params(key, GATES, d_x, d_h, forget_gate="f")


def from_thetas(theta1, theta2, theta3, theta4):
    """The lecture's parameters as ``init``'s dict. Chapter 8;
    tests/test_cells.py::test_mgu_from_thetas_is_the_lectures_form.

    Arguments: ``theta1``, ``theta3``: ``(d_x + 1, d_h)`` (row 0 multiplies the constant 1
    of ``x̄``); ``theta2``, ``theta4``: ``(d_h, d_h)``. Returns ``{"U_f", "W_f", "b_f",
    "U_h", "W_h", "b_h"}``.
    """
    theta1, theta2, theta3, theta4 = (as_array(t, f"mgu theta{i}") for i, t in
                                      enumerate((theta1, theta2, theta3, theta4), start=1))
    if theta1.ndim != 2 or theta1.shape[0] < 2:
        raise ValueError(f"mgu theta1 must have shape (d_x + 1, d_h) with d_x >= 1, received {theta1.shape}")
    d_x_bar, d_h = theta1.shape
    check_shapes([(theta2, (d_h, d_h), "mgu theta2"), (theta3, (d_x_bar, d_h), "mgu theta3"),
                  (theta4, (d_h, d_h), "mgu theta4")])
    return {"U_f": theta1[1:].T, "W_f": theta2.T, "b_f": theta1[0],
            "U_h": theta3[1:].T, "W_h": theta4.T, "b_h": theta3[0]}


def init_state(d_h, dtype=jnp.float32):
    """The zero state ``h_0``: ``(d_h,)``. Chapter 8; tests/test_cells.py::test_init_state_starts_every_cell."""
    return zero_state(d_h, dtype)


def gates(params, h, x):
    """The gate ``f = σ(U_f x + W_f h + b_f)`` and the candidate
    ``h̃ = σ(U_h x + W_h (f ⊙ h) + b_h)`` (always in ``(0, 1)``) as ``{"f", "h"}``, each
    ``(d_h,)``, from ``h`` ``(d_h,)`` and ``x`` ``(d_x,)``. Chapter 8;
    tests/test_cells.py::test_mgu_step_by_hand."""
    forget = jax.nn.sigmoid(params["U_f"] @ x + params["W_f"] @ h + params["b_f"])
    return {"f": forget, "h": jax.nn.sigmoid(params["U_h"] @ x + params["W_h"] @ (forget * h) + params["b_h"])}


def step(params, h, x):
    """One step of the equations above. Chapter 8; tests/test_cells.py::test_mgu_step_by_hand.

    Arguments: ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns the new ``h``: ``(d_h,)``.
    """
    d_h, d_x = params["U_f"].shape
    h, x = check_step_inputs(h, x, d_h, d_x, "mgu")
    g = gates(params, h, x)
    return g["f"] * h + (1.0 - g["f"]) * g["h"]
