"""The curvature of a loss: its Hessian, and what it says about the step size (chapter 3).

Near a minimum a loss is close to the quadratic ``½ δᵀ H δ``. Plain gradient descent with
step ``η`` multiplies the error along an eigenvector of ``H`` with eigenvalue ``λ`` by
``1 - ηλ`` at every step, so it converges only when ``η < 2 / λ_max``, and then the
flattest direction shrinks by ``1 - ηλ_min`` per step: a large ratio ``λ_max / λ_min``
(an ill-conditioned loss) makes gradient descent either unstable or slow.

``hessian`` and ``curvature_along`` take ``loss(params, *data) -> scalar``, a parameter
pytree and the data; the Hessian is taken over all parameters flattened in
``jax.flatten_util.ravel_pytree`` order. ``curvatures`` and ``stable_learning_rate`` read
a Hessian already computed, so a page computes it once.
"""
import functools

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def _scalar_loss(loss, params, data):
    value = jax.eval_shape(loss, params, *data)
    if value.shape != ():
        raise ValueError(f"loss(params, *data) must return a scalar, it returns shape {value.shape}")


@functools.partial(jax.jit, static_argnums=0)
def _hessian(loss, params, data):
    # Compiled once per loss function and shapes: run eagerly, the Hessian of a scanned
    # loss dispatches thousands of small operations one by one.
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda f: loss(unravel(f), *data))(flat)


def hessian(loss, params, *data):
    """The Hessian of ``loss`` at ``params``, over every parameter flattened.

    Arguments: ``loss(params, *data) -> scalar``; ``params`` a pytree of ``P`` numbers in
    all; ``data`` any arrays the loss takes after ``params`` (pass them here rather than
    closing over them, and the compiled Hessian is reused for new data of the same shapes).
    Returns: ``(P, P)``, symmetric, in ``jax.flatten_util.ravel_pytree(params)`` order.
    Chapter 3 (exercise 3.3); tests/test_curvature.py::test_hessian_of_a_quadratic_is_its_matrix.
    """
    _scalar_loss(loss, params, data)
    return _hessian(loss, params, data)


def curvatures(matrix):
    """The eigenvalues of a Hessian (from ``hessian``), smallest first: the curvature along
    each principal direction.

    Arguments: ``matrix`` ``(P, P)`` symmetric. Returns: ``(P,)``.
    Chapter 3 (exercise 3.3); tests/test_curvature.py::test_curvatures_are_the_eigenvalues.
    """
    matrix = _square(matrix)
    return jnp.linalg.eigvalsh(0.5 * (matrix + matrix.T))


def _square(matrix):
    matrix = jnp.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a Hessian must be a square (P, P) matrix, received shape {matrix.shape}")
    return matrix


@functools.partial(jax.jit, static_argnums=0)
def _curvature_along(loss, params, direction, data):
    flat, unravel = ravel_pytree(params)
    v, _ = ravel_pytree(direction)
    _, hessian_times_v = jax.jvp(jax.grad(lambda f: loss(unravel(f), *data)), (flat,), (v,))
    return jnp.dot(v, hessian_times_v) / jnp.dot(v, v)


def curvature_along(loss, params, direction, *data):
    """The second derivative of ``loss`` along ``direction``: ``vᵀ H v / vᵀ v`` (a
    Hessian-vector product, no full Hessian).

    Arguments: ``loss``, ``params``, ``data`` as ``hessian``; ``direction`` a pytree shaped
    like ``params``, not all zero (e.g. 1 on ``gamma`` and 0 elsewhere for ``∂²L/∂γ²``).
    Returns: a scalar.
    Chapter 3 (exercise 3.3); tests/test_curvature.py::test_curvature_along_is_the_second_derivative.
    """
    _scalar_loss(loss, params, data)
    shapes = jax.tree_util.tree_map(jnp.shape, params)
    if jax.tree_util.tree_structure(direction) != jax.tree_util.tree_structure(params) or \
            jax.tree_util.tree_map(jnp.shape, direction) != shapes:
        raise ValueError(f"direction must be shaped like params {shapes}, "
                         f"received {jax.tree_util.tree_map(jnp.shape, direction)}")
    if not any(bool(jnp.any(leaf != 0)) for leaf in jax.tree_util.tree_leaves(direction)):
        raise ValueError("direction must not be all zeros")
    return _curvature_along(loss, params, direction, data)


def stable_learning_rate(matrix):
    """``2 / λ_max``: the largest step with which plain gradient descent does not diverge
    on the quadratic whose Hessian is ``matrix`` (a loss's Hessian at, or near, a minimum).

    Arguments: ``matrix`` ``(P, P)`` from ``hessian``. Returns: a Python float (``inf`` if
    no curvature is positive).
    Chapter 3 (exercise 3.3); tests/test_curvature.py::test_gradient_descent_diverges_just_above_the_stable_rate.
    """
    largest = float(curvatures(matrix)[-1])
    return float("inf") if largest <= 0 else 2.0 / largest
