"""Long short-term memory (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers
et al., 2000), chapter 9, in the course's notation (``U`` multiplies the input, ``W`` the
previous output ``h``; the cell state is ``s`` and the output gate ``q``, as in
Goodfellow et al. eqs. 10.40–10.44, where PyTorch and Olah's diagrams write ``c`` and ``o``)::

    f = σ(U_f x + W_f h + b_f)      forget gate
    i = σ(U_i x + W_i h + b_i)      input gate
    q = σ(U_q x + W_q h + b_q)      output gate
    g = tanh(U_g x + W_g h + b_g)   candidate
    s ← f ⊙ s + i ⊙ g               the additive cell path
    h ← q ⊙ tanh(s)

The carry is the pair ``(h, s)``.
"""
import jax
import jax.numpy as jnp

from lectlib.cells._common import check_sizes, check_step_inputs, gate_params, zero_state

GATES = ("f", "i", "q", "g")


def init(key, d_x, d_h):
    """Chapter 9; tests/test_cells.py::test_init_shapes_and_determinism.

    Arguments: ``key`` a PRNG key, sizes ``d_x`` and ``d_h``.

    Returns: for each gate ``k`` in f, i, q, g: ``U_k (d_h, d_x)`` (input),
    ``W_k (d_h, d_h)`` (recurrent), ``b_k (d_h,)``. The forget bias starts at +1
    (Jozefowicz et al., 2015).
    """
    check_sizes(d_x, d_h)
    return gate_params(key, GATES, d_x, d_h, forget_gate="f")


def init_state(d_h, dtype=jnp.float32):
    """The zero carry ``(h_0, s_0)``, each ``(d_h,)``. Chapter 9;
    tests/test_cells.py::test_init_state_starts_every_cell."""
    return zero_state(d_h, dtype), zero_state(d_h, dtype)


def gates(params, h, x):
    """The four gate activations ``{"f", "i", "q", "g"}``, each ``(d_h,)``, from ``h``
    ``(d_h,)`` and ``x`` ``(d_x,)``. Chapter 9; tests/test_cells.py::test_lstm_step_by_hand."""
    pre = {k: params[f"U_{k}"] @ x + params[f"W_{k}"] @ h + params[f"b_{k}"] for k in GATES}
    return {
        "f": jax.nn.sigmoid(pre["f"]),
        "i": jax.nn.sigmoid(pre["i"]),
        "q": jax.nn.sigmoid(pre["q"]),
        "g": jnp.tanh(pre["g"]),
    }


def step(params, carry, x):
    """One step of the equations above. Chapter 9; tests/test_cells.py::test_lstm_step_by_hand.

    Arguments: ``carry``: ``(h, s)``, each ``(d_h,)``; ``x``: ``(d_x,)``. Returns the new ``(h, s)``.
    """
    if not isinstance(carry, (tuple, list)) or len(carry) != 2:
        raise ValueError("the LSTM carry must be a pair (h, s), each of shape (d_h,); "
                         f"received {type(carry).__name__}")
    h, s = carry
    d_h, d_x = params["U_f"].shape
    h, x = check_step_inputs(h, x, d_h, d_x, "lstm")
    s, _ = check_step_inputs(s, x, d_h, d_x, "lstm cell state s")
    g = gates(params, h, x)
    s = g["f"] * s + g["i"] * g["g"]
    h = g["q"] * jnp.tanh(s)
    return h, s
