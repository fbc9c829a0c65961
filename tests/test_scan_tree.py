"""Scan schedules compute the same prefixes as the sequential scan, with the promised depth and work."""
import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lectlib
from lectlib import scan_tree


@settings(max_examples=30, deadline=None)
@given(num_steps=st.integers(min_value=1, max_value=70))
@pytest.mark.parametrize("schedule", [scan_tree.hillis_steele_levels, scan_tree.blelloch_levels])
def test_schedules_give_the_sequential_prefix_sums(schedule, num_steps):
    values = list(range(1, num_steps + 1))
    prefixes = scan_tree.apply_levels(schedule(num_steps), values, lambda a, b: a + b)
    assert prefixes == list(np.cumsum(values))


def test_schedule_with_compose_affine_runs_the_linear_recurrence():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 1.0, (13, 2)), rng.normal(size=(13, 2))
    elements = [(a[t], b[t]) for t in range(13)]
    prefixes = scan_tree.apply_levels(scan_tree.blelloch_levels(13), elements, lectlib.compose_affine)
    states = np.stack([p[1] for p in prefixes])
    np.testing.assert_allclose(states, lectlib.linear_recurrence(jnp.array(a), jnp.array(b), method="loop"), rtol=1e-5)


@pytest.mark.parametrize("num_steps", [2, 8, 16, 100, 1024])
def test_depth_and_work(num_steps):
    log_t = math.ceil(math.log2(num_steps))
    depth, work = scan_tree.depth_and_work(scan_tree.hillis_steele_levels(num_steps))
    assert depth == log_t
    assert work == sum(num_steps - 2**k for k in range(log_t))
    depth, work = scan_tree.depth_and_work(scan_tree.blelloch_levels(num_steps))
    assert depth <= 2 * log_t and work < 2 * num_steps


def test_combinations_within_a_level_are_independent():
    for levels in (scan_tree.hillis_steele_levels(37), scan_tree.blelloch_levels(37)):
        for level in levels:
            targets = [t for _, t in level]
            assert len(set(targets)) == len(targets)


def test_bad_length():
    with pytest.raises(ValueError, match="positive int"):
        scan_tree.hillis_steele_levels(0)
