"""Chapter 10's models: parallel against sequential, closed forms against their definitions."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import beyond
from lectlib.cells import elman


def test_mingru_is_the_same_by_loop_scan_and_associative_scan():
    params = beyond.mingru_init(jax.random.key(0), 3, 5)
    xs = jax.random.normal(jax.random.key(1), (17, 3))
    h, expected = jnp.zeros(5), []
    for x in xs:
        z = jax.nn.sigmoid(params["U_z"] @ x + params["b_z"])
        h = (1 - z) * h + z * (params["U_h"] @ x + params["b_h"])
        expected.append(h)
    np.testing.assert_allclose(lectlib.run(beyond.mingru_step, params, xs, jnp.zeros(5)), np.stack(expected),
                               rtol=1e-5, atol=1e-6)
    for method in ("loop", "scan", "associative"):
        np.testing.assert_allclose(beyond.mingru(params, xs, method=method), np.stack(expected), rtol=1e-5, atol=1e-6)


def test_bidirectional_backward_half_reads_the_future():
    params_f, params_b = elman.init(jax.random.key(2), 1, 3), elman.init(jax.random.key(3), 1, 3)
    xs = jax.random.normal(jax.random.key(4), (6, 1))
    both = beyond.bidirectional(elman.step, params_f, params_b, xs, jnp.zeros(3))
    np.testing.assert_allclose(both[:, :3], lectlib.run(elman.step, params_f, xs, jnp.zeros(3)), rtol=1e-6)
    np.testing.assert_allclose(both[:, 3:], lectlib.run(elman.step, params_b, xs[::-1], jnp.zeros(3))[::-1], rtol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(beyond.bidirectional(elman.step, params_f, params_b, x, jnp.zeros(3))[2]))(xs)
    assert float(jnp.abs(grad[3:]).sum()) > 0      # step 3's output depends on later inputs


def test_generate_feeds_each_output_back():
    step = lambda p, h, x: h + x          # noqa: E731
    read = lambda p, h: 0.5 * h           # noqa: E731
    out = beyond.generate(step, read, None, jnp.array([2.0]), jnp.array([0.0]), 3)
    # h: 2 -> 2 (x=0) -> out 1 -> h 3 -> out 1.5 -> h 4.5 -> out 2.25
    np.testing.assert_allclose(out[:, 0], [1.0, 1.5, 2.25])


def test_encode_decode_starts_the_decoder_from_the_encoder_summary():
    step = lambda p, h, x: h + p * x      # noqa: E731
    read = lambda p, h: h                 # noqa: E731
    out = beyond.encode_decode(step, step, read, {"encoder": 1.0, "decoder": 0.0}, jnp.ones((4, 1)), jnp.zeros(1),
                               jnp.zeros(1), 2)
    np.testing.assert_allclose(out[:, 0], [4.0, 4.0])


def test_ridge_readout_is_regularized_least_squares():
    rng = np.random.default_rng(0)
    states, targets = rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    V = beyond.ridge_readout(jnp.asarray(states), jnp.asarray(targets), regularization=0.0)
    H = np.concatenate([np.ones((50, 1)), states], axis=1)
    expected = np.linalg.lstsq(H, targets, rcond=None)[0].T
    np.testing.assert_allclose(V, expected, rtol=1e-3, atol=1e-4)


def test_reservoir_has_the_requested_spectral_radius():
    reservoir = beyond.reservoir_init(jax.random.key(5), 1, 20, spectral_radius=0.8)
    assert float(jnp.max(jnp.abs(jnp.linalg.eigvals(reservoir["W"])))) == pytest.approx(0.8, rel=1e-4)


def test_hopfield_recalls_a_stored_pattern_from_a_corrupted_one():
    patterns = jnp.where(jax.random.bernoulli(jax.random.key(6), 0.5, (3, 64)), 1.0, -1.0)
    W = beyond.hopfield_store(patterns)
    assert float(jnp.abs(jnp.diag(W)).max()) == 0.0
    corrupted = patterns[0].at[:8].multiply(-1.0)
    history = beyond.hopfield_recall(W, corrupted, 5)
    np.testing.assert_array_equal(history[-1], patterns[0])
    np.testing.assert_array_equal(history[0], corrupted)


def lru_by_hand(params, xs):
    """The LRU's definition in numpy complex128, one step at a time."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    B, C = p["B_re"] + 1j * p["B_im"], p["C_re"] + 1j * p["C_im"]
    h, hs, ys = np.zeros(len(lam), complex), [], []
    for x in np.asarray(xs, np.float64):
        h = lam * h + np.exp(p["gamma_log"]) * (B @ x)
        hs.append(h)
        ys.append(np.real(C @ h) + p["D"] @ x)
    return np.stack(hs), np.stack(ys)


@pytest.mark.parametrize("method", ["loop", "scan", "associative"])
def test_lru_matches_its_definition_by_every_method(method):
    params = beyond.lru_init(jax.random.key(5), d_x=2, d_h=6, d_y=3)
    xs = jax.random.normal(jax.random.key(6), (23, 2))
    states, outputs = lru_by_hand(params, xs)
    np.testing.assert_allclose(beyond.lru_states(params, xs, method=method), states, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(beyond.lru(params, xs, method=method), outputs, rtol=1e-4, atol=1e-5)


def test_lru_eigenvalues_start_on_the_ring_and_stay_stable():
    params = beyond.lru_init(jax.random.key(7), d_x=1, d_h=500, d_y=1, r_min=0.5, r_max=0.9, max_phase=1.0)
    lam = np.asarray(beyond.lru_eigenvalues(params))
    assert np.all(np.abs(lam) >= 0.5 - 1e-5) and np.all(np.abs(lam) <= 0.9 + 1e-5)
    assert np.all(np.angle(lam) >= 0) and np.all(np.angle(lam) <= 1.0 + 1e-5)
    # Wherever training moves nu_log, |λ| stays below 1 (in float32 down to nu_log ≈ -16).
    moved = dict(params, nu_log=jnp.linspace(-8.0, 5.0, 500))
    assert np.all(np.abs(np.asarray(beyond.lru_eigenvalues(moved))) < 1.0)
    with pytest.raises(ValueError, match="r_min"):
        beyond.lru_init(jax.random.key(7), 1, 4, 1, r_min=0.5, r_max=1.0)


def test_lru_normalization_keeps_the_state_scale_near_the_input_scale():
    # With white-noise inputs E|h|² = γ² E|Bx|² / (1 − |λ|²) = E|Bx|² when γ² = 1 − |λ|².
    params = beyond.lru_init(jax.random.key(8), d_x=1, d_h=4, d_y=1, r_min=0.98, r_max=0.99)
    xs = jax.random.normal(jax.random.key(9), (20_000, 1))
    states = np.asarray(beyond.lru_states(params, xs, method="scan"))[2_000:]
    input_power = np.abs(np.asarray(params["B_re"] + 1j * params["B_im"])[:, 0]) ** 2
    np.testing.assert_allclose(np.mean(np.abs(states) ** 2, axis=0), input_power, rtol=0.25)
    unnormalized = dict(params, gamma_log=jnp.zeros(4))
    blown_up = np.asarray(beyond.lru_states(unnormalized, xs, method="scan"))[2_000:]
    assert np.all(np.mean(np.abs(blown_up) ** 2, axis=0) > 20 * input_power)


def test_lru_trains_through_jit_grad_and_vmap():
    params = beyond.lru_init(jax.random.key(10), d_x=1, d_h=4, d_y=1)
    xs = jax.random.normal(jax.random.key(11), (8, 1))

    def loss(params, xs):
        return jnp.sum(beyond.lru(params, xs) ** 2)

    grads = jax.jit(jax.grad(loss))(params, xs)
    assert set(grads) == set(params)
    assert all(np.all(np.isfinite(g)) and g.dtype == jnp.float32 for g in grads.values())
    # the gradient of the associative form equals that of the plain loop
    loop_grads = jax.grad(lambda p: jnp.sum(beyond.lru(p, xs, method="loop") ** 2))(params)
    for name in params:
        np.testing.assert_allclose(grads[name], loop_grads[name], rtol=1e-3, atol=1e-5)
    assert jax.vmap(loss, in_axes=(None, 0))(params, jnp.stack([xs, 2 * xs])).shape == (2,)
    with pytest.raises(ValueError, match=r"xs must have shape \(T, 1\)"):
        beyond.lru(params, jnp.ones((8, 3)))
