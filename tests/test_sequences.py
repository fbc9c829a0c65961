"""Chapter 1's convolution facts, checked against numpy and jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import data, memory, sequences


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


@pytest.mark.parametrize("dilations", [[2, 2, 2], [1, 2, 4, 8], [3]])
def test_dilated_receptive_field_is_where_the_gradient_reaches(dilations):
    kernel_size = 3

    def dilated(kernel, dilation):
        """A dilated kernel is an ordinary one with dilation - 1 zeros between its taps."""
        spread = jnp.zeros((kernel.shape[0] - 1) * dilation + 1)
        return spread.at[::dilation].set(kernel)

    def last_output(signal):
        for dilation in dilations:
            signal = sequences.conv1d(signal, dilated(jnp.ones(kernel_size), dilation))
        return signal[-1]

    grad = jax.grad(last_output)(jnp.ones(80))
    reach = int(jnp.max(jnp.nonzero(grad)[0]) - jnp.min(jnp.nonzero(grad)[0]) + 1)
    assert reach == sequences.receptive_field(len(dilations), kernel_size, dilations)
    if len(set(dilations)) == 1:
        assert reach == sequences.receptive_field(len(dilations), kernel_size, dilations[0])


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


def test_causal_convolution_is_numpy_convolve_cut_to_length():
    rng = np.random.default_rng(2)
    signal, kernel = rng.normal(size=25).astype(np.float32), rng.normal(size=4).astype(np.float32)
    expected = np.convolve(signal, kernel)[:25]            # a true convolution (kernel flipped), causal part
    np.testing.assert_allclose(sequences.causal_convolution(signal, kernel), expected, rtol=1e-5, atol=1e-6)
    # a kernel longer than the signal reaches back to the first input
    long_kernel = rng.normal(size=40).astype(np.float32)
    np.testing.assert_allclose(sequences.causal_convolution(signal, long_kernel),
                               np.convolve(signal, long_kernel)[:25], rtol=1e-4, atol=1e-5)


def test_causal_convolution_is_the_cross_correlation_with_the_kernel_reversed():
    rng = np.random.default_rng(3)
    signal, kernel = rng.normal(size=12).astype(np.float32), rng.normal(size=3).astype(np.float32)
    padded = np.concatenate([np.zeros(2, np.float32), signal])
    np.testing.assert_allclose(sequences.causal_convolution(signal, kernel),
                               np.correlate(padded, kernel[::-1], "valid"), rtol=1e-5, atol=1e-6)
    # and not the cross-correlation with the kernel as given (the two differ for an asymmetric kernel)
    assert not np.allclose(sequences.causal_convolution(signal, kernel), np.correlate(padded, kernel, "valid"))


@pytest.mark.parametrize("gamma", [0.3, 0.8, 0.99, 1.0])
def test_the_linear_memory_is_a_causal_convolution_with_kernel_gamma_to_the_k(gamma):
    signal = np.random.default_rng(4).normal(size=30).astype(np.float32)
    by_recurrence = memory.running_sum(signal[:, None], gamma)[:, 0]
    by_convolution = sequences.causal_convolution(signal, sequences.decay_kernel(gamma, 30))
    np.testing.assert_allclose(by_convolution, by_recurrence, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sequences.decay_kernel(gamma, 4), gamma ** np.arange(4), rtol=1e-6)


def test_hand_weighted_rnn_is_the_running_difference_of_the_totals():
    xs = np.random.default_rng(5).uniform(-1, 1, size=(50, 2)).astype(np.float32)
    np.testing.assert_allclose(sequences.hand_weighted_rnn(xs), np.cumsum(xs[:, 0] - xs[:, 1]), rtol=1e-4, atol=1e-5)
    # other weights: h_t = w h_{t-1} + u^T x_t, against a plain loop
    h, expected = 0.0, []
    for x in xs:
        h = 0.5 * h + 2.0 * x[0] + 3.0 * x[1]
        expected.append(h)
    np.testing.assert_allclose(sequences.hand_weighted_rnn(xs, u=(2.0, 3.0), w=0.5), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("T", [1, 7, 300])
def test_compare_sums_answers_every_sum_comparison_label(T):
    xs, labels = data.sum_comparison(jax.random.key(T), n=300, T=T)
    margins = np.abs(np.asarray(xs, np.float64)[:, :, 0].sum(1) - np.asarray(xs, np.float64)[:, :, 1].sum(1))
    clear = margins > 1e-4                                  # float32 rounding may decide exact near-ties
    answers = np.asarray(jax.vmap(sequences.compare_sums)(xs))
    np.testing.assert_array_equal(answers[clear], np.asarray(labels)[clear])
    assert clear.mean() > 0.95


def test_bad_inputs_of_the_duality_and_the_hand_weighted_rnn():
    with pytest.raises(ValueError, match="0 < gamma < 1"):
        sequences.decay_kernel(1.5, 4)
    with pytest.raises(ValueError, match="one per layer"):
        sequences.receptive_field(3, 5, [1, 2])
    with pytest.raises(ValueError, match="xs must have shape"):
        sequences.hand_weighted_rnn(jnp.ones((4, 3)))


@pytest.mark.parametrize("window", [1, 3, 8])
def test_windowed_parity_accuracy_drops_to_chance_one_step_past_the_window(window):
    # guards the window's edge: a mask one bit too wide or too narrow fails here
    at_edge, past_edge = np.asarray(sequences.windowed_parity_accuracy(1, window, [window, window + 1], n=4000))
    assert at_edge == 1.0 and abs(past_edge - 0.5) < 0.04, (at_edge, past_edge)


def test_windowed_sum_accuracy_matches_counting_by_hand():
    # by hand, in numpy, on sum_comparison's own data: the window's verdict against the label
    def by_hand(T, window, seed):
        xs, labels = data.sum_comparison(seed, n=3000, T=T)
        window_totals = np.asarray(xs)[:, -window:].sum(axis=1)
        return np.mean((window_totals[:, 0] > window_totals[:, 1]) == np.asarray(labels))

    ours = np.asarray(sequences.windowed_sum_accuracy(0, 8, [8, 40, 160], n=3000))
    assert ours[0] == 1.0                                   # the window is the whole sequence
    for got, T in zip(ours[1:], (40, 160)):
        assert abs(got - by_hand(T, 8, T)) < 0.035, (T, got, by_hand(T, 8, T))
    assert ours[1] > ours[2] > 0.5
    with pytest.raises(ValueError, match="at least the window"):
        sequences.windowed_sum_accuracy(0, 8, [4])
