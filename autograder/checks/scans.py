"""Checks of the homework "scans": a scan loop, the linear memory, outputs, the associative scan."""
import jax.numpy as jnp
import numpy as np

import lectlib
from lectlib.cells import linear_memory as lm
from autograder.checks import Case, Check, Code, arrays

HALVING = Code("lambda h, x: 0.5 * h + x")
TANH_CELL = Code("lambda h, x: jnp.tanh(0.9 * h + jnp.sum(x))")
READ_OUT = Code("lambda h, x: jnp.sum(h) * x")
SQUARE = Code("lambda h, x: h ** 2")
MEMORY_STEP = Code("lambda h, x, gamma, theta: gamma * h + theta.T @ jnp.concatenate([jnp.ones(1, x.dtype), x])")
COMPOSE = Code("lambda earlier, later: (later[0] * earlier[0], later[0] * earlier[1] + later[1])")


def scan_states(f, h, xs):
    _, states = lectlib.scan(lambda carry, x: (f(carry, x), f(carry, x)), jnp.asarray(h), jnp.asarray(xs))
    return states


def memory_params(rng, d_x, d_h):
    return {"gamma": rng.uniform(0.5, 1.0, d_h).astype(np.float32), "theta": arrays(rng, d_x + 1, d_h)}


def linear_memory_step(h, x, gamma, theta):
    return lm.step({"gamma": gamma, "theta": theta}, h, x)


def memory_states(step, xs, gamma, theta, h0):
    """The reference ignores ``step``: it is the lecture's linear memory, run by lectlib."""
    return lectlib.run(lm.step, {"gamma": gamma, "theta": theta}, xs, h0)


def apply_outputs(g, hs, xs):
    return np.stack([np.asarray(g(h, x)) for h, x in zip(hs, xs)])


def memory_case(rng, T, d_x, d_h, zero=False):
    params = memory_params(rng, d_x, d_h)
    xs = np.zeros((T, d_x), np.float32) if zero else arrays(rng, T, d_x)
    return MEMORY_STEP, xs, params["gamma"], params["theta"], arrays(rng, d_h)


def pair_case(rng, T, d, zero=False):
    a = rng.uniform(0.1, 1.0, (T, d)).astype(np.float32)
    b = np.zeros((T, d), np.float32) if zero else arrays(rng, T, d)
    return COMPOSE, a, b, arrays(rng, d)


CHECKS = [
    Check("test_scan", "scan", scan_states, (
        Case("h ← 0.5 h + x over [[1], [2], [3]] from h = [0]",
             lambda rng: (HALVING, np.zeros(1, np.float32), np.array([[1.0], [2.0], [3.0]], np.float32))),
        Case("random T = 9, d = 3", lambda rng: (HALVING, arrays(rng, 3), arrays(rng, 9, 3)), hidden=True),
        Case("a tanh cell whose x is larger than h", lambda rng: (TANH_CELL, arrays(rng, 2), arrays(rng, 7, 4)), hidden=True),
        Case("T = 1", lambda rng: (HALVING, arrays(rng, 2), arrays(rng, 1, 2)), hidden=True),
        Case("a cell that ignores x", lambda rng: (SQUARE, np.full(2, 0.9, np.float32), arrays(rng, 4, 2)), hidden=True),
        Case("edge: T = 1 (one step)", lambda rng: (HALVING, arrays(rng, 3), arrays(rng, 1, 3))),
        Case("edge: d = 1", lambda rng: (TANH_CELL, arrays(rng, 1), arrays(rng, 5, 1))),
        Case("edge: zero input", lambda rng: (HALVING, arrays(rng, 2), np.zeros((4, 2), np.float32))),
    ), points=2),
    Check("test_linear_memory", "linear_memory", linear_memory_step, (
        Case("h = [1, 2], x = [3], gamma = [0.5, 0.5], theta = [[1, 0], [0, 1]]",
             lambda rng: (np.array([1.0, 2.0], np.float32), np.array([3.0], np.float32),
                          np.array([0.5, 0.5], np.float32), np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))),
        Case("random d_x = 3, d_h = 4",
             lambda rng: (arrays(rng, 4), arrays(rng, 3), *memory_params(rng, 3, 4).values()), hidden=True),
        Case("d_x = 1, d_h = 1",
             lambda rng: (arrays(rng, 1), arrays(rng, 1), *memory_params(rng, 1, 1).values()), hidden=True),
        Case("zero input",
             lambda rng: (arrays(rng, 2), np.zeros(3, np.float32), *memory_params(rng, 3, 2).values()), hidden=True),
        Case("edge: d_x = d_h = 1", lambda rng: (arrays(rng, 1), arrays(rng, 1), *memory_params(rng, 1, 1).values())),
        Case("edge: zero input", lambda rng: (arrays(rng, 3), np.zeros(2, np.float32), *memory_params(rng, 2, 3).values())),
    ), rtol=1e-5, points=1),
    Check("test_memory_states", "memory_states", memory_states, (
        Case("T = 3, d_x = 1, d_h = 2", lambda rng: memory_case(rng, 3, 1, 2)),
        Case("random T = 12, d_x = 2, d_h = 3", lambda rng: memory_case(rng, 12, 2, 3), hidden=True),
        Case("T = 1", lambda rng: memory_case(rng, 1, 2, 2), hidden=True),
        Case("d_h = 1", lambda rng: memory_case(rng, 6, 3, 1), hidden=True),
        Case("zero input", lambda rng: memory_case(rng, 5, 2, 2, zero=True), hidden=True),
        Case("edge: T = 1", lambda rng: memory_case(rng, 1, 1, 3)),
        Case("edge: d_x = d_h = 1", lambda rng: memory_case(rng, 4, 1, 1)),
        Case("edge: zero input", lambda rng: memory_case(rng, 3, 3, 1, zero=True)),
    ), points=2),
    Check("test_apply_outputs", "apply_outputs", apply_outputs, (
        Case("g(h, x) = sum(h) * x, T = 2",
             lambda rng: (READ_OUT, np.array([[1.0, 2.0], [0.5, 0.5]], np.float32), np.array([[1.0], [2.0]], np.float32))),
        Case("random T = 8", lambda rng: (READ_OUT, arrays(rng, 8, 3), arrays(rng, 8, 2)), hidden=True),
        Case("T = 1", lambda rng: (READ_OUT, arrays(rng, 1, 2), arrays(rng, 1, 1)), hidden=True),
        Case("edge: T = 1", lambda rng: (READ_OUT, arrays(rng, 1, 3), arrays(rng, 1, 2))),
        Case("edge: d = 1", lambda rng: (READ_OUT, arrays(rng, 4, 1), arrays(rng, 4, 1))),
        Case("edge: zero input", lambda rng: (READ_OUT, arrays(rng, 3, 2), np.zeros((3, 2), np.float32))),
    ), points=1),
    Check("test_combine", "combine", lectlib.compose_affine, (
        Case("(2, 1) then (3, 4)", lambda rng: ((np.float32(2.0), np.float32(1.0)), (np.float32(3.0), np.float32(4.0)))),
        Case("random vectors", lambda rng: ((arrays(rng, 3), arrays(rng, 3)), (arrays(rng, 3), arrays(rng, 3))), hidden=True),
        Case("stacked pairs, as associative_scan passes them",
             lambda rng: ((arrays(rng, 4, 2), arrays(rng, 4, 2)), (arrays(rng, 4, 2), arrays(rng, 4, 2))), hidden=True),
        Case("order matters: not symmetric",
             lambda rng: ((np.float32(0.5), np.float32(2.0)), (np.float32(3.0), np.float32(-1.0))), hidden=True),
        Case("edge: one stacked pair (T = 1)",
             lambda rng: ((arrays(rng, 1, 3), arrays(rng, 1, 3)), (arrays(rng, 1, 3), arrays(rng, 1, 3)))),
        Case("edge: d = 1", lambda rng: ((arrays(rng, 1), arrays(rng, 1)), (arrays(rng, 1), arrays(rng, 1)))),
        Case("edge: zero offsets b", lambda rng: ((arrays(rng, 2), np.zeros(2, np.float32)),
                                                  (arrays(rng, 2), np.zeros(2, np.float32)))),
    ), rtol=1e-5, points=2),
    Check("test_associative_states", "associative_states",
          lambda operator, a, b, h0: lectlib.linear_recurrence(a, b, h0, method="loop"), (
        Case("T = 3, d = 1, a = 0.5, h0 = [1]",
             lambda rng: (COMPOSE, np.full((3, 1), 0.5, np.float32), np.array([[1.0], [0.0], [2.0]], np.float32),
                          np.ones(1, np.float32))),
        Case("random T = 17, d = 3", lambda rng: pair_case(rng, 17, 3), hidden=True),
        Case("T = 1", lambda rng: pair_case(rng, 1, 2), hidden=True),
        Case("d = 1, T = 8", lambda rng: pair_case(rng, 8, 1), hidden=True),
        Case("zero input: only h0 decays", lambda rng: pair_case(rng, 6, 2, zero=True), hidden=True),
        Case("edge: T = 1", lambda rng: pair_case(rng, 1, 3)),
        Case("edge: d = 1", lambda rng: pair_case(rng, 5, 1)),
        Case("edge: zero input", lambda rng: pair_case(rng, 3, 3, zero=True)),
    ), points=2),
]
