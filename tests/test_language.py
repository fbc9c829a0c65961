"""Chapter 11's language modeling: every formula against an independent computation
(counting by hand, numpy loops, the cell's own step), the batches against their definition."""
import collections
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lectlib
from lectlib import bptt, language
from lectlib.cells import gru


def test_load_text_is_the_help_topics_in_sorted_order():
    from pydoc_data import topics

    text = language.load_text()
    assert len(text) > 100_000
    first = sorted(topics.topics)[0]
    assert text.startswith(topics.topics[first])
    assert text == language.load_text()
    assert text.count("\n\n") >= len(topics.topics) - 1


def test_split_text_is_contiguous_and_deterministic():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    train, valid, test = language.split_text(text, (0.8, 0.1, 0.1))
    assert train + valid + test == text
    assert (len(train), len(valid), len(test)) == (800, 100, 100)
    assert language.split_text(text, (0.8, 0.1, 0.1)) == (train, valid, test)
    with pytest.raises(ValueError, match="summing to 1"):
        language.split_text(text, (0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="too short"):
        language.split_text("abc", (0.9, 0.05, 0.05))


def test_encode_decode_round_trip():
    text = "hello, world\n"
    chars = language.vocabulary(text)
    assert chars == tuple(sorted(set(text)))
    ids = language.encode(text, chars)
    assert ids.dtype == np.int32 and [chars[i] for i in ids] == list(text)
    assert language.decode(ids, chars) == text
    with pytest.raises(ValueError, match="not in the vocabulary"):
        language.encode("hello?", chars)
    with pytest.raises(ValueError, match="must lie in"):
        language.decode(np.array([0, len(chars)]), chars)


def test_embedding_is_the_matrix_times_a_one_hot():
    E = jax.random.normal(jax.random.key(0), (4, 7))
    ids = jnp.array([[3, 0], [6, 3]])
    by_one_hot = jnp.einsum("ev,bsv->bse", E, jax.nn.one_hot(ids, 7))
    np.testing.assert_allclose(language.embed(E, ids), by_one_hot, rtol=1e-6)


def test_nll_perplexity_and_bits_against_a_loop():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(9, 5)).astype(np.float32)
    targets = rng.integers(0, 5, size=9)
    expected = []
    for o, y in zip(logits.astype(np.float64), targets):
        expected.append(-(o[y] - math.log(sum(math.exp(v) for v in o))))
    nll = language.nll_from_logits(jnp.asarray(logits), jnp.asarray(targets))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)
    mean = sum(expected) / len(expected)
    assert language.perplexity(float(jnp.mean(nll))) == pytest.approx(math.exp(mean), rel=1e-5)
    assert language.bits_per_character(mean) == pytest.approx(mean / math.log(2))
    # A uniform guess over |V| characters: perplexity |V|, log2 |V| bits.
    uniform = float(jnp.mean(language.nll_from_logits(jnp.zeros((3, 8)), jnp.array([0, 5, 7]))))
    assert language.perplexity(uniform) == pytest.approx(8.0, rel=1e-6)
    assert language.bits_per_character(uniform) == pytest.approx(3.0, rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        language.nll_from_logits(jnp.zeros((3, 8)), jnp.array([0, 1]))


def by_hand_probability(text_ids, n, vocab_size, start, smoothing, position, seq):
    """Counts (context, next) in the padded training text with a Counter."""
    padded = [start] * (n - 1) + list(text_ids)
    pairs = collections.Counter(tuple(padded[i:i + n]) for i in range(len(text_ids)))
    contexts = collections.Counter(tuple(padded[i:i + n - 1]) for i in range(len(text_ids)))
    query = [start] * (n - 1) + list(seq)
    context = tuple(query[position:position + n - 1])
    gram = context + (query[position + n - 1],)
    return (pairs[gram] + smoothing) / (contexts[context] + smoothing * vocab_size)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("smoothing", [1.0, 0.1])
def test_ngram_probabilities_are_counts_by_hand(n, smoothing):
    chars = language.vocabulary("abracadabra cadabra!")
    train = language.encode("abracadabra cadabra", chars)
    query = language.encode("abra!dab", chars)
    counts = language.ngram_counts(train, n, len(chars), start=0)
    probabilities = language.ngram_probabilities(counts, query, smoothing)
    expected = [by_hand_probability(train, n, len(chars), 0, smoothing, t, query) for t in range(len(query))]
    np.testing.assert_allclose(probabilities, expected, rtol=1e-12)
    padded_train, padded_query = [0] * (n - 1) + list(train), [0] * (n - 1) + list(query)
    contexts = collections.Counter(tuple(padded_train[i:i + n - 1]) for i in range(len(train)))
    np.testing.assert_array_equal(language.ngram_context_counts(counts, query),
                                  [contexts[tuple(padded_query[t:t + n - 1])] for t in range(len(query))])
    assert language.ngram_nll(counts, query, smoothing) == pytest.approx(-np.mean(np.log(expected)))


def test_ngram_distribution_sums_to_one_and_agrees():
    chars = language.vocabulary("abracadabra!")
    train = language.encode("abracadabra", chars)
    counts = language.ngram_counts(train, 3, len(chars))
    for context in ([], [1], [1, 2], [2, 1, 2]):
        distribution = language.ngram_distribution(counts, context, smoothing=0.5)
        assert distribution.sum() == pytest.approx(1.0)
        for c in range(len(chars)):
            seq = list(context) + [c]
            expected = language.ngram_probabilities(counts, np.array(seq), 0.5)[-1]
            assert distribution[c] == pytest.approx(expected)
    # "b" always follows "a" after "r"… "ab" is followed by "r" twice: the mode.
    after_ab = language.ngram_distribution(counts, language.encode("ab", chars), smoothing=0.01)
    assert chars[int(np.argmax(after_ab))] == "r"


def test_sequential_batches_continue_each_other():
    ids = np.arange(103, dtype=np.int32)
    inputs, targets = language.sequential_batches(ids, batch_size=4, num_steps=5)
    assert inputs.shape == targets.shape == (5, 4, 5)          # streams of (103 - 1) // 4 = 25 = 5 chunks of 5
    np.testing.assert_array_equal(targets, inputs + 1)
    np.testing.assert_array_equal(inputs[1:, :, 0], targets[:-1, :, -1])   # row b of batch i+1 continues row b of batch i
    for b in range(4):
        stream = inputs[:, b, :].reshape(-1)
        np.testing.assert_array_equal(stream, ids[b * 25: b * 25 + 25])


def test_random_batches_are_shuffled_disjoint_subsequences():
    ids = np.arange(200, dtype=np.int32)
    inputs, targets = language.random_batches(jax.random.key(0), ids, batch_size=3, num_steps=6)
    np.testing.assert_array_equal(targets, inputs + 1)
    rows = inputs.reshape(-1, 6)
    assert np.all(np.diff(rows, axis=1) == 1)                              # each row a contiguous piece
    starts = rows[:, 0]
    assert len(set(starts.tolist())) == len(starts)                         # disjoint
    assert len(set((starts % 6).tolist())) == 1                             # one grid, from one offset
    assert not np.all(np.diff(starts) > 0)                                  # shuffled
    again = language.random_batches(jax.random.key(0), ids, batch_size=3, num_steps=6)
    np.testing.assert_array_equal(again[0], inputs)
    other = language.random_batches(jax.random.key(1), ids, batch_size=3, num_steps=6)
    assert not np.array_equal(other[0], inputs)


def small_model(key=0, vocab=6, d_e=3, d_h=5):
    return language.model_init(jax.random.key(key), gru, vocab, d_e, d_h)


def test_chunk_loss_is_the_mean_nll_of_a_loop():
    params = small_model()
    inputs = jax.random.randint(jax.random.key(1), (2, 7), 0, 6)
    targets = jax.random.randint(jax.random.key(2), (2, 7), 0, 6)
    h0 = jax.random.normal(jax.random.key(3), (2, 5))
    loss, h_last = language.chunk_loss(gru.step, params, h0, inputs, targets)
    E, V, c = (np.asarray(params[k], np.float64) for k in ("E", "V", "c"))
    total = 0.0
    for b in range(2):
        h = h0[b]
        for t in range(7):
            h = gru.step(params["cell"], h, jnp.asarray(E[:, int(inputs[b, t])], jnp.float32))
            o = V @ np.asarray(h, np.float64) + c
            total += -(o[int(targets[b, t])] - np.log(np.exp(o).sum()))
        np.testing.assert_allclose(h_last[b], h, rtol=1e-5, atol=1e-6)
        states = lectlib.run(gru.step, params["cell"], language.embed(params["E"], inputs[b]), h0[b])
        np.testing.assert_allclose(h_last[b], states[-1], rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx(total / 14, rel=1e-5)


def test_evaluate_nll_is_the_mean_over_streams():
    params = small_model(4)
    ids = np.asarray(jax.random.randint(jax.random.key(5), (41,), 0, 6), np.int32)
    value = language.evaluate_nll(gru.step, params, ids, start=2, num_streams=4)
    inputs = np.concatenate([[2], ids[:-1]])
    total = []
    for s in range(4):
        piece = slice(s * 10, s * 10 + 10)
        states = lectlib.run(gru.step, params["cell"], language.embed(params["E"], inputs[piece]), jnp.zeros(5))
        total.append(np.asarray(language.nll_from_logits(language.read_out(params, states), jnp.asarray(ids[piece]))))
    assert value == pytest.approx(float(np.mean(total)), rel=1e-5)


def test_train_step_is_clip_then_adam_on_the_chunk_gradient():
    params = small_model(6)
    inputs = jax.random.randint(jax.random.key(7), (3, 4), 0, 6)
    targets = jax.random.randint(jax.random.key(8), (3, 4), 0, 6)
    h = jax.random.normal(jax.random.key(9), (3, 5))
    optimizer = optax.chain(optax.clip_by_global_norm(0.1), optax.sgd(1.0))
    new, _, h_last, loss = language.make_train_step(gru.step, optimizer)(params, optimizer.init(params), h,
                                                                         inputs, targets)
    grads = jax.grad(lambda p: language.chunk_loss(gru.step, p, h, inputs, targets)[0])(params)
    assert float(bptt.global_norm(grads)) > 0.1                              # so the clipping acts
    clipped = bptt.clip_by_global_norm(grads, 0.1)
    expected = jax.tree_util.tree_map(lambda p, g: p - g, params, clipped)
    for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx(float(language.chunk_loss(gru.step, params, h, inputs, targets)[0]))
    np.testing.assert_allclose(h_last, language.chunk_loss(gru.step, params, h, inputs, targets)[1], rtol=1e-6)


@pytest.mark.parametrize("partition", ["sequential", "random"])
def test_fit_learns_a_periodic_text(partition):
    ids = np.tile(np.array([0, 1, 2, 3, 2, 1], np.int32), 200)
    params = language.model_init(jax.random.key(10), gru, 4, 4, 8)
    before = language.evaluate_nll(gru.step, params, ids[:120], start=0, num_streams=2)
    result = language.fit(gru.step, params, ids, ids[:120], start=0, steps=150, batch_size=8, num_steps=12,
                          learning_rate=0.03, eval_every=50, partition=partition, key=jax.random.key(11),
                          report=None)
    after = result.history[-1][1]
    assert [s for s, _ in result.history] == [50, 100, 150] and sorted(result.snapshots) == [0, 50, 100, 150]
    assert result.losses.shape == (150,)
    # After two characters the next is certain; only the start of each stream stays ambiguous.
    assert before > 1.0 and after < before / 4, (before, after)


def test_sampling_follows_the_tempered_softmax():
    logits = jnp.array([1.0, 0.0, -1.0, 2.0])
    for temperature in (1.0, 2.0, 0.5):
        keys = jax.random.split(jax.random.key(12), 20_000)
        draws = jax.vmap(lambda k: language.sample_next(k, logits, temperature))(keys)
        frequencies = np.bincount(np.asarray(draws), minlength=4) / 20_000
        expected = np.exp(np.asarray(logits) / temperature)
        expected /= expected.sum()
        np.testing.assert_allclose(language.softmax_with_temperature(logits, temperature), expected, rtol=1e-5)
        np.testing.assert_allclose(frequencies, expected, atol=0.015)
    assert int(language.sample_next(jax.random.key(3), logits, 1.0)) == int(language.sample_next(jax.random.key(3), logits, 1.0))


def test_greedy_is_argmax_and_small_temperature_approaches_it():
    logits = jax.random.normal(jax.random.key(13), (50, 9))
    keys = jax.random.split(jax.random.key(14), 50)
    greedy = jax.vmap(lambda k, o: language.sample_next(k, o, 0.0))(keys, logits)
    np.testing.assert_array_equal(greedy, jnp.argmax(logits, axis=-1))
    cold = jax.vmap(lambda k, o: language.sample_next(k, o, 0.01))(keys, logits)
    warm = jax.vmap(lambda k, o: language.sample_next(k, o, 1.0))(keys, logits)
    agreement = lambda draws: float(jnp.mean(draws == greedy))   # noqa: E731
    assert agreement(cold) > 0.95 and agreement(warm) < 0.8, (agreement(cold), agreement(warm))
    with pytest.raises(ValueError, match=">= 0"):
        language.sample_next(jax.random.key(0), logits[0], -1.0)


def test_generate_feeds_back_and_is_deterministic():
    params = small_model(15)
    prompt = jnp.array([1, 4, 2])
    greedy = language.generate(gru.step, params, jax.random.key(16), prompt, 12, temperature=0.0)
    h = jnp.zeros(5)
    for c in prompt:
        h = gru.step(params["cell"], h, params["E"][:, int(c)])
    expected = []
    for _ in range(12):
        c = int(jnp.argmax(language.read_out(params, h)))
        expected.append(c)
        h = gru.step(params["cell"], h, params["E"][:, c])
    np.testing.assert_array_equal(greedy, expected)
    one = language.generate(gru.step, params, jax.random.key(17), prompt, 30, temperature=1.0)
    np.testing.assert_array_equal(one, language.generate(gru.step, params, jax.random.key(17), prompt, 30, 1.0))
    assert not np.array_equal(one, language.generate(gru.step, params, jax.random.key(18), prompt, 30, 1.0))
    with pytest.raises(ValueError, match="at least one"):
        language.generate(gru.step, params, jax.random.key(0), jnp.zeros((0,), jnp.int32), 3)
