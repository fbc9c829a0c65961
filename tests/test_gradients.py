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


def test_spectral_radius_and_largest_singular_value():
    # a non-normal matrix: eigenvalues 0.9 and 0.9, but it stretches e_2 by about 4.19
    W = jnp.array([[0.9, 4.0], [0.0, 0.9]])
    assert float(gradients.spectral_radius_of(W)) == pytest.approx(0.9, rel=1e-5)
    assert float(gradients.largest_singular_value(W)) == pytest.approx(
        max(np.linalg.svd(np.asarray(W), compute_uv=False)), rel=1e-5)
    assert float(gradients.largest_singular_value(W)) > 4.0
    R = jnp.array([[0.0, -2.0], [2.0, 0.0]])           # normal: ρ = σ_max = 2
    assert float(gradients.spectral_radius_of(R)) == pytest.approx(2.0, rel=1e-5)
    assert float(gradients.largest_singular_value(R)) == pytest.approx(2.0, rel=1e-5)


def test_elman_pre_activation_and_step_by_hand():
    params = {"U": jnp.array([[2.0], [-1.0]]), "W": jnp.array([[0.5, 0.0], [1.0, -0.5]]), "b": jnp.array([0.1, 0.2])}
    h, x = jnp.array([0.2, -0.4]), jnp.array([1.0])
    expected = [2.0 + 0.5 * 0.2 + 0.1, -1.0 + 0.2 + 0.2 + 0.2]
    np.testing.assert_allclose(elman.pre_activation(params, h, x), expected, rtol=1e-6)
    np.testing.assert_allclose(elman.step(params, h, x), np.tanh(expected), rtol=1e-6)


@pytest.mark.parametrize("nonlinearity", ["linear", "tanh", "relu"])
def test_gradient_norms_are_the_norms_of_the_true_jacobians(nonlinearity):
    W = gradients.recurrent_matrix(jax.random.key(1), 4, 0.9)
    xs = jax.random.normal(jax.random.key(2), (6, 4))
    hs = gradients.states(W, xs, nonlinearity)
    phi = {"tanh": jnp.tanh, "relu": jax.nn.relu, "linear": lambda a: a}[nonlinearity]
    # the states are those of an independent loop
    h = jnp.zeros(4)
    for t in range(xs.shape[0]):
        h = phi(W @ h + xs[t])
        np.testing.assert_allclose(hs[t], h, rtol=1e-5, atol=1e-6)
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


def test_relu_slopes_switch_units_off():
    W = gradients.recurrent_matrix(jax.random.key(9), 5, 1.2)
    xs = jax.random.normal(jax.random.key(10), (8, 5))
    hs = gradients.states(W, xs, "relu")
    assert float(hs.min()) == 0.0                     # some units are off …
    slopes = gradients.slopes(hs, "relu")
    np.testing.assert_array_equal(slopes, (hs > 0).astype(hs.dtype))
    assert 0 < float(slopes.mean()) < 1               # … and some on
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        gradients.states(W, xs, "sigmoid")


def test_norms_never_exceed_the_singular_value_bound():
    # Pascanu et al. (2013): ‖∂h_T/∂h_{T-k}‖ ≤ (max|φ'| σ_max(W))^k, here max|φ'| = 1
    W = gradients.recurrent_matrix(jax.random.key(11), 6, 1.3)
    xs = jax.random.normal(jax.random.key(12), (20, 6))
    bound = float(gradients.largest_singular_value(W)) ** np.arange(1, 20)
    for nonlinearity in ("linear", "tanh", "relu"):
        norms = np.asarray(gradients.gradient_norms_by_lag(W, xs, nonlinearity))
        assert np.all(norms <= bound * (1 + 1e-4)), nonlinearity


@pytest.mark.parametrize("k", [1, 3, 4, 10])
def test_truncated_elman_loss_has_the_truncated_bptt_gradient(k):
    import functools
    params = elman.init(jax.random.key(13), 2, 4, 3)
    xs = jax.random.normal(jax.random.key(14), (10, 2))
    ys = jax.random.normal(jax.random.key(15), (10, 3))
    value, grads = jax.value_and_grad(gradients.truncated_elman_loss)(params, xs, ys, k)
    expected_value, expected = bptt.truncated_bptt(functools.partial(bptt.elman_loss, loss="mse"),
                                                   params, xs, ys, jnp.zeros(4), k)
    assert float(value) == pytest.approx(float(expected_value), rel=1e-5)
    for name in params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-4, atol=1e-5, err_msg=name)
    if k < 10:   # the cut is real: the full gradient differs
        _, full = bptt.elman_grads(params, xs, ys)
        assert float(jnp.max(jnp.abs(grads["W"] - full["W"]))) > 1e-3
    with pytest.raises(ValueError, match="chunk length"):
        gradients.truncated_elman_loss(params, xs, ys, 0)
