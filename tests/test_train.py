"""The training loop: the plain update, stopping at a target, determinism."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lectlib import train


def quadratic(params, batch):
    return jnp.sum((params["w"] - batch) ** 2)


def test_sgd_update_is_theta_minus_eta_g():
    new = train.sgd_update({"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([0.5, -1.0])}, 0.1)
    np.testing.assert_allclose(new["w"], [0.95, 2.1])


def test_fit_with_sgd_follows_the_hand_written_update():
    params, batch = {"w": jnp.array([1.0, -1.0])}, jnp.array([3.0, 0.0])
    result = train.fit(quadratic, params, batch, steps=7, optimizer="sgd", learning_rate=0.1, eval_every=3)
    expected = params
    for _ in range(7):
        expected = train.sgd_update(expected, jax.grad(quadratic)(expected, batch), 0.1)
    np.testing.assert_allclose(result.params["w"], expected["w"], rtol=1e-6)
    assert result.steps_run == 7 and [s for s, _ in result.metrics] == [3, 6, 7]


def test_fit_stops_at_target():
    result = train.fit(quadratic, {"w": jnp.zeros(2)}, jnp.ones(2), steps=1000, optimizer="sgd",
                       learning_rate=0.1, target=1e-3, higher_is_better=False, eval_every=10)
    assert result.reached_target and result.steps_run < 1000
    assert result.metrics[-1][1] <= 1e-3


def test_batch_mean_and_accuracy():
    loss = train.batch_mean(lambda p, x, y: (p * x - y) ** 2)
    np.testing.assert_allclose(loss(2.0, (jnp.array([1.0, 2.0]), jnp.array([2.0, 0.0]))), 8.0)
    np.testing.assert_allclose(train.accuracy(jnp.array([[0.0, 1.0], [2.0, 1.0]]), jnp.array([1, 1])), 0.5)


def test_fit_rejects_bad_arguments():
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(quadratic, {"w": jnp.zeros(2)}, jnp.ones(2), steps=3, optimizer="rmsprop")
    with pytest.raises(ValueError, match="steps"):
        train.fit(quadratic, {"w": jnp.zeros(2)}, jnp.ones(2), steps=0)
    with pytest.raises(ValueError, match="eval_every must be a positive int"):
        train.fit(quadratic, {"w": jnp.zeros(2)}, jnp.ones(2), steps=3, eval_every=1.5)
