"""Chapter 11's additive attention and encoder–decoder against numpy loops and the cells' own steps."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import attention
from lectlib.cells import gru


def test_additive_scores_against_a_loop():
    params = attention.additive_init(jax.random.key(0), d_s=3, d_enc=4, d_a=5)
    s = jax.random.normal(jax.random.key(1), (3,))
    hs = jax.random.normal(jax.random.key(2), (6, 4))
    W, U, v = (np.asarray(params[k], np.float64) for k in ("W_a", "U_a", "v_a"))
    expected = [sum(v[i] * np.tanh(sum(W[i, k] * float(s[k]) for k in range(3))
                                   + sum(U[i, k] * float(h[k]) for k in range(4))) for i in range(5))
                for h in np.asarray(hs, np.float64)]
    np.testing.assert_allclose(attention.additive_scores(params, s, hs), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="annotations"):
        attention.additive_scores(params, s, jnp.zeros((6, 3)))


def test_attention_weights_and_context_against_a_loop():
    params = attention.additive_init(jax.random.key(3), 2, 3, 4)
    s = jax.random.normal(jax.random.key(4), (2,))
    hs = jax.random.normal(jax.random.key(5), (5, 3))
    mask = jnp.array([1.0, 1.0, 1.0, 0.0, 0.0])
    weights, context = attention.additive_attention(params, s, hs, mask)
    scores = np.asarray(attention.additive_scores(params, s, hs), np.float64)
    exps = [np.exp(scores[j]) if mask[j] else 0.0 for j in range(5)]
    expected = np.array(exps) / sum(exps)
    np.testing.assert_allclose(weights, expected, rtol=1e-5)
    assert float(weights[3]) == 0.0 and float(weights[4]) == 0.0
    expected_context = sum(expected[j] * np.asarray(hs[j], np.float64) for j in range(5))
    np.testing.assert_allclose(context, expected_context, rtol=1e-5, atol=1e-6)
    all_weights, _ = attention.additive_attention(params, s, hs)
    assert float(jnp.sum(all_weights)) == pytest.approx(1.0) and float(jnp.min(all_weights)) > 0


def test_masked_run_freezes_the_state_on_padding():
    params = gru.init(jax.random.key(6), 2, 3)
    xs = jax.random.normal(jax.random.key(7), (7, 2))
    mask = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    states = attention.masked_run(gru.step, params, xs, mask, jnp.zeros(3))
    plain = lectlib.run(gru.step, params, xs[:4], jnp.zeros(3))
    np.testing.assert_allclose(states[:4], plain, rtol=1e-6)
    np.testing.assert_allclose(states[4:], jnp.broadcast_to(plain[-1], (3, 3)), rtol=1e-6)
    np.testing.assert_allclose(attention.masked_run(gru.step, params, xs, jnp.ones(7), jnp.zeros(3)),
                               lectlib.run(gru.step, params, xs, jnp.zeros(3)), rtol=1e-6)


def test_encoder_reads_only_the_real_positions():
    params = attention.seq2seq_init(jax.random.key(8), num_symbols=5, d_h=3, d_a=4)
    xs = jax.nn.one_hot(jnp.array([1, 4, 2, 0, 0]), 5)
    mask = jnp.array([1.0, 1.0, 1.0, 0.0, 0.0])
    annotations, summary = attention.encode(params, xs, mask)
    forward = lectlib.run(gru.step, params["forward"], xs[:3], jnp.zeros(3))
    backward = lectlib.run(gru.step, params["backward"], xs[:3][::-1], jnp.zeros(3))[::-1]
    np.testing.assert_allclose(annotations[:3, :3], forward, rtol=1e-6)
    np.testing.assert_allclose(annotations[:3, 3:], backward, rtol=1e-6)
    np.testing.assert_allclose(summary, jnp.concatenate([forward[-1], backward[0]]), rtol=1e-6)
    # Changing a padded input changes nothing.
    other, _ = attention.encode(params, xs.at[4].set(jax.nn.one_hot(3, 5)), mask)
    np.testing.assert_allclose(other[:3], annotations[:3], rtol=1e-6)


def decoder_by_hand(params, symbols, mask, previous, attend):
    """The decoder's equations written out, one step at a time, in float64 where it can be."""
    S = params["V"].shape[0]
    xs = jax.nn.one_hot(symbols, S)
    annotations, summary = attention.encode(params, xs, mask)
    A = np.asarray(annotations, np.float64)
    a = {k: np.asarray(v, np.float64) for k, v in params["attention"].items()}
    s, logits, all_weights = summary, [], []
    for y_prev in previous:
        if attend:
            scores = np.array([a["v_a"] @ np.tanh(a["W_a"] @ np.asarray(s, np.float64) + a["U_a"] @ A[j])
                               for j in range(len(A))])
            e = np.where(np.asarray(mask) > 0, np.exp(scores - scores.max()), 0.0)
            weights = e / e.sum()
            context = jnp.asarray(weights @ A, jnp.float32)
        else:
            weights, context = np.zeros(len(A)), summary
        s = gru.step(params["decoder"], s, jnp.concatenate([jax.nn.one_hot(y_prev, S + 1), context]))
        logits.append(np.asarray(params["V"], np.float64) @ np.concatenate([np.asarray(s), np.asarray(context)])
                      + np.asarray(params["c"]))
        all_weights.append(weights)
    return np.stack(logits), np.stack(all_weights)


@pytest.mark.parametrize("attend", [False, True])
def test_teacher_forced_logits_against_a_loop(attend):
    params = attention.seq2seq_init(jax.random.key(9), num_symbols=4, d_h=3, d_a=5)
    symbols = jnp.array([2, 0, 3, 1, 0, 0])
    mask = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    targets = jnp.array([1, 3, 0, 2, 0, 0])
    logits, weights = attention.teacher_forced(params, symbols, mask, targets, attend)
    expected_logits, expected_weights = decoder_by_hand(params, symbols, mask, [4, 1, 3, 0, 2, 0], attend)
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-4, atol=1e-6)
    loss = attention.sequence_loss(params, symbols, mask, targets, attend)
    log_p = expected_logits - np.log(np.exp(expected_logits).sum(axis=1, keepdims=True))
    assert float(loss) == pytest.approx(-np.mean([log_p[t, int(targets[t])] for t in range(4)]), rel=1e-4)


def test_greedy_decode_feeds_back_the_argmax():
    params = attention.seq2seq_init(jax.random.key(10), num_symbols=4, d_h=3, d_a=5)
    symbols, mask = jnp.array([3, 1, 2, 0]), jnp.array([1.0, 1.0, 1.0, 0.0])
    predictions, weights = attention.greedy_decode(params, symbols, mask, True)
    # Feeding the predictions back under teacher forcing reproduces the same steps.
    logits, forced_weights = attention.teacher_forced(params, symbols, mask, predictions, True)
    np.testing.assert_array_equal(predictions, jnp.argmax(logits, axis=-1))
    np.testing.assert_allclose(weights, forced_weights, rtol=1e-5)


def test_reversal_task_reverses_within_each_length():
    symbols, targets, mask = attention.reversal_task(jax.random.key(11), 50, 9, 5, min_length=2)
    lengths = np.asarray(mask.sum(axis=1), int)
    assert lengths.min() >= 2 and lengths.max() <= 9 and len(set(lengths.tolist())) > 3
    for b in range(50):
        L = lengths[b]
        np.testing.assert_array_equal(mask[b], [1.0] * L + [0.0] * (9 - L))
        np.testing.assert_array_equal(targets[b, :L], np.asarray(symbols[b, :L])[::-1])
        assert np.all(np.asarray(symbols[b, L:]) == 0) and np.all(np.asarray(targets[b, L:]) == 0)
    again = attention.reversal_task(jax.random.key(11), 50, 9, 5, min_length=2)
    np.testing.assert_array_equal(again[0], symbols)


def test_accuracy_by_length_counts_right_symbols():
    params = attention.seq2seq_init(jax.random.key(12), num_symbols=3, d_h=2, d_a=2)
    key = jax.random.key(13)
    (accuracy,) = attention.accuracy_by_length(params, key, True, [4], n=20, max_length=6)
    symbols, targets, mask = attention.reversal_task(jax.random.split(key, 1)[0], 20, 6, 3, lengths=jnp.full((20,), 4))
    right, decode = 0, jax.jit(attention.greedy_decode, static_argnums=3)
    for b in range(20):
        predictions, _ = decode(params, symbols[b], mask[b], True)
        right += int(np.sum(np.asarray(predictions[:4]) == np.asarray(targets[b, :4])))
    assert accuracy == pytest.approx(right / 80)
    with pytest.raises(ValueError, match="lengths"):
        attention.accuracy_by_length(params, key, True, [7], n=2, max_length=6)


def test_training_lowers_the_loss():
    params = attention.seq2seq_init(jax.random.key(14), num_symbols=3, d_h=4, d_a=4)
    trained, losses = attention.train_reversal(params, jax.random.key(15), True, steps=60, batch_size=16,
                                               max_length=4, learning_rate=0.03)
    assert losses.shape == (60,)
    assert float(jnp.mean(losses[-10:])) < 0.7 * float(jnp.mean(losses[:5])), losses
