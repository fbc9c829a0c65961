"""Composite memory: weighted sums against their recurrences, the closed form of the
linear memory against running the cell."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lectlib
from lectlib import memory
from lectlib.cells import linear_memory


def test_forgetting_weights_are_powers_of_gamma_newest_last():
    np.testing.assert_allclose(memory.forgetting_weights(4, 0.5), [0.125, 0.25, 0.5, 1.0])


def test_composite_is_the_weighted_average():
    items = jnp.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]])
    np.testing.assert_allclose(memory.composite(items), [3.0, 2.0])
    np.testing.assert_allclose(memory.composite(items, jnp.array([0.0, 1.0, 3.0])), [4.5, 3.5])


@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 12), gamma=st.floats(0.01, 1.0), seed=st.integers(0, 1000))
def test_running_sum_matches_the_weighted_sum_at_every_step(T, gamma, seed):
    items = np.random.default_rng(seed).normal(size=(T, 2, 3)).astype(np.float32)
    states = memory.running_sum(items, gamma)
    for t in range(1, T + 1):
        weights = np.asarray(memory.forgetting_weights(t, gamma))
        expected = np.tensordot(weights, items[:t], axes=1)
        np.testing.assert_allclose(states[t - 1], expected, rtol=1e-5, atol=1e-5)


def test_running_mean_is_the_mean_of_everything_seen_so_far():
    items = np.random.default_rng(0).normal(size=(9, 4)).astype(np.float32)
    means = memory.running_mean(items)
    for t in range(1, 10):
        np.testing.assert_allclose(means[t - 1], items[:t].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_decay_matrix_times_inputs_is_the_recurrence():
    b = np.random.default_rng(1).normal(size=(7, 3)).astype(np.float32)
    states = memory.decay_matrix(7, 0.7) @ b
    np.testing.assert_allclose(states, lectlib.linear_recurrence(jnp.full((7, 3), 0.7), b), rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 10), d_x=st.integers(1, 3), d_h=st.integers(1, 4), seed=st.integers(0, 1000))
def test_closed_form_equals_running_the_linear_memory(T, d_x, d_h, seed):
    params = linear_memory.init(jax.random.key(seed), d_x, d_h)
    xs = jax.random.normal(jax.random.key(seed + 1), (T, d_x))
    expected = lectlib.run(linear_memory.step, params, xs, jnp.zeros(d_h))
    np.testing.assert_allclose(memory.linear_memory_closed_form(params, xs), expected, rtol=1e-5, atol=1e-5)


def test_state_bound_is_the_geometric_series_and_is_reached():
    assert memory.state_bound(0.9, 2.0) == pytest.approx(20.0)
    assert memory.state_bound(1.0, 1.0) == float("inf")   # gamma = 1: the plain running sum
    long_run = memory.running_sum(jnp.full((400, 1), 2.0), 0.9)
    assert float(long_run[-1, 0]) == pytest.approx(20.0, rel=1e-4)


def test_bad_inputs_name_what_was_expected():
    with pytest.raises(ValueError, match="weights must have shape"):
        memory.composite(jnp.ones((3, 2)), jnp.ones(4))
    with pytest.raises(ValueError, match="num_items"):
        memory.forgetting_weights(0, 0.5)
    with pytest.raises(ValueError, match="T >= 1"):
        memory.running_mean(jnp.ones((0, 2)))


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.01, 2.0])
def test_gamma_outside_the_convention_is_refused(bad):
    # 0 < gamma < 1 forgets, gamma = 1 is the plain running sum; nothing else is a forgetting factor.
    for call in (lambda: memory.running_sum(jnp.ones((3, 1)), bad),
                 lambda: memory.forgetting_weights(3, bad),
                 lambda: memory.decay_matrix(3, bad),
                 lambda: memory.state_bound(bad, 1.0),
                 lambda: memory.linear_memory_closed_form({"gamma": jnp.array([bad]), "theta": jnp.ones((2, 1))},
                                                          jnp.ones((3, 1)))):
        with pytest.raises(ValueError, match="0 < gamma < 1"):
            call()
    with pytest.raises(ValueError, match="0 < gamma < 1"):
        memory.check_forgetting_factor(jnp.array([0.5, bad]))


def test_gamma_is_accepted_inside_the_convention_and_under_jit():
    np.testing.assert_allclose(memory.running_sum(jnp.ones((3, 1)), 1.0)[:, 0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(memory.running_sum(jnp.ones((3, 1)), 0.5)[:, 0], [1.0, 1.5, 1.75])
    traced = jax.jit(lambda g: memory.running_sum(jnp.ones((3, 1)), g))(jnp.float32(0.5))
    np.testing.assert_allclose(traced[:, 0], [1.0, 1.5, 1.75])


def test_sigmoid_parametrisation_round_trips_and_stays_below_one():
    gammas = jnp.array([0.01, 0.3, 0.8, 0.99])
    np.testing.assert_allclose(jax.nn.sigmoid(memory.gamma_logit(gammas)), gammas, rtol=1e-5)
    theta = jnp.ones((2, 4))
    params = memory.sigmoid_gamma({"gamma_logit": jnp.array([-12.0, -1.0, 3.0, 12.0]), "theta": theta})
    assert set(params) == {"gamma", "theta"} and params["theta"] is theta
    assert bool(jnp.all((params["gamma"] > 0) & (params["gamma"] < 1))), params["gamma"]
    np.testing.assert_allclose(params["gamma"], 1 / (1 + np.exp(-np.array([-12.0, -1.0, 3.0, 12.0]))), rtol=1e-5)
    # the gradient along the logit is the gradient along gamma times gamma (1 - gamma)
    loss = lambda p: jnp.sum(p["gamma"] ** 2)
    u = {"gamma_logit": jnp.array([0.4]), "theta": jnp.ones((2, 1))}
    g = float(jax.nn.sigmoid(0.4))
    np.testing.assert_allclose(jax.grad(lambda p: loss(memory.sigmoid_gamma(p)))(u)["gamma_logit"],
                               [2 * g * g * (1 - g)], rtol=1e-5)
    with pytest.raises(ValueError, match="no logit"):
        memory.gamma_logit(1.0)
    with pytest.raises(ValueError, match="gamma_logit"):
        memory.sigmoid_gamma({"gamma": jnp.ones(1), "theta": theta})


@pytest.mark.parametrize("gamma, level", [(0.9, 0.5), (0.99, 0.5), (0.95, 0.01), (0.3, 0.2)])
def test_decay_lag_is_where_the_weight_crosses_the_level(gamma, level):
    lag = memory.decay_lag(gamma, level)
    weights = np.asarray(memory.forgetting_weights(200, gamma))[::-1]     # weight at lag k = 0, 1, 2, ...
    k = int(np.floor(lag))
    assert weights[k] >= level * (1 - 1e-5) and weights[k + 1] < level
    assert gamma ** lag == pytest.approx(level)
    with pytest.raises(ValueError, match="never forgets"):
        memory.decay_lag(1.0)
