"""Output modeling: mapping the read-out over all states equals reading step by step."""
import jax
import jax.numpy as jnp
import numpy as np

from lectlib import data, readout
from lectlib.cells import linear_memory


def test_read_all_equals_a_loop():
    params = {"A": jax.random.normal(jax.random.key(0), (3, 5))}
    hs = jax.random.normal(jax.random.key(1), (7, 3))
    xs = jax.random.normal(jax.random.key(2), (7, 4))
    expected = np.stack([readout.query_read(params, h, x) for h, x in zip(hs, xs)])
    np.testing.assert_allclose(readout.read_all(readout.query_read, params, hs, xs), expected, rtol=1e-5)


def test_query_read_is_the_state_weighted_by_the_query():
    params = {"A": jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])}      # ignores the bias, copies x
    h = jnp.array([2.0, 5.0])
    assert float(readout.query_read(params, h, jnp.array([0.0, 1.0]))) == 5.0


def test_recall_outputs_is_scan_then_read():
    params = readout.recall_init(jax.random.key(3), 6, 3)
    xs = jax.random.normal(jax.random.key(4), (9, 6))
    h, expected = jnp.zeros(3), []
    for x in xs:
        h = linear_memory.step(params["memory"], h, x)
        expected.append(readout.query_read(params["read"], h, x))
    np.testing.assert_allclose(readout.recall_outputs(params, xs), np.array(expected), rtol=1e-5, atol=1e-6)


def test_the_exact_counting_memory_answers_every_question():
    C = 3
    xs, ys, mask = data.ice_cream(0, n=4, T=30, num_flavors=C)
    exact = {"memory": {"gamma": jnp.ones(C), "theta": jnp.concatenate([jnp.zeros((1, C)), jnp.eye(C), jnp.zeros((C, C))])},
             "read": {"A": jnp.concatenate([jnp.zeros((C, 1 + C)), jnp.eye(C)], axis=1)}}
    outputs = jax.vmap(lambda x: readout.recall_outputs(exact, x))(xs)
    np.testing.assert_allclose(outputs * mask, ys * mask, atol=1e-5)


def test_ice_cream_counts_only_purchases_before_the_question():
    xs, ys, mask = data.ice_cream(1, n=2, T=40)
    x = np.asarray(xs)
    for b in range(2):
        for t in range(40):
            if mask[b, t]:
                flavor = int(np.argmax(x[b, t, 3:]))
                assert ys[b, t] == x[b, :t + 1, flavor].sum()
            else:
                assert ys[b, t] == 0


def test_moving_blob_moves_one_pixel_per_frame_in_the_labelled_direction():
    frames, labels = data.moving_blob(2, n=6, T=5, width=10, noise=0.0)
    positions = np.argmax(np.asarray(frames), axis=-1)
    steps = (np.diff(positions, axis=1) + 10) % 10
    for b in range(6):
        assert set(steps[b]) == ({1} if labels[b] == 1 else {9})


def test_favourite_read_is_the_most_eaten_flavour():
    assert int(readout.favourite_read(None, jnp.array([2.0, 5.0, 1.0]), jnp.zeros(6))) == 1
    assert int(readout.favourite_read(None, jnp.array([4.0, 1.0, 4.0]), jnp.zeros(6))) == 0   # first on a tie
    xs, _, _ = data.ice_cream(5, n=1, T=25)
    eaten = np.cumsum(np.asarray(xs[0, :, :3]), axis=0)           # counts by an independent cumsum
    hs = jnp.asarray(eaten)
    favourites = readout.read_all(readout.favourite_read, None, hs, xs[0])
    for t in range(25):
        assert eaten[t, int(favourites[t])] == eaten[t].max()
