"""Backpropagation through time for the Elman network, written out by hand.

Notation of Goodfellow et al., *Deep Learning*, ch. 10.2.2::

    a_t = b + W h_{t-1} + U x_t        h_t = tanh(a_t)        o_t = c + V h_t

    loss="mse":  L = Σ_t ½‖o_t − y_t‖²          ∇_{o_t} L = o_t − y_t
    loss="xent": L = Σ_t −log softmax(o_t)[y_t]  ∇_{o_t} L = softmax(o_t) − e_{y_t}

    ∇_{h_T} L = Vᵀ ∇_{o_T} L
    ∇_{h_t} L = Wᵀ diag(1 − h_{t+1}²) ∇_{h_{t+1}} L + Vᵀ ∇_{o_t} L

    ∇_c = Σ_t ∇_{o_t} L                   ∇_V = Σ_t (∇_{o_t} L) h_tᵀ
    ∇_b = Σ_t diag(1 − h_t²) ∇_{h_t} L    ∇_W = Σ_t diag(1 − h_t²)(∇_{h_t} L) h_{t-1}ᵀ
    ∇_U = Σ_t diag(1 − h_t²)(∇_{h_t} L) x_tᵀ
"""
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_integer, check_positive_int, check_shapes
from lectlib.cells import elman

LOSSES = ("mse", "xent")
PARAM_SHAPES = {"U": ("d_h", "d_x"), "W": ("d_h", "d_h"), "b": ("d_h",), "V": ("d_y", "d_h"), "c": ("d_y",)}


def _check_elman_inputs(params, xs, ys, h0, loss):
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, received {loss!r}")
    if not isinstance(params, dict) or set(params) != set(PARAM_SHAPES):
        received = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with keys {sorted(PARAM_SHAPES)}, received {received}")
    params = {k: as_array(v, f"params[{k!r}]") for k, v in params.items()}
    bound = check_shapes([(params[k], shape, f"params[{k!r}]") for k, shape in PARAM_SHAPES.items()])
    xs = as_array(xs, "xs")
    check_inexact(xs, "xs")
    bound = check_shapes([(xs, ("T", "d_x"), "xs")], bound)
    ys = as_array(ys, "ys")
    if loss == "mse":
        check_inexact(ys, "ys")
        check_shapes([(ys, (bound["T"], "d_y"), "ys")], bound)
    else:
        check_integer(ys, "ys (class labels for loss='xent')")
        check_shapes([(ys, (bound["T"],), "ys")], bound)
    h0 = jnp.zeros((bound["d_h"],), xs.dtype) if h0 is None else as_array(h0, "h0")
    check_inexact(h0, "h0")
    check_shapes([(h0, ("d_h",), "h0")], bound)
    return params, xs, ys, h0


def elman_forward(params, xs, h0):
    """The forward pass, keeping what the backward pass needs.

    Each step is :func:`lectlib.cells.elman.step` and the read-out :func:`lectlib.cells.elman.output`:
    the Elman equations are written once, in ``lectlib.cells.elman``. Chapters 6 and 7;
    tests/test_bptt.py::test_elman_loss_matches_the_independent_forward_pass.

    Arguments: ``params`` with ``U, W, b, V, c``; ``xs``: ``(T, d_x)``; ``h0``: ``(d_h,)``.
    Returns: ``hs`` ``(T, d_h)`` (``h_1 … h_T``) and ``os`` ``(T, d_y)``.
    """
    def step(h, x):
        h = elman.step(params, h, x)
        return h, h

    _, hs = jax.lax.scan(step, h0, xs)
    return hs, elman.output(params, hs)


def loss_and_output_grads(os, ys, loss="mse"):
    """The loss and where backpropagation starts: ``L`` and ``∇_{o_t} L`` for every step.

    Arguments: ``os`` ``(T, d_y)`` outputs; ``ys`` ``(T, d_y)`` targets for ``loss="mse"``
    (``L = Σ_t ½‖o_t − y_t‖²``, ``∇_{o_t} L = o_t − y_t``) or ``(T,)`` integer labels for
    ``loss="xent"`` (``L = Σ_t −log softmax(o_t)[y_t]``, ``∇_{o_t} L = softmax(o_t) − e_{y_t}``,
    min-char-rnn's ``dy = p − 1_y``). Returns ``(L, grads)`` with ``grads`` ``(T, d_y)``.
    Chapter 7; tests/test_bptt.py::test_output_grads_are_jax_grads_of_the_loss.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, received {loss!r}")
    if loss == "mse":
        residual = os - ys
        return 0.5 * jnp.sum(residual**2), residual
    log_probs = jax.nn.log_softmax(os)
    picked = jnp.take_along_axis(log_probs, ys[:, None], axis=1)
    one_hot = jax.nn.one_hot(ys, os.shape[-1], dtype=os.dtype)
    return -jnp.sum(picked), jnp.exp(log_probs) - one_hot


def elman_loss(params, xs, ys, h0=None, loss="mse"):
    """``L`` computed by the forward pass alone (what ``jax.grad`` differentiates).

    Returns ``(L, h_T)``: the loss and the last state, so chunks can be chained.
    Chapter 7; tests/test_bptt.py::test_elman_loss_matches_the_independent_forward_pass.
    """
    params, xs, ys, h0 = _check_elman_inputs(params, xs, ys, h0, loss)
    hs, os = elman_forward(params, xs, h0)
    value, _ = loss_and_output_grads(os, ys, loss)
    return value, hs[-1]


def elman_grads(params, xs, ys, h0=None, loss="mse"):
    """Hand-written BPTT for the Elman network.

    Arguments:
        params: ``U (d_h, d_x)``, ``W (d_h, d_h)``, ``b (d_h,)``, ``V (d_y, d_h)``, ``c (d_y,)``.
        xs: ``(T, d_x)`` inputs.
        ys: ``(T, d_y)`` targets for ``loss="mse"``; ``(T,)`` integer labels for ``loss="xent"``.
        h0: ``(d_h,)`` initial state (zeros when None).
        loss: ``"mse"`` or ``"xent"``.

    Returns:
        ``(L, grads)`` with ``grads`` a dict shaped like ``params``, equal to ``jax.grad``'s.

    Chapter 7 (the Elman network, written out); tests/test_bptt.py::test_elman_grads_equal_jax_grad_in_float64.
    """
    params, xs, ys, h0 = _check_elman_inputs(params, xs, ys, h0, loss)
    hs, os = elman_forward(params, xs, h0)
    value, grad_os = loss_and_output_grads(os, ys, loss)
    h_prevs = jnp.concatenate([h0[None], hs[:-1]], axis=0)

    def backward_step(grad_a_next, step_values):
        """``grad_a_next`` = diag(1 − h_{t+1}²) ∇_{h_{t+1}} L; returns diag(1 − h_t²) ∇_{h_t} L."""
        h_t, grad_o_t = step_values
        grad_h_t = params["W"].T @ grad_a_next + params["V"].T @ grad_o_t
        grad_a_t = (1.0 - h_t**2) * grad_h_t
        return grad_a_t, grad_a_t

    _, grad_as = jax.lax.scan(backward_step, jnp.zeros_like(h0), (hs, grad_os), reverse=True)
    grads = {
        "c": jnp.sum(grad_os, axis=0),
        "V": grad_os.T @ hs,
        "b": jnp.sum(grad_as, axis=0),
        "W": grad_as.T @ h_prevs,
        "U": grad_as.T @ xs,
    }
    return value, grads


class ScalarBPTT(NamedTuple):
    """Every number of :func:`scalar_bptt`, step by step (lists indexed by ``t = 1 … T``
    unless said otherwise).

    Attributes:
        h: states ``[h_0, h_1, …, h_T]`` (``T + 1`` numbers, ``h_0`` first).
        o: outputs ``o_t = v h_t``.
        loss: ``L = Σ_t ½ (o_t − y_t)²``.
        dL_do: ``∂L/∂o_t = o_t − y_t``.
        dL_dh: ``∂L/∂h_t`` (through ``o_t`` and through ``h_{t+1}``).
        dL_da: ``∂L/∂a_t = (1 − h_t²) ∂L/∂h_t``.
        grads: ``{"u": ∂L/∂u, "w": ∂L/∂w, "v": ∂L/∂v}``.
    """
    h: list
    o: list
    loss: float
    dL_do: list
    dL_dh: list
    dL_da: list
    grads: dict


def scalar_bptt(u, w, v, xs, ys, h0=0.0):
    """BPTT by hand for a scalar Elman network, in plain Python floats (no JAX).

    ``a_t = w h_{t-1} + u x_t``, ``h_t = tanh(a_t)``, ``o_t = v h_t``, ``L = Σ_t ½ (o_t − y_t)²``.
    The backward pass runs from ``t = T`` down to 1::

        ∂L/∂o_t = o_t − y_t
        ∂L/∂h_t = v ∂L/∂o_t + w ∂L/∂a_{t+1}      (no second term at t = T)
        ∂L/∂a_t = (1 − h_t²) ∂L/∂h_t
        ∂L/∂v = Σ_t ∂L/∂o_t h_t    ∂L/∂w = Σ_t ∂L/∂a_t h_{t-1}    ∂L/∂u = Σ_t ∂L/∂a_t x_t

    Chapter 7 (three steps worked by hand); tests/test_bptt.py::test_scalar_bptt_equals_jax_grad
    and ::test_scalar_bptt_three_steps_by_hand.

    Arguments:
        u, w, v: the input, recurrent and read-out weights (numbers).
        xs, ys: sequences of ``T >= 1`` numbers (inputs and targets).
        h0: the initial state.

    Returns:
        A :class:`ScalarBPTT` with every intermediate number.
    """
    u, w, v, h0 = (_real(value, name) for value, name in ((u, "u"), (w, "w"), (v, "v"), (h0, "h0")))
    xs = [_real(x, "xs") for x in xs]
    ys = [_real(y, "ys") for y in ys]
    if not xs or len(xs) != len(ys):
        raise ValueError(f"xs and ys need the same number T >= 1 of steps, received {len(xs)} and {len(ys)}")
    T = len(xs)
    h = [float(h0)]
    for t in range(T):
        h.append(math.tanh(w * h[t] + u * xs[t]))
    o = [v * h[t] for t in range(1, T + 1)]
    dL_do = [o[t] - ys[t] for t in range(T)]
    loss = sum(0.5 * e * e for e in dL_do)
    dL_dh, dL_da = [0.0] * T, [0.0] * T
    for t in reversed(range(T)):                    # index t holds step t + 1
        dL_dh[t] = v * dL_do[t] + (w * dL_da[t + 1] if t + 1 < T else 0.0)
        dL_da[t] = (1.0 - h[t + 1] ** 2) * dL_dh[t]
    grads = {
        "u": sum(dL_da[t] * xs[t] for t in range(T)),
        "w": sum(dL_da[t] * h[t] for t in range(T)),          # h[t] is h_{t-1} of step t + 1
        "v": sum(dL_do[t] * h[t + 1] for t in range(T)),
    }
    return ScalarBPTT(h, o, loss, dL_do, dL_dh, dL_da, grads)


def _real(value, name):
    """``value`` as a Python float, or a ValueError naming ``name``."""
    if isinstance(value, (bool, str, bytes)) or getattr(value, "shape", ()) != ():
        raise ValueError(f"{name}: expected a real number, received {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a real number, received {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"{name}: expected a finite number, received {value!r}")
    return result


def global_norm(grads):
    """``sqrt(Σ ‖g‖²)`` over every array in the pytree ``grads``. Chapter 7;
    tests/test_bptt.py::test_clipping_preserves_direction_and_sets_the_norm."""
    leaves = jax.tree_util.tree_leaves(grads)
    if not leaves:
        raise ValueError("grads is an empty pytree: there is nothing to measure")
    return jnp.sqrt(sum(jnp.sum(jnp.abs(leaf) ** 2) for leaf in leaves))


def clip_by_global_norm(grads, max_norm):
    """Rescales the whole pytree ``grads`` to global norm ``max_norm`` when it is larger.

    The direction is kept: every array is multiplied by the same ``max_norm / ‖g‖``.
    Returns a pytree shaped like ``grads``. Chapter 7 (clipping);
    tests/test_bptt.py::test_clipping_preserves_direction_and_sets_the_norm and
    ::test_clipping_leaves_small_and_zero_gradients_alone.
    """
    if isinstance(max_norm, (int, float)) and not max_norm > 0:
        raise ValueError(f"max_norm must be positive, received {max_norm}")
    norm = global_norm(grads)
    # The inner where keeps the division finite (and its gradient) when norm is 0.
    safe_norm = jnp.where(norm > max_norm, norm, max_norm)
    scale = max_norm / safe_norm
    return jax.tree_util.tree_map(lambda g: g * scale.astype(g.dtype), grads)


def truncated_bptt(loss_fn, params, xs, ys, h0, k):
    """Gradients of a long sequence computed in chunks of ``k`` steps.

    Each chunk is differentiated on its own; the state it ends in starts the next
    chunk through ``jax.lax.stop_gradient``, so no gradient flows across a chunk
    boundary. When ``k >= T`` this is full BPTT.

    Arguments:
        loss_fn: ``loss_fn(params, xs_chunk, ys_chunk, h0) -> (loss, h_last)``, e.g.
            ``functools.partial(elman_loss, loss="mse")``. Its loss must be a sum over steps.
        params: a pytree.
        xs: inputs with a leading axis of ``T`` steps; ``ys``: targets, leading axis ``T``.
        h0: the initial state.
        k: chunk length, a positive int (the last chunk may be shorter).

    Returns:
        ``(L, grads)``: the sum of the chunk losses and of their gradients.

    Chapter 7 (truncated BPTT); tests/test_bptt.py::test_truncated_bptt_equals_sum_of_detached_chunk_gradients.
    """
    check_positive_int(k, "k (the chunk length)")
    xs = as_array(xs, "xs")
    ys = as_array(ys, "ys")
    if xs.ndim == 0 or ys.ndim == 0 or xs.shape[0] != ys.shape[0]:
        raise ValueError(f"xs and ys need the same leading number of steps T, received shapes "
                         f"{tuple(xs.shape)} and {tuple(ys.shape)}")
    num_steps = xs.shape[0]
    if num_steps == 0:
        raise ValueError("xs has no steps (T = 0)")
    value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)
    total_loss = 0.0
    total_grads = jax.tree_util.tree_map(jnp.zeros_like, params)
    h = h0
    for start in range(0, num_steps, k):
        (chunk_loss, h_last), chunk_grads = value_and_grad(params, xs[start:start + k], ys[start:start + k], h)
        total_loss = total_loss + chunk_loss
        total_grads = jax.tree_util.tree_map(jnp.add, total_grads, chunk_grads)
        h = jax.lax.stop_gradient(h_last)
    return total_loss, total_grads
