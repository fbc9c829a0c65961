"""Linear recurrences that train in parallel (chapter 10): the minGRU and the linear
recurrent unit. Both are ``h_t = a_t ⊙ h_{t-1} + b_t`` with every ``a_t``, ``b_t`` known
before the recurrence runs, so ``lectlib.linear_recurrence`` computes their states by a
loop, ``jax.lax.scan`` or the associative scan of chapter 4.

Notation as in the rest of the course: ``U`` multiplies the input, ``V`` reads out, the
recurrence's own weight is the diagonal ``a_t`` (``λ`` for the LRU, chapter 3's ``γ``).
"""
import jax
import jax.numpy as jnp

from lectlib._checks import as_sequence, check_positive_int
from lectlib.scans import linear_recurrence


# ---------------------------------------------------------------- minGRU (Feng et al., 2024)

def mingru_init(key, d_x, d_h):
    """Parameters of a minGRU: ``{"U_z": (d_h, d_x), "b_z": (d_h,), "U_h": (d_h, d_x), "b_h": (d_h,)}``.

    Chapter 10; tests/test_beyond_parallel.py::test_mingru_is_the_same_by_loop_scan_and_associative_scan.
    """
    check_positive_int(d_x, "d_x")
    check_positive_int(d_h, "d_h")
    k_z, k_h = jax.random.split(key)
    scale = 1.0 / jnp.sqrt(d_x)
    return {"U_z": scale * jax.random.normal(k_z, (d_h, d_x)), "b_z": jnp.zeros((d_h,)),
            "U_h": scale * jax.random.normal(k_h, (d_h, d_x)), "b_h": jnp.zeros((d_h,))}


def mingru_coefficients(params, xs):
    """The minGRU as a linear recurrence ``h_t = a_t ⊙ h_{t-1} + b_t``: the gate
    ``z_t = σ(U_z x_t + b_z)`` and the candidate ``h̃_t = U_h x_t + b_h`` read only ``x_t``, so
    ``a_t = 1 − z_t`` and ``b_t = z_t ⊙ h̃_t`` are known for every step before the recurrence runs.

    Arguments: ``xs`` ``(T, d_x)``. Returns ``a``, ``b``: ``(T, d_h)``.
    Chapter 10; tests/test_beyond_parallel.py::test_mingru_is_the_same_by_loop_scan_and_associative_scan.
    """
    xs = as_sequence(xs, params["U_z"].shape[1])
    z = jax.nn.sigmoid(xs @ params["U_z"].T + params["b_z"][None, :])
    candidate = xs @ params["U_h"].T + params["b_h"][None, :]
    return 1.0 - z, z * candidate


def mingru(params, xs, h0=None, method="associative"):
    """All states of the minGRU, ``(T, d_h)``, by ``lectlib.linear_recurrence`` (``method``
    ``"loop"``, ``"scan"`` or ``"associative"``); ``h0`` ``(d_h,)``, zeros if None.

    Chapter 10; tests/test_beyond_parallel.py::test_mingru_is_the_same_by_loop_scan_and_associative_scan.
    """
    a, b = mingru_coefficients(params, xs)
    return linear_recurrence(a, b, h0, method=method)


def mingru_step(params, h, x):
    """One step of the same recurrence, for generation: ``h ← (1 − z) ⊙ h + z ⊙ h̃``.
    ``h`` ``(d_h,)``, ``x`` ``(d_x,)``; returns ``(d_h,)``.

    Chapter 10; tests/test_beyond_parallel.py::test_mingru_is_the_same_by_loop_scan_and_associative_scan.
    """
    z = jax.nn.sigmoid(params["U_z"] @ x + params["b_z"])
    return (1.0 - z) * h + z * (params["U_h"] @ x + params["b_h"])


# ---------------------------------------------------------------- the linear recurrent unit (Orvieto et al., 2023)

def lru_init(key, d_x, d_h, d_y, r_min=0.4, r_max=0.99, max_phase=jnp.pi):
    """An LRU with eigenvalues spread uniformly over the ring ``r_min ≤ |λ| ≤ r_max`` with
    phases in ``[0, max_phase]``, stored as the paper stores them (log-log magnitude
    ``nu_log``, log phase ``phi_log``; the paper's θ, renamed because θ is the linear
    memory's map here). The paper's ``B, C, γ`` are the course's ``U`` (input), ``V``
    (read-out) and ``δ`` (the input scale), so that ``γ`` keeps meaning the forgetting factor.

    Returns ``{"nu_log", "phi_log", "delta_log": (d_h,), "U_re", "U_im": (d_h, d_x),
    "V_re", "V_im": (d_y, d_h), "D": (d_y, d_x)}``.
    Chapter 10; tests/test_beyond_parallel.py::test_lru_eigenvalues_start_on_the_ring_and_stay_stable.
    """
    if not 0.0 <= r_min < r_max < 1.0:
        raise ValueError(f"need 0 <= r_min < r_max < 1 so the memory forgets, received r_min={r_min}, r_max={r_max}")
    for value, name in ((d_x, "d_x"), (d_h, "d_h"), (d_y, "d_y")):
        check_positive_int(value, name)
    k_u1, k_u2, k_u_re, k_u_im, k_v_re, k_v_im, k_d = jax.random.split(key, 7)
    u1 = jax.random.uniform(k_u1, (d_h,))
    u2 = jax.random.uniform(k_u2, (d_h,))
    magnitude_squared = u1 * (r_max**2 - r_min**2) + r_min**2
    nu_log = jnp.log(-0.5 * jnp.log(magnitude_squared))
    phi_log = jnp.log(max_phase * u2 + 1e-6)
    u_scale = 1.0 / jnp.sqrt(2.0 * d_x)
    v_scale = 1.0 / jnp.sqrt(d_h)
    return {"nu_log": nu_log, "phi_log": phi_log,
            "delta_log": 0.5 * jnp.log(1.0 - magnitude_squared),
            "U_re": u_scale * jax.random.normal(k_u_re, (d_h, d_x)),
            "U_im": u_scale * jax.random.normal(k_u_im, (d_h, d_x)),
            "V_re": v_scale * jax.random.normal(k_v_re, (d_y, d_h)),
            "V_im": v_scale * jax.random.normal(k_v_im, (d_y, d_h)),
            "D": jax.random.normal(k_d, (d_y, d_x)) / jnp.sqrt(d_x)}


def lru_eigenvalues(params):
    """The diagonal of the LRU's recurrence, ``λ = exp(−e^ν + i e^φ)`` ``(d_h,)`` complex.

    ``|λ| = exp(−e^ν) < 1`` for every real ``ν``: however training moves ``ν``, the memory
    stays stable, chapter 3's condition ``0 < γ < 1`` on the magnitude, built into the
    parametrization.
    Chapter 10; tests/test_beyond_parallel.py::test_lru_eigenvalues_start_on_the_ring_and_stay_stable.
    """
    return jnp.exp(-jnp.exp(params["nu_log"]) + 1j * jnp.exp(params["phi_log"]))


def lru_coefficients(params, xs):
    """The LRU as a linear recurrence ``h_t = λ ⊙ h_{t-1} + b_t`` with ``b_t = δ ⊙ (U x_t)``,
    ``δ = e^{δ_log}``; the normalization ``δ = √(1 − |λ|²)`` at initialization keeps ``E|h|²``
    near ``E|Ux|²`` for white-noise inputs however close ``|λ|`` is to 1.

    Arguments: ``xs`` ``(T, d_x)``. Returns ``a``, ``b``: ``(T, d_h)`` complex (``a`` is ``λ`` on every step).
    Chapter 10; tests/test_beyond_parallel.py::test_lru_normalization_keeps_the_state_scale_near_the_input_scale.
    """
    xs = as_sequence(xs, params["U_re"].shape[1])
    U = params["U_re"] + 1j * params["U_im"]
    b = jnp.exp(params["delta_log"])[None, :] * (xs @ U.T)
    a = jnp.broadcast_to(lru_eigenvalues(params)[None, :], b.shape)
    return a, b


def lru_states(params, xs, h0=None, method="associative"):
    """All complex states of the LRU, ``(T, d_h)``, by ``lectlib.linear_recurrence`` (any method).

    Chapter 10; tests/test_beyond_parallel.py::test_lru_matches_its_definition_by_every_method.
    """
    a, b = lru_coefficients(params, xs)
    return linear_recurrence(a, b, h0, method=method)


def lru(params, xs, method="associative"):
    """The LRU's outputs ``y_t = Re(V h_t) + D x_t``, ``(T, d_y)`` real, from ``h_0 = 0``.

    Arguments: ``xs`` ``(T, d_x)``; ``method`` as in ``lectlib.linear_recurrence``.
    Chapter 10; tests/test_beyond_parallel.py::test_lru_matches_its_definition_by_every_method.
    """
    states = lru_states(params, xs, method=method)
    V = params["V_re"] + 1j * params["V_im"]
    return jnp.real(states @ V.T) + xs @ params["D"].T


def lru_features(params, xs, method="associative"):
    """What the LRU's read-out sees, as real numbers: ``[Re h_t, Im h_t, x_t]`` ``(T, 2 d_h + d_x)``.

    The output is linear in them, ``y_t = V_re Re h_t − V_im Im h_t + D x_t``, so with
    ``λ`` and ``U`` frozen the best read-out is a least-squares fit: the LRU as a linear
    reservoir (chapter 10 compares it with the trained LRU).
    Chapter 10; tests/test_beyond_parallel.py::test_lru_output_is_linear_in_its_features.
    """
    xs = as_sequence(xs, params["U_re"].shape[1])
    states = lru_states(params, xs, method=method)
    return jnp.concatenate([jnp.real(states), jnp.imag(states), xs], axis=-1)
