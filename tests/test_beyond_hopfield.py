"""Chapter 10's Hopfield network (lectlib.beyond.hopfield): asynchronous recall against a
plain loop, the energy it never raises, and the synchronous update's two-cycle."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import beyond


def random_patterns(key, count, N=64):
    return jnp.where(jax.random.bernoulli(key, 0.5, (count, N)), 1.0, -1.0)


def test_hopfield_store_is_the_hebbian_sum():
    patterns = random_patterns(jax.random.key(0), 3, 10)
    W = np.asarray(beyond.hopfield_store(patterns))
    expected = sum(np.outer(p, p) for p in np.asarray(patterns)) / 10
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(W, expected, rtol=1e-6)
    np.testing.assert_array_equal(W, W.T)
    with pytest.raises(ValueError, match="patterns"):
        beyond.hopfield_store(jnp.ones(5))
    with pytest.raises(ValueError, match=r"patterns must hold only \+1 and -1"):
        beyond.hopfield_store(jnp.array([[1.0, 0.5], [1.0, -1.0]]))


def test_asynchronous_updates_match_a_plain_loop():
    patterns = random_patterns(jax.random.key(1), 4, 16)
    W = beyond.hopfield_store(patterns)
    cue = patterns[0].at[:5].multiply(-1.0)
    key = jax.random.key(2)
    history = np.asarray(beyond.hopfield_updates(key, W, cue, 2))
    assert history.shape == (2 * 16 + 1, 16)
    # the same orders, then one unit at a time in numpy
    orders = [np.asarray(jax.random.permutation(k, 16)) for k in jax.random.split(key, 2)]
    s, expected = np.asarray(cue).copy(), [np.asarray(cue).copy()]
    Wn = np.asarray(W)
    for order in orders:
        for i in order:
            field = Wn[i] @ s
            if field != 0:
                s[i] = np.sign(field)
            expected.append(s.copy())
    np.testing.assert_array_equal(history, np.stack(expected))
    # every sweep visits each unit exactly once
    for order in orders:
        assert sorted(order.tolist()) == list(range(16))
    np.testing.assert_array_equal(beyond.hopfield_recall(key, W, cue, 2), history[::16])


def test_asynchronous_updates_never_raise_the_energy():
    for seed in range(5):
        patterns = random_patterns(jax.random.key(10 + seed), 8)      # near capacity: many flips
        W = beyond.hopfield_store(patterns)
        start = jnp.where(jax.random.bernoulli(jax.random.key(20 + seed), 0.5, (64,)), 1.0, -1.0)
        history = beyond.hopfield_updates(jax.random.key(30 + seed), W, start, 3)
        energy = np.asarray(beyond.hopfield_energy(W, history), np.float64)
        np.testing.assert_allclose(energy[0], -0.5 * np.asarray(start) @ np.asarray(W) @ np.asarray(start), rtol=1e-5)
        steps = np.diff(energy)
        flipped = np.any(np.diff(np.asarray(history), axis=0) != 0, axis=1)
        assert flipped.sum() > 5
        assert np.all(steps[flipped] < 0) and np.all(steps[~flipped] == 0)


def test_synchronous_updates_can_cycle_where_asynchronous_ones_settle():
    W = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    start = jnp.array([1.0, -1.0])
    sync = np.asarray(beyond.hopfield_synchronous(W, start, 4))
    np.testing.assert_array_equal(sync, [[1, -1], [-1, 1], [1, -1], [-1, 1], [1, -1]])
    assert np.all(np.asarray(beyond.hopfield_energy(W, sync)) == 1.0)          # stuck, never downhill
    settled = np.asarray(beyond.hopfield_recall(jax.random.key(0), W, start, 3))
    assert abs(settled[-1].sum()) == 2                                          # both units agree
    assert float(beyond.hopfield_energy(W, settled[-1])) == -1.0


def test_hopfield_recalls_a_stored_pattern_from_a_corrupted_one():
    patterns = random_patterns(jax.random.key(6), 3)
    W = beyond.hopfield_store(patterns)
    corrupted = patterns[0].at[:8].multiply(-1.0)
    history = beyond.hopfield_recall(jax.random.key(7), W, corrupted, 3)
    assert history.shape == (4, 64)
    np.testing.assert_array_equal(history[-1], patterns[0])
    np.testing.assert_array_equal(history[0], corrupted)
    with pytest.raises(ValueError, match="state"):
        beyond.hopfield_recall(jax.random.key(7), W, corrupted[:10], 3)
    with pytest.raises(ValueError, match=r"state must hold only \+1 and -1"):
        beyond.hopfield_recall(jax.random.key(7), W, corrupted.at[0].set(0.0), 3)
