"""Benchmark: stock `nbgrader autograde` (serial) against `autograder grade --jobs 2`.

One run, in a temporary course: N generated submissions of the "scans" homework, a
third each correct (the reference), partial (one planted bug) and blank (the student
version). Both graders grade the same folder:
- stock nbgrader: `nbgrader autograde scans` (one kernel per notebook, one after another,
  no sandbox; its test cells run the visible cases only);
- the course's grader: `autograder grade --jobs 2` (sandbox per submission, every case).
Also the sandbox's own cost: the same batch with `--unsafe` (no isolation), and the
median of repeated sandboxed against unsandboxed runs of an empty executor plan.
The grader's reference results are computed once per version of the checks and cached;
the timed runs start with that cache filled.

Targets on the course's 2-core machine: at least 1.6x faster than stock nbgrader;
sandbox overhead at most 0.5 s per submission.

Usage: python bench/grading.py [--submissions 100] [--out bench/results/grading.md]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from grading_helpers import new_course, reference_notebook, submit, with_bug  # noqa: E402

BUGS = ["scan", "combine", "memory_states", "associative_states"]


def make_submissions(course, folder, count):
    for i in range(count):
        kind = i % 3
        if kind == 0:
            notebook = reference_notebook("scans")
        elif kind == 1:
            notebook = with_bug("scans", BUGS[i % len(BUGS)])
        else:
            notebook = course.release_notebook("scans")
        submit(folder, f"student-{i:03d}", "scans", notebook)


def timed(command, cwd):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stdout[-3000:]}")
    return seconds


def stock_nbgrader(course_root):
    return timed([str(BIN / "nbgrader"), "autograde", "scans", f"--course-dir={course_root}",
                  "--CourseDirectory.source_directory=solutions", "--CourseDirectory.submitted_directory=submitted",
                  "--CourseDirectory.autograded_directory=autograded-stock", "--force"], course_root)


def ours(course_root, jobs, unsafe=False):
    command = [str(BIN / "autograder"), "--course", str(course_root), "grade", "submitted", "--jobs", str(jobs),
               "--regrade", "--quiet", "--csv", str(course_root / "ours.csv")]
    return timed(command + (["--unsafe"] if unsafe else []), course_root)


def sandbox_overhead(repeats=9):
    """Median seconds of a one-cell runner plan, sandboxed and not, measured alternately."""
    from autograder import wire
    from autograder.run import EXECUTOR, WIRE
    from autograder.sandbox import Limits, run_sandboxed

    plan = wire.frame({"kind": "plan", "steps": [{"cell": "import jax.numpy as jnp"}], "cell_seconds": 60,
                       "scratch_bytes": 0, "watch": {}, "reasons": {}})
    samples = {"sandboxed": [], "unsafe": []}
    for _ in range(repeats):
        for mode in ("sandboxed", "unsafe"):
            result = run_sandboxed([sys.executable, str(EXECUTOR)], readonly=[EXECUTOR, WIRE], limits=Limits(),
                                   unsafe=(mode == "unsafe"), stdin=plan)
            assert result.status == "ok", result
            samples[mode].append(result.wall_seconds)
    return {mode: statistics.median(values) for mode, values in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "grading.md")
    args = parser.parse_args(argv)
    if args.submissions < 3:
        parser.error("--submissions must be at least 3 (correct, partial, blank)")
    with tempfile.TemporaryDirectory() as folder:
        course = new_course(Path(folder) / "course")
        warm = Path(folder) / "warm"
        submit(warm, "warm-up", "scans", reference_notebook("scans"))
        subprocess.run([str(BIN / "autograder"), "--course", str(course.root), "grade", str(warm), "--quiet",
                        "--csv", str(Path(folder) / "warm.csv")], check=True, stdout=subprocess.DEVNULL)
        make_submissions(course, course.root / "submitted", args.submissions)
        stock = stock_nbgrader(course.root)
        sandboxed = ours(course.root, args.jobs)
        per_submission = [json.loads(p.read_text())["result"]["seconds"]
                          for p in (course.state_dir / "graded").glob("student-*/scans.json")]
        unsafe = ours(course.root, args.jobs, unsafe=True)
    overhead = sandbox_overhead()
    n = args.submissions
    results = {
        "submissions": n, "jobs": args.jobs,
        "stock_nbgrader_seconds": stock, "autograder_seconds": sandboxed, "autograder_unsafe_seconds": unsafe,
        "speedup": stock / sandboxed,
        "stock_seconds_per_submission": stock / n,
        "autograder_median_seconds_per_submission": statistics.median(per_submission),
        "sandbox_overhead_batch_seconds_per_submission": (sandboxed - unsafe) * args.jobs / n,
        "sandbox_overhead_median_seconds": overhead["sandboxed"] - overhead["unsafe"],
        "empty_run_median_seconds": overhead,
    }
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} CPU cores ({platform.machine()}), one run, "
        f"{n} submissions of the scans homework (a third each correct, partial, blank).",
        "",
        "| grader | wall seconds | seconds per submission | speed-up |",
        "|---|---:|---:|---:|",
        f"| stock `nbgrader autograde` (serial, no sandbox) | {stock:.1f} | {stock / n:.2f} (mean) | 1.00 |",
        f"| `autograder grade --jobs {args.jobs}` (sandboxed) | {sandboxed:.1f} | "
        f"{results['autograder_median_seconds_per_submission']:.2f} (median) | {results['speedup']:.2f} |",
        f"| `autograder grade --jobs {args.jobs} --unsafe` (no sandbox) | {unsafe:.1f} | | {stock / unsafe:.2f} |",
        "",
        f"Sandbox overhead: {results['sandbox_overhead_median_seconds']:.3f} s per run (median of 9 empty runs, "
        f"sandboxed {overhead['sandboxed']:.3f} s against {overhead['unsafe']:.3f} s); in the batch, "
        f"{results['sandbox_overhead_batch_seconds_per_submission']:.3f} s per submission. Targets: speed-up ≥ 1.6, "
        f"overhead ≤ 0.5 s.",
    ]
    text = "\n".join(lines) + "\n"
    write_results(args.out, text, results)
    print(text)


if __name__ == "__main__":
    main()
