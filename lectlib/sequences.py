"""Sequence modeling without memory (chapter 1): what convolution can and cannot see.

A convolution looks at a window of ``k`` neighbouring steps and slides the same weights
along the signal. That buys locality and translation equivariance; the finite window costs
everything outside it, and pooling over time the order of events far apart. The linear
memory of chapter 3 is itself a causal convolution, with the kernel ``γ^k`` as long as the
sequence (``decay_kernel``, ``causal_convolution``), and the lecture's hand-weighted network
compares two sums of any length with three weights (``hand_weighted_rnn``).
"""
import functools

import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_integer, check_positive_int, check_shape
from lectlib.data import as_key


def _signal(signal, name="signal"):
    signal = as_array(signal, name)
    check_inexact(signal, name)
    check_shape(signal, ("T",), name)
    return signal


def conv1d(signal, kernel):
    """Slides ``kernel`` along ``signal`` (no padding, no flip, as deep-learning libraries do):
    ``out_t = Σ_j kernel_j · signal_{t+j}``.

    Strictly this is a cross-correlation; ``causal_convolution`` is the flipped, causal form.

    Arguments: ``signal`` ``(T,)``; ``kernel`` ``(k,)`` with ``k ≤ T``.
    Returns: ``(T - k + 1,)``.
    Chapter 1; tests/test_sequences.py::test_conv1d_is_numpy_correlate.
    """
    signal = _signal(signal)
    kernel = _signal(kernel, "kernel")
    if kernel.shape[0] > signal.shape[0]:
        raise ValueError(f"kernel (k={kernel.shape[0]}) is longer than the signal (T={signal.shape[0]})")
    k = kernel.shape[0]
    windows = jnp.stack([signal[j:signal.shape[0] - k + 1 + j] for j in range(k)], axis=1)  # (T-k+1, k)
    return windows @ kernel


def shift(signal, steps):
    """Delays ``signal`` by ``steps ≥ 0`` (zeros come in at the start, the end falls off).

    Arguments: ``signal`` ``(T,)``. Returns ``(T,)``.
    Chapter 1; tests/test_sequences.py::test_convolution_is_translation_equivariant_away_from_the_edges.
    """
    signal = _signal(signal)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, received {steps!r}")
    steps = min(steps, signal.shape[0])
    return jnp.concatenate([jnp.zeros(steps, signal.dtype), signal[:signal.shape[0] - steps]])


def receptive_field(num_layers, kernel_size, dilation=1):
    """How many input steps one output of ``num_layers`` stacked convolutions sees:
    ``1 + (kernel_size - 1) · Σ_ℓ dilation_ℓ``, which is ``1 + num_layers · (kernel_size - 1) ·
    dilation`` for one dilation in every layer.

    Arguments: ``num_layers`` int ≥ 1; ``kernel_size`` int ≥ 1; ``dilation`` an int ≥ 1 for
    every layer, or a list of ``num_layers`` ints (e.g. WaveNet's ``[1, 2, 4, …]``).
    Chapter 1; tests/test_sequences.py::test_receptive_field_is_where_the_gradient_reaches.
    """
    for name, value in (("num_layers", num_layers), ("kernel_size", kernel_size)):
        check_positive_int(value, name)
    if isinstance(dilation, int):
        check_positive_int(dilation, "dilation")
        return 1 + num_layers * (kernel_size - 1) * dilation
    dilations = list(dilation)
    if len(dilations) != num_layers:
        raise ValueError(f"dilation must be one int or one per layer ({num_layers}), received {len(dilations)}")
    for value in dilations:
        check_positive_int(value, "every dilation")
    return 1 + (kernel_size - 1) * sum(dilations)


def conv_pool_features(signal, kernels):
    """A convolutional detector: each kernel's response, rectified and summed over time.

    Pooling over time makes the features ignore *where* a pattern happened, and so also
    the order of patterns further apart than a kernel.

    Arguments: ``signal`` ``(T,)``; ``kernels`` ``(K, k)``. Returns ``(K,)``.
    Chapter 1; tests/test_sequences.py::test_pooled_convolution_cannot_tell_the_order_of_distant_events.
    """
    kernels = as_array(kernels, "kernels")
    check_inexact(kernels, "kernels")
    check_shape(kernels, ("K", "k"), "kernels")
    return jnp.stack([jnp.sum(jax.nn.relu(conv1d(signal, kernel))) for kernel in kernels])


def last_window_parity(bits, window):
    """The best guess of a sequence's parity from its last ``window`` bits alone: their parity.

    Arguments: ``bits`` ``(n, T)`` integers in {0, 1}; ``window`` int ≥ 1.
    Returns: ``(n,)`` int32 guesses.
    Chapter 1; tests/test_sequences.py::test_last_window_parity_of_known_bits.
    """
    bits = as_array(bits, "bits")
    check_integer(bits, "bits")
    check_shape(bits, ("n", "T"), "bits")
    check_positive_int(window, "window")
    return (jnp.sum(bits[:, -window:], axis=1) % 2).astype(jnp.int32)


def windowed_parity_accuracy(key, window, lengths, n=2000):
    """Accuracy of ``last_window_parity`` on random bit strings of each length.

    Arguments: ``key`` PRNG key or int seed; ``window`` int; ``lengths`` list of ints; ``n``
    strings per length.
    Returns: ``(len(lengths),)`` accuracies: 1 when ``T ≤ window``, chance (≈ 0.5) beyond.
    Chapter 1; tests/test_sequences.py::test_last_window_parity_is_exact_within_the_window_and_chance_beyond.
    """
    for length in lengths:
        check_positive_int(length, "every length")
    check_positive_int(window, "window")
    keys = jax.random.split(as_key(key), len(lengths))
    return _padded_parity_accuracy(keys, jnp.asarray(lengths), jnp.asarray(window), n, max(lengths))


@functools.partial(jax.jit, static_argnums=(3, 4))
def _padded_parity_accuracy(keys, lengths, window, n, max_length):
    # Every length at once, in one compiled call (and one compilation for every window): a
    # string of length T is drawn as max_length bits with zeros in front, which changes
    # neither its parity nor that of its last `window` bits; the last `window` bits are
    # picked by a mask, so the window is an ordinary (traced) argument.
    in_window = jnp.arange(max_length) >= max_length - window                 # (max_length,)

    def accuracy(length_key, length):
        bits = jax.random.bernoulli(length_key, 0.5, (n, max_length)).astype(jnp.int32)
        bits = bits * (jnp.arange(max_length) >= max_length - length)[None, :]
        truth = jnp.sum(bits, axis=1) % 2
        guess = jnp.sum(bits * in_window[None, :], axis=1) % 2              # last_window_parity
        return jnp.mean(guess == truth)

    return jax.vmap(accuracy)(keys, lengths)


def windowed_sum_accuracy(key, window, lengths, n=4000):
    """How often the last ``window`` steps alone answer sum comparison right: the guess
    "channel 1's total is larger" from the window's totals, on ``n`` random sequences of
    each length (as ``lectlib.data.sum_comparison`` draws them).

    Arguments: ``key`` PRNG key or int seed; ``window`` int ≥ 1; ``lengths`` list of ints
    ≥ ``window``; ``n`` sequences per length.
    Returns: ``(len(lengths),)`` accuracies: well above chance (0.5), and falling as ``T``
    grows past the window.
    Chapter 1 (exercise 1.2); tests/test_sequences.py::test_windowed_sum_accuracy_matches_counting_by_hand.
    """
    check_positive_int(window, "window")
    for length in lengths:
        check_positive_int(length, "every length")
        if length < window:
            raise ValueError(f"every length must be at least the window ({window}), received {length}")
    keys = jax.random.split(as_key(key), len(lengths))
    return _padded_sum_accuracy(keys, jnp.asarray(lengths), window, n, max(lengths))


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _padded_sum_accuracy(keys, lengths, window, n, max_length):
    # Every length in one compiled call: a sequence of length T is drawn as max_length steps
    # with zeros in front, which changes neither total nor the last `window` steps.
    def accuracy(length_key, length):
        xs = jax.random.uniform(length_key, (n, max_length, 2), minval=-1.0, maxval=1.0)
        xs = xs * (jnp.arange(max_length) >= max_length - length)[None, :, None]
        totals, window_totals = jnp.sum(xs, axis=1), jnp.sum(xs[:, -window:], axis=1)
        return jnp.mean((window_totals[:, 0] > window_totals[:, 1]) == (totals[:, 0] > totals[:, 1]))

    return jax.vmap(accuracy)(keys, lengths)


def fit_to_length(sequence, length, pad_value=0.0):
    """What a fixed-size (feed-forward) input does to a sequence: keep the first ``length``
    steps, or pad with ``pad_value`` up to ``length``.

    Arguments: ``sequence`` ``(T, ...)``. Returns ``(length, ...)`` and the number of steps
    dropped (``max(T - length, 0)``).
    Chapter 1; tests/test_sequences.py::test_fit_to_length_truncates_or_pads.
    """
    sequence = as_array(sequence, "sequence")
    if sequence.ndim < 1:
        raise ValueError(f"sequence must have shape (T, ...), received shape {sequence.shape}")
    check_positive_int(length, "length")
    T = sequence.shape[0]
    if T >= length:
        return sequence[:length], T - length
    padding = jnp.full((length - T,) + sequence.shape[1:], pad_value, sequence.dtype)
    return jnp.concatenate([sequence, padding]), 0


def causal_convolution(signal, kernel):
    """The causal convolution ``y_t = Σ_{k=0}^{K-1} kernel_k · signal_{t-k}`` (zeros before the
    start): each output weighs the current input by ``kernel_0``, the one before by
    ``kernel_1``, and so on; nothing from the future.

    This is a true convolution (the kernel is flipped against the signal). What deep-learning
    libraries, and ``conv1d`` above, call a convolution is a cross-correlation (no flip);
    the two differ only by reversing the kernel, and this function is ``conv1d`` of the
    signal padded with ``K - 1`` zeros in front, with the kernel reversed.

    Arguments: ``signal`` ``(T,)``; ``kernel`` ``(K,)``, any ``K ≥ 1``.
    Returns: ``(T,)``.
    Chapter 1; tests/test_sequences.py::test_causal_convolution_is_numpy_convolve_cut_to_length.
    """
    signal = _signal(signal)
    kernel = _signal(kernel, "kernel")
    padded = jnp.concatenate([jnp.zeros(kernel.shape[0] - 1, signal.dtype), signal])
    # conv1d(padded, kernel[::-1]), as one operation (jnp.correlate is also a cross-correlation)
    return jnp.correlate(padded, kernel[::-1], mode="valid")


def decay_kernel(gamma, length):
    """The kernel ``K_k = γ^k``, ``k = 0 … length - 1``, of the linear memory
    ``h_t = γ h_{t-1} + x_t``: unrolled from ``h_0 = 0``, ``h_t = Σ_k γ^k x_{t-k}``, a causal
    convolution of the inputs with this kernel (the recurrence/convolution duality).

    Arguments: ``gamma`` a number, ``0 < γ < 1`` (``γ = 1`` gives the running sum's
    all-ones kernel); ``length`` int ≥ 1 (``T`` to reach back to the first input).
    Returns: ``(length,)``, newest weight (1) first.
    Chapter 1; tests/test_sequences.py::test_the_linear_memory_is_a_causal_convolution_with_kernel_gamma_to_the_k.
    """
    from lectlib.memory import check_forgetting_factor   # memory imports scans; keep this module light

    check_positive_int(length, "length")
    gamma = check_forgetting_factor(gamma)
    if gamma.ndim != 0:
        raise ValueError(f"gamma must be a number here, received shape {gamma.shape}")
    return gamma ** jnp.arange(length, dtype=gamma.dtype)


def hand_weighted_rnn(xs, u=(1.0, -1.0), w=1.0):
    """The lecture's hand-weighted recurrent network for sum comparison: no training, three
    weights, ``h_t = w · h_{t-1} + uᵀ x_t`` from ``h_0 = 0`` (identity activation, no bias).

    With ``u = (1, -1)`` and ``w = 1`` the state is the running difference of the two
    channels' totals, ``h_t = Σ_{i≤t} (x_{i,1} - x_{i,2})``, for a sequence of any length.

    Arguments: ``xs`` ``(T, 2)``; ``u`` two input weights (``w_xh``); ``w`` the recurrent
    weight (``w_hh``).
    Returns: ``(T,)``, every state.
    Chapter 1; tests/test_sequences.py::test_hand_weighted_rnn_is_the_running_difference_of_the_totals.
    """
    from lectlib.scans import linear_recurrence

    xs = as_array(xs, "xs")
    check_inexact(xs, "xs")
    check_shape(xs, ("T", 2), "xs")
    u = jnp.asarray(u, xs.dtype)
    check_shape(u, (2,), "u")
    w = jnp.asarray(w, xs.dtype)
    check_shape(w, (), "w")

    # a linear recurrence h_t = a_t h_{t-1} + b_t with a_t = w and b_t = uᵀx_t (chapter 3's
    # linear memory, with w = 1 the plain running sum)
    inputs = xs @ u                                                      # (T,)
    states = linear_recurrence(jnp.full((xs.shape[0], 1), w, xs.dtype), inputs[:, None])
    return states[:, 0]


def compare_sums(xs):
    """The hand-weighted network's answer to sum comparison: 1 when the first channel's
    total is larger, i.e. when its last state ``h_T > 0``.

    Arguments: ``xs`` ``(T, 2)``. Returns: int32 in {0, 1}.
    Chapter 1; tests/test_sequences.py::test_compare_sums_answers_every_sum_comparison_label.
    """
    return (hand_weighted_rnn(xs)[-1] > 0).astype(jnp.int32)
