"""Sequence modeling without memory (chapter 1): what convolution can and cannot see.

A convolution looks at a window of ``k`` neighbouring steps and slides the same weights
along the signal. That buys locality and translation equivariance, and costs everything
outside the window and the order of events far apart.
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

    Arguments: ``signal`` ``(T,)``; ``kernel`` ``(k,)`` with ``k ≤ T``.
    Returns: ``(T - k + 1,)``.
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
    """
    signal = _signal(signal)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, received {steps!r}")
    steps = min(steps, signal.shape[0])
    return jnp.concatenate([jnp.zeros(steps, signal.dtype), signal[:signal.shape[0] - steps]])


def receptive_field(num_layers, kernel_size, dilation=1):
    """How many input steps one output of ``num_layers`` stacked convolutions sees:
    ``1 + num_layers · (kernel_size - 1) · dilation``."""
    for name, value in (("num_layers", num_layers), ("kernel_size", kernel_size), ("dilation", dilation)):
        check_positive_int(value, name)
    return 1 + num_layers * (kernel_size - 1) * dilation


def conv_pool_features(signal, kernels):
    """A convolutional detector: each kernel's response, rectified and summed over time.

    Pooling over time makes the features ignore *where* a pattern happened, and so also
    the order of patterns further apart than a kernel.

    Arguments: ``signal`` ``(T,)``; ``kernels`` ``(K, k)``. Returns ``(K,)``.
    """
    kernels = as_array(kernels, "kernels")
    check_inexact(kernels, "kernels")
    check_shape(kernels, ("K", "k"), "kernels")
    return jnp.stack([jnp.sum(jax.nn.relu(conv1d(signal, kernel))) for kernel in kernels])


def last_window_parity(bits, window):
    """The best guess of a sequence's parity from its last ``window`` bits alone: their parity.

    Arguments: ``bits`` ``(n, T)`` integers in {0, 1}; ``window`` int ≥ 1.
    Returns: ``(n,)`` int32 guesses.
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
    """
    for length in lengths:
        check_positive_int(length, "every length")
    check_positive_int(window, "window")
    keys = jax.random.split(as_key(key), len(lengths))
    return _padded_parity_accuracy(keys, jnp.asarray(lengths), window, n, max(lengths))


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _padded_parity_accuracy(keys, lengths, window, n, max_length):
    # Every length at once, in one compiled call: a string of length T is drawn as
    # max_length bits with zeros in front, which changes neither its parity nor that of
    # its last `window` bits.
    def accuracy(length_key, length):
        bits = jax.random.bernoulli(length_key, 0.5, (n, max_length)).astype(jnp.int32)
        bits = bits * (jnp.arange(max_length) >= max_length - length)[None, :]
        truth = jnp.sum(bits, axis=1) % 2
        return jnp.mean(last_window_parity(bits, window) == truth)

    return jax.vmap(accuracy)(keys, lengths)


def fit_to_length(sequence, length, pad_value=0.0):
    """What a fixed-size (feed-forward) input does to a sequence: keep the first ``length``
    steps, or pad with ``pad_value`` up to ``length``.

    Arguments: ``sequence`` ``(T, ...)``. Returns ``(length, ...)`` and the number of steps
    dropped (``max(T - length, 0)``).
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
