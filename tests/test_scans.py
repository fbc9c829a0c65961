"""lectlib.scan and lectlib.linear_recurrence against an independent numpy loop."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lectlib


def numpy_recurrence(a, b, h0):
    h = np.array(h0, dtype=np.float64)
    states = []
    for a_t, b_t in zip(a, b):
        h = a_t * h + b_t
        states.append(h.copy())
    return np.stack(states)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(min_value=1, max_value=40),
    size=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    use_h0=st.booleans(),
)
def test_three_methods_agree_with_numpy_loop(steps, size, seed, use_h0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1.1, 1.1, (steps, size)).astype(np.float32)
    b = rng.normal(size=(steps, size)).astype(np.float32)
    h0 = rng.normal(size=size).astype(np.float32) if use_h0 else None
    expected = numpy_recurrence(a, b, np.zeros(size) if h0 is None else h0)
    for method in lectlib.scans.METHODS:
        got = lectlib.linear_recurrence(a, b, h0, method=method)
        assert got.shape == (steps, size)
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4, err_msg=method)


def test_single_step_is_a_h0_plus_b():
    a, b, h0 = jnp.array([[0.5]]), jnp.array([[2.0]]), jnp.array([4.0])
    for method in lectlib.scans.METHODS:
        np.testing.assert_allclose(lectlib.linear_recurrence(a, b, h0, method=method), [[4.0]])


def test_compose_affine_is_associative():
    rng = np.random.default_rng(0)
    x, y, z = [(rng.normal(size=3), rng.normal(size=3)) for _ in range(3)]
    left = lectlib.compose_affine(lectlib.compose_affine(x, y), z)
    right = lectlib.compose_affine(x, lectlib.compose_affine(y, z))
    np.testing.assert_allclose(left[0], right[0])
    np.testing.assert_allclose(left[1], right[1])


def test_compose_affine_means_apply_earlier_then_later():
    earlier, later, h = (2.0, 1.0), (3.0, -1.0), 5.0
    a, b = lectlib.compose_affine(earlier, later)
    assert a * h + b == later[0] * (earlier[0] * h + earlier[1]) + later[1]


def cumulative_sum(carry, x):
    carry = carry + x
    return carry, carry * 2


@pytest.mark.parametrize("steps", [1, 2, 7])
def test_scan_matches_lax_scan(steps):
    xs = jnp.arange(steps * 3, dtype=jnp.float32).reshape(steps, 3)
    init = jnp.ones(3)
    ours = lectlib.scan(cumulative_sum, init, xs)
    theirs = jax.lax.scan(cumulative_sum, init, xs)
    jax.tree_util.tree_map(np.testing.assert_allclose, ours, theirs)


def test_scan_handles_pytrees_and_none_outputs():
    def step(carry, x):
        count, total = carry
        return (count + 1, total + x["value"] * x["weight"]), None

    xs = {"value": jnp.arange(4.0), "weight": jnp.full(4, 0.5)}
    (count, total), ys = lectlib.scan(step, (0, 0.0), xs)
    assert count == 4 and ys is None
    np.testing.assert_allclose(total, 3.0)


def test_scan_with_length_and_no_xs():
    carry, ys = lectlib.scan(lambda c, _: (c * 2, c), 1, None, length=4)
    assert carry == 16
    np.testing.assert_array_equal(ys, [1, 2, 4, 8])


def test_scan_with_zero_steps_returns_empty_outputs_like_lax():
    xs = jnp.zeros((0, 3))
    carry, ys = lectlib.scan(cumulative_sum, jnp.ones(3), xs)
    _, lax_ys = jax.lax.scan(cumulative_sum, jnp.ones(3), xs)
    assert ys.shape == lax_ys.shape == (0, 3)
    np.testing.assert_array_equal(carry, jnp.ones(3))


def test_scan_rejects_mismatched_leading_axes():
    with pytest.raises(ValueError, match="same number of steps"):
        lectlib.scan(lambda c, x: (c, x), 0.0, (jnp.zeros(3), jnp.zeros(4)))


def test_run_equals_python_loop_of_steps():
    params = lectlib.cells.elman.init(jax.random.key(0), 2, 4)
    xs = jax.random.normal(jax.random.key(1), (6, 2))
    h = jnp.zeros(4)
    expected = []
    for x in xs:
        h = lectlib.cells.elman.step(params, h, x)
        expected.append(h)
    np.testing.assert_allclose(lectlib.run(lectlib.cells.elman.step, params, xs, jnp.zeros(4)),
                               jnp.stack(expected), rtol=1e-5, atol=1e-6)


def test_run_carries_the_lstm_pair():
    params = lectlib.cells.lstm.init(jax.random.key(0), 3, 5)
    hs, ss = lectlib.run(lectlib.cells.lstm.step, params, jnp.ones((4, 3)), lectlib.cells.lstm.init_state(5))
    assert hs.shape == ss.shape == (4, 5)


def test_scan_states_is_the_loop_that_keeps_every_state():
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(6, 2)).astype(np.float32)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    f = lambda h, x: 0.5 * h + jnp.tanh(w @ x)
    h, expected = np.zeros(3, np.float32), []
    for x in xs:                                      # an independent loop, in numpy
        h = 0.5 * h + np.tanh(w @ x)
        expected.append(h)
    states = lectlib.scans.scan_states(f, jnp.zeros(3), xs)
    assert states.shape == (6, 3)
    np.testing.assert_allclose(states, np.stack(expected), rtol=1e-5, atol=1e-6)
    # the same as jax.lax.scan with a body that outputs its new carry
    _, by_lax = jax.lax.scan(lambda c, x: (f(c, x), f(c, x)), jnp.zeros(3), xs)
    np.testing.assert_allclose(states, by_lax, rtol=1e-5, atol=1e-6)
