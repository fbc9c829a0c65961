"""Gated recurrent unit (Cho et al., 2014)::

    z = σ(W_z x + U_z h + b_z)           update gate
    r = σ(W_r x + U_r h + b_r)           reset gate
    h̃ = tanh(W_h x + U_h (r ⊙ h) + b_h)  candidate
    h ← z ⊙ h + (1 − z) ⊙ h̃

Here ``z`` is the share of the old state that is kept (as in PyTorch and d2l); some
texts write ``h ← (1 − z) ⊙ h + z ⊙ h̃``, which only renames ``z`` to ``1 − z``.
"""
import jax
import jax.numpy as jnp

from lectlib.cells._common import check_sizes, check_step_inputs, glorot


def init(key, d_x, d_h):
    """Arguments: ``key`` a PRNG key, sizes ``d_x`` and ``d_h``.

    Returns: for ``k`` in z, r, h: ``W_k (d_h, d_x)``, ``U_k (d_h, d_h)``, ``b_k (d_h,)``.
    """
    check_sizes(d_x, d_h)
    params = {}
    for gate, gate_key in zip("zrh", jax.random.split(key, 3)):
        k_w, k_u = jax.random.split(gate_key)
        params[f"W_{gate}"] = glorot(k_w, (d_h, d_x))
        params[f"U_{gate}"] = glorot(k_u, (d_h, d_h))
        params[f"b_{gate}"] = jnp.zeros((d_h,))
    return params


def step(params, h, x):
    """One step. ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns the new ``h``: ``(d_h,)``."""
    d_h, d_x = params["W_z"].shape
    h, x = check_step_inputs(h, x, d_h, d_x, "gru")
    p = params
    update = jax.nn.sigmoid(p["W_z"] @ x + p["U_z"] @ h + p["b_z"])
    reset = jax.nn.sigmoid(p["W_r"] @ x + p["U_r"] @ h + p["b_r"])
    candidate = jnp.tanh(p["W_h"] @ x + p["U_h"] @ (reset * h) + p["b_h"])
    return update * h + (1.0 - update) * candidate
