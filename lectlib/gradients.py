"""Vanishing and exploding gradients (chapter 7): how a gradient changes as it travels
back through time, and training runs that show clipping and truncated BPTT at work.

Backpropagating from ``h_T`` to ``h_{T-k}`` multiplies ``k`` Jacobians
``∂h_t/∂h_{t-1} = diag(φ'(a_t)) W``, the latest on the left. Its norm is at most
``(max|φ'| · σ_max(W))^k`` (Pascanu et al., 2013), so ``σ_max(W) < 1`` guarantees vanishing
for ``tanh`` and ReLU. Without the nonlinearity the product is ``W^k``, whose size behaves
like ``ρ(W)^k`` only in the long run; a non-normal ``W`` can amplify for many steps first,
and the slopes, which do not commute with ``W``, can make the product larger than ``W^k``.
"""
import functools

import jax
import jax.numpy as jnp

from lectlib import bptt
from lectlib._checks import as_array, check_inexact, check_positive_int, check_shapes
from lectlib.cells import elman
from lectlib.train import sgd_update

NONLINEARITIES = ("linear", "tanh", "relu")
PHI = {"linear": lambda a: a, "tanh": jnp.tanh, "relu": jax.nn.relu}


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, received {nonlinearity!r}")


def recurrent_matrix(key, d_h, spectral_radius):
    """A random ``(d_h, d_h)`` matrix scaled so that its largest |eigenvalue| is ``spectral_radius``.
    Chapter 7; tests/test_gradients.py::test_recurrent_matrix_has_the_requested_spectral_radius."""
    if not spectral_radius > 0:
        raise ValueError(f"spectral_radius must be positive, received {spectral_radius}")
    W = jax.random.normal(key, (d_h, d_h)) / jnp.sqrt(d_h)
    return W * (spectral_radius / spectral_radius_of(W))


def spectral_radius_of(W):
    """``ρ(W) = max |λ|`` over the eigenvalues of the square matrix ``W``. Chapter 7;
    tests/test_gradients.py::test_spectral_radius_and_largest_singular_value."""
    W = as_array(W, "W")
    check_shapes([(W, ("d", "d"), "W")])
    return jnp.max(jnp.abs(jnp.linalg.eigvals(jax.device_get(W))))


def largest_singular_value(W):
    """``σ_max(W) = ‖W‖₂``, the most ``W`` stretches any vector; ``ρ(W) ≤ σ_max(W)``.
    Chapter 7; tests/test_gradients.py::test_spectral_radius_and_largest_singular_value."""
    W = as_array(W, "W")
    check_shapes([(W, ("d", "d"), "W")])
    return jnp.linalg.norm(W, ord=2)


def states(W, xs, nonlinearity="tanh", input_scale=1.0):
    """The states of ``h_t = φ(W h_{t-1} + s x_t)`` from ``h_0 = 0``: the Elman step
    (``lectlib.cells.elman.pre_activation``) with ``U = s I``, ``b = 0`` and ``φ`` linear,
    ``tanh`` or ReLU. ``xs``: ``(T, d_h)``. Returns ``(T, d_h)``. Chapter 7;
    tests/test_gradients.py::test_gradient_norms_are_the_norms_of_the_true_jacobians."""
    _check_nonlinearity(nonlinearity)
    return _states(as_array(W, "W"), as_array(xs, "xs"), nonlinearity, input_scale)


@functools.partial(jax.jit, static_argnames=("nonlinearity",))
def _states(W, xs, nonlinearity, input_scale):
    d_h = W.shape[0]
    params = {"U": input_scale * jnp.eye(d_h, dtype=W.dtype), "W": W, "b": jnp.zeros(d_h, W.dtype)}
    phi = PHI[nonlinearity]

    def step(h, x):
        h = phi(elman.pre_activation(params, h, x))
        return h, h

    _, hs = jax.lax.scan(step, jnp.zeros(d_h, W.dtype), xs)
    return hs


def slopes(hs, nonlinearity):
    """``φ'(a_t)`` at every step, from the states ``hs`` ``(T, d_h)``: ``1 − h²`` for tanh,
    ``1[h > 0]`` for ReLU, 1 when linear. Returns ``(T, d_h)``. Chapter 7;
    tests/test_gradients.py::test_relu_slopes_switch_units_off."""
    _check_nonlinearity(nonlinearity)
    if nonlinearity == "tanh":
        return 1 - hs ** 2
    if nonlinearity == "relu":
        return (hs > 0).astype(hs.dtype)
    return jnp.ones_like(hs)


def gradient_norms_by_lag(W, xs, nonlinearity="tanh", input_scale=1.0):
    """``‖∂h_T/∂h_{T-k}‖₂`` (the spectral norm of the product of Jacobians) for ``k = 1 … T-1``.

    ``∂h_T/∂h_{T-k} = diag(φ'(a_T)) W · diag(φ'(a_{T-1})) W ⋯ diag(φ'(a_{T-k+1})) W``, the
    latest step on the left. Chapter 7;
    tests/test_gradients.py::test_gradient_norms_are_the_norms_of_the_true_jacobians.

    Arguments: ``W`` ``(d_h, d_h)``; ``xs`` ``(T, d_h)`` inputs driving the states;
    ``nonlinearity`` ``"linear"``, ``"tanh"`` or ``"relu"``.
    Returns: ``(T - 1,)``, entry ``k - 1`` for lag ``k``.
    """
    W = as_array(W, "W")
    xs = as_array(xs, "xs")
    check_inexact(xs, "xs")
    check_shapes([(W, ("d_h", "d_h"), "W"), (xs, ("T", "d_h"), "xs")])
    _check_nonlinearity(nonlinearity)
    return _norms_by_lag(W, xs, nonlinearity, input_scale)


@functools.partial(jax.jit, static_argnames=("nonlinearity",))
def _norms_by_lag(W, xs, nonlinearity, input_scale):
    hs = _states(W, xs, nonlinearity, input_scale)

    def back(product, slope):
        product = product @ (slope[:, None] * W)          # ∂h_T/∂h_{t-1} = ∂h_T/∂h_t · diag(φ'(a_t)) W
        return product, jnp.linalg.norm(product, ord=2)

    _, norms = jax.lax.scan(back, jnp.eye(W.shape[0], dtype=W.dtype), slopes(hs, nonlinearity)[::-1][:-1])
    return norms


def first_input_task(key, n, T, noise=0.1):
    """Remember the first input until the end: ``xs`` ``(n, T, 1)`` holds ±1 at step 1 and
    Gaussian distractors of scale ``noise`` on the same input after; ``ys`` ``(n, T, 1)`` is 0
    except ``x_1`` at the last step. Chapter 7 (clipping, truncated BPTT);
    tests/test_gradients.py::test_first_input_task_targets_the_first_input_at_the_end."""
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
    the batch ``xs``, ``ys`` ``(n, T, ·)``. Returns ``(params, mean loss)``. Chapter 7;
    tests/test_gradients.py::test_truncated_step_with_one_chunk_is_the_full_gradient_step."""
    h0 = jnp.zeros(params["W"].shape[0])
    loss_fn = functools.partial(bptt.elman_loss, loss="mse")
    loss, grads = _batch_mean_gradients(lambda x, y: bptt.truncated_bptt(loss_fn, params, x, y, h0, k), xs, ys)
    return sgd_update(params, grads, learning_rate), loss


def train_truncated(params, xs, ys, k, steps, learning_rate):
    """Plain gradient descent with truncated BPTT. Returns final ``params`` and ``(steps,)`` losses.
    Chapter 7; tests/test_gradients.py::test_truncated_step_with_one_chunk_is_the_full_gradient_step."""
    history = []
    for _ in range(steps):
        params, loss = truncated_gradient_step(params, xs, ys, k, learning_rate)
        history.append(loss)
    return params, jnp.stack(history)


@functools.partial(jax.jit, static_argnames=("clip",))
def elman_gradient_step(params, xs, ys, learning_rate, clip=None):
    """One full-BPTT update of an Elman network on a batch (mean square loss over steps),
    optionally clipped to global norm ``clip``. Returns ``(params, mean loss, gradient norm)``.
    Chapter 7 (clipping); tests/test_gradients.py::test_gradient_step_reports_the_norm_and_clips_it."""
    h0 = jnp.zeros(params["W"].shape[0])
    loss, grads = _batch_mean_gradients(lambda x, y: bptt.elman_grads(params, x, y, h0), xs, ys)
    norm = bptt.global_norm(grads)
    if clip is not None:
        grads = bptt.clip_by_global_norm(grads, clip)
    return sgd_update(params, grads, learning_rate), loss, norm


def truncated_elman_loss(params, xs, ys, k, h0=None):
    """``L = Σ_t ½‖o_t − y_t‖²`` of the Elman network on one sequence, with the state passed
    into every chunk of ``k`` steps through ``jax.lax.stop_gradient``.

    The value is the ordinary loss; its gradient is truncated BPTT's (no gradient crosses
    a chunk boundary), so any optimizer can train with it, and ``k >= T`` is full BPTT.
    Chapter 7; tests/test_gradients.py::test_truncated_elman_loss_has_the_truncated_bptt_gradient.

    Arguments: ``params`` with ``U, W, b, V, c``; ``xs`` ``(T, d_x)``; ``ys`` ``(T, d_y)``;
    ``k`` a positive int; ``h0`` ``(d_h,)`` (zeros when None).
    Returns: a scalar.
    """
    check_positive_int(k, "k (the chunk length)")
    xs = as_array(xs, "xs")
    ys = as_array(ys, "ys")
    check_inexact(xs, "xs")
    check_shapes([(xs, ("T", None), "xs"), (ys, ("T", None), "ys")])
    h0 = jnp.zeros(params["W"].shape[0], xs.dtype) if h0 is None else h0

    def step(h, inputs):
        t, x = inputs
        h = jnp.where(t % k == 0, jax.lax.stop_gradient(h), h)    # a chunk starts at t = 0, k, 2k, …
        h = elman.step(params, h, x)
        return h, h

    _, hs = jax.lax.scan(step, h0, (jnp.arange(xs.shape[0]), xs))
    return 0.5 * jnp.sum((elman.output(params, hs) - ys) ** 2)
