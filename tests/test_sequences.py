"""Chapter 1's convolution facts, checked against numpy and jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import data, sequences


def test_conv1d_is_numpy_correlate():
    rng = np.random.default_rng(0)
    signal, kernel = rng.normal(size=20).astype(np.float32), rng.normal(size=4).astype(np.float32)
    np.testing.assert_allclose(sequences.conv1d(signal, kernel), np.correlate(signal, kernel, "valid"), rtol=1e-5)


def test_convolution_is_translation_equivariant_away_from_the_edges():
    rng = np.random.default_rng(1)
    signal, kernel = rng.normal(size=30).astype(np.float32), rng.normal(size=5).astype(np.float32)
    shifted_then_conv = sequences.conv1d(sequences.shift(signal, 3), kernel)
    conv_then_shifted = sequences.shift(sequences.conv1d(signal, kernel), 3)
    np.testing.assert_allclose(shifted_then_conv[3:], conv_then_shifted[3:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_layers, kernel_size", [(1, 3), (2, 3), (3, 5)])
def test_receptive_field_is_where_the_gradient_reaches(num_layers, kernel_size):
    kernel = jnp.ones(kernel_size)

    def last_output(signal):
        for _ in range(num_layers):
            signal = sequences.conv1d(signal, kernel)
        return signal[-1]

    grad = jax.grad(last_output)(jnp.ones(40))
    assert int(jnp.sum(grad != 0)) == sequences.receptive_field(num_layers, kernel_size)


def test_pooled_convolution_cannot_tell_the_order_of_distant_events():
    gunshot, runners = jnp.array([3.0, -3.0]), jnp.array([1.0, 1.0, 1.0])
    first = jnp.zeros(40).at[5:7].set(gunshot).at[25:28].set(runners)
    second = jnp.zeros(40).at[5:8].set(runners).at[25:27].set(gunshot)
    kernels = jax.random.normal(jax.random.key(0), (6, 3))
    np.testing.assert_allclose(sequences.conv_pool_features(first, kernels),
                               sequences.conv_pool_features(second, kernels), rtol=1e-5)


def test_last_window_parity_is_exact_within_the_window_and_chance_beyond():
    accuracies = sequences.windowed_parity_accuracy(0, window=4, lengths=[2, 4, 8, 16], n=4000)
    np.testing.assert_allclose(accuracies[:2], 1.0)
    assert np.all(np.abs(np.asarray(accuracies[2:]) - 0.5) < 0.05)


def test_last_window_parity_of_known_bits():
    bits, labels = data.parity(3, n=50, T=6)
    guesses = sequences.last_window_parity(bits[..., 0].astype(jnp.int32), 6)
    np.testing.assert_array_equal(guesses, labels)


def test_fit_to_length_truncates_or_pads():
    kept, dropped = sequences.fit_to_length(jnp.arange(5.0), 3)
    np.testing.assert_array_equal(kept, [0, 1, 2])
    assert dropped == 2
    padded, dropped = sequences.fit_to_length(jnp.arange(2.0), 4)
    np.testing.assert_array_equal(padded, [0, 1, 0, 0])
    assert dropped == 0


def test_bad_inputs_name_what_was_expected():
    with pytest.raises(ValueError, match="longer than the signal"):
        sequences.conv1d(jnp.ones(3), jnp.ones(5))
    with pytest.raises(ValueError, match="bits must hold integers"):
        sequences.last_window_parity(jnp.ones((2, 3)), 2)
