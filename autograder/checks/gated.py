"""Checks of the homework "gated": one GRU step by hand, the GRU over a sequence with
``jax.lax.scan``, the mean negative log-likelihood and perplexity of a character sequence,
temperature sampling with an explicit PRNG key, and one training step of a small
character model (Goodfellow et al. notation, chapters 9 and 11)."""
import jax
import jax.numpy as jnp
import numpy as np

import lectlib
from lectlib import bptt, language
from lectlib.cells import gru
from autograder.checks import Case, Check, arrays

GRU_KEYS = tuple(f"{kind}_{gate}" for gate in gru.GATES for kind in ("U", "W", "b"))


def gru_params(rng, d_x, d_h, scale=0.7):
    """``U_k (d_h, d_x)``, ``W_k (d_h, d_h)``, ``b_k (d_h,)`` for k in z, r, h."""
    shapes = {"U": (d_h, d_x), "W": (d_h, d_h), "b": (d_h,)}
    return {key: arrays(rng, *shapes[key[0]], scale=scale) for key in GRU_KEYS}


def model_params(rng, d_x, d_h, vocab_size):
    """A GRU and its read-out ``o_t = c + V h_t``: ``V (K, d_h)``, ``c (K,)`` for ``K`` characters."""
    return {**gru_params(rng, d_x, d_h), "V": arrays(rng, vocab_size, d_h), "c": arrays(rng, vocab_size, scale=0.3)}


# ------------------------------------------------------------------ references


def gru_step(params, h, x):
    return gru.step(params, h, x)


def gru_states(params, xs, h0):
    return lectlib.run(gru.step, params, xs, h0)


def sequence_nll(logits, targets):
    return jnp.mean(language.nll_from_logits(logits, targets))


def perplexity(logits, targets):
    return language.perplexity(sequence_nll(logits, targets))


def sample_next(key, logits, temperature):
    """``jax.random.categorical(key, logits / temperature)``, through lectlib (τ > 0 here)."""
    return language.sample_next(jnp.asarray(key), logits, temperature)


def train_step(params, xs, targets, h0, learning_rate, max_norm):
    """Mean NLL of ``o_t = c + V h_t`` over the GRU's states, ``jax.grad``, clipping by
    global norm, one SGD step."""
    def loss(params):
        hs = lectlib.run(gru.step, {key: params[key] for key in GRU_KEYS}, xs, h0)
        return sequence_nll(hs @ params["V"].T + params["c"][None, :], targets)

    grads = bptt.clip_by_global_norm(jax.grad(loss)(params), max_norm)
    return jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, params, grads)


# ------------------------------------------------------------------ cases


def tiny_gru():
    """d_x = d_h = 1 with round numbers; with h = [0.5], x = [1] the reset gate is σ(0) = 1/2
    (the notebook works this step out by hand)."""
    one = lambda v: np.array([[v]], np.float32)  # noqa: E731
    return {"U_z": one(1.0), "W_z": one(0.5), "b_z": np.array([0.0], np.float32),
            "U_r": one(-1.0), "W_r": one(1.0), "b_r": np.array([0.5], np.float32),
            "U_h": one(2.0), "W_h": one(-1.0), "b_h": np.array([0.0], np.float32)}


def step_case(rng, d_x, d_h, zero=False):
    x = np.zeros(d_x, np.float32) if zero else arrays(rng, d_x)
    return gru_params(rng, d_x, d_h), arrays(rng, d_h), x


def states_case(rng, T, d_x, d_h, zero=False):
    xs = np.zeros((T, d_x), np.float32) if zero else arrays(rng, T, d_x)
    return gru_params(rng, d_x, d_h), xs, arrays(rng, d_h, scale=0.5)


def logits_case(rng, T, V, scale=2.0):
    return arrays(rng, T, V, scale=scale), rng.integers(0, V, T).astype(np.int32)


def key(seed):
    """A raw PRNG key, ``jax.random.PRNGKey(seed)``: ``(2,)`` uint32, as numpy."""
    return np.asarray(jax.random.PRNGKey(seed))


def sample_case(rng, V, temperature, scale=2.0):
    return key(int(rng.integers(0, 2**31 - 1))), arrays(rng, V, scale=scale), np.float32(temperature)


def one_hot(ids, V):
    return np.eye(V, dtype=np.float32)[ids]


def train_case(rng, T, V, d_h, learning_rate, max_norm, zero=False):
    """Characters as one-hot inputs (d_x = K); the targets are the next characters."""
    ids = rng.integers(0, V, T + 1)
    xs = np.zeros((T, V), np.float32) if zero else one_hot(ids[:-1], V)
    return (model_params(rng, V, d_h, V), xs, ids[1:].astype(np.int32), arrays(rng, d_h, scale=0.5),
            np.float32(learning_rate), np.float32(max_norm))


def train_tiny(rng):
    """"hello" read as h, e, l, l predicting e, l, l, o; K = 4 (e h l o), d_h = 2."""
    chars = "ehlo"
    ids = np.array([chars.index(c) for c in "hello"])
    params = model_params(np.random.default_rng(5), 4, 2, 4)
    return (params, one_hot(ids[:-1], 4), ids[1:].astype(np.int32), np.zeros(2, np.float32),
            np.float32(0.5), np.float32(0.25))


CHECKS = [
    Check("test_gru_step", "gru_step", gru_step, (
        Case("d_x = d_h = 1, h = [0.5], x = [1] (worked by hand in the notebook)",
             lambda rng: (tiny_gru(), np.array([0.5], np.float32), np.array([1.0], np.float32))),
        Case("random d_x = 3, d_h = 4", lambda rng: step_case(rng, 3, 4), hidden=True),
        Case("d_h = 1", lambda rng: step_case(rng, 2, 1), hidden=True),
        Case("zero input", lambda rng: step_case(rng, 3, 2, zero=True), hidden=True),
        Case("a large input saturates the gates", lambda rng: (gru_params(rng, 2, 3, scale=5.0), arrays(rng, 3),
                                                               arrays(rng, 2, scale=5.0)), hidden=True),
        Case("edge: d_x = d_h = 1", lambda rng: step_case(rng, 1, 1)),
        Case("edge: zero input", lambda rng: step_case(rng, 2, 3, zero=True)),
    ), points=2),
    Check("test_gru_states", "gru_states", gru_states, (
        Case("T = 3, d_x = d_h = 1, from h0 = [0]",
             lambda rng: (tiny_gru(), np.array([[1.0], [0.0], [-1.0]], np.float32), np.zeros(1, np.float32))),
        Case("random T = 10, d_x = 3, d_h = 4", lambda rng: states_case(rng, 10, 3, 4), hidden=True),
        Case("T = 1", lambda rng: states_case(rng, 1, 2, 3), hidden=True),
        Case("d_h = 1", lambda rng: states_case(rng, 6, 2, 1), hidden=True),
        Case("zero input", lambda rng: states_case(rng, 5, 2, 3, zero=True), hidden=True),
        Case("edge: T = 1", lambda rng: states_case(rng, 1, 3, 2)),
        Case("edge: d_x = d_h = 1", lambda rng: states_case(rng, 4, 1, 1)),
        Case("edge: zero input", lambda rng: states_case(rng, 3, 1, 2, zero=True)),
    ), points=1),
    Check("test_sequence_nll", "sequence_nll", sequence_nll, (
        Case("logits = [[0, 0], [2, 0], [0, 0]], targets = [0, 1, 1]",
             lambda rng: (np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0]], np.float32), np.array([0, 1, 1], np.int32))),
        Case("random T = 12, K = 7", lambda rng: logits_case(rng, 12, 7), hidden=True),
        Case("T = 1", lambda rng: logits_case(rng, 1, 4), hidden=True),
        Case("large logits (needs a stable log-softmax)",
             lambda rng: (np.array([[1000.0, 0.0, -1000.0], [0.0, 500.0, 0.0]], np.float32), np.array([0, 0], np.int32)),
             hidden=True),
        Case("equal logits: the NLL is log K", lambda rng: (np.zeros((5, 6), np.float32),
                                                             rng.integers(0, 6, 5).astype(np.int32)), hidden=True),
        Case("edge: T = 1", lambda rng: logits_case(rng, 1, 3)),
        Case("edge: one character (K = 1)", lambda rng: logits_case(rng, 4, 1)),
        Case("edge: zero logits (the NLL is log K)", lambda rng: (np.zeros((3, 5), np.float32),
                                                                  np.array([4, 0, 2], np.int32))),
        Case("edge: large logits", lambda rng: (np.array([[-700.0, 700.0], [900.0, 0.0]], np.float32),
                                                np.array([1, 1], np.int32))),
    ), points=2),
    Check("test_perplexity", "perplexity", perplexity, (
        Case("logits = [[0, 0], [2, 0], [0, 0]], targets = [0, 1, 1]",
             lambda rng: (np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0]], np.float32), np.array([0, 1, 1], np.int32))),
        Case("random T = 12, K = 7", lambda rng: logits_case(rng, 12, 7, scale=1.0), hidden=True),
        Case("T = 1", lambda rng: logits_case(rng, 1, 4, scale=1.0), hidden=True),
        Case("equal logits: the perplexity is K", lambda rng: (np.zeros((5, 6), np.float32),
                                                                rng.integers(0, 6, 5).astype(np.int32)), hidden=True),
        Case("large logits, each target the most likely", lambda rng: (np.array([[60.0, 0.0], [0.0, 80.0]], np.float32),
                                                                       np.array([0, 1], np.int32)), hidden=True),
        Case("edge: T = 1", lambda rng: logits_case(rng, 1, 6, scale=1.0)),
        Case("edge: zero logits (the perplexity is K)", lambda rng: (np.zeros((2, 3), np.float32),
                                                                     np.array([1, 2], np.int32))),
    ), points=1),
    Check("test_sample_next", "sample_next", sample_next, (
        Case("key = PRNGKey(3), logits = [1, 2, 3, 0], temperature 0.5",
             lambda rng: (key(3), np.array([1.0, 2.0, 3.0, 0.0], np.float32), np.float32(0.5))),
        Case("random K = 20, temperature 1", lambda rng: sample_case(rng, 20, 1.0), hidden=True),
        Case("low temperature 0.05", lambda rng: sample_case(rng, 10, 0.05, scale=0.3), hidden=True),
        Case("high temperature 5", lambda rng: sample_case(rng, 10, 5.0), hidden=True),
        Case("a vocabulary of one character", lambda rng: sample_case(rng, 1, 1.0), hidden=True),
        Case("edge: two characters (K = 2)", lambda rng: sample_case(rng, 2, 1.0)),
        Case("edge: zero logits (uniform)", lambda rng: (key(11), np.zeros(6, np.float32), np.float32(2.0))),
    ), rtol=0.0, atol=0.0, points=1),
    Check("test_train_step", "train_step", train_step, (
        Case("'hello', K = 4, d_h = 2, learning rate 0.5, max_norm 0.25 (the gradient is clipped)", train_tiny),
        Case("random T = 8, K = 5, d_h = 4, the gradient clipped (max_norm 0.1)",
             lambda rng: train_case(rng, 8, 5, 4, 0.3, 0.1), hidden=True),
        Case("max_norm 100: no clipping", lambda rng: train_case(rng, 6, 4, 3, 0.3, 100.0), hidden=True),
        Case("T = 1", lambda rng: train_case(rng, 1, 3, 2, 0.5, 1.0), hidden=True),
        Case("d_h = 1", lambda rng: train_case(rng, 5, 3, 1, 0.5, 1.0), hidden=True),
        Case("zero input", lambda rng: train_case(rng, 4, 3, 2, 0.5, 1.0, zero=True), hidden=True),
        Case("edge: T = 1", lambda rng: train_case(rng, 1, 4, 3, 0.3, 1.0)),
        Case("edge: d_h = 1", lambda rng: train_case(rng, 3, 2, 1, 0.3, 1.0)),
        Case("edge: zero input", lambda rng: train_case(rng, 3, 4, 2, 0.3, 1.0, zero=True)),
    ), rtol=1e-3, atol=1e-4, points=3),
]
