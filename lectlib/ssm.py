"""State-space models (chapter 12): the linear recurrence of chapter 3 grown up.

A continuous-time linear system reads an input ``u(t)`` into a state ``x(t)``::

    x'(t) = A x(t) + B u(t),        y(t) = C x(t)

Sampled every ``Δ`` it becomes the linear recurrence ``x_t = Ā x_{t-1} + B̄ u_t``,
``y_t = C x_t``: ``zoh`` and ``bilinear`` compute ``Ā, B̄``. The same model has two views:
the recurrence (``recurrent``; for a diagonal ``Ā``, ``lectlib.linear_recurrence``) and a
convolution with the kernel ``K_k = C Ā^k B̄`` (``kernel``, ``convolve``). S4 and S4D
(Gu et al. 2022) make ``A`` structured (``hippo_legs``, ``s4d_lin``, ``s4d_real``);
Mamba (Gu and Dao 2023) makes ``Δ``, ``B`` and ``C`` depend on the input
(``selective_scan``): the convolution view is gone, the recurrence is still linear in the
state, so chapter 4's associative scan still runs it.

Shapes: ``T`` steps, ``N`` state size, ``d_u`` input and ``d_y`` output channels; for the
diagonal layers ``H`` channels, each with its own ``N`` states. Unbatched; ``jax.vmap``
makes batches.
"""
import functools
import math

import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_inexact, check_positive_int, check_shapes
from lectlib.cells._common import glorot
from lectlib.scans import linear_recurrence

CONVOLUTION_METHODS = ("fft", "direct")
KINDS = ("lti", "selective", "gru")


def _square(A, name="A"):
    A = as_array(A, name)
    check_inexact(A, name)
    return A, check_shapes([(A, ("N", "N"), name)])


def _check_delta(delta):
    if isinstance(delta, (int, float)) and not delta > 0:
        raise ValueError(f"the step delta must be > 0, received {delta!r}")


# ---------------------------------------------------------------------------- discretisation
def zoh(A, B, delta):
    """Zero-order hold: the input held constant over each step of length ``Δ`` gives
    ``Ā = exp(ΔA)``, ``B̄ = A⁻¹(exp(ΔA) − I) B``, computed without inverting ``A`` as one
    matrix exponential: ``exp(Δ [[A, B], [0, 0]]) = [[Ā, B̄], [0, I]]``.

    Arguments:
        A: ``(N, N)``; B: ``(N, d_u)``; delta: the step ``Δ > 0``.

    Returns:
        ``(A_bar (N, N), B_bar (N, d_u))``.

    Chapter 12; tests/test_ssm.py::test_zoh_matches_scipy_expm_and_a_fine_ode_integration.
    """
    A, bound = _square(A)
    B = as_array(B, "B")
    check_inexact(B, "B")
    bound = check_shapes([(B, ("N", "d_u"), "B")], bound)
    _check_delta(delta)
    n, d_u = bound["N"], bound["d_u"]
    block = jnp.zeros((n + d_u, n + d_u), jnp.result_type(A, B))
    block = block.at[:n, :n].set(A).at[:n, n:].set(B)
    exponential = jax.scipy.linalg.expm(delta * block)
    return exponential[:n, :n], exponential[:n, n:]


def bilinear(A, B, delta):
    """The bilinear (Tustin) rule of S4: ``Ā = (I − Δ/2 A)⁻¹ (I + Δ/2 A)``,
    ``B̄ = (I − Δ/2 A)⁻¹ Δ B``.

    Arguments and returns as :func:`zoh`.

    Chapter 12; tests/test_ssm.py::test_bilinear_is_the_trapezoid_rule_and_close_to_zoh.
    """
    A, bound = _square(A)
    B = as_array(B, "B")
    check_inexact(B, "B")
    check_shapes([(B, ("N", "d_u"), "B")], bound)
    _check_delta(delta)
    identity = jnp.eye(bound["N"], dtype=A.dtype)
    left = identity - delta / 2 * A
    return jnp.linalg.solve(left, identity + delta / 2 * A), jnp.linalg.solve(left, delta * B)


def zoh_diagonal(lam, B, delta):
    """Zero-order hold for a diagonal ``A = diag(λ)`` (real or complex):
    ``ā = exp(Δλ)``, ``B̄ = (exp(Δλ) − 1)/λ · B`` row by row. ``delta`` may be a scalar or
    ``(N,)`` (one step per state).

    Arguments:
        lam: ``(N,)`` with ``λ ≠ 0``; B: ``(N, d_u)``; delta: ``Δ > 0``.

    Returns:
        ``(a_bar (N,), B_bar (N, d_u))``.

    Chapter 12; tests/test_ssm.py::test_diagonal_zoh_is_zoh_of_the_diagonal_matrix.
    """
    lam = as_array(lam, "lam")
    B = as_array(B, "B")
    check_inexact(lam, "lam")
    check_shapes([(lam, ("N",), "lam"), (B, ("N", "d_u"), "B")])
    _check_delta(delta)
    a_bar = jnp.exp(delta * lam)
    return a_bar, ((a_bar - 1) / lam)[:, None] * B


def decay_per_step(a, delta):
    """``|exp(Δa)|``: how much of the state one step of length ``Δ`` keeps; chapter 3's
    ``γ``. Chapter 12; tests/test_ssm.py::test_scalar_case_is_the_linear_memory."""
    return jnp.abs(jnp.exp(delta * jnp.asarray(a)))


# ---------------------------------------------------------------------------- two views
def recurrent(A_bar, B_bar, C, us, x0=None):
    """The recurrent view: ``x_t = Ā x_{t-1} + B̄ u_t``, ``y_t = C x_t`` with ``jax.lax.scan``.

    Arguments:
        A_bar: ``(N, N)``; B_bar: ``(N, d_u)``; C: ``(d_y, N)``; us: ``(T, d_u)``;
        x0: ``(N,)``, zeros when None.

    Returns:
        ``(T, d_y)``.

    Chapter 12; tests/test_ssm.py::test_recurrent_and_convolution_views_agree.
    """
    A_bar, bound = _square(A_bar, "A_bar")
    B_bar, C, us = as_array(B_bar, "B_bar"), as_array(C, "C"), as_array(us, "us")
    check_shapes([(B_bar, ("N", "d_u"), "B_bar"), (C, ("d_y", "N"), "C"), (us, ("T", "d_u"), "us")], bound)
    x = jnp.zeros(bound["N"], jnp.result_type(A_bar, B_bar, us)) if x0 is None else as_array(x0, "x0")

    def step(x, u):
        x = A_bar @ x + B_bar @ u
        return x, C @ x

    _, ys = jax.lax.scan(step, x, us)
    return ys


def kernel(A_bar, B_bar, C, T):
    """The convolution kernel ``K_k = C Ā^k B̄`` for ``k = 0 … T−1``.

    Arguments:
        A_bar: ``(N, N)``; B_bar: ``(N, d_u)``; C: ``(d_y, N)``; T: the length.

    Returns:
        ``(T, d_y, d_u)``.

    Chapter 12; tests/test_ssm.py::test_kernel_is_the_impulse_response.
    """
    A_bar, bound = _square(A_bar, "A_bar")
    B_bar, C = as_array(B_bar, "B_bar"), as_array(C, "C")
    check_shapes([(B_bar, ("N", "d_u"), "B_bar"), (C, ("d_y", "N"), "C")], bound)
    check_positive_int(T, "T")

    def step(power_times_b, _):
        return A_bar @ power_times_b, C @ power_times_b

    _, K = jax.lax.scan(step, B_bar, None, length=T)
    return K


def kernel_diagonal(a_bar, B_bar, C, T):
    """``K_k = C diag(ā)^k B̄`` for a diagonal ``Ā`` (real or complex ``ā``).

    Arguments:
        a_bar: ``(N,)``; B_bar: ``(N, d_u)``; C: ``(d_y, N)``; T: the length.

    Returns:
        ``(T, d_y, d_u)``.

    Chapter 12; tests/test_ssm.py::test_kernel_is_the_impulse_response.
    """
    a_bar, B_bar, C = as_array(a_bar, "a_bar"), as_array(B_bar, "B_bar"), as_array(C, "C")
    check_shapes([(a_bar, ("N",), "a_bar"), (B_bar, ("N", "d_u"), "B_bar"), (C, ("d_y", "N"), "C")])
    check_positive_int(T, "T")
    powers = a_bar[None, :] ** jnp.arange(T)[:, None]          # (T, N)
    return jnp.einsum("yn,kn,nu->kyu", C, powers, B_bar)


def convolve(K, us, method="fft"):
    """The convolution view, causal: ``y_t = Σ_{k=0}^{t} K_k u_{t-k}``.

    ``"fft"`` multiplies the transforms (zero-padded to ``2T``, so the product is the
    linear, not the circular, convolution): ``O(T log T)``. ``"direct"`` sums every term:
    ``O(T²)``.

    Arguments:
        K: ``(T, d_y, d_u)``; us: ``(T, d_u)``; method: ``"fft"`` or ``"direct"``.

    Returns:
        ``(T, d_y)`` (real when ``K`` and ``us`` are).

    Chapter 12; tests/test_ssm.py::test_recurrent_and_convolution_views_agree and
    ::test_fft_convolution_equals_numpy_convolve.
    """
    if method not in CONVOLUTION_METHODS:
        raise ValueError(f"method must be one of {CONVOLUTION_METHODS}, received {method!r}")
    K, us = as_array(K, "K"), as_array(us, "us")
    bound = check_shapes([(K, ("T", "d_y", "d_u"), "K"), (us, ("T", "d_u"), "us")])
    T = bound["T"]
    if method == "direct":
        lags = jnp.arange(T)[:, None] - jnp.arange(T)[None, :]          # t - s
        toeplitz = jnp.where((lags >= 0)[:, :, None, None], K[jnp.clip(lags, 0, T - 1)], 0)
        return jnp.einsum("tsyu,su->ty", toeplitz, us)
    complex_input = jnp.iscomplexobj(K) or jnp.iscomplexobj(us)
    transform, inverse = (jnp.fft.fft, jnp.fft.ifft) if complex_input else (jnp.fft.rfft, jnp.fft.irfft)
    K_f = transform(K, n=2 * T, axis=0)
    u_f = transform(us, n=2 * T, axis=0)
    return inverse(jnp.einsum("fyu,fu->fy", K_f, u_f), n=2 * T, axis=0)[:T]


def diagonal_recurrent(a_bar, B_bar, C, us, method="scan"):
    """The recurrent view for a diagonal ``Ā``: each state is chapter 3's linear memory
    ``x_t[n] = ā_n x_{t-1}[n] + (B̄ u_t)[n]``, run by ``lectlib.linear_recurrence``.

    Arguments:
        a_bar: ``(N,)``; B_bar: ``(N, d_u)``; C: ``(d_y, N)``; us: ``(T, d_u)``;
        method: as ``lectlib.linear_recurrence`` (``"loop"``, ``"scan"``, ``"associative"``).

    Returns:
        ``(T, d_y)``.

    Chapter 12; tests/test_ssm.py::test_recurrent_and_convolution_views_agree.
    """
    a_bar, B_bar, C, us = (as_array(v, name) for v, name in ((a_bar, "a_bar"), (B_bar, "B_bar"), (C, "C"),
                                                               (us, "us")))
    bound = check_shapes([(a_bar, ("N",), "a_bar"), (B_bar, ("N", "d_u"), "B_bar"), (C, ("d_y", "N"), "C"),
                          (us, ("T", "d_u"), "us")])
    dtype = jnp.result_type(a_bar, B_bar, us)
    inputs = (us @ B_bar.T).astype(dtype)                               # (T, N)
    a = jnp.broadcast_to(a_bar.astype(dtype)[None, :], (bound["T"], bound["N"]))
    return linear_recurrence(a, inputs, method=method) @ C.T


# ---------------------------------------------------------------------------- structured A
def hippo_legs(N):
    """The HiPPO-LegS matrices of S4 (Gu et al. 2020, 2022): ``A_nk = −√(2n+1)√(2k+1)`` below
    the diagonal, ``−(n+1)`` on it, 0 above; ``B_n = √(2n+1)``. The state then holds the
    coefficients of the input's history in Legendre polynomials.

    Returns:
        ``(A (N, N), B (N, 1))``, float32.

    Chapter 12; tests/test_ssm.py::test_hippo_legs_entries_and_stability.
    """
    check_positive_int(N, "N")
    root = jnp.sqrt(2.0 * jnp.arange(N) + 1.0)
    n, k = jnp.arange(N)[:, None], jnp.arange(N)[None, :]
    A = jnp.where(n > k, -root[:, None] * root[None, :], jnp.where(n == k, -(n + 1.0), 0.0))
    return A.astype(jnp.float32), root[:, None].astype(jnp.float32)


def s4d_lin(N):
    """S4D-Lin (Gu, Gupta et al. 2022): ``λ_n = −1/2 + iπn``, ``n = 0 … N−1``, complex64.
    Chapter 12; tests/test_ssm.py::test_s4d_initialisations_are_stable."""
    check_positive_int(N, "N")
    return (-0.5 + 1j * math.pi * jnp.arange(N)).astype(jnp.complex64)


def s4d_real(N):
    """S4D-Real: ``λ_n = −(n + 1)``, float32 (Mamba's initialisation of ``A``).
    Chapter 12; tests/test_ssm.py::test_s4d_initialisations_are_stable."""
    check_positive_int(N, "N")
    return -(jnp.arange(N) + 1.0).astype(jnp.float32)


def stable_lambda(log_neg_real, imag=None):
    """The stable parametrisation ``λ = −exp(w) + i·imag``: whatever a gradient step does to
    ``w``, ``Re λ < 0``, so ``|exp(Δλ)| < 1`` and the state cannot blow up.
    Chapter 12; tests/test_ssm.py::test_stable_parametrisation_keeps_every_decay_below_one."""
    real = -jnp.exp(jnp.asarray(log_neg_real))
    return real if imag is None else real + 1j * jnp.asarray(imag)


# ---------------------------------------------------------------------------- selectivity
def selective_discretize(delta, A, B):
    """One step of Mamba's discretisation: ``Ā = exp(Δ A)`` (zero-order hold) and
    ``B̄ = Δ B`` (an Euler step, as Mamba's reference code does), per channel.

    Arguments:
        delta: ``(H,)`` steps ``Δ_t > 0``; A: ``(H, N)`` (negative real); B: ``(N,)`` this
        step's ``B_t``.

    Returns:
        ``(A_bar (H, N), B_bar (H, N))``.

    Chapter 12; tests/test_ssm.py::test_selective_scan_equals_a_loop_of_steps.
    """
    return jnp.exp(delta[:, None] * A), delta[:, None] * B[None, :]


def selective_step(h, u, delta, A, B, C):
    """One step of the selective scan: ``h ← Ā_t ⊙ h + B̄_t u_t``, ``y_t = h C_t``.

    Arguments:
        h: ``(H, N)``; u: ``(H,)``; delta: ``(H,)``; A: ``(H, N)``; B, C: ``(N,)``.

    Returns:
        ``(h (H, N), y (H,))``.

    Chapter 12 and homework 5; tests/test_ssm.py::test_selective_scan_equals_a_loop_of_steps.
    """
    A_bar, B_bar = selective_discretize(delta, A, B)
    h = A_bar * h + B_bar * u[:, None]
    return h, h @ C


def _selective_inputs(us, deltas, A, Bs, Cs):
    us, deltas, A, Bs, Cs = (as_array(v, name) for v, name in
                             ((us, "us"), (deltas, "deltas"), (A, "A"), (Bs, "Bs"), (Cs, "Cs")))
    for value, name in ((us, "us"), (deltas, "deltas"), (A, "A"), (Bs, "Bs"), (Cs, "Cs")):
        check_inexact(value, name)
    return (us, deltas, A, Bs, Cs), check_shapes([
        (us, ("T", "H"), "us"), (deltas, ("T", "H"), "deltas"), (A, ("H", "N"), "A"),
        (Bs, ("T", "N"), "Bs"), (Cs, ("T", "N"), "Cs")])


def selective_scan(us, deltas, A, Bs, Cs, method="associative"):
    """Mamba's selective scan: with ``Δ_t``, ``B_t``, ``C_t`` read from the input, every
    step is ``h_t = Ā_t ⊙ h_{t-1} + B̄_t u_t`` (elementwise in the ``(H, N)`` state),
    ``y_t = h_t C_t``. Still a linear recurrence, so ``lectlib.linear_recurrence`` runs it
    (``method="associative"``: chapter 4's tree; ``"scan"``, ``"loop"`` agree).

    Arguments:
        us: ``(T, H)``; deltas: ``(T, H)``; A: ``(H, N)``; Bs, Cs: ``(T, N)``.

    Returns:
        ``(T, H)``.

    Chapter 12 and homework 5; tests/test_ssm.py::test_selective_scan_equals_a_loop_of_steps.
    """
    (us, deltas, A, Bs, Cs), bound = _selective_inputs(us, deltas, A, Bs, Cs)
    T, H, N = bound["T"], bound["H"], bound["N"]
    A_bar, B_bar = jax.vmap(selective_discretize, in_axes=(0, None, 0))(deltas, A, Bs)   # (T, H, N) each
    states = linear_recurrence(A_bar.reshape(T, H * N), (B_bar * us[:, :, None]).reshape(T, H * N),
                               method=method)
    return jnp.einsum("thn,tn->th", states.reshape(T, H, N), Cs)


def selective_scan_loop(us, deltas, A, Bs, Cs):
    """The selective scan as a plain loop of :func:`selective_step` (``lectlib.scan``): the
    reference the associative scan is tested against. Arguments and returns as
    :func:`selective_scan`. Chapter 12; tests/test_ssm.py::test_selective_scan_equals_a_loop_of_steps."""
    from lectlib.scans import scan

    (us, deltas, A, Bs, Cs), bound = _selective_inputs(us, deltas, A, Bs, Cs)
    h0 = jnp.zeros((bound["H"], bound["N"]), jnp.result_type(us, A))
    _, ys = scan(lambda h, step_in: selective_step(h, *step_in[:2], A, *step_in[2:]), h0, (us, deltas, Bs, Cs))
    return ys


# ---------------------------------------------------------------------------- layers and models
def lti_init(key, d_model, d_state):
    """A diagonal LTI layer (S4D-Real style): per channel ``h`` and state ``n``,
    ``λ = −exp(log_neg_A)`` (initialised to S4D-Real), ``B``, ``C`` and a learned step
    ``Δ_h = exp(log_delta)``, plus a skip ``D``.

    Returns:
        ``{"log_neg_A" (H, N), "B" (H, N), "C" (H, N), "log_delta" (H,), "D" (H,)}``.

    Chapter 12; tests/test_ssm.py::test_lti_layer_is_a_convolution_with_the_layer_kernel.
    """
    check_positive_int(d_model, "d_model")
    check_positive_int(d_state, "d_state")
    k_b, k_c, k_delta = jax.random.split(key, 3)
    return {
        "log_neg_A": jnp.log(jnp.broadcast_to(-s4d_real(d_state)[None, :], (d_model, d_state))),
        "B": jax.random.normal(k_b, (d_model, d_state)) / math.sqrt(d_state),
        "C": jax.random.normal(k_c, (d_model, d_state)) / math.sqrt(d_state),
        "log_delta": jax.random.uniform(k_delta, (d_model,), minval=math.log(1e-2), maxval=math.log(0.5)),
        "D": jnp.ones(d_model),
    }


def lti_kernel(params, T):
    """The LTI layer's kernel, one per channel: ``K[k, h] = Σ_n C_hn ā_hn^k B̄_hn``, ``(T, H)``.
    Chapter 12; tests/test_ssm.py::test_lti_layer_is_a_convolution_with_the_layer_kernel."""
    lam = stable_lambda(params["log_neg_A"])                                  # (H, N)
    delta = jnp.exp(params["log_delta"])[:, None]
    a_bar = jnp.exp(delta * lam)
    b_bar = (a_bar - 1) / lam * params["B"]
    powers = a_bar[None] ** jnp.arange(T)[:, None, None]                     # (T, H, N)
    return jnp.einsum("hn,khn,hn->kh", params["C"], powers, b_bar)


def lti_apply(params, xs):
    """``y = K ∗ x + D ⊙ x`` channel by channel, by FFT convolution. ``xs``: ``(T, H)``;
    returns ``(T, H)``. Chapter 12; tests/test_ssm.py::test_lti_layer_is_a_convolution_with_the_layer_kernel."""
    T = xs.shape[0]
    K = lti_kernel(params, T)
    ys = jnp.fft.irfft(jnp.fft.rfft(K, n=2 * T, axis=0) * jnp.fft.rfft(xs, n=2 * T, axis=0), n=2 * T, axis=0)[:T]
    return ys + params["D"][None, :] * xs


def selective_init(key, d_model, d_state):
    """A selective (Mamba-style) layer: ``A`` as the LTI layer's, and projections that read
    ``Δ_t = softplus(W_Δ x_t + b_Δ)`` ``(H,)``, ``B_t = W_B x_t`` and ``C_t = W_C x_t``
    ``(N,)`` from each input.

    Returns:
        ``{"log_neg_A" (H, N), "W_delta" (H, H), "b_delta" (H,), "W_B" (N, H), "W_C" (N, H),
        "D" (H,)}``.

    Chapter 12; tests/test_ssm.py::test_selective_layer_runs_the_selective_scan.
    """
    check_positive_int(d_model, "d_model")
    check_positive_int(d_state, "d_state")
    k_delta, k_b, k_c, k_bias = jax.random.split(key, 4)
    steps = jnp.exp(jax.random.uniform(k_bias, (d_model,), minval=math.log(1e-2), maxval=math.log(0.5)))
    return {
        "log_neg_A": jnp.log(jnp.broadcast_to(-s4d_real(d_state)[None, :], (d_model, d_state))),
        "W_delta": glorot(k_delta, (d_model, d_model)),
        "b_delta": steps + jnp.log(-jnp.expm1(-steps)),                       # softplus⁻¹(steps)
        "W_B": glorot(k_b, (d_state, d_model)),
        "W_C": glorot(k_c, (d_state, d_model)),
        "D": jnp.ones(d_model),
    }


def selective_projections(params, xs):
    """``(Δ (T, H), B (T, N), C (T, N))`` read from ``xs`` ``(T, H)``. Chapter 12;
    tests/test_ssm.py::test_selective_layer_runs_the_selective_scan."""
    deltas = jax.nn.softplus(xs @ params["W_delta"].T + params["b_delta"][None, :])
    return deltas, xs @ params["W_B"].T, xs @ params["W_C"].T


def selective_apply(params, xs, method="scan"):
    """``y = selective_scan(x, Δ(x), A, B(x), C(x)) + D ⊙ x``. ``xs``: ``(T, H)``; returns
    ``(T, H)``. Chapter 12; tests/test_ssm.py::test_selective_layer_runs_the_selective_scan."""
    deltas, Bs, Cs = selective_projections(params, xs)
    A = stable_lambda(params["log_neg_A"])
    return selective_scan(xs, deltas, A, Bs, Cs, method=method) + params["D"][None, :] * xs


def model_init(key, kind, vocab_size, d_model, d_state=None):
    """A token model: embedding ``E`` ``(H, V)``, one sequence layer (``"lti"``,
    ``"selective"``, or a ``"gru"`` from ``lectlib.cells`` with ``d_h = d_model``), and the
    read-out ``o_t = c + V z_t`` with ``z_t = tanh(y_t)`` (the GRU's ``h_t`` as it is).

    Returns:
        ``{"E" (H, V), "layer": …, "V" (V, H), "c" (V,)}``.

    Chapter 12; tests/test_ssm.py::test_models_have_the_parameter_counts_the_page_states.
    """
    from lectlib.cells import gru

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, received {kind!r}")
    check_positive_int(vocab_size, "vocab_size")
    k_embed, k_layer, k_out = jax.random.split(key, 3)
    if kind == "gru":
        layer = gru.init(k_layer, d_model, d_model)
    else:
        check_positive_int(d_state, "d_state")
        layer = (lti_init if kind == "lti" else selective_init)(k_layer, d_model, d_state)
    return {"E": jax.random.normal(k_embed, (d_model, vocab_size)), "layer": layer,
            "V": glorot(k_out, (vocab_size, d_model)), "c": jnp.zeros(vocab_size)}


def model_logits(kind, params, tokens, method="scan"):
    """``(T, V)`` logits of one token sequence ``(T,)`` under :func:`model_init`'s model.
    Chapter 12; tests/test_ssm.py::test_models_have_the_parameter_counts_the_page_states."""
    from lectlib.cells import gru
    from lectlib.scans import run

    xs = params["E"].T[tokens]                                               # (T, H)
    if kind == "gru":
        zs = run(gru.step, params["layer"], xs, gru.init_state(xs.shape[1]))
    elif kind == "lti":
        zs = jnp.tanh(lti_apply(params["layer"], xs))
    elif kind == "selective":
        zs = jnp.tanh(selective_apply(params["layer"], xs, method))
    else:
        raise ValueError(f"kind must be one of {KINDS}, received {kind!r}")
    return zs @ params["V"].T + params["c"][None, :]


def count_parameters(params):
    """The number of numbers in a parameter pytree. Chapter 12;
    tests/test_ssm.py::test_models_have_the_parameter_counts_the_page_states."""
    return sum(int(leaf.size) for leaf in jax.tree_util.tree_leaves(params))


def masked_loss(kind, params, tokens, targets, mask):
    """Mean cross-entropy over the steps where ``mask`` is 1 (the answer steps). ``tokens``,
    ``targets``, ``mask``: ``(T,)``. Chapter 12; tests/test_ssm.py::test_masked_loss_counts_only_answer_steps."""
    logits = model_logits(kind, params, tokens)
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), targets[:, None], axis=1)[:, 0]
    return jnp.sum(nll * mask) / jnp.maximum(jnp.sum(mask), 1)


def answer_accuracy(kind, params, tokens, targets, mask):
    """Share of answer steps (``mask`` 1) predicted right, over a batch ``(n, T)``.
    Chapter 12; tests/test_ssm.py::test_masked_loss_counts_only_answer_steps."""
    logits = jax.vmap(functools.partial(model_logits, kind), in_axes=(None, 0))(params, tokens)
    right = (jnp.argmax(logits, axis=-1) == targets) * mask
    return jnp.sum(right) / jnp.sum(mask)



# ---------------------------------------------------------------------------- measured costs
VIEWS = ("sequential scan", "associative scan", "FFT convolution")
VIEW_TIMINGS_FILE = "ssm_views.json"


def view_functions(N):
    """``{view: f(us) -> ys}`` for one SISO diagonal SSM with ``N`` S4D-Real states (ZOH,
    ``Δ = 0.1``): the three ways ``bench/ssm.py`` times. ``us``: ``(T, 1)``; each returns
    ``(T, 1)``, the same numbers. Chapter 12; tests/test_ssm.py::test_the_three_views_agree_and_are_timed."""
    check_positive_int(N, "N")
    a_bar, B_bar = zoh_diagonal(s4d_real(N), jnp.ones((N, 1)), 0.1)
    C = jnp.ones((1, N)) / N
    return {
        "sequential scan": jax.jit(lambda us: diagonal_recurrent(a_bar, B_bar, C, us, method="scan")),
        "associative scan": jax.jit(lambda us: diagonal_recurrent(a_bar, B_bar, C, us, method="associative")),
        "FFT convolution": jax.jit(lambda us: convolve(kernel_diagonal(a_bar, B_bar, C, us.shape[0]), us)),
    }


def time_views(T, N, runs):
    """Median seconds of each view on ``T`` steps (compiled first, runs interleaved):
    ``{"T": T, view: seconds, ...}``. Chapter 12 (and ``bench/ssm.py``);
    tests/test_ssm.py::test_the_three_views_agree_and_are_timed."""
    import statistics
    import time

    check_positive_int(T, "T")
    check_positive_int(runs, "runs")
    us = jax.random.normal(jax.random.key(T), (T, 1))
    functions = view_functions(N)
    for f in functions.values():
        jax.block_until_ready(f(us))
    samples = {view: [] for view in VIEWS}
    for round_index in range(runs):
        order = VIEWS[round_index % 3:] + VIEWS[:round_index % 3]
        for view in order:
            start = time.perf_counter()
            jax.block_until_ready(functions[view](us))
            samples[view].append(time.perf_counter() - start)
    return {"T": T, **{view: statistics.median(samples[view]) for view in VIEWS}}


def check_view_timings(data):
    """Raises ValueError unless ``data`` is ``{"measured": {...}, "rows": [{"T", <view>...}]}``.
    Chapter 12; tests/test_ssm.py::test_the_packaged_view_timings_are_complete."""
    if not isinstance(data, dict) or set(data) != {"measured", "rows"} or not data["rows"]:
        raise ValueError('view timings must be {"measured": {...}, "rows": [...]} with rows')
    for key in ("date", "cpu_cores", "processor", "jax", "device", "N"):
        if key not in data["measured"]:
            raise ValueError(f"view timings: measured.{key} is missing")
    for row in data["rows"]:
        missing = [key for key in ("T",) + VIEWS if key not in row]
        if missing:
            raise ValueError(f"view timings: a row lacks {missing}")


def load_view_timings():
    """The timings ``bench/ssm.py`` measured and stored in the package
    (``lectlib/data_files/ssm_views.json``). Chapter 12;
    tests/test_ssm.py::test_the_packaged_view_timings_are_complete."""
    import json
    from importlib import resources

    data = json.loads((resources.files("lectlib") / "data_files" / VIEW_TIMINGS_FILE).read_text(encoding="utf-8"))
    check_view_timings(data)
    return data
