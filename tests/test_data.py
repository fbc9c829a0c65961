"""Synthetic tasks: shapes, determinism from a seed, and the targets they promise."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import data


def test_same_key_same_data_and_int_seeds_work():
    a = data.adding(jax.random.key(5), 4, 10)
    b = data.adding(5, 4, 10)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)
    c = data.adding(6, 4, 10)
    assert not np.array_equal(a[0], c[0])


def test_clock_target_is_time_so_far():
    ticks, times = data.clock(0, 3, 12, tick_length=0.5)
    assert ticks.shape == times.shape == (3, 12, 1)
    np.testing.assert_allclose(times, 0.5 * np.cumsum(np.asarray(ticks), axis=1))


def test_parity_labels():
    bits, labels = data.parity(1, 8, 9)
    assert bits.shape == (8, 9, 1) and labels.shape == (8,)
    np.testing.assert_array_equal(labels, np.asarray(bits).sum(axis=(1, 2)).astype(int) % 2)
    _, running = data.parity(1, 8, 9, per_step=True)
    np.testing.assert_array_equal(running[:, -1], labels)


def test_adding_marks_one_position_in_each_half():
    xs, ys = data.adding(2, 16, 10)
    markers = np.asarray(xs[..., 1])
    assert np.all(markers[:, :5].sum(axis=1) == 1) and np.all(markers[:, 5:].sum(axis=1) == 1)
    np.testing.assert_allclose(ys, (np.asarray(xs[..., 0]) * markers).sum(axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="T >= 2"):
        data.adding(0, 1, 1)


def test_copy_targets_repeat_the_symbols_after_go():
    tokens, targets = data.copy(3, 4, length=3, delay=5, num_symbols=6)
    assert tokens.shape == targets.shape == (4, 11)
    np.testing.assert_array_equal(targets[:, -3:], tokens[:, :3])
    assert np.all(np.asarray(tokens[:, 7]) == data.GO)
    assert np.all(np.asarray(tokens[:, :3]) >= 2) and np.all(np.asarray(tokens[:, :3]) < 8)
    assert np.all(np.asarray(targets[:, :8]) == data.BLANK)


def test_forecasting_targets_are_the_next_value():
    xs, ys = data.random_walk(4, 2, 20)
    np.testing.assert_allclose(ys[:, :-1], xs[:, 1:])
    xs, ys = data.noisy_sine(4, 2, 20, noise=0.0)
    np.testing.assert_allclose(ys[:, :-1], xs[:, 1:], atol=1e-6)


def test_sum_comparison_labels():
    xs, labels = data.sum_comparison(5, 10, 7)
    totals = np.asarray(xs).sum(axis=1)
    np.testing.assert_array_equal(labels, (totals[:, 0] > totals[:, 1]).astype(int))


def test_pad_and_lengths():
    batch, mask = data.pad([jnp.ones((2, 3)), jnp.ones((4, 3))])
    assert batch.shape == (2, 4, 3)
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0], [1, 1, 1, 1]])
    lengths = data.random_lengths(0, 100, 3, 5)
    assert lengths.min() >= 3 and lengths.max() <= 5
    with pytest.raises(ValueError, match="trailing shape"):
        data.pad([jnp.ones((2, 3)), jnp.ones((2, 4))])
    with pytest.raises(ValueError, match="positive int"):
        data.parity(0, 0, 5)


def test_sizes_may_be_numpy_integers_but_not_floats_or_bools():
    xs, _ = data.parity(0, np.int64(2), np.int32(5))
    assert xs.shape[:2] == (2, 5)
    for bad in (2.0, True, np.float32(2)):
        with pytest.raises(ValueError, match="n must be a positive int"):
            data.parity(0, bad, 5)


def test_decaying_sum_is_the_forgetting_sum_of_its_inputs():
    xs, ys = data.decaying_sum(0, n=3, T=6, gamma=0.5, scale=2.0)
    x = np.asarray(xs[..., 0])
    expected = np.zeros_like(x)
    h = np.zeros(3)
    for t in range(6):
        h = 0.5 * h + 2.0 * x[:, t]
        expected[:, t] = h
    np.testing.assert_allclose(ys[..., 0], expected, rtol=1e-5, atol=1e-6)
