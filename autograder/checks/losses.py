"""Checks of the homework "losses": per-step square error, last-step cross-entropy, masks."""
import numpy as np

from lectlib import losses
from autograder.checks import Case, Check, arrays


def padded_batch(rng, B, T, d, lengths=None):
    lengths = rng.integers(1, T + 1, B) if lengths is None else np.asarray(lengths)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)
    return arrays(rng, B, T, d), arrays(rng, B, T, d), mask


def logits_case(rng, T, C):
    return arrays(rng, T, C, scale=2.0), np.int32(rng.integers(0, C))


CHECKS = [
    Check("test_per_step_square_error", "per_step_square_error", losses.per_step_square_error, (
        Case("y_hat = [[1, 2], [0, 0]], y = [[1, 0], [1, 1]]",
             lambda rng: (np.array([[1.0, 2.0], [0.0, 0.0]], np.float32), np.array([[1.0, 0.0], [1.0, 1.0]], np.float32))),
        Case("random T = 10, d_y = 3", lambda rng: (arrays(rng, 10, 3), arrays(rng, 10, 3)), hidden=True),
        Case("T = 1, d_y = 1", lambda rng: (arrays(rng, 1, 1), arrays(rng, 1, 1)), hidden=True),
        Case("perfect prediction", lambda rng: (np.ones((4, 2), np.float32), np.ones((4, 2), np.float32)), hidden=True),
        Case("edge: T = 1", lambda rng: (arrays(rng, 1, 3), arrays(rng, 1, 3))),
        Case("edge: d_y = 1", lambda rng: (arrays(rng, 5, 1), arrays(rng, 5, 1))),
        Case("edge: zero input (y_hat = 0)", lambda rng: (np.zeros((3, 2), np.float32), arrays(rng, 3, 2))),
    ), points=2),
    Check("test_clock_loss", "clock_loss", losses.sequence_mse, (
        Case("y_hat = [[0.1], [0.2], [0.2]], y = [[0.1], [0.1], [0.2]]",
             lambda rng: (np.array([[0.1], [0.2], [0.2]], np.float32), np.array([[0.1], [0.1], [0.2]], np.float32))),
        Case("random T = 20", lambda rng: (arrays(rng, 20, 1), arrays(rng, 20, 1)), hidden=True),
        Case("T = 1", lambda rng: (arrays(rng, 1, 1), arrays(rng, 1, 1)), hidden=True),
        Case("d_y = 3 (the error is summed over outputs, averaged over steps)",
             lambda rng: (arrays(rng, 5, 3), arrays(rng, 5, 3)), hidden=True),
        Case("edge: T = 1", lambda rng: (arrays(rng, 1, 2), arrays(rng, 1, 2))),
        Case("edge: d_y = 1", lambda rng: (arrays(rng, 7, 1), arrays(rng, 7, 1))),
        Case("edge: zero input (y_hat = 0)", lambda rng: (np.zeros((4, 1), np.float32), arrays(rng, 4, 1))),
    ), points=2),
    Check("test_last_step_cross_entropy", "last_step_cross_entropy", losses.last_step_cross_entropy, (
        Case("logits = [[5, 0], [0, 0]], label = 1",
             lambda rng: (np.array([[5.0, 0.0], [0.0, 0.0]], np.float32), np.int32(1))),
        Case("random T = 6, C = 4", lambda rng: logits_case(rng, 6, 4), hidden=True),
        Case("T = 1", lambda rng: logits_case(rng, 1, 3), hidden=True),
        Case("large logits (needs a stable log-softmax)",
             lambda rng: (np.array([[0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]], np.float32), np.int32(1)), hidden=True),
        Case("edge: T = 1", lambda rng: logits_case(rng, 1, 5)),
        Case("edge: one class (C = 1)", lambda rng: logits_case(rng, 3, 1)),
        Case("edge: zero logits (the loss is log C)", lambda rng: (np.zeros((2, 4), np.float32), np.int32(3))),
        Case("edge: large logits", lambda rng: (np.array([[300.0, -200.0], [-400.0, 600.0]], np.float32), np.int32(0))),
    ), points=2),
    Check("test_lengths_to_mask", "lengths_to_mask", losses.lengths_to_mask, (
        Case("lengths = [1, 3], T = 4", lambda rng: (np.array([1, 3], np.int32), 4)),
        Case("random lengths, T = 9", lambda rng: (rng.integers(1, 10, 6).astype(np.int32), 9), hidden=True),
        Case("one sequence filling all steps", lambda rng: (np.array([5], np.int32), 5), hidden=True),
        Case("edge: T = 1", lambda rng: (np.array([1, 1, 1], np.int32), 1)),
        Case("edge: one sequence (B = 1)", lambda rng: (np.array([2], np.int32), 6)),
    ), points=1),
    Check("test_masked_sequence_mse", "masked_sequence_mse", losses.masked_sequence_mse, (
        Case("two sequences of lengths 1 and 2, T = 2",
             lambda rng: (np.array([[[1.0], [9.0]], [[1.0], [2.0]]], np.float32),
                          np.array([[[0.0], [0.0]], [[0.0], [0.0]]], np.float32),
                          np.array([[1.0, 0.0], [1.0, 1.0]], np.float32))),
        Case("random padded batch B = 5, T = 8", lambda rng: padded_batch(rng, 5, 8, 2), hidden=True),
        Case("no padding at all", lambda rng: padded_batch(rng, 3, 4, 1, lengths=[4, 4, 4]), hidden=True),
        Case("a sequence of length 1 beside a long one", lambda rng: padded_batch(rng, 2, 7, 1, lengths=[1, 7]), hidden=True),
        Case("edge: T = 1", lambda rng: padded_batch(rng, 3, 1, 2, lengths=[1, 1, 1])),
        Case("edge: d_y = 1", lambda rng: padded_batch(rng, 4, 5, 1, lengths=[5, 2, 1, 3])),
        Case("edge: zero input (y_hat = 0)",
             lambda rng: (np.zeros((2, 3, 2), np.float32),) + padded_batch(rng, 2, 3, 2, lengths=[3, 2])[1:]),
    ), points=3),
]
