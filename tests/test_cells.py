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
    params = {"U_f": jnp.array([[0.2]]), "W_f": jnp.array([[0.3]]), "b_f": jnp.array([0.1]),
              "U_h": jnp.array([[0.5]]), "W_h": jnp.array([[0.6]]), "b_h": jnp.array([-0.4])}
    h0, x = 0.7, 2.0
    f = sigmoid(0.1 + 0.2 * x + 0.3 * h0)
    f2 = sigmoid(-0.4 + 0.5 * x + 0.6 * f * h0)
    h = cells.mgu.step(params, jnp.array([h0]), jnp.array([x]))
    np.testing.assert_allclose(h, [f * h0 + (1 - f) * f2], rtol=1e-6, atol=1e-7)
    g = cells.mgu.gates(params, jnp.array([h0]), jnp.array([x]))
    np.testing.assert_allclose([g["f"][0], g["h"][0]], [f, f2], rtol=1e-6)


def test_mgu_from_thetas_is_the_lectures_form():
    """f = σ(θ₁ᵀx̄ + θ₂ᵀh), h̃ = σ(θ₃ᵀx̄ + θ₄ᵀ(f ⊙ h)), h ← f ⊙ h + (1 − f) ⊙ h̃, x̄ = [1, x]."""
    keys = jax.random.split(jax.random.key(7), 6)
    d_x, d_h = 2, 3
    theta1, theta3 = (jax.random.normal(k, (d_x + 1, d_h)) for k in keys[:2])
    theta2, theta4 = (jax.random.normal(k, (d_h, d_h)) for k in keys[2:4])
    h = jax.random.uniform(keys[4], (d_h,))
    x = jax.random.normal(keys[5], (d_x,))
    x_bar = jnp.concatenate([jnp.ones(1), x])
    f = jax.nn.sigmoid(theta1.T @ x_bar + theta2.T @ h)
    f2 = jax.nn.sigmoid(theta3.T @ x_bar + theta4.T @ (f * h))
    params = cells.mgu.from_thetas(theta1, theta2, theta3, theta4)
    np.testing.assert_allclose(cells.mgu.step(params, h, x), f * h + (1 - f) * f2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="theta2"):
        cells.mgu.from_thetas(theta1, jnp.zeros((d_h, d_h + 1)), theta3, theta4)


def test_lstm_step_by_hand():
    weights = {"f": (0.5, 0.1, 1.0), "i": (-0.3, 0.2, 0.0), "q": (0.4, -0.2, 0.1), "g": (0.9, 0.3, -0.1)}
    params = {}
    for gate, (u, w, b) in weights.items():             # input weight, recurrent weight, bias
        params[f"U_{gate}"] = jnp.array([[u]])
        params[f"W_{gate}"] = jnp.array([[w]])
        params[f"b_{gate}"] = jnp.array([b])
    h0, s0, x = 0.2, -0.5, 1.5              # Goodfellow's names: cell state s, output gate q
    pre = {k: u * x + w * h0 + b for k, (u, w, b) in weights.items()}
    s = sigmoid(pre["f"]) * s0 + sigmoid(pre["i"]) * math.tanh(pre["g"])
    h = sigmoid(pre["q"]) * math.tanh(s)
    got_h, got_s = cells.lstm.step(params, (jnp.array([h0]), jnp.array([s0])), jnp.array([x]))
    np.testing.assert_allclose(got_s, [s], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_h, [h], rtol=1e-6, atol=1e-7)


def test_gru_step_by_hand():
    weights = {"z": (0.5, 0.1, 0.2), "r": (-0.3, 0.4, 0.0), "h": (0.8, -0.6, 0.1)}
    params = {}
    for gate, (u, w, b) in weights.items():             # input weight, recurrent weight, bias
        params[f"U_{gate}"] = jnp.array([[u]])
        params[f"W_{gate}"] = jnp.array([[w]])
        params[f"b_{gate}"] = jnp.array([b])
    h0, x = -0.4, 1.2
    z = sigmoid(0.5 * x + 0.1 * h0 + 0.2)
    r = sigmoid(-0.3 * x + 0.4 * h0)
    candidate = math.tanh(0.8 * x - 0.6 * r * h0 + 0.1)
    h = cells.gru.step(params, jnp.array([h0]), jnp.array([x]))
    np.testing.assert_allclose(h, [z * h0 + (1 - z) * candidate], rtol=1e-6, atol=1e-7)
    g = cells.gru.gates(params, jnp.array([h0]), jnp.array([x]))
    np.testing.assert_allclose([g["z"][0], g["r"][0], g["h"][0]], [z, r, candidate], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["linear_memory", "elman", "mgu", "gru", "lstm"])
def test_init_shapes_and_determinism(name):
    cell = getattr(cells, name)
    first = cell.init(jax.random.key(3), 4, 6)
    second = cell.init(jax.random.key(3), 4, 6)
    jax.tree_util.tree_map(np.testing.assert_array_equal, first, second)
    new = cell.step(first, cell.init_state(6), jnp.ones(4))
    assert jax.tree_util.tree_map(jnp.shape, new) == jax.tree_util.tree_map(jnp.shape, cell.init_state(6))


@pytest.mark.parametrize("name, gates", [("mgu", "fh"), ("lstm", "fiqg"), ("gru", "zrh")])
def test_gated_cells_name_input_weights_u_and_recurrent_weights_w(name, gates):
    """The course's notation: U_k multiplies the input x (d_h, d_x), W_k the state h (d_h, d_h)."""
    params = getattr(cells, name).init(jax.random.key(0), 2, 5)
    assert {k: v.shape for k, v in params.items()} == {
        **{f"U_{g}": (5, 2) for g in gates}, **{f"W_{g}": (5, 5) for g in gates}, **{f"b_{g}": (5,) for g in gates}}


@pytest.mark.parametrize("name", ["linear_memory", "elman", "mgu", "gru", "lstm"])
def test_init_state_starts_every_cell(name):
    """``init_state(d_h)`` is the zero state (the LSTM: the pair of zeros) that ``lectlib.run`` starts from."""
    cell = getattr(cells, name)
    state = cell.init_state(3)
    leaves = jax.tree_util.tree_leaves(state)
    assert len(leaves) == (2 if name == "lstm" else 1)
    for leaf in leaves:
        assert leaf.shape == (3,) and leaf.dtype == jnp.float32
        np.testing.assert_array_equal(leaf, np.zeros(3))
    params = cell.init(jax.random.key(1), 2, 3)
    hs = lectlib.run(cell.step, params, jnp.ones((4, 2)), state)
    assert jax.tree_util.tree_leaves(hs)[0].shape == (4, 3)
    with pytest.raises(ValueError, match="d_h"):
        cell.init_state(0)


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
