"""lectlib.ssm (chapter 12) against independent computations: scipy's matrix exponential,
a fine-step ODE integration, numpy loops and numpy's convolution; the selective-copying
task of lectlib.data."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from lectlib import data, memory, scans, ssm


def stable_matrix(rng, N):
    """A random A whose eigenvalues have negative real parts."""
    M = rng.normal(size=(N, N))
    return (M - M.T) - np.diag(rng.uniform(0.5, 2.0, N))


def rk4(A, B, u, delta, steps=2000):
    """x(Δ) of x' = A x + B u (u held constant) from x(0) = 0, by fourth-order Runge–Kutta."""
    x, h = np.zeros(A.shape[0]), delta / steps
    f = lambda x: A @ x + B @ u  # noqa: E731
    for _ in range(steps):
        k1 = f(x)
        k2 = f(x + h / 2 * k1)
        k3 = f(x + h / 2 * k2)
        k4 = f(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def numpy_lti(A_bar, B_bar, C, us):
    x, ys = np.zeros(A_bar.shape[0], np.result_type(A_bar, B_bar, complex if np.iscomplexobj(C) else float)), []
    for u in us:
        x = A_bar @ x + B_bar @ u
        ys.append(C @ x)
    return np.array(ys)


def test_zoh_matches_scipy_expm_and_a_fine_ode_integration():
    rng = np.random.default_rng(0)
    A, B, delta = stable_matrix(rng, 4), rng.normal(size=(4, 2)), 0.3
    A_bar, B_bar = ssm.zoh(jnp.asarray(A, jnp.float32), jnp.asarray(B, jnp.float32), delta)
    np.testing.assert_allclose(A_bar, scipy.linalg.expm(delta * A), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(B_bar, np.linalg.solve(A, (scipy.linalg.expm(delta * A) - np.eye(4)) @ B),
                               rtol=1e-4, atol=1e-5)
    u = rng.normal(size=2)          # a held input: B̄ u is where the ODE goes from 0 in one step
    np.testing.assert_allclose(B_bar @ u, rk4(A, B, u, delta), rtol=1e-4, atol=1e-5)


def test_bilinear_is_the_trapezoid_rule_and_close_to_zoh():
    rng = np.random.default_rng(1)
    A, B = stable_matrix(rng, 3), rng.normal(size=(3, 1))
    for delta in (0.1, 0.05):
        A_bar, B_bar = (np.asarray(v, np.float64) for v in ssm.bilinear(jnp.asarray(A, jnp.float32),
                                                                        jnp.asarray(B, jnp.float32), delta))
        left = np.eye(3) - delta / 2 * A
        np.testing.assert_allclose(left @ A_bar, np.eye(3) + delta / 2 * A, atol=1e-5)
        np.testing.assert_allclose(left @ B_bar, delta * B, atol=1e-5)
    gaps = [float(np.abs(np.asarray(ssm.bilinear(A.astype(np.float32), B.astype(np.float32), d)[0])
                         - scipy.linalg.expm(d * A)).max()) for d in (0.2, 0.1)]
    assert 5 < gaps[0] / gaps[1] < 11, gaps       # error O(Δ³): halving Δ divides it by about 8


def test_diagonal_zoh_is_zoh_of_the_diagonal_matrix():
    rng = np.random.default_rng(2)
    lam = np.asarray(ssm.s4d_lin(4)) - 0.3
    B, delta = rng.normal(size=(4, 2)), 0.1
    a_bar, B_bar = ssm.zoh_diagonal(jnp.asarray(lam), jnp.asarray(B, jnp.complex64), delta)
    full = scipy.linalg.expm(delta * np.block([[np.diag(lam), B], [np.zeros((2, 6))]]))
    np.testing.assert_allclose(np.diag(np.asarray(a_bar)), full[:4, :4], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(B_bar, full[:4, 4:], rtol=1e-4, atol=1e-5)
    real_a, real_B = ssm.zoh_diagonal(ssm.s4d_real(3), jnp.ones((3, 1)), 0.5)
    A_bar, B_bar_full = ssm.zoh(jnp.diag(ssm.s4d_real(3)), jnp.ones((3, 1)), 0.5)
    np.testing.assert_allclose(real_a, np.diag(np.asarray(A_bar)), rtol=1e-5)
    np.testing.assert_allclose(real_B, B_bar_full, rtol=1e-5)


def test_scalar_case_is_the_linear_memory():
    a, delta, b = -0.7, 0.4, 1.5
    (gamma,), B_bar = ssm.zoh_diagonal(jnp.array([a]), jnp.array([[b]]), delta)
    assert abs(float(gamma) - np.exp(delta * a)) < 1e-6
    assert abs(float(ssm.decay_per_step(a, delta)) - np.exp(delta * a)) < 1e-6
    us = np.random.default_rng(3).normal(size=(30, 1)).astype(np.float32)
    ys = ssm.diagonal_recurrent(jnp.array([gamma]), B_bar, jnp.ones((1, 1)), us)
    by_memory = memory.running_sum(jnp.asarray(us) * float(B_bar[0, 0]), float(gamma))   # h_t = γ h + θ x
    np.testing.assert_allclose(ys, by_memory, rtol=1e-5, atol=1e-6)


def test_kernel_is_the_impulse_response():
    rng = np.random.default_rng(4)
    A_bar, _ = ssm.zoh(jnp.asarray(stable_matrix(rng, 3), jnp.float32), jnp.ones((3, 1)), 0.2)
    B_bar, C = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32)
    K = ssm.kernel(A_bar, B_bar, C, 12)
    assert K.shape == (12, 2, 2)
    for j in range(2):
        impulse = np.zeros((12, 2), np.float32)
        impulse[0, j] = 1.0
        np.testing.assert_allclose(K[:, :, j], numpy_lti(np.asarray(A_bar), B_bar, C, impulse), rtol=1e-4, atol=1e-5)
    a_bar = np.array([0.9, -0.5, 0.3], np.float32)
    np.testing.assert_allclose(ssm.kernel_diagonal(a_bar, B_bar, C, 12), ssm.kernel(jnp.diag(a_bar), B_bar, C, 12),
                               rtol=1e-5, atol=1e-6)


def test_recurrent_and_convolution_views_agree():
    rng = np.random.default_rng(5)
    T = 64
    A_bar, B_bar = ssm.zoh(jnp.asarray(stable_matrix(rng, 4), jnp.float32),
                           jnp.asarray(rng.normal(size=(4, 2)), jnp.float32), 0.1)
    C = rng.normal(size=(3, 4)).astype(np.float32)
    us = rng.normal(size=(T, 2)).astype(np.float32)
    expected = numpy_lti(np.asarray(A_bar, np.float64), np.asarray(B_bar, np.float64), C, us)
    np.testing.assert_allclose(ssm.recurrent(A_bar, B_bar, C, us), expected, rtol=1e-3, atol=1e-4)
    K = ssm.kernel(A_bar, B_bar, C, T)
    for method in ssm.CONVOLUTION_METHODS:
        np.testing.assert_allclose(ssm.convolve(K, us, method), expected, rtol=1e-3, atol=1e-4, err_msg=method)
    # a complex diagonal A (S4D-Lin): the three recurrences and the FFT convolution
    a_bar, B_diag = ssm.zoh_diagonal(ssm.s4d_lin(4), jnp.asarray(rng.normal(size=(4, 2)), jnp.complex64), 0.1)
    C_diag = jnp.asarray(rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4)), jnp.complex64)
    expected = numpy_lti(np.diag(np.asarray(a_bar)), np.asarray(B_diag), np.asarray(C_diag), us)
    for method in scans.METHODS:
        np.testing.assert_allclose(ssm.diagonal_recurrent(a_bar, B_diag, C_diag, us, method), expected,
                                   rtol=1e-3, atol=1e-4, err_msg=method)
    np.testing.assert_allclose(ssm.convolve(ssm.kernel_diagonal(a_bar, B_diag, C_diag, T), us), expected,
                               rtol=1e-3, atol=1e-4)


def test_fft_convolution_equals_numpy_convolve():
    rng = np.random.default_rng(6)
    K, u = rng.normal(size=(50, 1, 1)).astype(np.float32), rng.normal(size=(50, 1)).astype(np.float32)
    expected = np.convolve(K[:, 0, 0].astype(np.float64), u[:, 0].astype(np.float64))[:50]
    for method in ssm.CONVOLUTION_METHODS:
        np.testing.assert_allclose(ssm.convolve(K, u, method)[:, 0], expected, rtol=1e-3, atol=1e-4)


def test_hippo_legs_entries_and_stability():
    A, B = ssm.hippo_legs(5)
    for n in range(5):
        assert abs(float(B[n, 0]) - np.sqrt(2 * n + 1)) < 1e-6
        for k in range(5):
            expected = -np.sqrt((2 * n + 1) * (2 * k + 1)) if n > k else (-(n + 1) if n == k else 0.0)
            assert abs(float(A[n, k]) - expected) < 1e-5, (n, k)
    assert np.all(np.linalg.eigvals(np.asarray(A, np.float64)).real < 0)


def test_s4d_initialisations_are_stable():
    lin = np.asarray(ssm.s4d_lin(6))
    np.testing.assert_allclose(lin.real, -0.5)
    np.testing.assert_allclose(lin.imag, np.pi * np.arange(6), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ssm.s4d_real(4)), [-1.0, -2.0, -3.0, -4.0])


def test_stable_parametrisation_keeps_every_decay_below_one():
    w = np.random.default_rng(7).normal(scale=3.0, size=50)
    lam = ssm.stable_lambda(w, imag=np.linspace(-10, 10, 50))
    assert np.all(np.asarray(lam).real < 0)
    assert np.all(np.asarray(ssm.decay_per_step(lam, 0.1)) < 1)


def numpy_selective(us, deltas, A, Bs, Cs):
    h, ys = np.zeros(A.shape), []
    for u, delta, B, C in zip(us, deltas, Bs, Cs):
        h = np.exp(delta[:, None] * A) * h + delta[:, None] * B[None, :] * u[:, None]
        ys.append(h @ C)
    return np.array(ys)


def selective_args(rng, T, H, N):
    return (rng.normal(size=(T, H)).astype(np.float32), rng.uniform(0.01, 1.0, (T, H)).astype(np.float32),
            -rng.uniform(0.5, 3.0, (H, N)).astype(np.float32), rng.normal(size=(T, N)).astype(np.float32),
            rng.normal(size=(T, N)).astype(np.float32))


@pytest.mark.parametrize("T, H, N", [(1, 1, 1), (17, 3, 4), (1000, 2, 3)])
def test_selective_scan_equals_a_loop_of_steps(T, H, N):
    args = selective_args(np.random.default_rng(T), T, H, N)
    expected = numpy_selective(*(a.astype(np.float64) for a in args))
    for method in scans.METHODS if T < 100 else ("scan", "associative"):
        np.testing.assert_allclose(ssm.selective_scan(*args, method=method), expected, rtol=1e-3, atol=1e-4,
                                   err_msg=method)
    if T < 100:
        np.testing.assert_allclose(ssm.selective_scan_loop(*args), expected, rtol=1e-3, atol=1e-4)


def test_selective_scan_with_constant_inputs_is_the_lti_recurrence():
    rng = np.random.default_rng(8)
    T, N = 20, 3
    us, _, A, _, _ = selective_args(rng, T, 1, N)
    B, C = rng.normal(size=N).astype(np.float32), rng.normal(size=N).astype(np.float32)
    deltas = np.full((T, 1), 0.3, np.float32)
    ys = ssm.selective_scan(us, deltas, A, np.tile(B, (T, 1)), np.tile(C, (T, 1)))
    lti = ssm.diagonal_recurrent(np.exp(0.3 * A[0]), 0.3 * B[:, None], C[None, :], us)
    np.testing.assert_allclose(ys, lti, rtol=1e-4, atol=1e-5)


def test_lti_layer_is_a_convolution_with_the_layer_kernel():
    params = ssm.lti_init(jax.random.key(0), d_model=3, d_state=4)
    xs = np.random.default_rng(9).normal(size=(25, 3)).astype(np.float32)
    lam = -np.exp(np.asarray(params["log_neg_A"], np.float64))
    delta = np.exp(np.asarray(params["log_delta"], np.float64))
    expected = np.zeros((25, 3))
    for h in range(3):          # each channel its own diagonal system, by the numpy loop
        a_bar = np.exp(delta[h] * lam[h])
        b_bar = (a_bar - 1) / lam[h] * np.asarray(params["B"][h])
        expected[:, h] = numpy_lti(np.diag(a_bar), b_bar[:, None], np.asarray(params["C"][h])[None, :],
                                   xs[:, h:h + 1])[:, 0] + float(params["D"][h]) * xs[:, h]
    np.testing.assert_allclose(ssm.lti_apply(params, xs), expected, rtol=1e-3, atol=1e-4)


def test_selective_layer_runs_the_selective_scan():
    params = ssm.selective_init(jax.random.key(1), d_model=3, d_state=2)
    xs = np.random.default_rng(10).normal(size=(15, 3)).astype(np.float32)
    deltas, Bs, Cs = ssm.selective_projections(params, xs)
    assert np.all(np.asarray(deltas) > 0) and Bs.shape == Cs.shape == (15, 2)
    W = {k: np.asarray(v, np.float64) for k, v in params.items()}
    np.testing.assert_allclose(deltas, np.log1p(np.exp(xs @ W["W_delta"].T + W["b_delta"])), rtol=1e-4)
    expected = numpy_selective(xs.astype(np.float64), np.asarray(deltas, np.float64), -np.exp(W["log_neg_A"]),
                               xs @ W["W_B"].T, xs @ W["W_C"].T) + W["D"] * xs
    for method in ("scan", "associative"):
        np.testing.assert_allclose(ssm.selective_apply(params, xs, method), expected, rtol=1e-3, atol=1e-4)


def test_models_have_the_parameter_counts_the_page_states():
    V, H, N = 6, 8, 4
    expected = {"lti": 2 * V * H + V + 3 * H * N + 2 * H,
                "selective": 2 * V * H + V + H * N + H * H + H + 2 * N * H + H,
                "gru": 2 * V * H + V + 3 * (2 * H * H + H)}
    tokens = jnp.array([2, 0, 0, 3, 1, 1])
    for kind, count in expected.items():
        params = ssm.model_init(jax.random.key(0), kind, V, H, N)
        assert ssm.count_parameters(params) == count, kind
        assert ssm.model_logits(kind, params, tokens).shape == (6, V)
    with pytest.raises(ValueError, match="kind must be one of"):
        ssm.model_init(jax.random.key(0), "transformer", V, H, N)


def test_masked_loss_counts_only_answer_steps():
    params = ssm.model_init(jax.random.key(2), "selective", 6, 4, 2)
    tokens, targets = data.selective_copying(jax.random.key(3), 4, T=10, num_tokens=2)
    mask = (targets != data.BLANK).astype(jnp.float32)
    logits = ssm.model_logits("selective", params, tokens[0])
    log_p = np.asarray(jax.nn.log_softmax(logits), np.float64)
    expected = -np.mean([log_p[t, int(targets[0, t])] for t in (10, 11)])
    assert abs(float(ssm.masked_loss("selective", params, tokens[0], targets[0], mask[0])) - expected) < 1e-5
    predicted = np.argmax(np.asarray(jax.vmap(functools.partial(ssm.model_logits, "selective"), in_axes=(None, 0))(
        params, tokens)), axis=-1)
    right = [predicted[i, t] == targets[i, t] for i in range(4) for t in (10, 11)]
    assert abs(float(ssm.answer_accuracy("selective", params, tokens, targets, mask)) - np.mean(right)) < 1e-6


def test_selective_copying_asks_for_the_symbols_in_order():
    tokens, targets = data.selective_copying(jax.random.key(4), 50, T=12, num_tokens=3, num_symbols=5)
    assert tokens.shape == targets.shape == (50, 15) and tokens.dtype == jnp.int32
    tokens, targets = np.asarray(tokens), np.asarray(targets)
    for row, target in zip(tokens, targets):
        symbols = row[:12][row[:12] != data.BLANK]
        assert len(symbols) == 3 and np.all((symbols >= 2) & (symbols <= 6))
        np.testing.assert_array_equal(row[12:], data.GO)
        np.testing.assert_array_equal(target[12:], symbols)           # in the order they appeared
        np.testing.assert_array_equal(target[:12], data.BLANK)
    positions = {tuple(np.flatnonzero(row[:12])) for row in tokens}
    assert len(positions) > 40, "the symbols stand at random positions"
    again, _ = data.selective_copying(jax.random.key(4), 50, T=12, num_tokens=3, num_symbols=5)
    np.testing.assert_array_equal(again, tokens)


def test_bad_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="A"):
        ssm.zoh(jnp.ones((2, 3)), jnp.ones((2, 1)), 0.1)
    with pytest.raises(ValueError, match="delta must be > 0"):
        ssm.zoh(-jnp.eye(2), jnp.ones((2, 1)), 0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        ssm.convolve(jnp.ones((3, 1, 1)), jnp.ones((3, 1)), "circular")
    with pytest.raises(ValueError, match="us"):
        ssm.selective_scan(jnp.ones((4, 2)), jnp.ones((5, 2)), -jnp.ones((2, 3)), jnp.ones((4, 3)), jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="num_tokens must be <= T"):
        data.selective_copying(jax.random.key(0), 2, T=3, num_tokens=4)


def test_the_three_views_agree_and_are_timed():
    us = jax.random.normal(jax.random.key(0), (256, 1))
    outputs = {view: np.asarray(f(us)) for view, f in ssm.view_functions(16).items()}
    for view in ssm.VIEWS:
        np.testing.assert_allclose(outputs[view], outputs["sequential scan"], rtol=1e-3, atol=1e-4, err_msg=view)
    row = ssm.time_views(64, 4, runs=2)
    assert row["T"] == 64 and all(row[view] > 0 for view in ssm.VIEWS)


def test_the_packaged_view_timings_are_complete():
    data = ssm.load_view_timings()
    assert [row["T"] for row in data["rows"]] == [2 ** k for k in range(8, 17, 2)]
    assert all(row[view] > 0 for row in data["rows"] for view in ssm.VIEWS)
    with pytest.raises(ValueError, match="lacks"):
        ssm.check_view_timings({**data, "rows": [{"T": 1}]})
