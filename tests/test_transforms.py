"""jit, grad and vmap work through every public function, and wrong inputs fail clearly."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import bptt, cells, losses

KEY = jax.random.key(0)


@pytest.mark.parametrize("method", lectlib.scans.METHODS)
def test_linear_recurrence_under_jit_grad_vmap(method):
    a = jnp.full((6, 2), 0.9)
    b = jnp.ones((6, 2))
    recurrence = functools.partial(lectlib.linear_recurrence, method=method)
    np.testing.assert_allclose(jax.jit(recurrence)(a, b), recurrence(a, b), rtol=1e-6)
    # d h_T / d b_1 = γ^{T-1}
    grad_b = jax.grad(lambda b: recurrence(a, b)[-1, 0])(b)
    np.testing.assert_allclose(grad_b[0, 0], 0.9**5, rtol=1e-5)
    batched = jax.vmap(recurrence)(jnp.stack([a, a]), jnp.stack([b, 2 * b]))
    np.testing.assert_allclose(batched[1], 2 * recurrence(a, b), rtol=1e-6)


def test_scan_under_jit_and_grad():
    def total(scale):
        _, ys = lectlib.scan(lambda c, x: (c + scale * x, c), 0.0, jnp.arange(4.0))
        return jnp.sum(ys)

    assert jax.jit(total)(1.0) == total(1.0)
    np.testing.assert_allclose(jax.grad(total)(1.0), 0 + 0 + 1 + (0 + 1 + 2))


@pytest.mark.parametrize("name", ["linear_memory", "elman", "mgu", "gru", "lstm"])
def test_every_cell_through_run_jit_grad_vmap(name):
    cell = getattr(cells, name)
    params = cell.init(KEY, 3, 4)
    h0 = cells.lstm.init_state(4) if name == "lstm" else jnp.zeros(4)

    def final_sum(params, xs):
        states = lectlib.run(cell.step, params, xs, h0)
        hs = states[0] if name == "lstm" else states
        return jnp.sum(hs[-1])

    xs = jax.random.normal(KEY, (5, 3))
    np.testing.assert_allclose(jax.jit(final_sum)(params, xs), final_sum(params, xs), rtol=1e-5)
    grads = jax.grad(final_sum)(params, xs)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    batch = jax.vmap(final_sum, in_axes=(None, 0))(params, jnp.stack([xs, 2 * xs]))
    assert batch.shape == (2,)


def test_losses_under_jit_grad_vmap():
    y_hat, y = jnp.ones((4, 2)), jnp.zeros((4, 2))
    assert jax.jit(losses.sequence_mse)(y_hat, y) == 2.0
    np.testing.assert_allclose(jax.grad(losses.sequence_mse)(y_hat, y), 2 * y_hat / 4)
    per_sequence = jax.vmap(losses.last_step_cross_entropy)(jnp.zeros((3, 4, 5)), jnp.array([0, 1, 2]))
    np.testing.assert_allclose(per_sequence, np.log(5.0) * np.ones(3), rtol=1e-6)
    mask = jnp.ones((2, 4))
    assert jax.jit(losses.masked_sequence_mse)(jnp.ones((2, 4, 1)), jnp.zeros((2, 4, 1)), mask) == 1.0
    jax.grad(losses.masked_last_step_cross_entropy)(jnp.zeros((2, 4, 3)), jnp.array([0, 1]), mask)


def test_bptt_under_jit_and_vmap():
    params = cells.elman.init(KEY, 2, 3, d_y=2)
    xs, ys = jnp.ones((5, 2)), jnp.zeros((5, 2))
    value, grads = jax.jit(bptt.elman_grads)(params, xs, ys, jnp.zeros(3))
    eager_value, _ = bptt.elman_grads(params, xs, ys, jnp.zeros(3))
    np.testing.assert_allclose(value, eager_value, rtol=1e-6)
    batched, _ = jax.vmap(bptt.elman_grads, in_axes=(None, 0, 0, None))(
        params, jnp.stack([xs, xs]), jnp.stack([ys, ys]), jnp.zeros(3))
    assert batched.shape == (2,)
    clipped = jax.jit(bptt.clip_by_global_norm)(grads, 0.1)
    np.testing.assert_allclose(bptt.global_norm(clipped), min(0.1, float(bptt.global_norm(grads))), rtol=1e-5)
    loss_fn = functools.partial(bptt.elman_loss, loss="mse")
    truncated = jax.jit(functools.partial(bptt.truncated_bptt, loss_fn, k=2))
    value, _ = truncated(params, xs, ys, jnp.zeros(3))
    np.testing.assert_allclose(value, eager_value, rtol=1e-5)


def test_validation_runs_before_tracing_and_names_shapes():
    calls = []

    def spy(a, b):
        calls.append(1)
        return lectlib.linear_recurrence(a, b)

    with pytest.raises(ValueError, match=r"b must have shape \(T=3, d=2\), received shape \(3, 4\)"):
        jax.jit(spy)(jnp.ones((3, 2)), jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"received dtype int32"):
        lectlib.linear_recurrence(jnp.ones((3, 2), jnp.int32), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(d=2,\), received shape \(3,\)"):
        lectlib.linear_recurrence(jnp.ones((3, 2)), jnp.ones((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"2 axes"):
        lectlib.linear_recurrence(jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="method"):
        lectlib.linear_recurrence(jnp.ones((3, 2)), jnp.ones((3, 2)), method="parallel")
    with pytest.raises(ValueError, match=r"xs must have shape \(T, d_x\)"):
        lectlib.run(cells.elman.step, cells.elman.init(KEY, 2, 3), jnp.ones(4), jnp.zeros(3))
