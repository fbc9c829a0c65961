"""Chapter 10's linear recurrences (lectlib.beyond.parallel): the minGRU and the LRU,
parallel forms against their step-by-step definitions."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import beyond


def test_mingru_is_the_same_by_loop_scan_and_associative_scan():
    params = beyond.mingru_init(jax.random.key(0), 3, 5)
    xs = jax.random.normal(jax.random.key(1), (17, 3))
    h, expected = np.zeros(5), []
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    for x in np.asarray(xs, np.float64):
        z = 1 / (1 + np.exp(-(p["U_z"] @ x + p["b_z"])))
        h = (1 - z) * h + z * (p["U_h"] @ x + p["b_h"])
        expected.append(h)
    np.testing.assert_allclose(lectlib.run(beyond.mingru_step, params, xs, jnp.zeros(5)), np.stack(expected),
                               rtol=1e-5, atol=1e-6)
    for method in ("loop", "scan", "associative"):
        np.testing.assert_allclose(beyond.mingru(params, xs, method=method), np.stack(expected), rtol=1e-5, atol=1e-6)
    a, b = beyond.mingru_coefficients(params, xs)
    np.testing.assert_allclose(a, 1 - 1 / (1 + np.exp(-(np.asarray(xs) @ p["U_z"].T + p["b_z"]))), rtol=1e-5)
    with pytest.raises(ValueError, match="d_h"):
        beyond.mingru_init(jax.random.key(0), 3, 0)


def lru_by_hand(params, xs):
    """The LRU's definition in numpy complex128, one step at a time."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["phi_log"]))
    U, V = p["U_re"] + 1j * p["U_im"], p["V_re"] + 1j * p["V_im"]
    h, hs, ys = np.zeros(len(lam), complex), [], []
    for x in np.asarray(xs, np.float64):
        h = lam * h + np.exp(p["delta_log"]) * (U @ x)
        hs.append(h)
        ys.append(np.real(V @ h) + p["D"] @ x)
    return np.stack(hs), np.stack(ys)


@pytest.mark.parametrize("method", ["loop", "scan", "associative"])
def test_lru_matches_its_definition_by_every_method(method):
    params = beyond.lru_init(jax.random.key(5), d_x=2, d_h=6, d_y=3)
    xs = jax.random.normal(jax.random.key(6), (23, 2))
    states, outputs = lru_by_hand(params, xs)
    np.testing.assert_allclose(beyond.lru_states(params, xs, method=method), states, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(beyond.lru(params, xs, method=method), outputs, rtol=1e-4, atol=1e-5)


def test_lru_output_is_linear_in_its_features():
    params = beyond.lru_init(jax.random.key(12), d_x=2, d_h=5, d_y=3)
    xs = jax.random.normal(jax.random.key(13), (19, 2))
    features = beyond.lru_features(params, xs)
    assert features.shape == (19, 2 * 5 + 2)
    states, outputs = lru_by_hand(params, xs)
    np.testing.assert_allclose(features[:, :5], states.real, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(features[:, 5:10], states.imag, rtol=1e-4, atol=1e-5)
    read_out = np.concatenate([params["V_re"], -params["V_im"], params["D"]], axis=1)   # (d_y, 2 d_h + d_x)
    np.testing.assert_allclose(np.asarray(features) @ read_out.T, outputs, rtol=1e-4, atol=1e-5)


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
    # With white-noise inputs E|h|² = δ² E|Ux|² / (1 − |λ|²) = E|Ux|² when δ² = 1 − |λ|².
    params = beyond.lru_init(jax.random.key(8), d_x=1, d_h=4, d_y=1, r_min=0.98, r_max=0.99)
    xs = jax.random.normal(jax.random.key(9), (20_000, 1))
    states = np.asarray(beyond.lru_states(params, xs, method="scan"))[2_000:]
    input_power = np.abs(np.asarray(params["U_re"] + 1j * params["U_im"])[:, 0]) ** 2
    np.testing.assert_allclose(np.mean(np.abs(states) ** 2, axis=0), input_power, rtol=0.25)
    unnormalized = dict(params, delta_log=jnp.zeros(4))
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
