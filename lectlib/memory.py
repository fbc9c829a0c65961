"""Composite memory: a memory as a weighted sum of everything seen, and the same sum
written as a recurrence (chapters 2 and 3).

Galton's composite photograph of ``T`` faces is ``Σ_i w_i x_i``; with every weight ``1/T``
it is the average, with ``w_i = γ^{T-i}`` old images fade. Both sums can be computed one
image at a time, keeping only the running state ``h``: that is a linear recurrence.
"""
import jax.numpy as jnp

from lectlib._checks import as_array, as_sequence, check_inexact, check_positive_int, check_shape, check_shapes
from lectlib.scans import linear_recurrence


def _check_gamma(gamma):
    gamma = as_array(gamma, "gamma")
    check_inexact(gamma, "gamma")
    if gamma.ndim > 1:
        raise ValueError(f"gamma must be a number or a (d,) vector, received shape {gamma.shape}")
    return gamma


def _check_items(items, name="items"):
    items = as_array(items, name)
    check_inexact(items, name)
    if items.ndim < 1 or items.shape[0] < 1:
        raise ValueError(f"{name} must have shape (T, ...) with T >= 1, received shape {items.shape}")
    return items


def forgetting_weights(num_items, gamma):
    """The weight ``γ^{T-i}`` of item ``i = 1 … T`` in the memory after ``T`` items.

    Arguments: ``num_items`` ``T`` (int ≥ 1); ``gamma`` a number.
    Returns: ``(T,)``, the newest item (weight 1) last.
    """
    check_positive_int(num_items, "num_items")
    gamma = _check_gamma(gamma)
    if gamma.ndim != 0:
        raise ValueError(f"gamma must be a number here, received shape {gamma.shape}")
    return gamma ** jnp.arange(num_items - 1, -1, -1, dtype=gamma.dtype)


def composite(items, weights=None):
    """A composite: ``Σ_i w_i x_i / Σ_i w_i``, the weighted average of everything seen.

    Arguments: ``items`` ``(T, ...)`` (e.g. ``T`` images of shape ``(H, W)``);
    ``weights`` ``(T,)`` non-negative, equal weights when None.
    Returns: ``(...)``, one item's shape.
    """
    items = _check_items(items)
    if weights is None:
        return jnp.mean(items, axis=0)
    weights = as_array(weights, "weights")
    check_inexact(weights, "weights")
    check_shape(weights, (items.shape[0],), "weights")
    weighted = jnp.tensordot(weights, items, axes=1)
    return weighted / jnp.sum(weights)


def running_sum(items, gamma=1.0):
    """Every intermediate memory of ``h_t = γ h_{t-1} + x_t`` from ``h_0 = 0``.

    Arguments: ``items`` ``(T, ...)``; ``gamma`` a number.
    Returns: ``(T, ...)``; entry ``t`` is ``Σ_{i≤t} γ^{t-i} x_i``.
    """
    items = _check_items(items)
    gamma = _check_gamma(gamma)
    if gamma.ndim != 0:
        raise ValueError(f"gamma must be a number here, received shape {gamma.shape}")
    flat = items.reshape(items.shape[0], -1)
    states = linear_recurrence(jnp.full_like(flat, gamma), flat)
    return states.reshape(items.shape)


def running_mean(items):
    """Every intermediate average, computed one item at a time:
    ``h_t = ((t-1)/t) h_{t-1} + x_t / t``.

    Arguments: ``items`` ``(T, ...)``. Returns: ``(T, ...)``; entry ``t`` is the mean of the
    first ``t`` items.
    """
    items = _check_items(items)
    flat = items.reshape(items.shape[0], -1)
    t = jnp.arange(1, flat.shape[0] + 1, dtype=flat.dtype)[:, None]
    states = linear_recurrence(jnp.broadcast_to((t - 1) / t, flat.shape), flat / t)
    return states.reshape(items.shape)


def decay_matrix(num_steps, gamma):
    """The lower-triangular ``(T, T)`` matrix ``M[t, i] = γ^{t-i}`` for ``i ≤ t``, else 0.

    ``M @ b`` is every state of ``h_t = γ h_{t-1} + b_t`` at once: the unrolled recurrence.
    """
    check_positive_int(num_steps, "num_steps")
    gamma = _check_gamma(gamma)
    if gamma.ndim != 0:
        raise ValueError(f"gamma must be a number here, received shape {gamma.shape}")
    lag = jnp.arange(num_steps)[:, None] - jnp.arange(num_steps)[None, :]
    return jnp.where(lag >= 0, gamma ** jnp.maximum(lag, 0).astype(gamma.dtype), 0.0)


def with_bias(xs):
    """``x̄ = [1, x]`` for every step. ``xs``: ``(T, d_x)``. Returns ``(T, d_x + 1)``."""
    xs = as_sequence(xs)
    return jnp.concatenate([jnp.ones((xs.shape[0], 1), xs.dtype), xs], axis=1)


def linear_memory_closed_form(params, xs):
    """The linear memory unrolled: ``h_T = Σ_i γ^{T-i} θᵀx̄_i`` (from ``h_0 = 0``), for every
    ``T`` at once.

    Arguments: ``params`` of ``lectlib.cells.linear_memory`` (``gamma`` ``(d_h,)``, ``theta``
    ``(d_x + 1, d_h)``); ``xs`` ``(T, d_x)``.
    Returns: ``(T, d_h)``, equal to ``lectlib.run(linear_memory.step, params, xs, 0)``.
    """
    gamma, theta = params["gamma"], params["theta"]
    xs_bar = with_bias(xs)
    check_shapes([(theta, ("d_x_bar", "d_h"), 'params["theta"]'), (gamma, ("d_h",), 'params["gamma"]'),
                  (xs_bar, ("T", "d_x_bar"), "[1, xs]")])
    inputs = xs_bar @ theta                                        # (T, d_h): θᵀx̄_i
    lag = jnp.arange(xs.shape[0])[:, None] - jnp.arange(xs.shape[0])[None, :]   # (T, T): t - i
    powers = gamma[None, None, :] ** jnp.maximum(lag, 0)[:, :, None].astype(gamma.dtype)
    weights = jnp.where((lag >= 0)[:, :, None], powers, 0.0)      # (T, T, d_h): γ^{t-i}
    return jnp.einsum("tid,id->td", weights, inputs)


def state_bound(gamma, max_input):
    """The largest ``|h_t|`` the memory can reach when ``|θᵀx̄| ≤ max_input`` and ``h_0 = 0``:
    ``max_input / (1 - γ)`` for ``0 ≤ γ < 1`` (the geometric series); unbounded for ``γ ≥ 1``."""
    gamma = float(gamma)
    if gamma < 0:
        raise ValueError(f"gamma must be non-negative, received {gamma}")
    return float("inf") if gamma >= 1 else float(max_input) / (1.0 - gamma)
