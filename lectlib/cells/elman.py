"""The Elman network (Goodfellow et al., ch. 10): ``h_t = tanh(U x_t + W h_{t-1} + b)``,
read out by ``o_t = V h_t + c``."""
import jax
import jax.numpy as jnp

from lectlib.cells._common import check_sizes, check_step_inputs, glorot, zero_state


def init(key, d_x, d_h, d_y=None):
    """Arguments: ``key`` a PRNG key, sizes ``d_x``, ``d_h`` and optionally ``d_y``.

    Returns: ``{"U": (d_h, d_x), "W": (d_h, d_h), "b": (d_h,)}``, plus the read-out
    ``{"V": (d_y, d_h), "c": (d_y,)}`` when ``d_y`` is given (the keys of
    ``lectlib.bptt.elman_grads``). ``W`` starts orthogonal-like with spectral radius ≈ 0.9.
    Chapter 8; tests/test_cells.py::test_elman_init_with_readout_has_the_bptt_keys.
    """
    check_sizes(d_x, d_h)
    k_u, k_w, k_v = jax.random.split(key, 3)
    q, _ = jnp.linalg.qr(jax.random.normal(k_w, (d_h, d_h)))
    params = {"U": glorot(k_u, (d_h, d_x)), "W": 0.9 * q, "b": jnp.zeros((d_h,))}
    if d_y is not None:
        params["V"] = glorot(k_v, (d_y, d_h))
        params["c"] = jnp.zeros((d_y,))
    return params


def init_state(d_h, dtype=jnp.float32):
    """The zero state ``h_0``: ``(d_h,)``. Chapter 8; tests/test_cells.py::test_init_state_starts_every_cell."""
    return zero_state(d_h, dtype)


def pre_activation(params, h, x):
    """``a = U x + W h + b``, what the nonlinearity of one step receives: the Elman equations
    are written here once, and ``step``, ``lectlib.bptt`` and ``lectlib.gradients`` use them.
    ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns ``(d_h,)``. Chapter 7;
    tests/test_gradients.py::test_elman_pre_activation_and_step_by_hand."""
    d_h, d_x = params["U"].shape
    h, x = check_step_inputs(h, x, d_h, d_x, "elman")
    return params["U"] @ x + params["W"] @ h + params["b"]


def step(params, h, x):
    """One step. ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns ``tanh(U x + W h + b)``: ``(d_h,)``.
    Chapter 8; tests/test_cells.py::test_elman_step_by_hand."""
    return jnp.tanh(pre_activation(params, h, x))


def output(params, h):
    """The read-out ``o = V h + c``. ``h``: ``(d_h,)`` (or ``(T, d_h)``). Returns ``(d_y,)`` (or ``(T, d_y)``).
    Chapter 8; tests/test_cells.py::test_elman_output_by_hand."""
    c = params["c"].reshape((1,) * (jnp.ndim(h) - 1) + params["c"].shape)
    return h @ params["V"].T + c
