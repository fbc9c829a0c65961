"""Teacher forcing and generation (chapter 10): a model trained to predict the next value
from the true past generates by feeding each prediction back in as its next input."""
import jax
import jax.numpy as jnp

from lectlib._checks import as_array, check_positive_int
from lectlib.scans import run


def generate(step, read, params, h, x, num_steps):
    """Free-running generation: each output becomes the next input.

    Arguments: ``step(params, h, x) -> h``; ``read(params, h) -> x_next`` (same shape as ``x``);
    ``h`` the state to start from; ``x`` the first input to feed.
    Returns: ``(num_steps, *x.shape)``: entry ``k`` is ``read`` after ``k + 1`` steps, the first
    of them reading ``x`` and every later one the previous entry.
    Chapter 10; tests/test_beyond_generation.py::test_generate_feeds_each_output_back.
    """
    check_positive_int(num_steps, "num_steps")

    def body(carry, _):
        h, x = carry
        h = step(params, h, x)
        x = read(params, h)
        return (h, x), x

    _, generated = jax.lax.scan(body, (h, x), None, length=num_steps)
    return generated


def continue_sequence(step, read, params, h0, prompt, num_steps):
    """Continues a sequence past its end: reads ``prompt`` with teacher forcing (the true
    values as inputs), then feeds every prediction back in.

    Arguments: ``step``, ``read`` as in ``generate``; ``h0`` the initial state; ``prompt``
    ``(T, d_x)`` the known values, ``T ≥ 1``.
    Returns: ``(num_steps, d_x)``: entry ``k`` forecasts the value ``k + 1`` steps after
    ``prompt[-1]``. Entry 0 is the teacher-forced forecast ``read(h_T)``, where ``h_T`` is the
    state after the whole prompt; entry ``k > 0`` has fed the ``k`` entries before it back.
    Chapter 10; tests/test_beyond_generation.py::test_continue_sequence_starts_one_step_ahead.
    """
    check_positive_int(num_steps, "num_steps")
    prompt = as_array(prompt, "prompt")
    if prompt.ndim != 2 or prompt.shape[0] < 1:
        raise ValueError(f"prompt must have shape (T, d_x) with T >= 1, received shape {prompt.shape}")
    h = run(step, params, prompt, h0)[-1]
    first = read(params, h)
    if num_steps == 1:
        return first[None]
    return jnp.concatenate([first[None], generate(step, read, params, h, first, num_steps - 1)])
