"""Benchmark: lectlib.linear_recurrence by loop, lax.scan and associative scan, against a
bare ``jax.lax.scan`` of the same recurrence.

For every sequence length T and state size d: compile time (lower + compile, once) and the
median of several timed runs of the compiled function. Ratios are against the bare
``jax.lax.scan`` measured in the same run. The Python loop is timed only up to
``--max-loop-T`` steps (it dispatches one small computation per step); longer ones are
extrapolated from its measured cost per step and marked as such.

The numbers go into the library, ``lectlib/data_files/scans.json`` (``--out``): chapter 4
reads them from there with ``lectlib.benchmarks.load_scan_results``, so the chapter runs
from any folder with only the student package installed. The same table in Markdown, for
maintainers, goes to ``bench/results/scans.md`` (``--table``); both are made by
``lectlib.benchmarks``.

Usage: python bench/scans.py [--runs 7] [--max-T 1000000] [--out lectlib/data_files/scans.json]
       [--table bench/results/scans.md]
"""
import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import lectlib
from lectlib import benchmarks
from lectlib.benchmarks import ASSOCIATIVE, BARE, LOOP, SCAN, format_seconds

ROOT = Path(__file__).resolve().parent


def bare_lax_scan(a, b):
    """The baseline: the same recurrence written straight onto ``jax.lax.scan``."""
    def step(h, ab):
        h = ab[0] * h + ab[1]
        return h, h

    _, hs = jax.lax.scan(step, jnp.zeros(a.shape[1], a.dtype), (a, b))
    return hs


def calibrate_repeats(fn, args, min_sample_seconds=0.02):
    """How many back-to-back calls make one timing sample last at least ``min_sample_seconds``."""
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(min_sample_seconds / once))


def sample_seconds(fn, args, repeats):
    """Seconds per call, from one sample of ``repeats`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats


def compiled(fn, args):
    start = time.perf_counter()
    executable = jax.jit(fn).lower(*args).compile()
    return executable, time.perf_counter() - start


def measure(steps, size, runs, max_loop_steps, loop_cost_per_step):
    """Times every candidate on one (T, d); the compiled ones in interleaved rounds, so a
    burst of load on the machine hits all of them alike."""
    key_a, key_b = jax.random.split(jax.random.key(steps * 31 + size))
    a = jax.random.uniform(key_a, (steps, size), minval=0.5, maxval=1.0)
    b = jax.random.normal(key_b, (steps, size))
    candidates = {
        BARE: bare_lax_scan,
        SCAN: functools.partial(lectlib.linear_recurrence, method="scan"),
        ASSOCIATIVE: functools.partial(lectlib.linear_recurrence, method="associative"),
    }
    executables, rows, repeats, samples = {}, {}, {}, {name: [] for name in candidates}
    for name, fn in candidates.items():
        executables[name], compile_seconds = compiled(fn, (a, b))
        rows[name] = {"compile": compile_seconds}
        repeats[name] = calibrate_repeats(executables[name], (a, b))
    names = list(candidates)
    for round_index in range(runs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(sample_seconds(executables[name], (a, b), repeats[name]))
    for name in candidates:
        rows[name]["seconds"] = statistics.median(samples[name])
    if steps <= max_loop_steps:
        loop = functools.partial(lectlib.linear_recurrence, method="loop")
        jax.block_until_ready(loop(a[:2], b[:2]))
        seconds = statistics.median(sample_seconds(loop, (a, b), 1) for _ in range(min(runs, 3)))
        rows[LOOP] = {"seconds": seconds, "compile": None, "extrapolated": False}
        loop_cost_per_step[size] = seconds / steps
    elif size in loop_cost_per_step:
        rows[LOOP] = {"seconds": loop_cost_per_step[size] * steps, "compile": None, "extrapolated": True}
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per cell (median reported)")
    parser.add_argument("--max-T", type=int, default=1_000_000, help="longest sequence")
    parser.add_argument("--max-loop-T", type=int, default=10_000, help="longest sequence the Python loop runs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", type=Path, default=ROOT.parent / "lectlib" / "data_files" / benchmarks.SCAN_FILE,
                        help="the JSON the library ships and chapter 4 reads")
    parser.add_argument("--table", type=Path, default=ROOT / "results" / "scans.md",
                        help="the same numbers as a Markdown table, for maintainers")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.max_T < 1000:
        parser.error("--runs must be >= 1 and --max-T >= 1000")

    lengths = [t for t in (1_000, 10_000, 100_000, 1_000_000) if t <= args.max_T]
    loop_cost_per_step = {}
    results = []
    for size in args.sizes:
        for steps in lengths:
            rows = measure(steps, size, args.runs, args.max_loop_T, loop_cost_per_step)
            results.append(((steps, size), rows))
            summary = ", ".join(f"{k}: {format_seconds(v['seconds'])}" for k, v in rows.items())
            print(f"T={steps:>9,} d={size:>2}  {summary}", flush=True)

    data = {"measured": benchmarks.measured_now(os.cpu_count(), platform.processor() or platform.machine(),
                                                jax.__version__, args.runs),
            "rows": [{"T": t, "d": d, **rows} for (t, d), rows in results]}
    benchmarks.check_scan_results(data)
    table = benchmarks.scan_table_markdown(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1))
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text(table)
    print()
    print(table)
    worst = max(rows[SCAN]["seconds"] / rows[BARE]["seconds"] for _, rows in results)
    print(f'method="scan" against bare lax.scan: worst ratio {worst:.2f}× (target ≤ 1.10×)')
    print(f"written to {args.out} (read by chapter 4) and {args.table}")


if __name__ == "__main__":
    main()
