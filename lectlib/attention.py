"""Additive attention (Bahdanau, Cho & Bengio, 2015) and the encoder–decoder it rescues
(chapter 11), on a small task: writing a sequence of symbols backwards.

An encoder reads the input in both directions (two GRUs from ``lectlib.cells.gru``) and
keeps every **annotation** ``h_j = [h→_j; h←_j]``. A decoder GRU writes the output one
symbol at a time. Without attention, every step of the decoder sees the same fixed-size
summary ``[h→_T; h←_1]``; with attention, step ``t`` chooses its own weighted average of
the annotations (the course's notation: ``W`` multiplies the decoder's state, ``U`` the
annotation it looks at)::

    e_{t,j}   = v_aᵀ tanh(W_a h'_{t−1} + U_a h_j)          score of position j
    α_{t,j}   = exp(e_{t,j}) / Σ_i exp(e_{t,i})            the attention weights (a softmax over real positions)
    ctx_t     = Σ_j α_{t,j} h_j                            the context
    h'_t      = GRU(h'_{t−1}, [e(y_{t−1}); ctx_t])          the decoder reads the previous symbol and the context
    o_t       = c + V [h'_t; ctx_t]                         logits of output symbol t

Shapes: ``T`` positions (padded), ``S`` symbols, ``d_h`` per encoder direction, the
annotations and the decoder state have ``2 d_h``; ``d_a`` the attention's hidden size.
"""
import functools

import jax
import jax.numpy as jnp
import optax

from lectlib._checks import as_array, check_inexact, check_positive_int, check_shapes
from lectlib.cells import gru

# ---------------------------------------------------------------- additive attention


def additive_init(key, d_s, d_enc, d_a):
    """``{"W_a": (d_a, d_s), "U_a": (d_a, d_enc), "v_a": (d_a,)}``, normal with variance 1/fan-in.

    Chapter 11; tests/test_attention.py::test_additive_scores_against_a_loop.
    """
    for name, size in (("d_s", d_s), ("d_enc", d_enc), ("d_a", d_a)):
        check_positive_int(size, name)
    k_w, k_u, k_v = jax.random.split(key, 3)
    return {"W_a": jax.random.normal(k_w, (d_a, d_s)) / jnp.sqrt(d_s),
            "U_a": jax.random.normal(k_u, (d_a, d_enc)) / jnp.sqrt(d_enc),
            "v_a": jax.random.normal(k_v, (d_a,)) / jnp.sqrt(d_a)}


def additive_scores(params, h_dec, annotations):
    """``e_j = v_aᵀ tanh(W_a h_dec + U_a h_j)`` for every position ``j``.

    Arguments: ``h_dec`` ``(d_s,)`` the decoder's state; ``annotations`` ``(T, d_enc)``.
    Returns: ``(T,)``.

    Chapter 11; tests/test_attention.py::test_additive_scores_against_a_loop.
    """
    h_dec = as_array(h_dec, "h_dec")
    annotations = as_array(annotations, "annotations")
    check_inexact(annotations, "annotations")
    d_a, d_s = params["W_a"].shape
    check_shapes([(h_dec, (d_s,), "h_dec"), (annotations, ("T", params["U_a"].shape[1]), "annotations")])
    hidden = jnp.tanh((params["W_a"] @ h_dec)[None, :] + annotations @ params["U_a"].T)      # (T, d_a)
    return hidden @ params["v_a"]


def masked_softmax(scores, mask):
    """``softmax`` over the positions where ``mask`` is 1; exactly 0 where it is 0.

    Arguments: ``scores``, ``mask`` ``(T,)`` (at least one 1). Returns ``(T,)``.

    Chapter 11; tests/test_attention.py::test_attention_weights_and_context_against_a_loop.
    """
    mask = mask.astype(bool)
    shifted = jnp.where(mask, scores, -jnp.inf)
    shifted = shifted - jnp.max(shifted)
    weights = jnp.where(mask, jnp.exp(shifted), 0.0)
    return weights / jnp.sum(weights)


def additive_attention(params, h_dec, annotations, mask=None):
    """The attention weights ``α_j`` and the context ``Σ_j α_j h_j``.

    Arguments: ``h_dec`` ``(d_s,)``; ``annotations`` ``(T, d_enc)``; ``mask`` ``(T,)`` (1 on real
    positions; default all).
    Returns: ``(weights (T,), context (d_enc,))``.

    Chapter 11; tests/test_attention.py::test_attention_weights_and_context_against_a_loop.
    """
    scores = additive_scores(params, h_dec, annotations)
    if mask is None:
        mask = jnp.ones(scores.shape)
    weights = masked_softmax(scores, mask)
    return weights, weights @ annotations


# ---------------------------------------------------------------- the encoder


def masked_run(step, params, xs, mask, h0):
    """Scans a cell but keeps the state unchanged on padded steps:
    ``h_t = step(h_{t−1}, x_t)`` where ``mask_t = 1``, ``h_t = h_{t−1}`` where it is 0.

    Arguments: ``xs`` ``(T, d_x)``; ``mask`` ``(T,)``; ``h0`` ``(d_h,)``. Returns ``(T, d_h)``.

    Chapter 11; tests/test_attention.py::test_masked_run_freezes_the_state_on_padding.
    """
    def body(h, x_m):
        x, m = x_m
        h = jnp.where(m > 0, step(params, h, x), h)
        return h, h

    return jax.lax.scan(body, h0, (xs, mask))[1]


def encode(params, xs, mask):
    """The bidirectional encoder over a padded sequence.

    Arguments: ``params`` of ``seq2seq_init`` (its ``"forward"`` and ``"backward"`` GRUs);
    ``xs`` ``(T, d_x)``; ``mask`` ``(T,)`` (1s then 0s).
    Returns: ``(annotations (T, 2 d_h), summary (2 d_h,))``: ``h_j = [h→_j; h←_j]`` where
    ``h←_j`` has read the real inputs from the last one back to ``j``, and the summary
    ``[h→_L; h←_1]`` with ``L`` the real length.

    Chapter 11; tests/test_attention.py::test_encoder_reads_only_the_real_positions.
    """
    h0 = jnp.zeros((_encoder_size(params),))
    forward = masked_run(gru.step, params["forward"], xs, mask, h0)
    backward = masked_run(gru.step, params["backward"], xs[::-1], mask[::-1], h0)[::-1]
    annotations = jnp.concatenate([forward, backward], axis=-1)
    return annotations, jnp.concatenate([forward[-1], backward[0]])


# ---------------------------------------------------------------- the encoder–decoder


def seq2seq_init(key, num_symbols, d_h, d_a):
    """An encoder–decoder over ``S = num_symbols`` symbols (the decoder's inputs add a start
    symbol ``S``). The same parameters serve with and without attention (without, the
    attention's are unused).

    Returns: ``{"forward", "backward": gru.init(·, S, d_h), "decoder": gru.init(·, S + 1 + 2 d_h, 2 d_h),
    "attention": additive_init(·, 2 d_h, 2 d_h, d_a), "V": (S, 4 d_h), "c": (S,)}``.

    Chapter 11; tests/test_attention.py::test_teacher_forced_logits_against_a_loop.
    """
    for name, size in (("num_symbols", num_symbols), ("d_h", d_h), ("d_a", d_a)):
        check_positive_int(size, name)
    k_f, k_b, k_d, k_a, k_v = jax.random.split(key, 5)
    return {"forward": gru.init(k_f, num_symbols, d_h),
            "backward": gru.init(k_b, num_symbols, d_h),
            "decoder": gru.init(k_d, num_symbols + 1 + 2 * d_h, 2 * d_h),
            "attention": additive_init(k_a, 2 * d_h, 2 * d_h, d_a),
            "V": jax.random.normal(k_v, (num_symbols, 4 * d_h)) / jnp.sqrt(4 * d_h),
            "c": jnp.zeros((num_symbols,))}


def _encoder_size(params):
    """``d_h`` of one encoder direction, from the read-out ``V`` ``(S, 4 d_h)``."""
    return params["V"].shape[1] // 4


def _num_symbols(params):
    return params["V"].shape[0]


def decoder_step(params, h_dec, y_prev, annotations, mask, summary, attend):
    """One step of the decoder.

    Arguments: ``h_dec`` ``(2 d_h,)`` the previous state; ``y_prev`` an int (the previous symbol,
    or ``S`` for start); ``annotations`` ``(T, 2 d_h)``; ``mask`` ``(T,)``; ``summary``
    ``(2 d_h,)``; ``attend`` a bool (may be traced, so one compiled function serves both models).
    Returns: ``(s_new (2 d_h,), logits (S,), weights (T,))`` (weights all 0 without attention).

    Chapter 11; tests/test_attention.py::test_teacher_forced_logits_against_a_loop.
    """
    weights, attended = additive_attention(params["attention"], h_dec, annotations, mask)
    context = jnp.where(attend, attended, summary)
    weights = jnp.where(attend, weights, 0.0)
    x = jnp.concatenate([jax.nn.one_hot(y_prev, _num_symbols(params) + 1), context])
    h_dec = gru.step(params["decoder"], h_dec, x)
    logits = params["V"] @ jnp.concatenate([h_dec, context]) + params["c"]
    return h_dec, logits, weights


def _check_sequence(params, symbols, mask):
    symbols = as_array(symbols, "symbols")
    mask = as_array(mask, "mask")
    check_shapes([(symbols, ("T",), "symbols"), (mask, ("T",), "mask")])
    return symbols, mask


def teacher_forced(params, symbols, mask, targets, attend):
    """Decoder outputs when step ``t`` reads the *true* previous target (teacher forcing).

    Arguments: ``symbols``, ``targets`` ``(T,)`` ints; ``mask`` ``(T,)``; ``attend`` a bool.
    Returns: ``(logits (T, S), weights (T, T))``: row ``t`` of the weights is where step ``t`` looked.

    Chapter 11; tests/test_attention.py::test_teacher_forced_logits_against_a_loop.
    """
    symbols, mask = _check_sequence(params, symbols, mask)
    annotations, summary = encode(params, jax.nn.one_hot(symbols, _num_symbols(params)), mask)
    previous = jnp.concatenate([jnp.array([_num_symbols(params)]), targets[:-1]])

    def body(h_dec, y_prev):
        h_dec, logits, weights = decoder_step(params, h_dec, y_prev, annotations, mask, summary, attend)
        return h_dec, (logits, weights)

    return jax.lax.scan(body, summary, previous)[1]


def greedy_decode(params, symbols, mask, attend):
    """Free-running decoding: each step's most likely symbol is the next step's input.

    Returns: ``(predictions (T,) int32, weights (T, T))``.

    Chapter 11; tests/test_attention.py::test_greedy_decode_feeds_back_the_argmax.
    """
    symbols, mask = _check_sequence(params, symbols, mask)
    annotations, summary = encode(params, jax.nn.one_hot(symbols, _num_symbols(params)), mask)

    def body(carry, _):
        h_dec, y_prev = carry
        h_dec, logits, weights = decoder_step(params, h_dec, y_prev, annotations, mask, summary, attend)
        y = jnp.argmax(logits).astype(jnp.int32)
        return (h_dec, y), (y, weights)

    start = jnp.array(_num_symbols(params), jnp.int32)
    return jax.lax.scan(body, (summary, start), None, length=symbols.shape[0])[1]


def sequence_loss(params, symbols, mask, targets, attend):
    """Mean cross-entropy over the real positions of one teacher-forced sequence.
    Chapter 11; tests/test_attention.py::test_teacher_forced_logits_against_a_loop."""
    logits, _ = teacher_forced(params, symbols, mask, targets, attend)
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), targets[:, None], axis=-1)[:, 0]
    return jnp.sum(nll * mask) / jnp.sum(mask)


# ---------------------------------------------------------------- the reversal task


def reversal_task(key, n, max_length, num_symbols, min_length=1, lengths=None):
    """Random sequences of random lengths ``L`` in ``[min_length, max_length]`` (or the given
    ``lengths`` ``(n,)``), and the same symbols backwards; padded with 0 to ``max_length``.

    Returns: ``symbols``, ``targets`` ``(n, max_length)`` int32 (``targets[b, t] = symbols[b, L_b − 1 − t]``
    for ``t < L_b``); ``mask`` ``(n, max_length)`` float32 (1 on the first ``L_b`` positions).

    Chapter 11; tests/test_attention.py::test_reversal_task_reverses_within_each_length.
    """
    for name, size in (("n", n), ("max_length", max_length), ("num_symbols", num_symbols),
                       ("min_length", min_length)):
        check_positive_int(size, name)
    if min_length > max_length:
        raise ValueError(f"min_length {min_length} is larger than max_length {max_length}")
    k_len, k_sym = jax.random.split(key)
    if lengths is None:
        lengths = jax.random.randint(k_len, (n,), min_length, max_length + 1)
    positions = jnp.arange(max_length)[None, :]
    real = positions < lengths[:, None]
    symbols = jnp.where(real, jax.random.randint(k_sym, (n, max_length), 0, num_symbols), 0)
    source = jnp.clip(lengths[:, None] - 1 - positions, 0, max_length - 1)
    targets = jnp.where(real, jnp.take_along_axis(symbols, source, axis=1), 0)
    return symbols.astype(jnp.int32), targets.astype(jnp.int32), real.astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("steps", "batch_size", "max_length", "min_length"))
def _train(params, key, attend, steps, batch_size, max_length, min_length, learning_rate, max_grad_norm):
    optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))
    num_symbols = _num_symbols(params)

    def batch_loss(p, batch):
        symbols, targets, mask = batch
        return jnp.mean(jax.vmap(sequence_loss, in_axes=(None, 0, 0, 0, None))(p, symbols, mask, targets, attend))

    def one_step(state, step_key):
        p, opt_state = state
        batch = reversal_task(step_key, batch_size, max_length, num_symbols, min_length)
        loss, grads = jax.value_and_grad(batch_loss)(p, batch)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(one_step, (params, optimizer.init(params)), jax.random.split(key, steps))
    return params, losses


def train_reversal(params, key, attend, *, steps, batch_size=64, max_length=16, min_length=1,
                   learning_rate=0.01, max_grad_norm=1.0):
    """Trains the encoder–decoder with or without attention on fresh reversal batches (one
    per step, drawn from ``key``), teacher forced, with clipping and Adam, in one compiled scan.

    Returns: ``(params, losses (steps,))``.

    Chapter 11; tests/test_attention.py::test_training_lowers_the_loss.
    """
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    return _train(params, key, jnp.asarray(bool(attend)), steps, batch_size, max_length, min_length, learning_rate,
                  max_grad_norm)


@jax.jit
def _greedy_batch(params, symbols, mask, attend):
    return jax.vmap(greedy_decode, in_axes=(None, 0, 0, None))(params, symbols, mask, attend)


def accuracy_by_length(params, key, attend, lengths, n, max_length):
    """The share of output symbols that greedy decoding gets right, for sequences of each
    length in ``lengths`` (``n`` new sequences per length, padded to ``max_length``).

    Returns: a list of floats, one per length.

    Chapter 11; tests/test_attention.py::test_accuracy_by_length_counts_right_symbols.
    """
    accuracies = []
    for length, length_key in zip(lengths, jax.random.split(key, len(lengths))):
        if not 1 <= length <= max_length:
            raise ValueError(f"lengths must lie in [1, max_length = {max_length}], received {length}")
        symbols, targets, mask = reversal_task(length_key, n, max_length, _num_symbols(params),
                                               lengths=jnp.full((n,), length))
        predictions, _ = _greedy_batch(params, symbols, mask, jnp.asarray(bool(attend)))
        right = (predictions == targets) * mask
        accuracies.append(float(jnp.sum(right) / jnp.sum(mask)))
    return accuracies
