"""Language modeling on real text (chapter 11): characters as integers, n-gram baselines,
perplexity and bits per character, batches for truncated BPTT, a character model built
from a ``lectlib.cells`` cell, its training loop, and generation with a temperature.

The text ships with Python itself (``pydoc_data.topics``, the standard library's help
topics), so nothing is downloaded. Shapes: ``T`` characters, ``B`` sequences in a batch,
``k`` steps per chunk of truncated BPTT, ``K = |𝒱|`` characters in the vocabulary ``𝒱``, ``d_e`` the
embedding size, ``d_h`` the state size.

The model (the course's notation, column vectors)::

    E e(x_t)                         the embedding of character x_t: column x_t of E (d_e, K), i.e. E times a one-hot
    h_t = cell(h_{t-1}, E e(x_t))    a lectlib.cells step (U multiplies the embedding, W the previous state)
    o_t = c + V h_t                  logits of the next character, (K,)
    p(x_{t+1} | x_1 … x_t) = softmax(o_t)
"""
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lectlib._checks import as_array, check_inexact, check_integer, check_positive_int, check_shapes

# ---------------------------------------------------------------- the text


def load_text():
    """The standard library's help topics (``pydoc_data.topics``, about 465 000 characters),
    in the sorted order of their names, separated by a blank line. Ships with Python, so
    the same on every machine with the same Python version.

    Chapter 11; tests/test_language.py::test_load_text_is_the_help_topics_in_sorted_order.
    """
    from pydoc_data import topics

    return "\n\n".join(topics.topics[name] for name in sorted(topics.topics))


def split_text(text, fractions=(0.9, 0.05, 0.05)):
    """Cuts ``text`` into three contiguous parts, in order: training, validation, test.

    Arguments: ``text`` a str; ``fractions`` three positive numbers summing to 1.
    Returns: ``(train, validation, test)`` strs whose concatenation is ``text``.

    Chapter 11; tests/test_language.py::test_split_text_is_contiguous_and_deterministic.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, received {type(text).__name__}")
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, received {fractions!r}")
    first = int(round(fractions[0] * len(text)))
    second = first + int(round(fractions[1] * len(text)))
    if not 0 < first < second < len(text):
        raise ValueError(f"a text of {len(text)} characters is too short to split by {fractions!r}")
    return text[:first], text[first:second], text[second:]


def vocabulary(text):
    """The sorted tuple of the distinct characters of ``text``; a character's integer is its
    position here. Chapter 11; tests/test_language.py::test_encode_decode_round_trip."""
    if not isinstance(text, str) or not text:
        raise ValueError("vocabulary needs a non-empty str")
    return tuple(sorted(set(text)))


def encode(text, chars):
    """Characters to integers: ``(len(text),)`` int32, ``chars.index(ch)`` for each ``ch``.

    Chapter 11; tests/test_language.py::test_encode_decode_round_trip.
    """
    index = {ch: i for i, ch in enumerate(chars)}
    unknown = sorted(set(text) - set(index))
    if unknown:
        raise ValueError(f"characters {unknown[:10]!r} are not in the vocabulary of {len(chars)} characters")
    return np.fromiter((index[ch] for ch in text), dtype=np.int32, count=len(text))


def decode(ids, chars):
    """Integers back to a str. ``ids``: ``(T,)`` ints in ``[0, len(chars))``.
    Chapter 11; tests/test_language.py (the round trip with ``encode``)."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-d array of integers, received shape {ids.shape}, dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(chars)):
        raise ValueError(f"ids must lie in [0, {len(chars)}), received values from {ids.min()} to {ids.max()}")
    return "".join(chars[i] for i in ids)


def embed(E, ids):
    """``E e(x_t)``: column ``x_t`` of the embedding matrix, the same as ``E`` times a
    one-hot vector, without building the one-hot.

    Arguments: ``E`` ``(d_e, K)``; ``ids`` integer array of any shape ``S``.
    Returns: ``S + (d_e,)``.

    Chapter 11; tests/test_language.py::test_embedding_is_the_matrix_times_a_one_hot.
    """
    return jnp.take(E.T, ids, axis=0)


# ---------------------------------------------------------------- the measure


def nll_from_logits(logits, targets):
    """The cross-entropy of every character, ``−log softmax(o_t)[x_{t+1}]``, in nats.

    Arguments: ``logits`` ``(..., K)``; ``targets`` integers of shape ``(...)``.
    Returns: ``(...)``.

    Chapter 11; tests/test_language.py::test_nll_perplexity_and_bits_against_a_loop.
    """
    logits = as_array(logits, "logits")
    check_inexact(logits, "logits")
    targets = as_array(targets, "targets")
    check_integer(targets, "targets")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits must have shape targets.shape + (K,), received {tuple(logits.shape)} "
                         f"and targets {tuple(targets.shape)}")
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), targets[..., None], axis=-1)[..., 0]


def perplexity(mean_nll):
    """``exp(mean NLL)``: the number of equally likely characters the model is as unsure as.

    Chapter 11; tests/test_language.py::test_nll_perplexity_and_bits_against_a_loop.
    """
    return float(math.exp(float(mean_nll)))


def bits_per_character(mean_nll):
    """``mean NLL / ln 2``: the mean NLL in bits, the length of the code the model would give
    each character (Shannon). Chapter 11; tests/test_language.py::test_nll_perplexity_and_bits_against_a_loop.
    """
    return float(mean_nll) / math.log(2.0)


# ---------------------------------------------------------------- n-gram baselines


class NgramCounts(NamedTuple):
    """Counts of an order-``n`` model: every ``(context, next)`` pair seen and every context,
    as sorted integer keys (a context of ``n − 1`` characters written in base ``K``) with
    their counts. ``start`` pads the text on the left so the first characters have a context."""
    n: int
    vocab_size: int
    start: int
    pair_keys: np.ndarray
    pair_counts: np.ndarray
    context_keys: np.ndarray
    context_counts: np.ndarray


def _ngram_keys(ids, n, vocab_size, start):
    padded = np.concatenate([np.full(n - 1, start, np.int64), np.asarray(ids, np.int64)])
    keys = np.zeros(len(ids), np.int64)
    for j in range(n):
        keys = keys * vocab_size + padded[j:j + len(ids)]
    return keys


def _check_ids(ids, vocab_size, name="ids"):
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty 1-d array of integers, received shape {ids.shape}, "
                         f"dtype {ids.dtype}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{name} must lie in [0, {vocab_size}), received values from {ids.min()} to {ids.max()}")
    return ids


def ngram_counts(ids, n, vocab_size, start=0):
    """Counts every character with the ``n − 1`` characters before it (the text padded on the
    left with ``n − 1`` copies of ``start``). ``n = 1`` is the unigram model.

    Arguments: ``ids`` ``(T,)`` ints in ``[0, vocab_size)``; ``n`` the order.
    Returns: an ``NgramCounts``.

    Chapter 11; tests/test_language.py::test_ngram_probabilities_are_counts_by_hand.
    """
    check_positive_int(n, "n (the order of the n-gram model)")
    check_positive_int(vocab_size, "vocab_size")
    if vocab_size ** n >= 2 ** 62:
        raise ValueError(f"an order-{n} model over {vocab_size} characters has too many keys for int64")
    ids = _check_ids(ids, vocab_size)
    keys = _ngram_keys(ids, n, vocab_size, start)
    pair_keys, pair_counts = np.unique(keys, return_counts=True)
    context_keys, context_counts = np.unique(keys // vocab_size, return_counts=True)
    return NgramCounts(n, vocab_size, start, pair_keys, pair_counts, context_keys, context_counts)


def _lookup(keys, counts, queries):
    position = np.clip(np.searchsorted(keys, queries), 0, len(keys) - 1)
    return np.where(keys[position] == queries, counts[position], 0)


def ngram_probabilities(counts, ids, smoothing=1.0):
    """``p(x_t | x_{t−n+1} … x_{t−1}) = (N(context, x_t) + k) / (N(context) + k K)`` for every
    character of ``ids``, with add-``k`` (Laplace) smoothing so an unseen pair keeps a little
    probability. The context of the first characters is padded with ``counts.start``.

    Arguments: ``counts`` from ``ngram_counts``; ``ids`` ``(T,)``; ``smoothing`` ``k > 0``.
    Returns: ``(T,)`` float64 probabilities.

    Chapter 11; tests/test_language.py::test_ngram_probabilities_are_counts_by_hand.
    """
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive (an unseen character would get probability 0), "
                         f"received {smoothing!r}")
    ids = _check_ids(ids, counts.vocab_size)
    keys = _ngram_keys(ids, counts.n, counts.vocab_size, counts.start)
    pairs = _lookup(counts.pair_keys, counts.pair_counts, keys)
    contexts = _lookup(counts.context_keys, counts.context_counts, keys // counts.vocab_size)
    return (pairs + smoothing) / (contexts + smoothing * counts.vocab_size)


def ngram_context_counts(counts, ids):
    """``N(x_{t−n+1} … x_{t−1})``: how often the context of every character of ``ids`` occurs in
    the training text (0: never seen, and the smoothed model falls back to ``1/K``).

    Arguments: ``counts`` from ``ngram_counts``; ``ids`` ``(T,)``. Returns ``(T,)`` int64.

    Chapter 11; tests/test_language.py::test_ngram_probabilities_are_counts_by_hand.
    """
    ids = _check_ids(ids, counts.vocab_size)
    keys = _ngram_keys(ids, counts.n, counts.vocab_size, counts.start)
    return _lookup(counts.context_keys, counts.context_counts, keys // counts.vocab_size)


def ngram_distribution(counts, context, smoothing=1.0):
    """The whole next-character distribution ``(K,)`` after ``context`` (its last ``n − 1``
    characters count; shorter contexts are padded with ``counts.start``). Sums to 1.

    Chapter 11; tests/test_language.py::test_ngram_distribution_sums_to_one_and_agrees.
    """
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive, received {smoothing!r}")
    context = [int(c) for c in context][len(context) - (counts.n - 1):] if counts.n > 1 else []
    context = [counts.start] * (counts.n - 1 - len(context)) + context
    context_key = 0
    for c in context:
        context_key = context_key * counts.vocab_size + c
    queries = context_key * counts.vocab_size + np.arange(counts.vocab_size, dtype=np.int64)
    pairs = _lookup(counts.pair_keys, counts.pair_counts, queries)
    total = _lookup(counts.context_keys, counts.context_counts, np.array([context_key]))[0]
    return (pairs + smoothing) / (total + smoothing * counts.vocab_size)


def ngram_nll(counts, ids, smoothing=1.0):
    """Mean negative log-likelihood (nats per character) of ``ids`` under the smoothed model.

    Chapter 11; tests/test_language.py::test_ngram_probabilities_are_counts_by_hand.
    """
    return float(-np.mean(np.log(ngram_probabilities(counts, ids, smoothing))))


# ---------------------------------------------------------------- batches for truncated BPTT


def sequential_batches(ids, batch_size, num_steps):
    """Sequential partitioning: the text is cut into ``batch_size`` contiguous streams, and
    batch ``i`` holds the ``i``-th chunk of ``num_steps`` characters of every stream, so row
    ``b`` of batch ``i + 1`` continues row ``b`` of batch ``i`` and the state can be carried.

    Arguments: ``ids`` ``(T,)``; ``batch_size`` ``B``; ``num_steps`` ``k``.
    Returns: ``(inputs, targets)``, each ``(num_batches, B, k)`` int32, targets one character ahead.

    Chapter 11; tests/test_language.py::test_sequential_batches_continue_each_other.
    """
    check_positive_int(batch_size, "batch_size")
    check_positive_int(num_steps, "num_steps")
    ids = np.asarray(ids, np.int32)
    stream_length = (len(ids) - 1) // batch_size
    num_batches = stream_length // num_steps
    if num_batches < 1:
        raise ValueError(f"{len(ids)} characters are too few for {batch_size} streams of {num_steps} steps")
    stream_starts = np.arange(batch_size) * stream_length
    offsets = stream_starts[:, None] + np.arange(num_batches * num_steps)[None, :]       # (B, n k)
    inputs, targets = ids[offsets], ids[offsets + 1]
    shape = (batch_size, num_batches, num_steps)
    return inputs.reshape(shape).transpose(1, 0, 2), targets.reshape(shape).transpose(1, 0, 2)


def random_batches(key, ids, batch_size, num_steps):
    """Random partitioning (one epoch): after a random offset in ``[0, k)``, the text is cut
    into non-overlapping subsequences of ``k`` characters, shuffled and grouped by ``B``.
    Neighbouring rows are unrelated, so each batch starts from a zero state.

    Arguments: ``key`` a PRNG key; ``ids`` ``(T,)``; ``batch_size`` ``B``; ``num_steps`` ``k``.
    Returns: ``(inputs, targets)``, each ``(num_batches, B, k)`` int32. Deterministic given ``key``.

    Chapter 11; tests/test_language.py::test_random_batches_are_shuffled_disjoint_subsequences.
    """
    check_positive_int(batch_size, "batch_size")
    check_positive_int(num_steps, "num_steps")
    ids = np.asarray(ids, np.int32)
    k_offset, k_order = jax.random.split(key)
    offset = int(jax.random.randint(k_offset, (), 0, num_steps))
    num_subsequences = (len(ids) - 1 - offset) // num_steps
    num_batches = num_subsequences // batch_size
    if num_batches < 1:
        raise ValueError(f"{len(ids)} characters are too few for a batch of {batch_size} subsequences "
                         f"of {num_steps} steps")
    order = np.asarray(jax.random.permutation(k_order, num_subsequences))[:num_batches * batch_size]
    starts = offset + order * num_steps
    offsets = starts[:, None] + np.arange(num_steps)[None, :]
    shape = (num_batches, batch_size, num_steps)
    return ids[offsets].reshape(shape), ids[offsets + 1].reshape(shape)


# ---------------------------------------------------------------- the character model


def model_init(key, cell, vocab_size, d_e, d_h):
    """A character model around ``cell`` (a ``lectlib.cells`` module such as ``gru``).

    Returns: ``{"E": (d_e, K), "cell": cell.init(key, d_e, d_h), "V": (K, d_h), "c": (K,)}``.

    Chapter 11; tests/test_language.py::test_chunk_loss_is_the_mean_nll_of_a_loop.
    """
    for name, size in (("vocab_size", vocab_size), ("d_e", d_e), ("d_h", d_h)):
        check_positive_int(size, name)
    k_e, k_cell, k_v = jax.random.split(key, 3)
    return {"E": jax.random.normal(k_e, (d_e, vocab_size)),
            "cell": cell.init(k_cell, d_e, d_h),
            "V": jax.random.normal(k_v, (vocab_size, d_h)) / jnp.sqrt(d_h),
            "c": jnp.zeros((vocab_size,))}


def _visible(carry):
    """The state the read-out sees: ``h`` itself, or the ``h`` of an LSTM's ``(h, c)``."""
    return carry[0] if isinstance(carry, tuple) else carry


def zero_state(params, batch_size=None):
    """A zero state ``(d_h,)``, or ``(B, d_h)`` for a batch. The training, evaluation and
    generation functions start from it, so they take cells whose carry is one array
    (``elman``, ``mgu``, ``gru``); the LSTM's ``(h, c)`` would need its own. Chapter 11;
    checked through ``fit``, ``evaluate_nll`` and ``generate`` in tests/test_language.py."""
    d_h = params["V"].shape[1]
    return jnp.zeros((d_h,) if batch_size is None else (batch_size, d_h))


def read_out(params, h):
    """``o_t = c + V h_t``: logits ``(..., K)`` from states ``(..., d_h)``. Chapter 11;
    tests/test_language.py."""
    h = _visible(h)
    return h @ params["V"].T + params["c"].reshape((1,) * (h.ndim - 1) + (-1,))


def chunk_loss(step, params, h, inputs, targets):
    """The mean cross-entropy per character of a batch of chunks, and the states they end in.

    Arguments: ``step`` a cell's ``step(params, h, x)``; ``h`` ``(B, d_h)``; ``inputs``,
    ``targets`` ``(B, k)`` ints (``targets`` one character ahead of ``inputs``).
    Returns: ``(mean NLL, h_last (B, d_h))``.

    Chapter 11; tests/test_language.py::test_chunk_loss_is_the_mean_nll_of_a_loop.
    """
    batched_step = jax.vmap(step, in_axes=(None, 0, 0))

    def body(h, pair):
        x_ids, y_ids = pair
        h = batched_step(params["cell"], h, embed(params["E"], x_ids))
        return h, nll_from_logits(read_out(params, h), y_ids)

    h, nll = jax.lax.scan(body, h, (inputs.T, targets.T))
    return jnp.mean(nll), h


@functools.partial(jax.jit, static_argnames=("step", "num_streams"))
def _stream_nll(step, params, inputs, targets, num_streams):
    h0 = zero_state(params, num_streams)
    return chunk_loss(step, params, h0, inputs, targets)[0]


def evaluate_nll(step, params, ids, start, num_streams=16):
    """Mean NLL (nats per character) of predicting every character of ``ids``, the first
    one after the input ``start``. The text is read as ``num_streams`` contiguous streams in
    parallel (each from a zero state); the few characters left over are not scored.

    Chapter 11; tests/test_language.py::test_evaluate_nll_is_the_mean_over_streams.
    """
    check_positive_int(num_streams, "num_streams")
    ids = np.asarray(ids, np.int32)
    length = len(ids) // num_streams
    if length < 1:
        raise ValueError(f"{len(ids)} characters are too few for {num_streams} streams")
    inputs = np.concatenate([[start], ids[:-1]]).astype(np.int32)
    shape = (num_streams, length)
    return float(_stream_nll(step, params, inputs[:num_streams * length].reshape(shape),
                             ids[:num_streams * length].reshape(shape), num_streams))


def make_train_step(step, optimizer):
    """One jitted update of truncated BPTT: the incoming state is a constant
    (``jax.lax.stop_gradient``), the chunk's loss is differentiated, ``optimizer`` (an optax
    transformation, e.g. clipping then Adam) updates the parameters.

    Returns: ``train_step(params, opt_state, h, inputs, targets) -> (params, opt_state, h_last, loss)``.

    Chapter 11; tests/test_language.py::test_train_step_is_clip_then_adam_on_the_chunk_gradient.
    """
    def train_step(params, opt_state, h, inputs, targets):
        (loss, h_last), grads = jax.value_and_grad(
            lambda p: chunk_loss(step, p, jax.lax.stop_gradient(h), inputs, targets), has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, h_last, loss

    return jax.jit(train_step)


class TrainResult(NamedTuple):
    """What ``fit`` returns: final ``params``; ``losses`` the training loss of every step;
    ``history`` ``[(step, validation NLL), …]``; ``snapshots`` ``{step: params}`` at each evaluation
    (and step 0)."""
    params: Any
    losses: np.ndarray
    history: list
    snapshots: dict


def fit(step, params, train_ids, valid_ids, *, start, steps, batch_size=64, num_steps=32,
        learning_rate=0.01, max_grad_norm=1.0, eval_every=100, eval_streams=16, partition="sequential",
        key=None, report=print):
    """Trains a character model by truncated BPTT with clipping and Adam (cosine-decayed
    learning rate), reporting the validation NLL every ``eval_every`` steps.

    ``partition="sequential"``: batches from ``sequential_batches``, the state carried from
    one batch to the next (and reset at each pass over the text). ``"random"``: batches from
    ``random_batches`` (a new shuffle each pass, drawn from ``key``), every batch from a zero state.

    Returns: a ``TrainResult``.

    Chapter 11; tests/test_language.py::test_fit_learns_a_periodic_text.
    """
    check_positive_int(steps, "steps")
    check_positive_int(eval_every, "eval_every")
    if partition not in ("sequential", "random"):
        raise ValueError(f"partition must be 'sequential' or 'random', received {partition!r}")
    if partition == "random" and key is None:
        raise ValueError("random partitioning needs a PRNG key")
    schedule = optax.cosine_decay_schedule(learning_rate, steps, alpha=0.1)
    optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(schedule))
    train_step = make_train_step(step, optimizer)
    opt_state = optimizer.init(params)
    snapshots = {0: params}
    losses, history, epoch, position = [], [], 0, 0
    batches = None
    for i in range(steps):
        if batches is None or position == len(batches[0]):
            if partition == "sequential":
                batches = sequential_batches(train_ids, batch_size, num_steps)
            else:
                batches = random_batches(jax.random.fold_in(key, epoch), train_ids, batch_size, num_steps)
            epoch, position = epoch + 1, 0
            h = zero_state(params, batch_size)
        if partition == "random":
            h = zero_state(params, batch_size)
        params, opt_state, h, loss = train_step(params, opt_state, h, batches[0][position], batches[1][position])
        position += 1
        losses.append(loss)
        if (i + 1) % eval_every == 0 or i + 1 == steps:
            valid_nll = evaluate_nll(step, params, valid_ids, start, eval_streams)
            history.append((i + 1, valid_nll))
            snapshots[i + 1] = params
            if report is not None:
                report(f"step {i + 1:4d}: training loss {float(loss):.3f}, validation perplexity "
                       f"{perplexity(valid_nll):.2f} ({bits_per_character(valid_nll):.2f} bits per character)")
    return TrainResult(params, np.asarray(jnp.stack(losses)), history, snapshots)


# ---------------------------------------------------------------- generation


def softmax_with_temperature(logits, temperature):
    """``softmax(o / τ)``: ``τ < 1`` sharpens the distribution, ``τ > 1`` flattens it.

    Chapter 11; tests/test_language.py::test_sampling_follows_the_tempered_softmax.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive here, received {temperature!r}")
    return jax.nn.softmax(as_array(logits, "logits") / temperature, axis=-1)


def sample_next(key, logits, temperature):
    """The next character: a draw from ``softmax(o / τ)``, or ``argmax o`` (greedy) when ``τ = 0``.

    Arguments: ``key``; ``logits`` ``(K,)``; ``temperature`` ``τ ≥ 0`` (may be traced).
    Returns: an int32 scalar. Deterministic given ``key``.

    Chapter 11; tests/test_language.py::test_greedy_is_argmax_and_small_temperature_approaches_it.
    """
    if isinstance(temperature, (int, float)) and temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), received {temperature!r}")
    greedy = jnp.argmax(logits, axis=-1)
    safe = jnp.where(temperature > 0, temperature, 1.0)
    drawn = jax.random.categorical(key, logits / safe, axis=-1)
    return jnp.where(temperature > 0, drawn, greedy).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("step", "num_chars"))
def _generate(step, params, key, prompt, num_chars, temperature):
    h = jax.lax.scan(lambda h, c: (step(params["cell"], h, embed(params["E"], c)), None),
                     zero_state(params), prompt)[0]

    def body(carry, key):
        h, logits = carry
        c = sample_next(key, logits, temperature)
        h = step(params["cell"], h, embed(params["E"], c))
        return (h, read_out(params, h)), c

    _, chars = jax.lax.scan(body, (h, read_out(params, h)), jax.random.split(key, num_chars))
    return chars


def generate(step, params, key, prompt_ids, num_chars, temperature=1.0):
    """Reads ``prompt_ids`` from a zero state, then writes ``num_chars`` characters, each
    drawn by ``sample_next`` and fed back as the next input (free running).

    Arguments: ``prompt_ids`` ``(P,)`` ints, ``P ≥ 1``; ``temperature`` ``τ ≥ 0`` (0: greedy).
    Returns: ``(num_chars,)`` int32. Deterministic given ``key``.

    Chapter 11; tests/test_language.py::test_generate_feeds_back_and_is_deterministic.
    """
    check_positive_int(num_chars, "num_chars")
    prompt = as_array(prompt_ids, "prompt_ids")
    check_integer(prompt, "prompt_ids")
    check_shapes([(prompt, ("P",), "prompt_ids")])
    if prompt.shape[0] < 1:
        raise ValueError("the prompt needs at least one character")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), received {temperature!r}")
    return _generate(step, params, key, prompt.astype(jnp.int32), num_chars, jnp.float32(temperature))
