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


@pytest.mark.parametrize("schedule", [scan_tree.hillis_steele_levels, scan_tree.blelloch_levels])
@pytest.mark.parametrize("num_steps", [1, 2, 7, 8, 16, 33])
def test_covered_ranges_grow_to_every_prefix(schedule, num_steps):
    stages = scan_tree.covered_ranges(schedule(num_steps), num_steps)
    assert stages[0] == [(i, i) for i in range(num_steps)]
    assert stages[-1] == [(0, i) for i in range(num_steps)]
    # against the sums the schedule computes: element i holds x_first + ... + x_last
    values = [2.0**i for i in range(num_steps)]
    levels = schedule(num_steps)
    for depth in range(len(levels) + 1):
        sums = scan_tree.apply_levels(levels[:depth], values, lambda a, b: a + b)
        assert sums == [sum(values[f:l + 1]) for f, l in stages[depth]]


def test_covered_ranges_refuse_a_combination_of_non_adjacent_ranges():
    with pytest.raises(ValueError, match="not adjacent"):
        scan_tree.covered_ranges([[(0, 2)]], 3)


def test_draw_schedule_draws_a_box_per_element_and_an_arrow_per_combination():
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, Rectangle

    levels = scan_tree.blelloch_levels(8)
    axes = Figure().subplots()
    stages = scan_tree.draw_schedule(axes, levels, 8, title="Blelloch")
    boxes = [p for p in axes.patches if isinstance(p, Rectangle)]
    arrows = [p for p in axes.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 8 * (len(levels) + 1)
    assert len(arrows) == scan_tree.depth_and_work(levels)[1]
    labels = {t.get_text() for t in axes.texts}
    assert {"0–7", "4–7", "0–3", "0–5"} <= labels and stages[-1][7] == (0, 7)
    axes = Figure().subplots()
    scan_tree.draw_schedule(axes, levels, 8, upto=1)
    assert len([p for p in axes.patches if isinstance(p, Rectangle)]) == 16
    with pytest.raises(ValueError, match="upto"):
        scan_tree.draw_schedule(axes, levels, 8, upto=len(levels) + 1)


@pytest.mark.parametrize("num_steps", [1, 2, 3, 8, 9, 1000, 1024, 1025])
def test_hillis_steele_closed_form_counts_the_listed_levels(num_steps):
    assert scan_tree.hillis_steele_depth_and_work(num_steps) == \
        scan_tree.depth_and_work(scan_tree.hillis_steele_levels(num_steps))


@pytest.mark.parametrize("num_steps", [1, 2, 5, 8, 13, 16, 100, 1000, 1024])
def test_jax_associative_scan_does_the_work_of_the_blelloch_schedule(num_steps):
    calls, combinations = scan_tree.associative_scan_work(num_steps)
    depth, work = scan_tree.depth_and_work(scan_tree.blelloch_levels(num_steps))
    assert combinations == work
    assert depth <= calls <= depth + 1
    # and the count is of real combinations: a prefix sum by that scan is the cumulative sum
    import jax

    xs = np.arange(num_steps, dtype=np.float32)
    np.testing.assert_allclose(jax.lax.associative_scan(jnp.add, xs), np.cumsum(xs), rtol=1e-5)
