"""Every cell against a step computed by hand on a tiny case."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import cells


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def test_linear_memory_step_by_hand():
    params = {"gamma": jnp.array([0.5]), "theta": jnp.array([[1.0], [2.0]])}  # θᵀ[1, x] = 1 + 2x
    h = cells.linear_memory.step(params, jnp.array([4.0]), jnp.array([3.0]))
    np.testing.assert_allclose(h, [0.5 * 4.0 + 1.0 + 2.0 * 3.0])


def test_linear_memory_unrolls_to_the_composite_sum():
    params = cells.linear_memory.init(jax.random.key(0), 2, 3)
    xs = jax.random.normal(jax.random.key(1), (5, 2))
    hs = lectlib.run(cells.linear_memory.step, params, xs, jnp.zeros(3))
    x_bar = jnp.concatenate([jnp.ones((5, 1)), xs], axis=1)
    contributions = x_bar @ params["theta"]  # (T, d_h)
    weights = params["gamma"][None, :] ** jnp.arange(4, -1, -1)[:, None]
    np.testing.assert_allclose(hs[-1], jnp.sum(weights * contributions, axis=0), rtol=1e-5)


def test_elman_step_by_hand():
    params = {"U": jnp.array([[2.0]]), "W": jnp.array([[0.5]]), "b": jnp.array([0.1])}
    h = cells.elman.step(params, jnp.array([0.2]), jnp.array([1.0]))
    np.testing.assert_allclose(h, [math.tanh(2.0 + 0.5 * 0.2 + 0.1)], rtol=1e-6, atol=1e-7)


def test_elman_output_by_hand():
    params = {"V": jnp.array([[2.0, -1.0]]), "c": jnp.array([0.5])}
    np.testing.assert_allclose(cells.elman.output(params, jnp.array([1.0, 3.0])), [2.0 - 3.0 + 0.5])


def test_mgu_step_by_hand():
    params = {
        "theta1": jnp.array([[0.1], [0.2]]), "theta2": jnp.array([[0.3]]),
        "theta3": jnp.array([[-0.4], [0.5]]), "theta4": jnp.array([[0.6]]),
    }
    h0, x = 0.7, 2.0
    f = sigmoid(0.1 + 0.2 * x + 0.3 * h0)
    f2 = sigmoid(-0.4 + 0.5 * x + 0.6 * f * h0)
    h = cells.mgu.step(params, jnp.array([h0]), jnp.array([x]))
    np.testing.assert_allclose(h, [f * h0 + (1 - f) * f2], rtol=1e-6, atol=1e-7)


def test_lstm_step_by_hand():
    weights = {"f": (0.5, 0.1, 1.0), "i": (-0.3, 0.2, 0.0), "o": (0.4, -0.2, 0.1), "g": (0.9, 0.3, -0.1)}
    params = {}
    for gate, (w, u, b) in weights.items():
        params[f"W_{gate}"] = jnp.array([[w]])
        params[f"U_{gate}"] = jnp.array([[u]])
        params[f"b_{gate}"] = jnp.array([b])
    h0, c0, x = 0.2, -0.5, 1.5
    pre = {k: w * x + u * h0 + b for k, (w, u, b) in weights.items()}
    c = sigmoid(pre["f"]) * c0 + sigmoid(pre["i"]) * math.tanh(pre["g"])
    h = sigmoid(pre["o"]) * math.tanh(c)
    got_h, got_c = cells.lstm.step(params, (jnp.array([h0]), jnp.array([c0])), jnp.array([x]))
    np.testing.assert_allclose(got_c, [c], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_h, [h], rtol=1e-6, atol=1e-7)


def test_gru_step_by_hand():
    weights = {"z": (0.5, 0.1, 0.2), "r": (-0.3, 0.4, 0.0), "h": (0.8, -0.6, 0.1)}
    params = {}
    for gate, (w, u, b) in weights.items():
        params[f"W_{gate}"] = jnp.array([[w]])
        params[f"U_{gate}"] = jnp.array([[u]])
        params[f"b_{gate}"] = jnp.array([b])
    h0, x = -0.4, 1.2
    z = sigmoid(0.5 * x + 0.1 * h0 + 0.2)
    r = sigmoid(-0.3 * x + 0.4 * h0)
    candidate = math.tanh(0.8 * x - 0.6 * r * h0 + 0.1)
    h = cells.gru.step(params, jnp.array([h0]), jnp.array([x]))
    np.testing.assert_allclose(h, [z * h0 + (1 - z) * candidate], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["linear_memory", "elman", "mgu", "gru"])
def test_init_shapes_and_determinism(name):
    cell = getattr(cells, name)
    first = cell.init(jax.random.key(3), 4, 6)
    second = cell.init(jax.random.key(3), 4, 6)
    jax.tree_util.tree_map(np.testing.assert_array_equal, first, second)
    h = cell.step(first, jnp.zeros(6), jnp.ones(4))
    assert h.shape == (6,)


def test_elman_init_with_readout_has_the_bptt_keys():
    params = cells.elman.init(jax.random.key(0), 2, 3, d_y=4)
    assert {k: v.shape for k, v in params.items()} == {
        "U": (3, 2), "W": (3, 3), "b": (3,), "V": (4, 3), "c": (4,)}


@pytest.mark.parametrize("name", ["linear_memory", "elman", "mgu", "gru"])
def test_step_rejects_wrong_state_size_with_both_shapes(name):
    cell = getattr(cells, name)
    params = cell.init(jax.random.key(0), 2, 3)
    with pytest.raises(ValueError, match=r"\(3,\).*\(5,\)"):
        cell.step(params, jnp.zeros(5), jnp.ones(2))


def test_lstm_rejects_a_bare_state():
    params = cells.lstm.init(jax.random.key(0), 2, 3)
    with pytest.raises(ValueError, match="pair"):
        cells.lstm.step(params, jnp.zeros(3), jnp.ones(2))


def test_init_rejects_bad_sizes():
    with pytest.raises(ValueError, match="d_h"):
        cells.gru.init(jax.random.key(0), 2, 0)
