"""Checks of the homework "ssm" (chapter 12): the zero-order hold, the convolution kernel,
the LTI model by FFT convolution against the recurrence, one selective step and the
selective scan by ``jax.lax.associative_scan``."""
import numpy as np

from lectlib import ssm
from lectlib.homework.rules import NO_SEQUENTIAL_SCAN
from autograder.checks import COURSE_RULES, Case, Check, arrays


def stable(rng, N, scale=1.0):
    """A random (N, N) matrix whose eigenvalues have negative real parts: invertible, stable."""
    M = rng.standard_normal((N, N))
    return (scale * ((M - M.T) / 2 - np.diag(rng.uniform(0.5, 2.0, N)))).astype(np.float32)


def zoh_case(rng, N, d_u, delta, zero=False):
    B = np.zeros((N, d_u), np.float32) if zero else arrays(rng, N, d_u)
    return stable(rng, N), B, np.float32(delta)


def discrete(rng, N, d_u, d_y):
    """A_bar (a stable system held for 0.3), B_bar and C."""
    A_bar, B_bar = ssm.zoh(stable(rng, N), arrays(rng, N, d_u), 0.3)
    return np.asarray(A_bar, np.float32), np.asarray(B_bar, np.float32), arrays(rng, d_y, N)


def kernel_case(rng, N, d_u, d_y, T):
    return (*discrete(rng, N, d_u, d_y), T)


def lti_case(rng, N, d_u, d_y, T, zero=False):
    us = np.zeros((T, d_u), np.float32) if zero else arrays(rng, T, d_u)
    return (*discrete(rng, N, d_u, d_y), us)


def lti_by_recurrence(A_bar, B_bar, C, us):
    return ssm.recurrent(A_bar, B_bar, C, us)


def step_case(rng, H, N, zero=False, delta_scale=1.0):
    u = np.zeros(H, np.float32) if zero else arrays(rng, H)
    delta = (delta_scale * rng.uniform(0.05, 1.0, H)).astype(np.float32)
    A = -rng.uniform(0.5, 3.0, (H, N)).astype(np.float32)
    return arrays(rng, H, N), u, delta, A, arrays(rng, N), arrays(rng, N)


def scan_case(rng, T, H, N, zero=False):
    us = np.zeros((T, H), np.float32) if zero else arrays(rng, T, H)
    deltas = rng.uniform(0.01, 1.0, (T, H)).astype(np.float32)
    A = -rng.uniform(0.5, 3.0, (H, N)).astype(np.float32)
    return us, deltas, A, arrays(rng, T, N), arrays(rng, T, N)


def selective_reference(us, deltas, A, Bs, Cs):
    return ssm.selective_scan(us, deltas, A, Bs, Cs, method="scan")


def one(value):
    return np.array([[value]], np.float32)


CHECKS = [
    Check("test_zoh", "zoh", ssm.zoh, (
        Case("A = [[-1]], B = [[2]], delta = 0.5", lambda rng: (one(-1.0), one(2.0), np.float32(0.5))),
        Case("random N = 4, d_u = 2", lambda rng: zoh_case(rng, 4, 2, 0.1), hidden=True),
        Case("N = 1", lambda rng: zoh_case(rng, 1, 1, 0.3), hidden=True),
        Case("zero input matrix B", lambda rng: zoh_case(rng, 3, 2, 0.2, zero=True), hidden=True),
        Case("a long step, delta = 2", lambda rng: zoh_case(rng, 3, 1, 2.0), hidden=True),
        Case("edge: N = d_u = 1", lambda rng: zoh_case(rng, 1, 1, 0.7)),
        Case("edge: zero B", lambda rng: zoh_case(rng, 2, 1, 0.1, zero=True)),
    ), rtol=1e-4, atol=1e-5, points=2),
    Check("test_ssm_kernel", "ssm_kernel", ssm.kernel, (
        Case("A_bar = [[0.5]], B_bar = [[1]], C = [[2]], T = 3", lambda rng: (one(0.5), one(1.0), one(2.0), 3)),
        Case("random N = 4, d_u = 2, d_y = 3, T = 10", lambda rng: kernel_case(rng, 4, 2, 3, 10), hidden=True),
        Case("T = 1", lambda rng: kernel_case(rng, 3, 1, 2, 1), hidden=True),
        Case("N = 1", lambda rng: kernel_case(rng, 1, 2, 1, 6), hidden=True),
        Case("a long kernel, T = 300", lambda rng: kernel_case(rng, 3, 1, 1, 300), hidden=True),
        Case("edge: T = 1", lambda rng: kernel_case(rng, 2, 1, 1, 1)),
        Case("edge: N = d_u = d_y = 1", lambda rng: kernel_case(rng, 1, 1, 1, 4)),
    ), points=2),
    Check("test_lti_by_convolution", "lti_by_convolution", lti_by_recurrence, (
        Case("A_bar = [[0.5]], B_bar = [[1]], C = [[1]], us = [[1], [0], [2]]",
             lambda rng: (one(0.5), one(1.0), one(1.0), np.array([[1.0], [0.0], [2.0]], np.float32))),
        Case("random N = 4, d_u = 2, d_y = 3, T = 20", lambda rng: lti_case(rng, 4, 2, 3, 20), hidden=True),
        Case("T = 1", lambda rng: lti_case(rng, 3, 2, 1, 1), hidden=True),
        Case("N = 1", lambda rng: lti_case(rng, 1, 1, 1, 9), hidden=True),
        Case("zero input", lambda rng: lti_case(rng, 3, 1, 2, 8, zero=True), hidden=True),
        Case("a long sequence, T = 512", lambda rng: lti_case(rng, 4, 1, 1, 512), hidden=True),
        Case("edge: T = 1", lambda rng: lti_case(rng, 2, 1, 1, 1)),
        Case("edge: N = d_u = d_y = 1", lambda rng: lti_case(rng, 1, 1, 1, 5)),
        Case("edge: zero input", lambda rng: lti_case(rng, 2, 1, 1, 4, zero=True)),
    ), rtol=1e-3, atol=1e-4, points=2),
    Check("test_selective_step", "selective_step", ssm.selective_step, (
        Case("H = N = 1: h = 1, u = 2, delta = 0.5, A = -2, B = 3, C = 0.5",
             lambda rng: (one(1.0), np.array([2.0], np.float32), np.array([0.5], np.float32), one(-2.0),
                          np.array([3.0], np.float32), np.array([0.5], np.float32))),
        Case("random H = 3, N = 4", lambda rng: step_case(rng, 3, 4), hidden=True),
        Case("H = N = 1", lambda rng: step_case(rng, 1, 1), hidden=True),
        Case("zero input", lambda rng: step_case(rng, 2, 3, zero=True), hidden=True),
        Case("a large step forgets the state", lambda rng: step_case(rng, 2, 2, delta_scale=20.0), hidden=True),
        Case("edge: H = N = 1", lambda rng: step_case(rng, 1, 1)),
        Case("edge: zero input", lambda rng: step_case(rng, 2, 2, zero=True)),
    ), rtol=1e-4, atol=1e-5, points=2),
    Check("test_selective_scan", "selective_scan", selective_reference, (
        Case("T = 2, H = N = 1, A = -1, deltas = B = C = us = 1",
             lambda rng: (np.ones((2, 1), np.float32), np.ones((2, 1), np.float32), one(-1.0),
                          np.ones((2, 1), np.float32), np.ones((2, 1), np.float32))),
        Case("random T = 17, H = 3, N = 4", lambda rng: scan_case(rng, 17, 3, 4), hidden=True),
        Case("T = 1", lambda rng: scan_case(rng, 1, 2, 3), hidden=True),
        Case("H = N = 1", lambda rng: scan_case(rng, 9, 1, 1), hidden=True),
        Case("zero input", lambda rng: scan_case(rng, 6, 2, 2, zero=True), hidden=True),
        Case("a long sequence, T = 2048", lambda rng: scan_case(rng, 2048, 2, 3), hidden=True),
        Case("edge: T = 1", lambda rng: scan_case(rng, 1, 1, 2)),
        Case("edge: H = N = 1", lambda rng: scan_case(rng, 5, 1, 1)),
        Case("edge: zero input", lambda rng: scan_case(rng, 4, 2, 1, zero=True)),
    ), rtol=1e-3, atol=1e-4, points=2, rules=COURSE_RULES + (NO_SEQUENTIAL_SCAN,)),
]
