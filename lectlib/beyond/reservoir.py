"""Leaky units and echo-state networks (Jaeger, 2001; chapter 10): a fixed random
recurrence, and a linear read-out fitted in closed form."""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_positive_int, check_shapes
from lectlib.gradients import recurrent_matrix


def reservoir_init(key, d_x, d_h, spectral_radius=0.9, input_scale=1.0):
    """A fixed random reservoir: ``{"U": (d_h, d_x), "W": (d_h, d_h)}``, ``U`` uniform in
    ``[−input_scale, input_scale]`` and ``W`` scaled to spectral radius ``ρ(W) = spectral_radius``.

    Chapter 10; tests/test_beyond_reservoir.py::test_reservoir_has_the_requested_spectral_radius.
    """
    check_positive_int(d_x, "d_x")
    check_positive_int(d_h, "d_h")
    k_in, k_w = jax.random.split(key)
    return {"U": input_scale * jax.random.uniform(k_in, (d_h, d_x), minval=-1, maxval=1),
            "W": recurrent_matrix(k_w, d_h, spectral_radius)}


def leaky_step(params, h, x, leak=0.3, nonlinearity=jnp.tanh):
    """A leaky unit: ``h ← (1 − α) h + α φ(U x + W h)``; ``α = leak`` sets its time scale
    (``1 − α`` plays chapter 3's ``γ``), ``φ = nonlinearity`` is tanh unless told otherwise
    (chapter 10 passes the identity to compare with a linear reservoir).
    ``h`` ``(d_h,)``, ``x`` ``(d_x,)``; returns ``(d_h,)``.

    Chapter 10; tests/test_beyond_reservoir.py::test_leaky_step_mixes_old_state_and_tanh_update.
    """
    return (1.0 - leak) * h + leak * nonlinearity(params["U"] @ x + params["W"] @ h)


def ridge_readout(states, targets, regularization=1e-4):
    """The echo-state read-out, fitted in closed form by ridge regression: with
    ``H = [1, states]`` ``(N, d_h + 1)`` and ``Y = targets``, ``V = Yᵀ H (Hᵀ H + β I)⁻¹``,
    ``β = regularization``.

    Arguments: ``states`` ``(N, d_h)``; ``targets`` ``(N, d_y)``. Returns ``V`` ``(d_y, d_h + 1)``
    acting on ``[1, h]`` (apply it with ``ridge_predict``).
    Chapter 10; tests/test_beyond_reservoir.py::test_ridge_readout_is_regularized_least_squares.
    """
    states, targets = as_array(states, "states"), as_array(targets, "targets")
    check_shapes([(states, ("N", "d_h"), "states"), (targets, ("N", "d_y"), "targets")])
    H = jnp.concatenate([jnp.ones((states.shape[0], 1), states.dtype), states], axis=1)
    gram = H.T @ H + regularization * jnp.eye(H.shape[1], dtype=H.dtype)
    return jnp.linalg.solve(gram, H.T @ targets).T


def ridge_predict(V, states):
    """The read-out ``V [1, h]`` of ``ridge_readout`` for states ``(..., d_h)``; returns ``(..., d_y)``.

    Chapter 10; tests/test_beyond_reservoir.py::test_ridge_readout_is_regularized_least_squares.
    """
    states = as_array(states, "states")
    if states.shape[-1] + 1 != V.shape[-1]:
        raise ValueError(f"states must end in d_h = {V.shape[-1] - 1} (V has shape {V.shape}), "
                         f"received shape {states.shape}")
    bias = V[:, 0].reshape((1,) * (states.ndim - 1) + (V.shape[0],))
    return states @ V[:, 1:].T + bias
