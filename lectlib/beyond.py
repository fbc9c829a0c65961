"""Beyond the classic cells (chapter 10): linear recurrences that train in parallel, the
bidirectional and encoder-decoder arrangements, generation, echo-state networks and
Hopfield networks. Small and runnable, one function per formula."""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, as_sequence, check_shapes
from lectlib.gradients import recurrent_matrix
from lectlib.scans import linear_recurrence, run


# ---------------------------------------------------------------- minGRU (Feng et al., 2024)

def mingru_init(key, d_x, d_h):
    """``{"U_z": (d_h, d_x), "b_z": (d_h,), "U_h": (d_h, d_x), "b_h": (d_h,)}``."""
    k_z, k_h = jax.random.split(key)
    scale = 1.0 / jnp.sqrt(d_x)
    return {"U_z": scale * jax.random.normal(k_z, (d_h, d_x)), "b_z": jnp.zeros((d_h,)),
            "U_h": scale * jax.random.normal(k_h, (d_h, d_x)), "b_h": jnp.zeros((d_h,))}


def mingru_coefficients(params, xs):
    """The minGRU as a linear recurrence ``h_t = a_t h_{t-1} + b_t``: the gate and the
    candidate read only ``x_t``, so ``a_t = 1 - z_t`` and ``b_t = z_t h̃_t`` are known for
    every step before the recurrence runs.

    Arguments: ``xs`` ``(T, d_x)``. Returns ``a``, ``b``: ``(T, d_h)``.
    """
    xs = as_sequence(xs, params["U_z"].shape[1])
    z = jax.nn.sigmoid(xs @ params["U_z"].T + params["b_z"][None, :])
    candidate = xs @ params["U_h"].T + params["b_h"][None, :]
    return 1.0 - z, z * candidate


def mingru(params, xs, h0=None, method="associative"):
    """All states of the minGRU, ``(T, d_h)``, by ``lectlib.linear_recurrence`` (any method)."""
    a, b = mingru_coefficients(params, xs)
    return linear_recurrence(a, b, h0, method=method)


def mingru_step(params, h, x):
    """One step of the same recurrence, for generation: ``h ← (1 - z) ⊙ h + z ⊙ h̃``."""
    z = jax.nn.sigmoid(params["U_z"] @ x + params["b_z"])
    return (1.0 - z) * h + z * (params["U_h"] @ x + params["b_h"])


# ---------------------------------------------------------------- the linear recurrent unit (Orvieto et al., 2023)

def lru_init(key, d_x, d_h, d_y, r_min=0.4, r_max=0.99, max_phase=jnp.pi):
    """An LRU with eigenvalues spread uniformly over the ring ``r_min ≤ |λ| ≤ r_max`` with
    phases in ``[0, max_phase]``, stored as the paper stores them (log-log magnitude, log phase).

    Returns ``{"nu_log", "theta_log", "gamma_log": (d_h,), "B_re", "B_im": (d_h, d_x),
    "C_re", "C_im": (d_y, d_h), "D": (d_y, d_x)}``.
    """
    if not 0.0 <= r_min < r_max < 1.0:
        raise ValueError(f"need 0 <= r_min < r_max < 1 so the memory forgets, received r_min={r_min}, r_max={r_max}")
    k_u1, k_u2, k_b_re, k_b_im, k_c_re, k_c_im, k_d = jax.random.split(key, 7)
    u1 = jax.random.uniform(k_u1, (d_h,))
    u2 = jax.random.uniform(k_u2, (d_h,))
    magnitude_squared = u1 * (r_max**2 - r_min**2) + r_min**2
    nu_log = jnp.log(-0.5 * jnp.log(magnitude_squared))
    theta_log = jnp.log(max_phase * u2 + 1e-6)
    b_scale = 1.0 / jnp.sqrt(2.0 * d_x)
    c_scale = 1.0 / jnp.sqrt(d_h)
    return {"nu_log": nu_log, "theta_log": theta_log,
            "gamma_log": 0.5 * jnp.log(1.0 - magnitude_squared),
            "B_re": b_scale * jax.random.normal(k_b_re, (d_h, d_x)),
            "B_im": b_scale * jax.random.normal(k_b_im, (d_h, d_x)),
            "C_re": c_scale * jax.random.normal(k_c_re, (d_y, d_h)),
            "C_im": c_scale * jax.random.normal(k_c_im, (d_y, d_h)),
            "D": jax.random.normal(k_d, (d_y, d_x)) / jnp.sqrt(d_x)}


def lru_eigenvalues(params):
    """The diagonal of the LRU's recurrence, ``λ = exp(−exp(ν) + i exp(θ))`` ``(d_h,)`` complex.

    ``|λ| = exp(−exp(ν)) < 1`` for every real ``ν``: however training moves ``ν``, the memory
    stays stable, the chapter 3 condition ``|γ| < 1`` built into the parametrization."""
    return jnp.exp(-jnp.exp(params["nu_log"]) + 1j * jnp.exp(params["theta_log"]))


def lru_coefficients(params, xs):
    """The LRU as a linear recurrence ``h_t = λ ⊙ h_{t-1} + b_t`` with ``b_t = e^{γ_log} ⊙ (B x_t)``;
    the normalization ``e^{γ_log} = √(1 − |λ|²)`` at initialization keeps ``E|h|²`` near ``E|Bx|²``
    for white-noise inputs however close ``|λ|`` is to 1.

    Arguments: ``xs`` ``(T, d_x)``. Returns ``a``, ``b``: ``(T, d_h)`` complex (``a`` is ``λ`` on every step).
    """
    xs = as_sequence(xs, params["B_re"].shape[1])
    B = params["B_re"] + 1j * params["B_im"]
    b = jnp.exp(params["gamma_log"])[None, :] * (xs @ B.T)
    a = jnp.broadcast_to(lru_eigenvalues(params)[None, :], b.shape)
    return a, b


def lru_states(params, xs, h0=None, method="associative"):
    """All complex states of the LRU, ``(T, d_h)``, by ``lectlib.linear_recurrence`` (any method)."""
    a, b = lru_coefficients(params, xs)
    return linear_recurrence(a, b, h0, method=method)


def lru(params, xs, method="associative"):
    """The LRU's outputs ``y_t = Re(C h_t) + D x_t``, ``(T, d_y)`` real, from ``h_0 = 0``.

    Arguments: ``xs`` ``(T, d_x)``; ``method`` as in ``lectlib.linear_recurrence``.
    """
    states = lru_states(params, xs, method=method)
    C = params["C_re"] + 1j * params["C_im"]
    return jnp.real(states @ C.T) + xs @ params["D"].T


# ---------------------------------------------------------------- bidirectional, encoder-decoder, generation

def bidirectional(step, forward_params, backward_params, xs, h0):
    """A forward and a backward run of a cell, side by side: ``[h→_t, h←_t]`` ``(T, 2 d_h)``,
    where ``h←_t`` has read ``x_T … x_t``."""
    forward = run(step, forward_params, xs, h0)
    backward = run(step, backward_params, xs[::-1], h0)[::-1]
    return jnp.concatenate([forward, backward], axis=-1)


def generate(step, read, params, h, x, num_steps):
    """Free-running generation: each output becomes the next input.

    Arguments: ``step(params, h, x) -> h``; ``read(params, h) -> x_next`` (same shape as ``x``);
    ``h`` the state after the prompt; ``x`` the first input to feed.
    Returns: ``(num_steps, *x.shape)`` generated values.
    """
    def body(carry, _):
        h, x = carry
        h = step(params, h, x)
        x = read(params, h)
        return (h, x), x

    _, generated = jax.lax.scan(body, (h, x), None, length=num_steps)
    return generated


def encode_decode(encoder_step, decoder_step, read, params, xs, h0, x_start, num_steps):
    """Encoder–decoder: the encoder's last state starts a decoder that generates ``num_steps``
    outputs, feeding each back in. ``params`` ``{"encoder", "decoder"}``."""
    summary = run(encoder_step, params["encoder"], xs, h0)[-1]
    return generate(decoder_step, read, params["decoder"], summary, x_start, num_steps)


# ---------------------------------------------------------------- leaky units and echo-state networks (Jaeger, 2001)

def reservoir_init(key, d_x, d_h, spectral_radius=0.9, input_scale=1.0):
    """A fixed random reservoir: ``{"U": (d_h, d_x), "W": (d_h, d_h)}`` with ``ρ(W)`` as given."""
    k_in, k_w = jax.random.split(key)
    return {"U": input_scale * jax.random.uniform(k_in, (d_h, d_x), minval=-1, maxval=1),
            "W": recurrent_matrix(k_w, d_h, spectral_radius)}


def leaky_step(params, h, x, leak=0.3):
    """A leaky unit: ``h ← (1 - α) h + α tanh(U x + W h)``; ``α = leak`` sets its time scale."""
    return (1.0 - leak) * h + leak * jnp.tanh(params["U"] @ x + params["W"] @ h)


def ridge_readout(states, targets, regularization=1e-4):
    """The echo-state read-out, trained in closed form: ``V = Yᵀ H (Hᵀ H + λ I)⁻¹``.

    Arguments: ``states`` ``(N, d_h)``; ``targets`` ``(N, d_y)``. Returns ``V`` ``(d_y, d_h + 1)``
    acting on ``[1, h]``.
    """
    H = jnp.concatenate([jnp.ones((states.shape[0], 1), states.dtype), states], axis=1)
    gram = H.T @ H + regularization * jnp.eye(H.shape[1], dtype=H.dtype)
    return jnp.linalg.solve(gram, H.T @ targets).T


# ---------------------------------------------------------------- Hopfield networks (Hopfield, 1982)

def hopfield_store(patterns):
    """Hebbian weights ``W = (1/N) Σ_p p pᵀ`` with a zero diagonal. ``patterns`` ``(P, N)`` of ±1."""
    patterns = as_array(patterns, "patterns")
    check_shapes([(patterns, ("P", "N"), "patterns")])
    W = patterns.T @ patterns / patterns.shape[1]
    return W - jnp.diag(jnp.diag(W))


def hopfield_recall(W, state, num_steps):
    """Synchronous updates ``s ← sign(W s)`` (ties keep their sign). Returns ``(num_steps + 1, N)``,
    the state before and after every update."""
    def body(s, _):
        field = W @ s
        s = jnp.where(field == 0, s, jnp.sign(field))
        return s, s

    _, history = jax.lax.scan(body, state, None, length=num_steps)
    return jnp.concatenate([state[None, :], history])
