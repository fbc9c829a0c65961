"""Composite memory: a memory as a weighted sum of everything seen, and the same sum
written as a recurrence (chapters 2 and 3).

Galton's composite photograph of ``T`` faces is ``Σ_i w_i x_i``; with every weight ``1/T``
it is the average, with ``w_i = γ^{T-i}`` old images fade. Both sums can be computed one
image at a time, keeping only the running state ``h``: that is a linear recurrence.

One convention for the forgetting factor everywhere: ``0 < γ < 1`` forgets, ``γ = 1`` is the
plain running sum; ``check_forgetting_factor`` refuses anything else.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from lectlib._checks import as_array, as_sequence, check_inexact, check_positive_int, check_shape, check_shapes
from lectlib.scans import linear_recurrence


def check_forgetting_factor(gamma, name="gamma"):
    """Returns ``gamma`` as an array after checking the course's convention: a forgetting
    factor satisfies ``0 < γ < 1``, and ``γ = 1`` is the plain running sum (no forgetting).

    Arguments: ``gamma`` a number or a ``(d,)`` vector. Values are checked when they are
    concrete; under ``jax.jit`` or ``jax.grad`` (tracers) only the shape and dtype are.
    Raises ValueError for anything else (``γ ≤ 0`` or ``γ > 1``).
    Chapters 2 and 3; tests/test_memory.py::test_gamma_outside_the_convention_is_refused.
    """
    gamma = as_array(gamma, name)
    check_inexact(gamma, name)
    if gamma.ndim > 1:
        raise ValueError(f"{name} must be a number or a (d,) vector, received shape {gamma.shape}")
    if not isinstance(gamma, jax.core.Tracer):
        values = np.asarray(gamma)
        if not np.all((values > 0) & (values <= 1)):
            raise ValueError(f"{name} must satisfy 0 < gamma < 1 (a memory that forgets) or gamma = 1 "
                             f"(the plain running sum), received {values.tolist()}")
    return gamma


def _scalar_gamma(gamma):
    gamma = check_forgetting_factor(gamma)
    if gamma.ndim != 0:
        raise ValueError(f"gamma must be a number here, received shape {gamma.shape}")
    return gamma


def _check_items(items, name="items"):
    items = as_array(items, name)
    check_inexact(items, name)
    if items.ndim < 1 or items.shape[0] < 1:
        raise ValueError(f"{name} must have shape (T, ...) with T >= 1, received shape {items.shape}")
    return items


def forgetting_weights(num_items, gamma):
    """The weight ``γ^{T-i}`` of item ``i = 1 … T`` in the memory after ``T`` items.

    Arguments: ``num_items`` ``T`` (int ≥ 1); ``gamma`` a number, ``0 < γ < 1`` (or ``γ = 1``, the plain running sum).
    Returns: ``(T,)``, the newest item (weight 1) last.
    Chapter 2; tests/test_memory.py::test_forgetting_weights_are_powers_of_gamma_newest_last.
    """
    check_positive_int(num_items, "num_items")
    gamma = _scalar_gamma(gamma)
    return gamma ** jnp.arange(num_items - 1, -1, -1, dtype=gamma.dtype)


def composite(items, weights=None):
    """A composite: ``Σ_i w_i x_i / Σ_i w_i``, the weighted average of everything seen.

    Arguments: ``items`` ``(T, ...)`` (e.g. ``T`` images of shape ``(H, W)``);
    ``weights`` ``(T,)`` non-negative, equal weights when None.
    Returns: ``(...)``, one item's shape.
    Chapter 2; tests/test_memory.py::test_composite_is_the_weighted_average.
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

    Arguments: ``items`` ``(T, ...)``; ``gamma`` a number, ``0 < γ < 1`` (forgetting) or
    ``γ = 1`` (the plain running sum, the default).
    Returns: ``(T, ...)``; entry ``t`` is ``Σ_{i≤t} γ^{t-i} x_i``.
    Chapters 1-3; tests/test_memory.py::test_running_sum_matches_the_weighted_sum_at_every_step.
    """
    items = _check_items(items)
    gamma = _scalar_gamma(gamma)
    flat = items.reshape(items.shape[0], -1)
    states = linear_recurrence(jnp.full_like(flat, gamma), flat)
    return states.reshape(items.shape)


def running_mean(items):
    """Every intermediate average, computed one item at a time:
    ``h_t = ((t-1)/t) h_{t-1} + x_t / t``.

    Arguments: ``items`` ``(T, ...)``. Returns: ``(T, ...)``; entry ``t`` is the mean of the
    first ``t`` items.
    Chapter 2; tests/test_memory.py::test_running_mean_is_the_mean_of_everything_seen_so_far.
    """
    items = _check_items(items)
    flat = items.reshape(items.shape[0], -1)
    t = jnp.arange(1, flat.shape[0] + 1, dtype=flat.dtype)[:, None]
    states = linear_recurrence(jnp.broadcast_to((t - 1) / t, flat.shape), flat / t)
    return states.reshape(items.shape)


def decay_matrix(num_steps, gamma):
    """The lower-triangular ``(T, T)`` matrix ``M[t, i] = γ^{t-i}`` for ``i ≤ t``, else 0.

    ``M @ b`` is every state of ``h_t = γ h_{t-1} + b_t`` at once: the unrolled recurrence.
    ``gamma``: ``0 < γ < 1`` (or ``γ = 1``, the plain running sum).
    Chapter 3; tests/test_memory.py::test_decay_matrix_times_inputs_is_the_recurrence.
    """
    check_positive_int(num_steps, "num_steps")
    gamma = _scalar_gamma(gamma)
    lag = jnp.arange(num_steps)[:, None] - jnp.arange(num_steps)[None, :]
    return jnp.where(lag >= 0, gamma ** jnp.maximum(lag, 0).astype(gamma.dtype), 0.0)


def with_bias(xs):
    """``x̄ = [1, x]`` for every step. ``xs``: ``(T, d_x)``. Returns ``(T, d_x + 1)``.

    Chapter 3; tests/test_memory.py::test_closed_form_equals_running_the_linear_memory.
    """
    xs = as_sequence(xs)
    return jnp.concatenate([jnp.ones((xs.shape[0], 1), xs.dtype), xs], axis=1)


def linear_memory_closed_form(params, xs):
    """The linear memory unrolled: ``h_T = Σ_i γ^{T-i} θᵀx̄_i`` (from ``h_0 = 0``), for every
    ``T`` at once.

    Arguments: ``params`` of ``lectlib.cells.linear_memory`` (``gamma`` ``(d_h,)`` with
    ``0 < γ < 1``, or ``γ = 1`` for the plain running sum; ``theta`` ``(d_x + 1, d_h)``);
    ``xs`` ``(T, d_x)``.
    Returns: ``(T, d_h)``, equal to ``lectlib.run(linear_memory.step, params, xs, 0)``.
    Chapter 3; tests/test_memory.py::test_closed_form_equals_running_the_linear_memory.
    """
    gamma = check_forgetting_factor(params["gamma"], 'params["gamma"]')
    theta = params["theta"]
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
    ``max_input / (1 - γ)`` for ``0 < γ < 1`` (the geometric series); unbounded (``inf``) for
    the plain running sum ``γ = 1``.

    Chapter 3; tests/test_memory.py::test_state_bound_is_the_geometric_series_and_is_reached.
    """
    gamma = float(gamma)
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must satisfy 0 < gamma < 1 (a memory that forgets) or gamma = 1 "
                         f"(the plain running sum), received {gamma}")
    return float("inf") if gamma == 1 else float(max_input) / (1.0 - gamma)


def gamma_logit(gamma):
    """The logit ``u = log(γ / (1 - γ))`` of a forgetting factor ``0 < γ < 1``: the inverse of
    ``γ = σ(u)``, where training a sigmoid-parametrised memory starts.

    Arguments: ``gamma`` a number or ``(d,)``, strictly between 0 and 1. Returns the same shape.
    Chapter 3 (exercise 3.3); tests/test_memory.py::test_sigmoid_parametrisation_round_trips_and_stays_below_one.
    """
    gamma = check_forgetting_factor(gamma)
    if not isinstance(gamma, jax.core.Tracer) and np.any(np.asarray(gamma) == 1):
        raise ValueError("gamma = 1 has no logit (it is σ(+∞)); pick a forgetting factor below 1")
    return jnp.log(gamma) - jnp.log1p(-gamma)


def sigmoid_gamma(params):
    """Parameters of ``lectlib.cells.linear_memory`` from a sigmoid parametrisation:
    ``{"gamma_logit": u (d_h,), "theta": (d_x + 1, d_h)}`` becomes
    ``{"gamma": σ(u), "theta": theta}``.

    Whatever a gradient step does to ``u``, ``γ = σ(u)`` stays inside ``(0, 1)``, so the
    memory cannot stop forgetting or blow up; the chain rule also scales the gradient
    along ``u`` by ``σ'(u) = γ(1 - γ)``, which flattens the steep walls near ``γ = 1``.
    Chapter 3 (exercise 3.3); tests/test_memory.py::test_sigmoid_parametrisation_round_trips_and_stays_below_one.
    """
    if set(params) != {"gamma_logit", "theta"}:
        raise ValueError(f'params must have the keys "gamma_logit" and "theta", received {sorted(params)}')
    return {"gamma": jax.nn.sigmoid(params["gamma_logit"]), "theta": params["theta"]}


def decay_lag(gamma, level=0.5):
    """The lag ``k`` at which an input's weight ``γ^k`` falls to ``level``:
    ``log(level) / log(γ)`` (a real number; the weight is below ``level`` from the next
    whole step on). With ``level = 0.5`` it is the memory's half-life.

    Arguments: ``gamma`` ``0 < γ < 1``; ``level`` ``0 < level < 1``.
    Returns: a Python float.
    Chapter 3; tests/test_memory.py::test_decay_lag_is_where_the_weight_crosses_the_level.
    """
    gamma, level = float(gamma), float(level)
    if not 0 < gamma < 1:
        raise ValueError(f"gamma must satisfy 0 < gamma < 1 for the weights to decay, received {gamma} "
                         "(gamma = 1, the plain running sum, never forgets)")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, received {level}")
    return math.log(level) / math.log(gamma)
