"""The linear memory with forgetting: ``h ← γ ⊙ h + θᵀx̄`` with ``x̄ = [1, x]``.

Unrolled from ``h_0 = 0`` it is the composite memory ``h_T = Σ_i γ^{T-i} θᵀx̄_i``.
"""
import jax
import jax.numpy as jnp

from lectlib.cells._common import check_sizes, check_step_inputs, glorot, with_bias, zero_state


def init(key, d_x, d_h):
    """Arguments: ``key`` a PRNG key, ``d_x`` input size, ``d_h`` state size.

    Returns: ``{"gamma": (d_h,), "theta": (d_x + 1, d_h)}``; ``gamma`` starts in [0.8, 0.99].
    Chapter 3; tests/test_cells.py::test_init_shapes_and_determinism.
    """
    check_sizes(d_x, d_h)
    k_gamma, k_theta = jax.random.split(key)
    return {
        "gamma": jax.random.uniform(k_gamma, (d_h,), minval=0.8, maxval=0.99),
        "theta": glorot(k_theta, (d_x + 1, d_h)),
    }


def init_state(d_h, dtype=jnp.float32):
    """The zero state ``h_0``: ``(d_h,)``. Chapter 3; tests/test_cells.py::test_init_state_starts_every_cell."""
    return zero_state(d_h, dtype)


def step(params, h, x):
    """One step. ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns the new ``h``: ``(d_h,)``.
    Chapter 3; tests/test_cells.py::test_linear_memory_step_by_hand."""
    d_x_bar, d_h = params["theta"].shape
    h, x = check_step_inputs(h, x, d_h, d_x_bar - 1, "linear_memory")
    return params["gamma"] * h + params["theta"].T @ with_bias(x)
