"""Losses against direct numpy computations; masked losses against unpadded ones."""
import math

import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import losses


def test_sequence_mse_is_mean_over_steps_of_squared_norms():
    y_hat = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    y = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 1.0]])
    expected = np.mean([1 + 4, 1 + 1, 0 + 4])
    np.testing.assert_allclose(losses.sequence_mse(jnp.array(y_hat), jnp.array(y)), expected)


def test_sequence_mse_accepts_one_dimensional_series():
    np.testing.assert_allclose(losses.sequence_mse(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0])), 2.5)


def test_last_step_cross_entropy_reads_only_the_last_step():
    logits = jnp.array([[100.0, -100.0, 0.0], [1.0, 2.0, 3.0]])
    expected = -math.log(math.exp(2.0) / (math.exp(1.0) + math.exp(2.0) + math.exp(3.0)))
    np.testing.assert_allclose(losses.last_step_cross_entropy(logits, jnp.array(1)), expected, rtol=1e-6)


def padded_batch(seed, lengths, d_y=2):
    rng = np.random.default_rng(seed)
    seqs_hat = [rng.normal(size=(n, d_y)).astype(np.float32) for n in lengths]
    seqs = [rng.normal(size=(n, d_y)).astype(np.float32) for n in lengths]
    y_hat, mask = lectlib.data.pad(seqs_hat, value=7.0)
    y, _ = lectlib.data.pad(seqs, value=-3.0)
    return seqs_hat, seqs, y_hat, y, mask


def test_masked_mse_equals_mean_of_unpadded_losses():
    seqs_hat, seqs, y_hat, y, mask = padded_batch(0, [1, 4, 6])
    expected = np.mean([losses.sequence_mse(a, b) for a, b in zip(seqs_hat, seqs)])
    np.testing.assert_allclose(losses.masked_sequence_mse(y_hat, y, mask), expected, rtol=1e-5)
    unmasked = np.mean([losses.sequence_mse(a, b) for a, b in zip(y_hat, y)])
    assert abs(unmasked - expected) > 1.0


def test_masked_cross_entropy_uses_each_sequence_last_real_step():
    rng = np.random.default_rng(1)
    lengths = [2, 5, 3]
    seqs = [rng.normal(size=(n, 4)).astype(np.float32) for n in lengths]
    labels = jnp.array([0, 3, 2])
    logits, mask = lectlib.data.pad(seqs, value=50.0)
    expected = np.mean([losses.last_step_cross_entropy(s, l) for s, l in zip(seqs, labels)])
    np.testing.assert_allclose(losses.masked_last_step_cross_entropy(logits, labels, mask), expected, rtol=1e-5)


def test_lengths_to_mask():
    np.testing.assert_array_equal(losses.lengths_to_mask(jnp.array([1, 3]), 4),
                                  [[1, 0, 0, 0], [1, 1, 1, 0]])


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"y must have shape \(T=3.*received shape \(4, 2\)"):
        losses.sequence_mse(jnp.zeros((3, 2)), jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="integers"):
        losses.last_step_cross_entropy(jnp.zeros((3, 2)), jnp.array(1.0))
    with pytest.raises(ValueError, match="mask must have shape"):
        losses.masked_sequence_mse(jnp.zeros((2, 3, 1)), jnp.zeros((2, 3, 1)), jnp.ones((2, 4)))
