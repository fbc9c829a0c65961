"""Checks of the homework "bptt": the Elman network's forward pass, loss, hand-written
backward pass, global-norm clipping and truncated BPTT (Goodfellow et al. notation)."""
import functools

import numpy as np

from lectlib import bptt
from autograder.checks import BY_HAND, Case, Check, Code, arrays

ELMAN_GRADS_AND_LAST_STATE = Code("""
def elman_grads_and_last_state(params, xs, ys, h0):
    def loss(params):
        def step(h, x):
            h = jnp.tanh(params["b"] + params["W"] @ h + params["U"] @ x)
            return h, h
        h_last, hs = jax.lax.scan(step, h0, xs)
        os = hs @ params["V"].T + params["c"]
        return 0.5 * jnp.sum((os - ys) ** 2), h_last
    grads, h_last = jax.grad(loss, has_aux=True)(params)
    return grads, h_last
""", name="elman_grads_and_last_state")


def elman_params(rng, d_x, d_h, d_y, scale=0.5):
    return {"U": arrays(rng, d_h, d_x, scale=scale), "W": arrays(rng, d_h, d_h, scale=scale),
            "b": arrays(rng, d_h, scale=scale), "V": arrays(rng, d_y, d_h, scale=scale), "c": arrays(rng, d_y, scale=scale)}


def sequence_case(rng, T, d_x, d_h, d_y, zero=False):
    xs = np.zeros((T, d_x), np.float32) if zero else arrays(rng, T, d_x)
    return elman_params(rng, d_x, d_h, d_y), xs, arrays(rng, T, d_y), arrays(rng, d_h, scale=0.5)


def forward(params, xs, h0):
    hs, os = bptt.elman_forward(params, xs, h0)
    return hs, os


def loss(params, xs, ys, h0):
    return bptt.elman_loss(params, xs, ys, h0)[0]


def backward(params, xs, ys, h0):
    return bptt.elman_grads(params, xs, ys, h0)[1]


def truncated(grads_fn, params, xs, ys, h0, k):
    """The reference ignores ``grads_fn`` (the check passes a correct one) and uses lectlib."""
    return bptt.truncated_bptt(functools.partial(bptt.elman_loss, loss="mse"), params, xs, ys, h0, k)[1]


def tiny(rng):
    params = {"U": np.array([[1.0]], np.float32), "W": np.array([[0.5]], np.float32), "b": np.array([0.0], np.float32),
              "V": np.array([[2.0]], np.float32), "c": np.array([0.1], np.float32)}
    return params, np.array([[1.0], [0.0]], np.float32), np.array([[1.0], [0.5]], np.float32), np.zeros(1, np.float32)


def grads_case(rng, scale):
    return ({key: arrays(rng, *shape, scale=scale) for key, shape in
             {"U": (3, 2), "W": (3, 3), "b": (3,), "V": (1, 3), "c": (1,)}.items()}, np.float32(1.0))


G = ELMAN_GRADS_AND_LAST_STATE

SEQUENCE_CASES = (
    Case("T = 2, d_x = d_h = d_y = 1 (worked by hand in the notebook)", tiny),
    Case("random T = 10, d_x = 3, d_h = 4, d_y = 2", lambda rng: sequence_case(rng, 10, 3, 4, 2), hidden=True),
    Case("T = 1", lambda rng: sequence_case(rng, 1, 2, 3, 1), hidden=True),
    Case("d_h = 1", lambda rng: sequence_case(rng, 5, 2, 1, 1), hidden=True),
    Case("zero input", lambda rng: sequence_case(rng, 4, 2, 3, 2, zero=True), hidden=True),
    Case("edge: T = 1", lambda rng: sequence_case(rng, 1, 3, 2, 2)),
    Case("edge: d_x = d_h = d_y = 1", lambda rng: sequence_case(rng, 4, 1, 1, 1)),
    Case("edge: zero input", lambda rng: sequence_case(rng, 3, 1, 2, 1, zero=True)),
)



def without_targets(case):
    """The same case for a function of ``(params, xs, h0)``."""
    def make_args(rng):
        params, xs, _, h0 = case.make_args(rng)
        return params, xs, h0

    return Case(case.label, make_args, case.hidden)


CHECKS = [
    Check("test_elman_forward", "elman_forward", forward, tuple(without_targets(case) for case in SEQUENCE_CASES), points=2),
    Check("test_elman_loss", "elman_loss", loss, SEQUENCE_CASES, points=1),
    Check("test_elman_backward", "elman_backward", backward, SEQUENCE_CASES, rtol=1e-3, atol=1e-4, points=4, rules=BY_HAND),
    Check("test_clip_by_global_norm", "clip_by_global_norm", bptt.clip_by_global_norm, (
        Case("norm 5 clipped to 1", lambda rng: ({"W": np.array([[3.0, 4.0]], np.float32), "b": np.zeros(2, np.float32)},
                                                  np.float32(1.0))),
        Case("a large random gradient", lambda rng: grads_case(rng, 10.0), hidden=True),
        Case("a small gradient is left alone", lambda rng: grads_case(rng, 0.01), hidden=True),
        Case("a zero gradient", lambda rng: ({"W": np.zeros((2, 2), np.float32)}, np.float32(1.0)), hidden=True),
        Case("edge: one parameter of one number (d = 1)", lambda rng: ({"c": np.array([-7.0], np.float32)}, np.float32(2.0))),
        Case("edge: zero gradient", lambda rng: ({"U": np.zeros((2, 1), np.float32), "c": np.zeros(1, np.float32)},
                                                 np.float32(0.5))),
    ), rtol=1e-5, points=1),
    Check("test_truncated_bptt", "truncated_bptt", truncated, (
        Case("T = 2 in chunks of k = 1", lambda rng: (G,) + tiny(rng) + (1,)),
        Case("random T = 12, k = 5 (a short last chunk)", lambda rng: (G,) + sequence_case(rng, 12, 2, 3, 1) + (5,),
             hidden=True),
        Case("k = T is full BPTT", lambda rng: (G,) + sequence_case(rng, 6, 2, 3, 1) + (6,), hidden=True),
        Case("k larger than T", lambda rng: (G,) + sequence_case(rng, 4, 1, 2, 1) + (10,), hidden=True),
        Case("T = 1", lambda rng: (G,) + sequence_case(rng, 1, 2, 2, 2) + (3,), hidden=True),
        Case("edge: T = 1, k = 1", lambda rng: (G,) + sequence_case(rng, 1, 1, 3, 1) + (1,)),
        Case("edge: d_x = d_h = d_y = 1", lambda rng: (G,) + sequence_case(rng, 5, 1, 1, 1) + (2,)),
        Case("edge: zero input", lambda rng: (G,) + sequence_case(rng, 4, 2, 2, 1, zero=True) + (3,)),
    ), rtol=1e-3, atol=1e-4, points=2),
]
