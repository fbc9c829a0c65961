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
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_integer, check_positive_int, check_shapes

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

    Arguments: ``params`` with ``U, W, b, V, c``; ``xs``: ``(T, d_x)``; ``h0``: ``(d_h,)``.
    Returns: ``hs`` ``(T, d_h)`` (``h_1 … h_T``) and ``os`` ``(T, d_y)``.
    """
    def step(h, x):
        h = jnp.tanh(params["b"] + params["W"] @ h + params["U"] @ x)
        return h, h

    _, hs = jax.lax.scan(step, h0, xs)
    return hs, hs @ params["V"].T + params["c"][None, :]


def _loss_and_output_grads(os, ys, loss):
    """``L`` and ``∇_{o_t} L`` for every step, ``(T, d_y)``."""
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
    """
    params, xs, ys, h0 = _check_elman_inputs(params, xs, ys, h0, loss)
    hs, os = elman_forward(params, xs, h0)
    value, _ = _loss_and_output_grads(os, ys, loss)
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
    """
    params, xs, ys, h0 = _check_elman_inputs(params, xs, ys, h0, loss)
    hs, os = elman_forward(params, xs, h0)
    value, grad_os = _loss_and_output_grads(os, ys, loss)
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


def global_norm(grads):
    """``sqrt(Σ ‖g‖²)`` over every array in the pytree ``grads``."""
    leaves = jax.tree_util.tree_leaves(grads)
    if not leaves:
        raise ValueError("grads is an empty pytree: there is nothing to measure")
    return jnp.sqrt(sum(jnp.sum(jnp.abs(leaf) ** 2) for leaf in leaves))


def clip_by_global_norm(grads, max_norm):
    """Rescales the whole pytree ``grads`` to global norm ``max_norm`` when it is larger.

    The direction is kept: every array is multiplied by the same ``max_norm / ‖g‖``.
    Returns a pytree shaped like ``grads``.
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
