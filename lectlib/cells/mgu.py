"""The minimal gated unit, in the lecture's form (``x̄ = [1, x]``, ``σ`` the logistic sigmoid)::

    f  = σ(θ₁ᵀx̄ + θ₂ᵀh)            forget gate
    f₂ = σ(θ₃ᵀx̄ + θ₄ᵀ(f ⊙ h))       candidate, reading the gated state
    h ← f ⊙ h + (1 − f) ⊙ f₂

Where the original paper differs (Zhou et al., 2016, "Minimal gated unit for recurrent
neural networks"): its candidate uses ``tanh`` rather than ``σ``, so the state can go
negative, and its gate weighs the other way round, ``h ← (1 − f) ⊙ h + f ⊙ h̃``, so
``f`` there is the share of the new candidate, not of the old state. Both are the same
family: one gate that both forgets and writes.
"""
import jax

from lectlib.cells._common import check_sizes, check_step_inputs, glorot, with_bias


def init(key, d_x, d_h):
    """Arguments: ``key`` a PRNG key, sizes ``d_x`` and ``d_h``.

    Returns: ``theta1``, ``theta3``: ``(d_x + 1, d_h)``; ``theta2``, ``theta4``: ``(d_h, d_h)``.
    The forget gate's bias row starts at +1 so the unit remembers by default.
    """
    check_sizes(d_x, d_h)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    theta1 = glorot(k1, (d_x + 1, d_h)).at[0].set(1.0)
    return {
        "theta1": theta1,
        "theta2": glorot(k2, (d_h, d_h)),
        "theta3": glorot(k3, (d_x + 1, d_h)),
        "theta4": glorot(k4, (d_h, d_h)),
    }


def step(params, h, x):
    """One step. ``h``: ``(d_h,)``, ``x``: ``(d_x,)``. Returns the new ``h``: ``(d_h,)``."""
    d_x_bar, d_h = params["theta1"].shape
    h, x = check_step_inputs(h, x, d_h, d_x_bar - 1, "mgu")
    x_bar = with_bias(x)
    forget = jax.nn.sigmoid(params["theta1"].T @ x_bar + params["theta2"].T @ h)
    candidate = jax.nn.sigmoid(params["theta3"].T @ x_bar + params["theta4"].T @ (forget * h))
    return forget * h + (1.0 - forget) * candidate
