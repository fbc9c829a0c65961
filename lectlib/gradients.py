"""Vanishing and exploding gradients (chapter 7): how a gradient changes as it travels
back through time, and training runs that show clipping and truncated BPTT at work.

Backpropagating from ``h_T`` to ``h_{T-k}`` multiplies ``k`` Jacobians
``∂h_t/∂h_{t-1} = diag(φ'(a_t)) W``. Without the nonlinearity the product is ``W^k``, whose
size grows or shrinks like ``ρ(W)^k`` for the spectral radius ``ρ``; ``tanh`` only shrinks it.
"""
import functools

import jax
import jax.numpy as jnp

from lectlib import bptt
from lectlib._checks import as_array, check_inexact, check_shapes
from lectlib.train import sgd_update

NONLINEARITIES = ("linear", "tanh")


def recurrent_matrix(key, d_h, spectral_radius):
    """A random ``(d_h, d_h)`` matrix scaled so that its largest |eigenvalue| is ``spectral_radius``."""
    if not spectral_radius > 0:
        raise ValueError(f"spectral_radius must be positive, received {spectral_radius}")
    W = jax.random.normal(key, (d_h, d_h)) / jnp.sqrt(d_h)
    return W * (spectral_radius / spectral_radius_of(W))


def spectral_radius_of(W):
    """``max |λ|`` over the eigenvalues of the square matrix ``W``."""
    W = as_array(W, "W")
    check_shapes([(W, ("d", "d"), "W")])
    return jnp.max(jnp.abs(jnp.linalg.eigvals(jax.device_get(W))))


def states(W, xs, nonlinearity="tanh", input_scale=1.0):
    """The states of ``h_t = φ(W h_{t-1} + s x_t)`` from ``h_0 = 0``. ``xs``: ``(T, d_h)``. Returns ``(T, d_h)``."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, received {nonlinearity!r}")
    phi = jnp.tanh if nonlinearity == "tanh" else (lambda a: a)

    def step(h, x):
        h = phi(W @ h + input_scale * x)
        return h, h

    _, hs = jax.lax.scan(step, jnp.zeros(W.shape[0], W.dtype), xs)
    return hs


def gradient_norms_by_lag(W, xs, nonlinearity="tanh", input_scale=1.0):
    """``‖∂h_T/∂h_{T-k}‖₂`` (the spectral norm of the product of Jacobians) for ``k = 1 … T-1``.

    Arguments: ``W`` ``(d_h, d_h)``; ``xs`` ``(T, d_h)`` inputs driving the states.
    Returns: ``(T - 1,)``, entry ``k - 1`` for lag ``k``.
    """
    W = as_array(W, "W")
    xs = as_array(xs, "xs")
    check_inexact(xs, "xs")
    check_shapes([(W, ("d_h", "d_h"), "W"), (xs, ("T", "d_h"), "xs")])
    hs = states(W, xs, nonlinearity, input_scale)
    slopes = 1 - hs ** 2 if nonlinearity == "tanh" else jnp.ones_like(hs)      # φ'(a_t) at every step

    def back(product, slope):
        product = product @ (slope[:, None] * W)          # ∂h_T/∂h_{t-1} = ∂h_T/∂h_t · diag(φ'(a_t)) W
        return product, jnp.linalg.norm(product, ord=2)

    _, norms = jax.lax.scan(back, jnp.eye(W.shape[0], dtype=W.dtype), slopes[::-1][:-1])
    return norms


def first_input_task(key, n, T, noise=0.1):
    """Remember the first input until the end: ``xs`` ``(n, T, 1)`` holds ±1 at step 1 and
    Gaussian distractors of scale ``noise`` after; ``ys`` ``(n, T, 1)`` is 0 except ``x_1``
    at the last step."""
    k_sign, k_noise = jax.random.split(key)
    first = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n, 1)), 1.0, -1.0)
    xs = noise * jax.random.normal(k_noise, (n, T, 1))
    xs = xs.at[:, 0, 0].set(first[:, 0])
    ys = jnp.zeros((n, T, 1)).at[:, -1, 0].set(first[:, 0])
    return xs, ys


def _batch_mean_gradients(per_sequence, xs, ys):
    """Runs ``per_sequence(x, y) -> (loss, grads)`` over the batch ``xs``, ``ys`` ``(n, T, ·)``.
    Returns the mean loss and the mean of every gradient."""
    losses, grads = jax.vmap(per_sequence)(xs, ys)
    return jnp.mean(losses), jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), grads)


@functools.partial(jax.jit, static_argnames=("k",))
def truncated_gradient_step(params, xs, ys, k, learning_rate):
    """One update with gradients from truncated BPTT (chunks of ``k`` steps), averaged over
    the batch ``xs``, ``ys`` ``(n, T, ·)``. Returns ``(params, mean loss)``."""
    h0 = jnp.zeros(params["W"].shape[0])
    loss_fn = functools.partial(bptt.elman_loss, loss="mse")
    loss, grads = _batch_mean_gradients(lambda x, y: bptt.truncated_bptt(loss_fn, params, x, y, h0, k), xs, ys)
    return sgd_update(params, grads, learning_rate), loss


def train_truncated(params, xs, ys, k, steps, learning_rate):
    """Plain gradient descent with truncated BPTT. Returns final ``params`` and ``(steps,)`` losses."""
    history = []
    for _ in range(steps):
        params, loss = truncated_gradient_step(params, xs, ys, k, learning_rate)
        history.append(loss)
    return params, jnp.stack(history)


@functools.partial(jax.jit, static_argnames=("clip",))
def elman_gradient_step(params, xs, ys, learning_rate, clip=None):
    """One full-BPTT update of an Elman network on a batch (mean square loss over steps),
    optionally clipped to global norm ``clip``. Returns ``(params, mean loss, gradient norm)``."""
    h0 = jnp.zeros(params["W"].shape[0])
    loss, grads = _batch_mean_gradients(lambda x, y: bptt.elman_grads(params, x, y, h0), xs, ys)
    norm = bptt.global_norm(grads)
    if clip is not None:
        grads = bptt.clip_by_global_norm(grads, clip)
    return sgd_update(params, grads, learning_rate), loss, norm
