"""Ways to arrange cells (chapter 10): reading in both directions, and an encoder whose
last state starts a decoder."""
import jax.numpy as jnp

from lectlib.beyond.generation import generate
from lectlib.scans import run


def bidirectional(step, forward_params, backward_params, xs, h0):
    """A forward and a backward run of a cell, side by side: ``[h→_t, h←_t]`` ``(T, 2 d_h)``,
    where ``h→_t`` has read ``x_1 … x_t`` and ``h←_t`` has read ``x_T … x_t``.

    Arguments: ``step(params, h, x) -> h``; ``xs`` ``(T, d_x)``; ``h0`` ``(d_h,)`` starts both runs.
    Chapter 10; tests/test_beyond_generation.py::test_bidirectional_backward_half_reads_the_future.
    """
    forward = run(step, forward_params, xs, h0)
    backward = run(step, backward_params, xs[::-1], h0)[::-1]
    return jnp.concatenate([forward, backward], axis=-1)


def encode_decode(encoder_step, decoder_step, read, params, xs, h0, x_start, num_steps):
    """Encoder–decoder: the encoder reads ``xs`` ``(T, d_x)`` from ``h0``; its last state starts
    a decoder that generates ``num_steps`` outputs from the first input ``x_start``, feeding
    each back in (``lectlib.beyond.generate``). ``params`` ``{"encoder", "decoder"}``.
    Returns ``(num_steps, *x_start.shape)``.

    Chapter 10; tests/test_beyond_generation.py::test_encode_decode_starts_the_decoder_from_the_encoder_summary.
    """
    summary = run(encoder_step, params["encoder"], xs, h0)[-1]
    return generate(decoder_step, read, params["decoder"], summary, x_start, num_steps)
