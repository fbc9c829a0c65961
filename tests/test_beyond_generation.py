"""Chapter 10's generation and arrangements (lectlib.beyond.generation, .arrangements)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lectlib
from lectlib import beyond
from lectlib.cells import elman


def test_generate_feeds_each_output_back():
    step = lambda p, h, x: h + x          # noqa: E731
    read = lambda p, h: 0.5 * h           # noqa: E731
    out = beyond.generate(step, read, None, jnp.array([2.0]), jnp.array([0.0]), 3)
    # h: 2 -> 2 (x=0) -> out 1 -> h 3 -> out 1.5 -> h 4.5 -> out 2.25
    np.testing.assert_allclose(out[:, 0], [1.0, 1.5, 2.25])
    with pytest.raises(ValueError, match="num_steps"):
        beyond.generate(step, read, None, jnp.array([2.0]), jnp.array([0.0]), 0)


def test_continue_sequence_starts_one_step_ahead():
    params = beyond.mingru_init(jax.random.key(0), 1, 6)
    V = jax.random.normal(jax.random.key(1), (1, 6))
    read = lambda p, h: V @ h             # noqa: E731
    prompt = jax.random.normal(jax.random.key(2), (9, 1))
    out = beyond.continue_sequence(beyond.mingru_step, read, params, jnp.zeros(6), prompt, 5)
    assert out.shape == (5, 1)
    # Entry 0 is the teacher-forced forecast after the whole prompt, the model's output at its last step.
    teacher_forced = beyond.mingru(params, prompt) @ V.T
    np.testing.assert_allclose(out[0], teacher_forced[-1], rtol=1e-5, atol=1e-6)
    # The rest, step by step in plain Python: each forecast is fed back as the next input.
    h = np.zeros(6)
    for x in np.asarray(prompt):
        h = np.asarray(beyond.mingru_step(params, h, x))
    rollout = []
    for _ in range(5):
        y = np.asarray(V) @ h
        rollout.append(y)
        h = np.asarray(beyond.mingru_step(params, h, y))
    np.testing.assert_allclose(out, np.stack(rollout), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(beyond.continue_sequence(beyond.mingru_step, read, params, jnp.zeros(6), prompt, 1),
                               out[:1], rtol=1e-6)
    with pytest.raises(ValueError, match="prompt"):
        beyond.continue_sequence(beyond.mingru_step, read, params, jnp.zeros(6), jnp.zeros((0, 1)), 2)


def test_bidirectional_backward_half_reads_the_future():
    params_f, params_b = elman.init(jax.random.key(2), 1, 3), elman.init(jax.random.key(3), 1, 3)
    xs = jax.random.normal(jax.random.key(4), (6, 1))
    both = beyond.bidirectional(elman.step, params_f, params_b, xs, jnp.zeros(3))
    np.testing.assert_allclose(both[:, :3], lectlib.run(elman.step, params_f, xs, jnp.zeros(3)), rtol=1e-6)
    np.testing.assert_allclose(both[:, 3:], lectlib.run(elman.step, params_b, xs[::-1], jnp.zeros(3))[::-1], rtol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(beyond.bidirectional(elman.step, params_f, params_b, x, jnp.zeros(3))[2]))(xs)
    assert float(jnp.abs(grad[3:]).sum()) > 0      # step 3's output depends on later inputs


def test_encode_decode_starts_the_decoder_from_the_encoder_summary():
    step = lambda p, h, x: h + p * x      # noqa: E731
    read = lambda p, h: h                 # noqa: E731
    out = beyond.encode_decode(step, step, read, {"encoder": 1.0, "decoder": 0.0}, jnp.ones((4, 1)), jnp.zeros(1),
                               jnp.zeros(1), 2)
    np.testing.assert_allclose(out[:, 0], [4.0, 4.0])
