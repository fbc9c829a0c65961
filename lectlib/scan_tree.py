"""Schedules of parallel prefix scans: which elements combine at each level.

An associative operator lets a scan combine elements in any grouping. These functions
compute the grouping two classic algorithms use, as lists of levels; within a level
every combination is independent, so a parallel machine runs a level in one step. The
number of levels is the depth (time with enough processors), the number of combinations
the work (time on one processor).

- Hillis & Steele (1986): depth ⌈log₂ T⌉, work about T log₂ T.
- Blelloch (1990), work-efficient: an up-sweep and a down-sweep, depth about 2 log₂ T,
  work under 2T — the form ``jax.lax.associative_scan`` follows.
"""

from lectlib._checks import check_positive_int


def hillis_steele_levels(num_steps):
    """Levels of the Hillis–Steele scan: at offset ``2^k`` every element ``i >= 2^k`` combines
    with element ``i - 2^k``.

    Returns: a list of levels, each a list of ``(source, target)`` index pairs meaning
    ``x[target] ← x[source] ∘ x[target]`` (source is earlier in the sequence).
    """
    check_positive_int(num_steps, "the sequence length")
    levels, offset = [], 1
    while offset < num_steps:
        levels.append([(i - offset, i) for i in range(offset, num_steps)])
        offset *= 2
    return levels


def blelloch_levels(num_steps):
    """Levels of the work-efficient (up-sweep, then down-sweep) inclusive scan.

    Returns: a list of levels of ``(source, target)`` pairs, as in ``hillis_steele_levels``.
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
    """
    values = list(elements)
    for level in levels:
        updated = list(values)
        for source, target in level:
            updated[target] = combine(values[source], values[target])
        values = updated
    return values


def depth_and_work(levels):
    """``(depth, work)``: the number of levels and of combinations in a schedule."""
    return len(levels), sum(len(level) for level in levels)
