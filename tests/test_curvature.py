"""lectlib.curvature against closed forms: a quadratic's Hessian is its matrix, a second
derivative matches finite differences, and gradient descent diverges above 2 / λ_max."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import curvature
from lectlib.cells import linear_memory


def random_spd(seed, size):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(size, size)))
    eigenvalues = rng.uniform(0.5, 20.0, size)
    return (q * eigenvalues) @ q.T, np.sort(eigenvalues)


def quadratic_on_a_pytree(matrix):
    """½ fᵀ A f where f = [a (2,), b (1,)] flattened in ravel_pytree order (keys sorted)."""
    matrix = jnp.asarray(matrix, jnp.float32)

    def loss(params):
        flat = jnp.concatenate([params["a"], params["b"]])
        return 0.5 * flat @ matrix @ flat

    return loss


def test_hessian_of_a_quadratic_is_its_matrix():
    matrix, _ = random_spd(0, 3)
    params = {"a": jnp.array([0.3, -1.0]), "b": jnp.array([2.0])}
    np.testing.assert_allclose(curvature.hessian(quadratic_on_a_pytree(matrix), params), matrix, rtol=1e-5, atol=1e-5)


def test_curvatures_are_the_eigenvalues():
    matrix, eigenvalues = random_spd(1, 3)
    params = {"a": jnp.zeros(2), "b": jnp.zeros(1)}
    np.testing.assert_allclose(curvature.curvatures(curvature.hessian(quadratic_on_a_pytree(matrix), params)),
                               eigenvalues, rtol=1e-4)


def test_curvature_along_is_the_second_derivative():
    # On the linear memory's loss (not a quadratic in gamma): against central finite differences in float64.
    with jax.enable_x64(True):
        xs, ys = lectlib.data.decaying_sum(jax.random.key(0), n=8, T=20, gamma=0.9, scale=1.5)
        xs, ys = xs.astype(jnp.float64), ys.astype(jnp.float64)
        params = {"gamma": jnp.array([0.7]), "theta": jnp.array([[0.1], [1.0]])}

        def loss(p):
            hs = jax.vmap(lambda x: lectlib.run(linear_memory.step, p, x, jnp.zeros(1)))(xs)
            return jnp.mean((hs - ys) ** 2)

        along_gamma = {"gamma": jnp.ones(1), "theta": jnp.zeros((2, 1))}
        eps = 1e-4
        shifted = lambda d: loss({"gamma": params["gamma"] + d, "theta": params["theta"]})
        finite = (shifted(eps) - 2 * shifted(0.0) + shifted(-eps)) / eps**2
        np.testing.assert_allclose(curvature.curvature_along(loss, params, along_gamma), finite, rtol=1e-4)
        # and it is the Hessian's diagonal entry for gamma (first in ravel order)
        np.testing.assert_allclose(curvature.hessian(loss, params)[0, 0], finite, rtol=1e-4)


def test_gradient_descent_diverges_just_above_the_stable_rate():
    matrix, _ = random_spd(2, 3)
    loss = quadratic_on_a_pytree(matrix)
    start = {"a": jnp.array([1.0, -1.0]), "b": jnp.array([0.5])}
    rate = curvature.stable_learning_rate(curvature.hessian(loss, start))

    grad = jax.jit(jax.grad(loss))

    def descend(learning_rate, steps=400):
        params = start
        for _ in range(steps):
            params = lectlib.train.sgd_update(params, grad(params), learning_rate)
        return float(loss(params))

    assert descend(0.95 * rate) < 1e-3 * float(loss(start))
    assert descend(1.05 * rate) > 1e3 * float(loss(start))


def test_bad_inputs_are_named():
    params = {"a": jnp.zeros(2), "b": jnp.zeros(1)}
    with pytest.raises(ValueError, match="scalar"):
        curvature.hessian(lambda p: p["a"], params)
    loss = quadratic_on_a_pytree(np.eye(3))
    with pytest.raises(ValueError, match="all zeros"):
        curvature.curvature_along(loss, params, {"a": jnp.zeros(2), "b": jnp.zeros(1)})
    with pytest.raises(ValueError, match="shaped like params"):
        curvature.curvature_along(loss, params, {"a": jnp.zeros(3)})
    with pytest.raises(ValueError, match="square"):
        curvature.curvatures(jnp.ones((2, 3)))


def test_data_passed_as_arguments_gives_each_data_set_its_own_hessian():
    # loss(params, xs) = mean((w * xs)^2) / 2 has Hessian mean(xs^2) along w
    loss = lambda p, xs: 0.5 * jnp.mean((p["w"] * xs) ** 2)
    params = {"w": jnp.ones(1)}
    for xs in (jnp.array([1.0, 2.0, 3.0]), jnp.array([0.5, 0.5, 4.0])):
        np.testing.assert_allclose(curvature.hessian(loss, params, xs), [[float(jnp.mean(xs**2))]], rtol=1e-5)
        np.testing.assert_allclose(curvature.curvature_along(loss, params, {"w": jnp.ones(1)}, xs),
                                   float(jnp.mean(xs**2)), rtol=1e-5)
