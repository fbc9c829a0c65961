"""Synthetic sequence tasks, generated from a PRNG key (or an int seed), never downloaded.

Every generator takes ``key`` first and the batch size ``n``; the same key gives the
same data on every machine. Inputs are float32 ``(n, T, d_x)``.
"""
import jax
import jax.numpy as jnp
import numpy as np

from lectlib._checks import check_positive_int


def as_key(key):
    """Accepts a JAX PRNG key or an int seed; returns a key. Every task generator of
    chapters 1-10 starts with it; tests/test_data.py::test_same_key_same_data_and_int_seeds_work."""
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    return key


def _check_positive(**sizes):
    for name, size in sizes.items():
        check_positive_int(size, name)


def clock(key, n, T, tick_prob=0.3, tick_length=0.1):
    """The clock: ticks in, time out. Each step a tick arrives with probability ``tick_prob``;
    the target at every step is the time so far, ``tick_length`` × the number of ticks.

    Returns: ``xs`` ``(n, T, 1)`` in {0, 1}; ``ys`` ``(n, T, 1)``.
    Chapters 6 and 8; tests/test_data.py::test_clock_target_is_time_so_far.
    """
    _check_positive(n=n, T=T)
    ticks = jax.random.bernoulli(as_key(key), tick_prob, (n, T, 1)).astype(jnp.float32)
    return ticks, tick_length * jnp.cumsum(ticks, axis=1)


def parity(key, n, T, per_step=False):
    """Parity of a bit string: is the number of ones odd?

    Returns: ``xs`` ``(n, T, 1)`` in {0, 1}; ``labels`` ``(n,)`` int32 in {0, 1}, or with
    ``per_step=True`` the running parity ``(n, T)``.
    Chapters 1, 6 and 8; tests/test_data.py::test_parity_labels.
    """
    _check_positive(n=n, T=T)
    bits = jax.random.bernoulli(as_key(key), 0.5, (n, T, 1)).astype(jnp.int32)
    running = jnp.cumsum(bits[..., 0], axis=1) % 2
    labels = running if per_step else running[:, -1]
    return bits.astype(jnp.float32), labels


def adding(key, n, T):
    """The adding problem (Hochreiter & Schmidhuber, 1997): channel 0 holds numbers in
    [0, 1], channel 1 marks two positions, one in each half; the target is the sum of
    the two marked numbers. ``T >= 2``.

    Returns: ``xs`` ``(n, T, 2)``; ``ys`` ``(n,)``.
    Chapters 8 and 9; tests/test_data.py::test_adding_marks_one_position_in_each_half.
    """
    _check_positive(n=n, T=T)
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2 to mark two positions, received T={T}")
    k_values, k_first, k_second = jax.random.split(as_key(key), 3)
    values = jax.random.uniform(k_values, (n, T))
    half = T // 2
    first = jax.random.randint(k_first, (n,), 0, half)
    second = jax.random.randint(k_second, (n,), half, T)
    steps = jnp.arange(T)[None, :]
    markers = ((steps == first[:, None]) | (steps == second[:, None])).astype(jnp.float32)
    return jnp.stack([values, markers], axis=-1), jnp.sum(values * markers, axis=1)


BLANK, GO = 0, 1


def copy(key, n, length, delay, num_symbols=8):
    """The copy (recall) task: read ``length`` symbols, wait ``delay`` blanks, then on the
    go token write the symbols back.

    Tokens: 0 is blank, 1 is go, ``2 … num_symbols + 1`` are symbols. The sequence has
    ``T = 2 * length + delay`` steps: symbols, then blanks with go on the last of them,
    then ``length`` blanks during which the target is the symbols.

    Returns: ``tokens`` ``(n, T)`` int32; ``targets`` ``(n, T)`` int32 (blank except the
    last ``length`` steps). ``jax.nn.one_hot(tokens, num_symbols + 2)`` gives inputs.
    A long-range recall task for the exercises of chapters 7-9 (no page trains on it yet);
    tests/test_data.py::test_copy_targets_repeat_the_symbols_after_go.
    """
    _check_positive(n=n, length=length, delay=delay, num_symbols=num_symbols)
    symbols = jax.random.randint(as_key(key), (n, length), 2, num_symbols + 2)
    blanks = jnp.full((n, delay), BLANK, jnp.int32)
    tokens = jnp.concatenate([symbols, blanks.at[:, -1].set(GO), jnp.full((n, length), BLANK, jnp.int32)], axis=1)
    targets = jnp.concatenate([jnp.full((n, length + delay), BLANK, jnp.int32), symbols], axis=1)
    return tokens, targets


def noisy_sine(key, n, T, noise=0.1, dt=0.1):
    """Forecasting a noisy sine of random frequency (0.5–2 rad per unit time) and phase.

    Returns: ``xs`` ``(n, T, 1)`` the series at ``t``; ``ys`` ``(n, T, 1)`` the noiseless
    value at ``t + 1``, the next step to forecast.
    Chapters 1 and 10; tests/test_data.py::test_forecasting_targets_are_the_next_value.
    """
    _check_positive(n=n, T=T)
    k_freq, k_phase, k_noise = jax.random.split(as_key(key), 3)
    freq = jax.random.uniform(k_freq, (n, 1), minval=0.5, maxval=2.0)
    phase = jax.random.uniform(k_phase, (n, 1), maxval=2 * jnp.pi)
    times = dt * jnp.arange(T + 1)[None, :]
    clean = jnp.sin(freq * times + phase)
    series = clean[:, :T] + noise * jax.random.normal(k_noise, (n, T))
    return series[..., None], clean[:, 1:, None]


def random_walk(key, n, T, step_size=0.1, drift=0.0):
    """Forecasting a Gaussian random walk: the best forecast is the last value (+ drift).

    Returns: ``xs`` ``(n, T, 1)`` the walk at ``t``; ``ys`` ``(n, T, 1)`` the walk at ``t + 1``.
    Chapter 1 (named among the forecasting tasks); tests/test_data.py::test_forecasting_targets_are_the_next_value.
    """
    _check_positive(n=n, T=T)
    steps = drift + step_size * jax.random.normal(as_key(key), (n, T + 1))
    walk = jnp.cumsum(steps, axis=1)
    return walk[:, :T, None], walk[:, 1:, None]


def sum_comparison(key, n, T):
    """Sum comparison: two channels of numbers in [-1, 1]; the label says whether the
    first channel's total is larger than the second's.

    Returns: ``xs`` ``(n, T, 2)``; ``labels`` ``(n,)`` int32 in {0, 1}.
    Chapter 1; tests/test_data.py::test_sum_comparison_labels.
    """
    _check_positive(n=n, T=T)
    xs = jax.random.uniform(as_key(key), (n, T, 2), minval=-1.0, maxval=1.0)
    totals = jnp.sum(xs, axis=1)
    return xs, (totals[:, 0] > totals[:, 1]).astype(jnp.int32)


def random_lengths(key, n, min_length, max_length):
    """``(n,)`` int32 lengths drawn uniformly from ``[min_length, max_length]``.
    Chapter 6; tests/test_data.py::test_pad_and_lengths."""
    _check_positive(n=n, min_length=min_length, max_length=max_length)
    if min_length > max_length:
        raise ValueError(f"min_length {min_length} is larger than max_length {max_length}")
    return jax.random.randint(as_key(key), (n,), min_length, max_length + 1)


def pad(sequences, length=None, value=0.0):
    """Stacks sequences of different lengths into a padded batch.

    Arguments: ``sequences``: a list of ``(T_i, ...)`` arrays with the same trailing shape;
    ``length``: the padded length (default: the longest).

    Returns: ``batch`` ``(n, T, ...)`` and ``mask`` ``(n, T)`` float32, 1 on real steps.
    Chapter 6; tests/test_data.py::test_pad_and_lengths.
    """
    if not sequences:
        raise ValueError("pad needs at least one sequence")
    arrays = [np.asarray(s) for s in sequences]
    trailing = {a.shape[1:] for a in arrays}
    if len(trailing) != 1 or any(a.ndim == 0 for a in arrays):
        raise ValueError(f"every sequence needs a time axis and the same trailing shape, received "
                         f"{[a.shape for a in arrays]}")
    longest = max(a.shape[0] for a in arrays)
    length = longest if length is None else length
    if length < longest:
        raise ValueError(f"length={length} is shorter than the longest sequence ({longest} steps)")
    batch = np.full((len(arrays), length) + arrays[0].shape[1:], value, dtype=np.result_type(*arrays))
    mask = np.zeros((len(arrays), length), np.float32)
    for i, a in enumerate(arrays):
        batch[i, : a.shape[0]] = a
        mask[i, : a.shape[0]] = 1.0
    return jnp.asarray(batch), jnp.asarray(mask)


def decaying_sum(key, n, T, gamma=0.8, scale=1.0):
    """A memory to learn: noise in, its forgetting sum out, ``y_t = scale · Σ_{i≤t} γ^{t-i} x_i``.

    A linear memory with ``γ = gamma`` and ``θ = [0, scale]`` fits it exactly, so learning
    can be checked against the ``gamma`` that made the data.

    Returns: ``xs`` ``(n, T, 1)`` standard normal; ``ys`` ``(n, T, 1)``.
    Chapter 3; tests/test_data.py::test_decaying_sum_is_the_forgetting_sum_of_its_inputs.
    """
    _check_positive(n=n, T=T)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], received {gamma}")
    xs = jax.random.normal(as_key(key), (n, T, 1))

    def step(h, x):
        h = gamma * h + scale * x
        return h, h

    _, ys = jax.lax.scan(step, jnp.zeros((n, 1)), jnp.swapaxes(xs, 0, 1))
    return xs, jnp.swapaxes(ys, 0, 1)


def ice_cream(key, n, T, num_flavors=3, query_prob=0.3):
    """Your ice creams, the lecture's example in chapter 5: at each step you either eat an
    ice cream of one flavour or are asked how many of one flavour you have eaten so far.

    Returns: ``xs`` ``(n, T, 2 * num_flavors)``: a one-hot flavour eaten in the first half
    or a one-hot question in the second; ``ys`` ``(n, T)``: the count of the asked flavour
    at question steps, 0 elsewhere; ``mask`` ``(n, T)``: 1 at question steps.
    Chapter 5; tests/test_readout.py::test_ice_cream_counts_only_purchases_before_the_question.
    """
    _check_positive(n=n, T=T, num_flavors=num_flavors)
    k_kind, k_flavor = jax.random.split(as_key(key))
    is_query = jax.random.bernoulli(k_kind, query_prob, (n, T))
    flavor = jax.random.randint(k_flavor, (n, T), 0, num_flavors)
    one_hot = jax.nn.one_hot(flavor, num_flavors)
    purchases = one_hot * (~is_query)[..., None]
    questions = one_hot * is_query[..., None]
    counts = jnp.cumsum(purchases, axis=1)                       # (n, T, C) sold so far
    answers = jnp.sum(counts * questions, axis=-1)
    return jnp.concatenate([purchases, questions], axis=-1), answers, is_query.astype(jnp.float32)


def moving_blob(key, n, T, width=12, noise=0.1):
    """A tiny "video" to classify: a bright blob moves one pixel per frame, left or right
    (wrapping around); no single frame tells the direction.

    Returns: ``frames`` ``(n, T, width)``; ``labels`` ``(n,)`` int32, 1 when moving right.
    Chapter 6; tests/test_readout.py::test_moving_blob_moves_one_pixel_per_frame_in_the_labelled_direction.
    """
    _check_positive(n=n, T=T, width=width)
    k_start, k_direction, k_noise = jax.random.split(as_key(key), 3)
    start = jax.random.randint(k_start, (n, 1), 0, width)
    labels = jax.random.bernoulli(k_direction, 0.5, (n,)).astype(jnp.int32)
    step = 2 * labels[:, None] - 1
    position = (start + step * jnp.arange(T)[None, :]) % width          # (n, T)
    frames = jax.nn.one_hot(position, width) + noise * jax.random.normal(k_noise, (n, T, width))
    return frames, labels


def selective_copying(key, n, T, num_tokens, num_symbols=4):
    """Selective copying (Gu and Dao 2023, the Mamba paper): ``num_tokens`` symbols stand at
    random positions among ``T`` steps of blanks; then ``num_tokens`` go tokens ask for the
    symbols, in their order. Which steps to keep depends on what they hold, not on where
    they are, so a fixed (time-invariant) filter cannot pick them out.

    Tokens as in :func:`copy`: 0 blank, 1 go, ``2 … num_symbols + 1`` symbols. The sequence
    has ``T + num_tokens`` steps.

    Returns: ``tokens`` ``(n, T + num_tokens)`` int32; ``targets`` ``(n, T + num_tokens)``
    int32, blank except at the go steps, where they are the symbols in order (so
    ``targets != BLANK`` marks the answer steps).
    Chapter 12; tests/test_ssm.py::test_selective_copying_asks_for_the_symbols_in_order.
    """
    _check_positive(n=n, T=T, num_tokens=num_tokens, num_symbols=num_symbols)
    if num_tokens > T:
        raise ValueError(f"selective copying places num_tokens={num_tokens} symbols in T={T} steps: "
                         f"num_tokens must be <= T")
    k_positions, k_symbols = jax.random.split(as_key(key))
    # the num_tokens smallest of T random numbers mark distinct random positions
    ranks = jnp.argsort(jax.random.uniform(k_positions, (n, T)), axis=1)
    positions = jnp.sort(ranks[:, :num_tokens], axis=1)                  # (n, num_tokens), increasing
    symbols = jax.random.randint(k_symbols, (n, num_tokens), 2, num_symbols + 2)
    rows = jnp.arange(n)[:, None]
    body = jnp.full((n, T), BLANK, jnp.int32).at[rows, positions].set(symbols)
    tokens = jnp.concatenate([body, jnp.full((n, num_tokens), GO, jnp.int32)], axis=1)
    targets = jnp.concatenate([jnp.full((n, T), BLANK, jnp.int32), symbols], axis=1)
    return tokens, targets
