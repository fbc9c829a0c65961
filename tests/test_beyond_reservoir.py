"""Chapter 10's echo-state network (lectlib.beyond.reservoir)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import beyond


def test_ridge_readout_is_regularized_least_squares():
    rng = np.random.default_rng(0)
    states, targets = rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    V = beyond.ridge_readout(jnp.asarray(states), jnp.asarray(targets), regularization=0.0)
    H = np.concatenate([np.ones((50, 1)), states], axis=1)
    expected = np.linalg.lstsq(H, targets, rcond=None)[0].T
    np.testing.assert_allclose(V, expected, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(beyond.ridge_predict(V, jnp.asarray(states)), H @ expected.T, rtol=1e-3, atol=1e-4)
    # a batch of sequences (n, T, d_h) is read out step by step
    batched = beyond.ridge_predict(V, jnp.asarray(states).reshape(5, 10, 4))
    np.testing.assert_allclose(batched.reshape(50, 2), H @ expected.T, rtol=1e-3, atol=1e-4)
    # the penalty β ‖V‖² moves the solution to (HᵀH + βI)⁻¹ HᵀY
    ridge = np.linalg.solve(H.T @ H + 3.0 * np.eye(5), H.T @ targets).T
    np.testing.assert_allclose(beyond.ridge_readout(jnp.asarray(states), jnp.asarray(targets), 3.0), ridge, rtol=1e-3)
    with pytest.raises(ValueError, match="targets"):
        beyond.ridge_readout(jnp.asarray(states), jnp.asarray(targets[:10]))
    with pytest.raises(ValueError, match="d_h = 4"):
        beyond.ridge_predict(V, jnp.ones((3, 5)))


def test_reservoir_has_the_requested_spectral_radius():
    reservoir = beyond.reservoir_init(jax.random.key(5), 1, 20, spectral_radius=0.8)
    assert float(jnp.max(jnp.abs(jnp.linalg.eigvals(reservoir["W"])))) == pytest.approx(0.8, rel=1e-4)
    assert reservoir["U"].shape == (20, 1) and float(jnp.max(jnp.abs(reservoir["U"]))) <= 1.0


def test_leaky_step_mixes_old_state_and_tanh_update():
    reservoir = beyond.reservoir_init(jax.random.key(6), 2, 5)
    h, x = jax.random.normal(jax.random.key(7), (5,)), jnp.array([0.5, -1.0])
    U, W = np.asarray(reservoir["U"], np.float64), np.asarray(reservoir["W"], np.float64)
    expected = 0.7 * np.asarray(h) + 0.3 * np.tanh(U @ np.asarray(x) + W @ np.asarray(h))
    np.testing.assert_allclose(beyond.leaky_step(reservoir, h, x, leak=0.3), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(beyond.leaky_step(reservoir, h, x, leak=0.0), h)
    linear = 0.7 * np.asarray(h) + 0.3 * (U @ np.asarray(x) + W @ np.asarray(h))
    np.testing.assert_allclose(beyond.leaky_step(reservoir, h, x, nonlinearity=lambda a: a), linear,
                               rtol=1e-5, atol=1e-6)
