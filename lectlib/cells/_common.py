"""Pieces shared by the cells."""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_positive_int, check_shapes


def with_bias(x):
    """``x̄ = [1, x]``: the input with a constant 1 prepended, ``(d_x,) -> (d_x + 1,)``."""
    return jnp.concatenate([jnp.ones((1,), x.dtype), x])


def glorot(key, shape):
    """Normal weights with variance ``2 / (fan_in + fan_out)``; ``shape`` is ``(fan_out, fan_in)``
    or ``(fan_in, fan_out)``, the variance is symmetric."""
    return jax.random.normal(key, shape) * jnp.sqrt(2.0 / sum(shape))


def gate_params(key, gates, d_x, d_h, forget_gate=None):
    """The weights of gated cells: for each gate ``k`` in ``gates`` (each its own split of
    ``key``), ``U_k (d_h, d_x)`` on the input and ``W_k (d_h, d_h)`` on the state (Glorot),
    and ``b_k (d_h,)``: zeros, or ones for ``forget_gate`` (a cell that remembers by default)."""
    params = {}
    for gate, gate_key in zip(gates, jax.random.split(key, len(gates))):
        k_u, k_w = jax.random.split(gate_key)
        params[f"U_{gate}"] = glorot(k_u, (d_h, d_x))
        params[f"W_{gate}"] = glorot(k_w, (d_h, d_h))
        params[f"b_{gate}"] = jnp.full((d_h,), 1.0 if gate == forget_gate else 0.0)
    return params


def check_step_inputs(h, x, d_h, d_x, cell):
    """Validates one step's state ``(d_h,)`` and input ``(d_x,)`` against the parameters."""
    h = as_array(h, f"{cell} state h")
    x = as_array(x, f"{cell} input x")
    check_inexact(h, f"{cell} state h")
    check_inexact(x, f"{cell} input x")
    check_shapes([(h, (d_h,), f"{cell} state h"), (x, (d_x,), f"{cell} input x")])
    return h, x


def zero_state(d_h, dtype=jnp.float32):
    """The zero state ``(d_h,)`` every cell starts from (the cells' ``init_state``)."""
    check_positive_int(d_h, "d_h")
    return jnp.zeros((d_h,), dtype)


def check_sizes(d_x, d_h):
    for name, size in (("d_x", d_x), ("d_h", d_h)):
        check_positive_int(size, name)
