"""Hand-written BPTT against jax.grad; clipping; truncated BPTT."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import bptt


def autodiff_loss(params, xs, ys, h0, loss):
    """An independent forward pass written with a Python loop, for jax.grad."""
    h, total = h0, 0.0
    for t in range(xs.shape[0]):
        h = jnp.tanh(params["U"] @ xs[t] + params["W"] @ h + params["b"])
        o = params["V"] @ h + params["c"]
        if loss == "mse":
            total = total + 0.5 * jnp.sum((o - ys[t]) ** 2)
        else:
            total = total - jax.nn.log_softmax(o)[ys[t]]
    return total


def random_problem(seed, steps, d_x, d_h, d_y, loss):
    keys = jax.random.split(jax.random.key(seed), 8)
    params = {
        "U": jax.random.normal(keys[0], (d_h, d_x)),
        "W": 0.8 * jax.random.normal(keys[1], (d_h, d_h)) / jnp.sqrt(d_h),
        "b": 0.1 * jax.random.normal(keys[2], (d_h,)),
        "V": jax.random.normal(keys[3], (d_y, d_h)),
        "c": 0.1 * jax.random.normal(keys[4], (d_y,)),
    }
    xs = jax.random.normal(keys[5], (steps, d_x))
    h0 = 0.5 * jax.random.normal(keys[6], (d_h,))
    if loss == "mse":
        ys = jax.random.normal(keys[7], (steps, d_y))
    else:
        ys = jax.random.randint(keys[7], (steps,), 0, d_y)
    return params, xs, ys, h0


@pytest.mark.parametrize("loss", ["mse", "xent"])
@pytest.mark.parametrize("steps,d_x,d_h,d_y", [(1, 1, 1, 2), (5, 3, 4, 2), (12, 2, 6, 3)])
def test_elman_grads_equal_jax_grad_in_float64(loss, steps, d_x, d_h, d_y):
    with jax.enable_x64(True):
        params, xs, ys, h0 = random_problem(steps * 10 + d_h, steps, d_x, d_h, d_y, loss)
        value, grads = bptt.elman_grads(params, xs, ys, h0, loss=loss)
        expected_value = autodiff_loss(params, xs, ys, h0, loss)
        expected = jax.grad(autodiff_loss)(params, xs, ys, h0, loss)
        assert grads["U"].dtype == jnp.float64
        np.testing.assert_allclose(value, expected_value, rtol=1e-10)
        for name in params:
            np.testing.assert_allclose(grads[name], expected[name], atol=1e-5, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("loss", ["mse", "xent"])
def test_output_grads_are_jax_grads_of_the_loss(loss):
    """p − 1_y (and o − y) by hand against jax.grad of a loss written with numpy-style formulas."""
    with jax.enable_x64(True):
        os = jax.random.normal(jax.random.key(0), (4, 5), dtype=jnp.float64) * 3
        if loss == "xent":
            ys = jnp.array([0, 4, 2, 2])
            def independent(o):
                return -sum(o[t, ys[t]] - jnp.log(jnp.sum(jnp.exp(o[t]))) for t in range(4))
        else:
            ys = jax.random.normal(jax.random.key(1), (4, 5), dtype=jnp.float64)
            def independent(o):
                return 0.5 * jnp.sum((o - ys) ** 2)
        value, grads = bptt.loss_and_output_grads(os, ys, loss)
        np.testing.assert_allclose(value, independent(os), rtol=1e-12)
        np.testing.assert_allclose(grads, jax.grad(independent)(os), atol=1e-12)
        if loss == "xent":
            np.testing.assert_allclose(grads.sum(axis=1), 0.0, atol=1e-12)     # p sums to 1, 1_y too
    with pytest.raises(ValueError, match="loss"):
        bptt.loss_and_output_grads(os, ys, "hinge")


def test_elman_loss_matches_the_independent_forward_pass():
    params, xs, ys, h0 = random_problem(0, 6, 2, 3, 2, "mse")
    value, h_last = bptt.elman_loss(params, xs, ys, h0)
    np.testing.assert_allclose(value, autodiff_loss(params, xs, ys, h0, "mse"), rtol=1e-5)
    assert h_last.shape == (3,)


def test_elman_grads_reject_bad_inputs():
    params, xs, ys, h0 = random_problem(0, 4, 2, 3, 2, "mse")
    with pytest.raises(ValueError, match=r"ys must have shape \(4, d_y=2\), received shape \(4, 3\)"):
        bptt.elman_grads(params, xs, jnp.zeros((4, 3)), h0)
    with pytest.raises(ValueError, match="integers"):
        bptt.elman_grads(params, xs, ys, h0, loss="xent")
    with pytest.raises(ValueError, match="keys"):
        bptt.elman_grads({"U": params["U"]}, xs, ys, h0)
    with pytest.raises(ValueError, match="loss must be one of"):
        bptt.elman_grads(params, xs, ys, h0, loss="hinge")


def test_clipping_preserves_direction_and_sets_the_norm():
    grads = {"a": jnp.array([3.0, 0.0]), "b": jnp.array([[4.0]])}  # global norm 5
    clipped = bptt.clip_by_global_norm(grads, 1.0)
    np.testing.assert_allclose(bptt.global_norm(clipped), 1.0, rtol=1e-6)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(clipped["b"], [[0.8]], rtol=1e-6)


def test_clipping_leaves_small_and_zero_gradients_alone():
    grads = {"a": jnp.array([0.3, 0.4])}
    np.testing.assert_allclose(bptt.clip_by_global_norm(grads, 1.0)["a"], [0.3, 0.4])
    zeros = bptt.clip_by_global_norm({"a": jnp.zeros(2)}, 1.0)["a"]
    assert np.all(np.isfinite(zeros)) and np.all(zeros == 0)
    with pytest.raises(ValueError, match="positive"):
        bptt.clip_by_global_norm(grads, 0.0)


elman_mse = functools.partial(bptt.elman_loss, loss="mse")


def test_truncated_bptt_with_chunk_covering_sequence_is_full_bptt():
    params, xs, ys, h0 = random_problem(1, 9, 2, 3, 2, "mse")
    full_value, full_grads = bptt.elman_grads(params, xs, ys, h0)
    for k in (9, 20):
        value, grads = bptt.truncated_bptt(elman_mse, params, xs, ys, h0, k)
        np.testing.assert_allclose(value, full_value, rtol=1e-5)
        for name in params:
            np.testing.assert_allclose(grads[name], full_grads[name], rtol=1e-4, atol=1e-5)


def test_truncated_bptt_with_short_chunks_cuts_the_gradient():
    params, xs, ys, h0 = random_problem(2, 9, 2, 3, 2, "mse")
    full_value, full_grads = bptt.elman_grads(params, xs, ys, h0)
    value, grads = bptt.truncated_bptt(elman_mse, params, xs, ys, h0, 4)
    # The forward pass is the same, so the loss agrees; the gradient does not.
    np.testing.assert_allclose(value, full_value, rtol=1e-5)
    assert float(jnp.max(jnp.abs(grads["W"] - full_grads["W"]))) > 1e-3


def test_truncated_bptt_equals_sum_of_detached_chunk_gradients():
    params, xs, ys, h0 = random_problem(3, 7, 2, 3, 2, "mse")
    _, grads = bptt.truncated_bptt(elman_mse, params, xs, ys, h0, 3)
    _, first = bptt.elman_grads(params, xs[:3], ys[:3], h0)
    hs, _ = bptt.elman_forward(params, xs, h0)
    _, second = bptt.elman_grads(params, xs[3:6], ys[3:6], hs[2])
    _, third = bptt.elman_grads(params, xs[6:], ys[6:], hs[5])
    for name in params:
        np.testing.assert_allclose(grads[name], first[name] + second[name] + third[name], rtol=1e-4, atol=1e-5)


def test_truncated_bptt_rejects_bad_chunk_length():
    params, xs, ys, h0 = random_problem(0, 4, 2, 3, 2, "mse")
    with pytest.raises(ValueError, match="chunk length"):
        bptt.truncated_bptt(elman_mse, params, xs, ys, h0, 0)


def test_scalar_bptt_three_steps_by_hand():
    # u = 1, w = 0.5, v = 2, x = (1, 0, 0), y = 0: the numbers of chapter 7's recursion, step by step
    r = bptt.scalar_bptt(1.0, 0.5, 2.0, [1.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    h1 = np.tanh(1.0)
    h2 = np.tanh(0.5 * h1)
    h3 = np.tanh(0.5 * h2)
    np.testing.assert_allclose(r.h, [0.0, h1, h2, h3], rtol=1e-15)
    np.testing.assert_allclose(r.o, [2 * h1, 2 * h2, 2 * h3], rtol=1e-15)
    da3 = (1 - h3**2) * 2.0 * (2 * h3)
    da2 = (1 - h2**2) * (2.0 * (2 * h2) + 0.5 * da3)
    da1 = (1 - h1**2) * (2.0 * (2 * h1) + 0.5 * da2)
    np.testing.assert_allclose(r.dL_da, [da1, da2, da3], rtol=1e-14)
    assert r.loss == pytest.approx(0.5 * ((2 * h1) ** 2 + (2 * h2) ** 2 + (2 * h3) ** 2), rel=1e-15)
    assert r.grads["u"] == pytest.approx(da1 * 1.0, rel=1e-14)            # x_2 = x_3 = 0
    assert r.grads["w"] == pytest.approx(da2 * h1 + da3 * h2, rel=1e-14)   # h_0 = 0
    assert r.grads["v"] == pytest.approx(2 * h1 * h1 + 2 * h2 * h2 + 2 * h3 * h3, rel=1e-14)


@pytest.mark.parametrize("T", [1, 3, 7])
def test_scalar_bptt_equals_jax_grad(T):
    rng = np.random.default_rng(T)
    u, w, v, h0 = (float(a) for a in rng.normal(size=4))
    xs, ys = list(rng.normal(size=T)), list(rng.normal(size=T))

    def loss(weights):
        u, w, v = weights
        h, total = h0, 0.0
        for x, y in zip(xs, ys):
            h = jnp.tanh(w * h + u * x)
            total = total + 0.5 * (v * h - y) ** 2
        return total

    r = bptt.scalar_bptt(u, w, v, xs, ys, h0=h0)
    with jax.enable_x64(True):
        weights = jnp.array([u, w, v], dtype=jnp.float64)
        expected = jax.grad(loss)(weights)
        assert r.loss == pytest.approx(float(loss(weights)), rel=1e-12)
    np.testing.assert_allclose([r.grads[n] for n in "uwv"], np.asarray(expected), rtol=1e-10, atol=1e-13)
    # and the 1×1 Elman network of elman_grads agrees too
    params = {"U": np.array([[u]]), "W": np.array([[w]]), "b": np.zeros(1), "V": np.array([[v]]), "c": np.zeros(1)}
    with jax.enable_x64(True):
        _, grads = bptt.elman_grads(params, np.array(xs)[:, None], np.array(ys)[:, None], np.array([h0]))
    np.testing.assert_allclose([grads["U"][0, 0], grads["W"][0, 0], grads["V"][0, 0]],
                               [r.grads[n] for n in "uwv"], rtol=1e-10)


def test_scalar_bptt_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same number T >= 1"):
        bptt.scalar_bptt(1.0, 0.5, 2.0, [1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="same number T >= 1"):
        bptt.scalar_bptt(1.0, 0.5, 2.0, [], [])
    with pytest.raises(ValueError, match="w: expected a real number"):
        bptt.scalar_bptt(1.0, "0.5", 2.0, [1.0], [0.0])
    with pytest.raises(ValueError, match="xs: expected a real number"):
        bptt.scalar_bptt(1.0, 0.5, 2.0, [[1.0, 2.0]], [0.0])
    with pytest.raises(ValueError, match="finite"):
        bptt.scalar_bptt(1.0, float("nan"), 2.0, [1.0], [0.0])
