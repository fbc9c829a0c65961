"""Gradients through time: Jacobian products against jax.jacobian, the training steps of
chapter 7 against full BPTT."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import bptt, gradients
from lectlib.cells import elman


def test_recurrent_matrix_has_the_requested_spectral_radius():
    W = gradients.recurrent_matrix(jax.random.key(0), 6, 1.3)
    assert float(gradients.spectral_radius_of(W)) == pytest.approx(1.3, rel=1e-4)


@pytest.mark.parametrize("nonlinearity", ["linear", "tanh"])
def test_gradient_norms_are_the_norms_of_the_true_jacobians(nonlinearity):
    W = gradients.recurrent_matrix(jax.random.key(1), 4, 0.9)
    xs = jax.random.normal(jax.random.key(2), (6, 4))
    hs = gradients.states(W, xs, nonlinearity)
    phi = jnp.tanh if nonlinearity == "tanh" else (lambda a: a)
    T = xs.shape[0]
    for lag in range(1, T):
        def forward(h):
            for t in range(T - lag, T):
                h = phi(W @ h + xs[t])
            return h

        start = hs[T - lag - 1]
        expected = np.linalg.norm(np.asarray(jax.jacobian(forward)(start)), ord=2)
        got = float(gradients.gradient_norms_by_lag(W, xs, nonlinearity)[lag - 1])
        assert got == pytest.approx(expected, rel=1e-4), lag


def test_without_a_nonlinearity_the_product_is_a_power_of_w():
    W = gradients.recurrent_matrix(jax.random.key(3), 3, 1.1)
    norms = gradients.gradient_norms_by_lag(W, jnp.zeros((5, 3)), "linear")
    for lag in range(1, 5):
        assert float(norms[lag - 1]) == pytest.approx(np.linalg.norm(np.linalg.matrix_power(np.asarray(W), lag), 2), rel=1e-4)


def test_truncated_step_with_one_chunk_is_the_full_gradient_step():
    params = elman.init(jax.random.key(4), 1, 5, 1)
    xs, ys = gradients.first_input_task(jax.random.key(5), 8, 6)
    full, full_loss, _ = gradients.elman_gradient_step(params, xs, ys, 0.1)
    truncated, truncated_loss = gradients.truncated_gradient_step(params, xs, ys, 6, 0.1)
    for key in params:
        np.testing.assert_allclose(truncated[key], full[key], rtol=1e-5, atol=1e-6)
    assert float(truncated_loss) == pytest.approx(float(full_loss), rel=1e-5)
    shorter, _ = gradients.truncated_gradient_step(params, xs, ys, 2, 0.1)
    assert not np.allclose(shorter["W"], full["W"])


def test_gradient_step_reports_the_norm_and_clips_it():
    params = elman.init(jax.random.key(6), 1, 5, 1)
    xs, ys = gradients.first_input_task(jax.random.key(7), 8, 6)
    mean_grads = jax.grad(lambda p: jnp.mean(jax.vmap(lambda x, y: bptt.elman_loss(p, x, y)[0])(xs, ys)))(params)
    _, _, norm = gradients.elman_gradient_step(params, xs, ys, 0.1)
    assert float(norm) == pytest.approx(float(bptt.global_norm(mean_grads)), rel=1e-4)
    clipped, _, _ = gradients.elman_gradient_step(params, xs, ys, 1.0, clip=1e-3)
    step = jnp.sqrt(sum(jnp.sum((clipped[k] - params[k]) ** 2) for k in params))
    assert float(step) == pytest.approx(1e-3, rel=1e-3)


def test_first_input_task_targets_the_first_input_at_the_end():
    xs, ys = gradients.first_input_task(jax.random.key(8), 5, 7)
    np.testing.assert_array_equal(ys[:, -1, 0], xs[:, 0, 0])
    assert float(jnp.abs(ys[:, :-1]).max()) == 0.0
