"""Chapter 10's models: parallel against sequential, closed forms against their definitions."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import beyond
from lectlib.cells import elman


def test_mingru_is_the_same_by_loop_scan_and_associative_scan():
    params = beyond.mingru_init(jax.random.key(0), 3, 5)
    xs = jax.random.normal(jax.random.key(1), (17, 3))
    h, expected = jnp.zeros(5), []
    for x in xs:
        z = jax.nn.sigmoid(params["W_z"] @ x + params["b_z"])
        h = (1 - z) * h + z * (params["W_h"] @ x + params["b_h"])
        expected.append(h)
    np.testing.assert_allclose(lectlib.run(beyond.mingru_step, params, xs, jnp.zeros(5)), np.stack(expected),
                               rtol=1e-5, atol=1e-6)
    for method in ("loop", "scan", "associative"):
        np.testing.assert_allclose(beyond.mingru(params, xs, method=method), np.stack(expected), rtol=1e-5, atol=1e-6)


def test_bidirectional_backward_half_reads_the_future():
    params_f, params_b = elman.init(jax.random.key(2), 1, 3), elman.init(jax.random.key(3), 1, 3)
    xs = jax.random.normal(jax.random.key(4), (6, 1))
    both = beyond.bidirectional(elman.step, params_f, params_b, xs, jnp.zeros(3))
    np.testing.assert_allclose(both[:, :3], lectlib.run(elman.step, params_f, xs, jnp.zeros(3)), rtol=1e-6)
    np.testing.assert_allclose(both[:, 3:], lectlib.run(elman.step, params_b, xs[::-1], jnp.zeros(3))[::-1], rtol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(beyond.bidirectional(elman.step, params_f, params_b, x, jnp.zeros(3))[2]))(xs)
    assert float(jnp.abs(grad[3:]).sum()) > 0      # step 3's output depends on later inputs


def test_generate_feeds_each_output_back():
    step = lambda p, h, x: h + x          # noqa: E731
    read = lambda p, h: 0.5 * h           # noqa: E731
    out = beyond.generate(step, read, None, jnp.array([2.0]), jnp.array([0.0]), 3)
    # h: 2 -> 2 (x=0) -> out 1 -> h 3 -> out 1.5 -> h 4.5 -> out 2.25
    np.testing.assert_allclose(out[:, 0], [1.0, 1.5, 2.25])


def test_encode_decode_starts_the_decoder_from_the_encoder_summary():
    step = lambda p, h, x: h + p * x      # noqa: E731
    read = lambda p, h: h                 # noqa: E731
    out = beyond.encode_decode(step, step, read, {"encoder": 1.0, "decoder": 0.0}, jnp.ones((4, 1)), jnp.zeros(1),
                               jnp.zeros(1), 2)
    np.testing.assert_allclose(out[:, 0], [4.0, 4.0])


def test_ridge_readout_is_regularized_least_squares():
    rng = np.random.default_rng(0)
    states, targets = rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    V = beyond.ridge_readout(jnp.asarray(states), jnp.asarray(targets), regularization=0.0)
    H = np.concatenate([np.ones((50, 1)), states], axis=1)
    expected = np.linalg.lstsq(H, targets, rcond=None)[0].T
    np.testing.assert_allclose(V, expected, rtol=1e-3, atol=1e-4)


def test_reservoir_has_the_requested_spectral_radius():
    reservoir = beyond.reservoir_init(jax.random.key(5), 1, 20, spectral_radius=0.8)
    assert float(jnp.max(jnp.abs(jnp.linalg.eigvals(reservoir["W"])))) == pytest.approx(0.8, rel=1e-4)


def test_hopfield_recalls_a_stored_pattern_from_a_corrupted_one():
    patterns = jnp.where(jax.random.bernoulli(jax.random.key(6), 0.5, (3, 64)), 1.0, -1.0)
    W = beyond.hopfield_store(patterns)
    assert float(jnp.abs(jnp.diag(W)).max()) == 0.0
    corrupted = patterns[0].at[:8].multiply(-1.0)
    history = beyond.hopfield_recall(W, corrupted, 5)
    np.testing.assert_array_equal(history[-1], patterns[0])
    np.testing.assert_array_equal(history[0], corrupted)
