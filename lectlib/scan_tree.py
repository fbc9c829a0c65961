"""Schedules of parallel prefix scans: which elements combine at each level.

An associative operator lets a scan combine elements in any grouping. These functions
compute the grouping two classic algorithms use, as lists of levels; within a level
every combination is independent, so a parallel machine runs a level in one step. The
number of levels is the depth (time with enough processors), the number of combinations
the work (time on one processor).

- Hillis & Steele (1986): depth ⌈log₂ T⌉, work about T log₂ T.
- Blelloch (1990), work-efficient: an up-sweep and a down-sweep, depth about 2 log₂ T,
  work under 2T — the form ``jax.lax.associative_scan`` follows.

``covered_ranges`` says which inputs every element has combined after each level, and
``draw_schedule`` draws a schedule level by level on a matplotlib ``Axes`` it is given
(chapter 4's pictures; no global matplotlib state is touched).
"""
from matplotlib.patches import FancyArrowPatch, Rectangle

from lectlib._checks import check_positive_int


def hillis_steele_levels(num_steps):
    """Levels of the Hillis–Steele scan: at offset ``2^k`` every element ``i >= 2^k`` combines
    with element ``i - 2^k``.

    Returns: a list of levels, each a list of ``(source, target)`` index pairs meaning
    ``x[target] ← x[source] ∘ x[target]`` (source is earlier in the sequence).
    Chapter 4; tests/test_scan_tree.py::test_schedules_give_the_sequential_prefix_sums.
    """
    check_positive_int(num_steps, "the sequence length")
    levels, offset = [], 1
    while offset < num_steps:
        levels.append([(i - offset, i) for i in range(offset, num_steps)])
        offset *= 2
    return levels


def hillis_steele_depth_and_work(num_steps):
    """``(depth, work)`` of the Hillis–Steele scan without listing its levels (for long
    sequences): depth ``⌈log₂ T⌉``, work ``Σ_{k<depth} (T - 2^k) = depth · T - (2^depth - 1)``.

    Chapter 4; tests/test_scan_tree.py::test_hillis_steele_closed_form_counts_the_listed_levels.
    """
    check_positive_int(num_steps, "the sequence length")
    depth = (num_steps - 1).bit_length()          # ⌈log₂ T⌉, exactly, in integers
    return depth, depth * num_steps - (2**depth - 1)


def blelloch_levels(num_steps):
    """Levels of the work-efficient (up-sweep, then down-sweep) inclusive scan.

    Returns: a list of levels of ``(source, target)`` pairs, as in ``hillis_steele_levels``.
    Chapter 4; tests/test_scan_tree.py::test_schedules_give_the_sequential_prefix_sums.
    """
    check_positive_int(num_steps, "the sequence length")
    levels, stride = [], 1
    while stride < num_steps:
        level = [(i - stride, i) for i in range(2 * stride - 1, num_steps, 2 * stride)]
        if level:
            levels.append(level)
        stride *= 2
    stride //= 2
    while stride >= 1:
        level = [(i - stride, i) for i in range(3 * stride - 1, num_steps, 2 * stride)]
        if level:
            levels.append(level)
        stride //= 2
    return levels


def apply_levels(levels, elements, combine):
    """Runs a schedule: returns the list of prefix combinations ``x₀ ∘ … ∘ x_i``.

    Arguments: ``levels`` from one of the functions above; ``elements`` a list; ``combine(earlier,
    later)`` associative (e.g. ``lectlib.compose_affine``).
    Chapter 4; tests/test_scan_tree.py::test_schedule_with_compose_affine_runs_the_linear_recurrence.
    """
    values = list(elements)
    for level in levels:
        updated = list(values)
        for source, target in level:
            updated[target] = combine(values[source], values[target])
        values = updated
    return values


def depth_and_work(levels):
    """``(depth, work)``: the number of levels and of combinations in a schedule.

    Chapter 4; tests/test_scan_tree.py::test_depth_and_work.
    """
    return len(levels), sum(len(level) for level in levels)


def associative_scan_work(num_steps):
    """What ``jax.lax.associative_scan`` does for ``T`` elements, counted while it traces:
    ``(calls, combinations)``, the number of times it calls the operator (each call combines
    a whole stack of pairs at once, one level) and the pairs combined in all.

    The combinations equal the work of ``blelloch_levels``: JAX's scan is the work-efficient
    up-sweep/down-sweep kind (its documentation cites Blelloch, 1990).
    Chapter 4; tests/test_scan_tree.py::test_jax_associative_scan_does_the_work_of_the_blelloch_schedule.
    """
    import jax
    import jax.numpy as jnp

    check_positive_int(num_steps, "the sequence length")
    stacks = []

    def counting_add(earlier, later):
        stacks.append(earlier.shape[0])
        return earlier + later

    jax.eval_shape(lambda xs: jax.lax.associative_scan(counting_add, xs),
                   jax.ShapeDtypeStruct((num_steps,), jnp.float32))
    return len(stacks), sum(stacks)


def covered_ranges(levels, num_steps):
    """Which inputs every element has combined, before the first level and after each one.

    Arguments: ``levels`` a schedule (``hillis_steele_levels``, ``blelloch_levels``);
    ``num_steps`` ``T``.
    Returns: ``len(levels) + 1`` lists of ``T`` pairs ``(first, last)``: element ``i`` holds
    ``x_first ∘ … ∘ x_last``. Every prefix is complete when each pair is ``(0, i)``.
    Raises ValueError if a combination joins ranges that are not adjacent (it would skip or
    repeat inputs, which only a commutative, idempotent operator could forgive).
    Chapter 4; tests/test_scan_tree.py::test_covered_ranges_grow_to_every_prefix.
    """
    check_positive_int(num_steps, "the sequence length")
    stages = [[(i, i) for i in range(num_steps)]]
    for depth, level in enumerate(levels, start=1):
        current, updated = stages[-1], list(stages[-1])
        for source, target in level:
            if not (0 <= source < target < num_steps):
                raise ValueError(f"level {depth}: ({source}, {target}) is not an earlier-to-later pair "
                                 f"of elements 0 … {num_steps - 1}")
            if current[source][1] + 1 != current[target][0]:
                raise ValueError(f"level {depth}: element {source} holds {current[source]} and element "
                                 f"{target} holds {current[target]}; they are not adjacent")
            updated[target] = (current[source][0], current[target][1])
        stages.append(updated)
    return stages


def draw_schedule(ax, levels, num_steps, upto=None, title=None, fontsize=7):
    """Draws a scan schedule level by level on ``ax``: one row of boxes per stage (the inputs
    on top), each box labelled with the inputs its element has combined (``"0–5"``), green
    once it holds its whole prefix, and an arrow for every combination.

    Arguments: ``ax`` a matplotlib ``Axes``; ``levels``, ``num_steps`` as ``covered_ranges``;
    ``upto`` the last level to draw (all when None), the rows below it stay empty so a
    slider can step through; ``title`` drawn above; ``fontsize`` of the box labels.
    Returns: the ``covered_ranges`` it drew.
    Chapter 4; tests/test_scan_tree.py::test_draw_schedule_draws_a_box_per_element_and_an_arrow_per_combination.
    """
    stages = covered_ranges(levels, num_steps)
    upto = len(levels) if upto is None else upto
    if not isinstance(upto, int) or not 0 <= upto <= len(levels):
        raise ValueError(f"upto must be an int from 0 to {len(levels)}, received {upto!r}")
    for row in range(upto + 1):
        y = -row
        for i, (first, last) in enumerate(stages[row]):
            complete = first == 0
            ax.add_patch(Rectangle((i - 0.42, y - 0.3), 0.84, 0.6, facecolor="tab:green" if complete else "tab:blue",
                                   alpha=0.3 + 0.4 * (row == upto), edgecolor="none"))
            ax.text(i, y, f"{first}–{last}" if first != last else f"{i}", ha="center", va="center", fontsize=fontsize)
        if row > 0:
            for source, target in levels[row - 1]:
                ax.add_patch(FancyArrowPatch((source, y + 0.7), (target, y + 0.3), arrowstyle="->",
                                             mutation_scale=7, linewidth=0.6, alpha=0.7))
    ax.set_xlim(-0.6, num_steps - 0.4)
    ax.set_ylim(-len(levels) - 0.6, 0.6)
    ax.set_yticks([-r for r in range(len(levels) + 1)], ["inputs"] + [f"level {r}" for r in range(1, len(levels) + 1)],
                  fontsize=fontsize + 1)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=fontsize + 2)
    return stages
