"""Benchmark: one linear time-invariant state-space model (chapter 12) computed three ways,
T from 2^8 to 2^16 steps.

The model is a diagonal SSM with ``N`` real states (S4D-Real, zero-order hold), one input
and one output channel. Its outputs are computed by the sequential scan
(``lectlib.ssm.diagonal_recurrent(method="scan")``, ``jax.lax.scan``), by the associative
scan (``method="associative"``, chapter 4's tree) and by the convolution view (the kernel
``K_k = C Ā^k B̄`` and an FFT convolution, ``lectlib.ssm.kernel_diagonal`` then
``lectlib.ssm.convolve``; the kernel is part of the timing, since a trained model makes it
anew at every forward pass). Each is compiled once per T and timed as the median of
interleaved runs.

The numbers go into the library, ``lectlib/data_files/ssm_views.json``, which chapter 12
reads with ``lectlib.ssm.load_view_timings`` (the chapter runs from any folder with only
the student package).

Usage: python bench/ssm.py [--runs 5] [--states 16] [--out lectlib/data_files/ssm_views.json]
"""
import argparse
import json
import os
import platform
from pathlib import Path

import jax
import jax.numpy as jnp

from lectlib import benchmarks, ssm

ROOT = Path(__file__).resolve().parent
LENGTHS = tuple(2 ** k for k in range(8, 17, 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per cell (median reported)")
    parser.add_argument("--states", type=int, default=16, help="N, the state size")
    parser.add_argument("--out", type=Path, default=ROOT.parent / "lectlib" / "data_files" / ssm.VIEW_TIMINGS_FILE)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.states < 1:
        parser.error("--runs and --states must be >= 1")
    rows = [ssm.time_views(T, args.states, args.runs) for T in LENGTHS]
    for row in rows:
        print(f"T={row['T']:>6}  " + ", ".join(f"{m}: {benchmarks.format_seconds(row[m])}" for m in ssm.VIEWS),
              flush=True)
    data = {"measured": {**benchmarks.measured_now(os.cpu_count(), platform.processor() or platform.machine(),
                                                   jax.__version__, args.runs),
                         "device": jax.devices()[0].platform, "N": args.states},
            "rows": rows}
    ssm.check_view_timings(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1))
    print(f"written to {args.out} (read by chapter 12)")


if __name__ == "__main__":
    main()
