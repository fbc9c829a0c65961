"""Benchmark: stock `nbgrader autograde` (serial) against `autograder grade --jobs 2`.

One run, in a temporary course: N generated submissions of the "scans" homework, a
third each correct (the reference), partial (one planted bug) and blank (the student
version). Both graders grade the same folder:
- stock nbgrader: `nbgrader autograde scans` (one kernel per notebook, one after another,
  no sandbox; its test cells run the visible cases only);
- the course's grader: `autograder grade --jobs 2` (sandbox per submission, every case).
Also the sandbox's own cost: the same batch with `--unsafe` (no isolation), and the
median of repeated sandboxed against unsandboxed runs of an empty executor plan.
The grader's reference results and its JAX compilation cache are prepared once per
version of an assignment and kept; the timed runs start with both ready (the time to
prepare them is reported apart).

Then where the time of one submission goes (medians of 3 sandboxed runs of each
assignment's reference answers): starting the sandbox and Python, importing JAX,
compiling (what the compilation cache saves), running, and the grader's own stages
(reading and planning, decoding and judging, recording in the gradebook), and the
grader's start-up. Last, one student's three notebooks (scans, losses, bptt) with
`--jobs 1`, the way an instructor regrades one student (median of 3).

Targets on the course's 2-core machine: at least 5x faster than stock nbgrader; one
student's three notebooks in at most 6 s; sandbox overhead at most 0.5 s per submission.

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


def runner_seconds(steps, unsafe=False):
    """Wall seconds of the runner executing a plan of ``steps`` (cells only) through the
    grader's run stage, sandboxed unless ``unsafe``."""
    from autograder import plan as plan_stage
    from autograder import run as run_stage
    from autograder.sandbox import Limits

    plan = plan_stage.Plan({"kind": "plan", "steps": steps, "cell_seconds": 60, "scratch_bytes": 0,
                            "watch": {}, "reasons": {}}, [], [], {}, {})
    result = run_stage.run(plan, Limits(), unsafe=unsafe)
    assert result.status == "ok", result
    return result.wall_seconds


def sandbox_overhead(repeats=9):
    """Median seconds of a one-cell runner plan, sandboxed and not, measured alternately."""
    samples = {"sandboxed": [], "unsafe": []}
    for _ in range(repeats):
        for mode in ("sandboxed", "unsafe"):
            samples[mode].append(runner_seconds([{"cell": "import jax.numpy as jnp"}], unsafe=(mode == "unsafe")))
    return {mode: statistics.median(values) for mode, values in samples.items()}


def median_seconds(measure, repeats=3):
    return statistics.median(measure() for _ in range(repeats))


def breakdown(course, repeats=3):
    """Seconds per stage of one sandboxed submission of each assignment's reference answers."""
    from autograder import decode as decode_stage
    from autograder import judge as judge_stage
    from autograder import plan as plan_stage
    from autograder import read as read_stage
    from autograder import run as run_stage
    from autograder.assignment import AssignmentContext
    from autograder.sandbox import Limits

    limits = Limits()
    start = median_seconds(lambda: runner_seconds([]), repeats)
    with_jax = median_seconds(lambda: runner_seconds([{"cell": "import jax, jax.numpy"}]), repeats)
    rows = {}
    folder = course.root / "breakdown"
    for assignment in ("scans", "losses", "bptt", "gated"):
        ctx = AssignmentContext(course, assignment, limits)
        ctx.warm_references()
        ctx.prepare_compile_cache(limits)
        submit(folder, "reference", assignment, reference_notebook(assignment))
        relative = Path("reference") / assignment / f"{assignment}.ipynb"
        timings = {"read_plan": [], "no_cache": [], "cache": [], "decode_judge": [], "record": []}
        for _ in range(repeats):
            clock = time.perf_counter()
            submission = read_stage.read_submission(folder, relative)
            plan = plan_stage.build_plan(submission.notebook, ctx.release_notebook, ctx.checks, limits.cell_seconds)
            timings["read_plan"].append(time.perf_counter() - clock)
            timings["no_cache"].append(run_stage.run(plan, limits).wall_seconds)
            run = run_stage.run(plan, limits, compile_cache=ctx.compile_cache)
            timings["cache"].append(run.wall_seconds)
            clock = time.perf_counter()
            recorded = decode_stage.decode(run.results, plan.sequence(), limits.result_bytes, plan.seal)
            checks, score, status = judge_stage.judge(ctx.checks, ctx.references, plan, recorded, run, limits,
                                                      plan.notes)
            timings["decode_judge"].append(time.perf_counter() - clock)
            assert score == ctx.max_score, (assignment, status)
            result = judge_stage.GradeResult("reference", assignment, score, ctx.max_score, status, checks,
                                             submission.digest, relative.name,
                                             read_stage.answers(submission.notebook,
                                                                {c.answer for c in ctx.checks.values()}),
                                             run.wall_seconds)
            clock = time.perf_counter()
            course.record(result, ctx, submission.mtime)
            timings["record"].append(time.perf_counter() - clock)
        row = {name: statistics.median(values) for name, values in timings.items()}
        row["compiling"] = row["no_cache"] - row["cache"]
        row["running"] = row["cache"] - with_jax
        rows[assignment] = row
    return {"sandbox_and_python_start": start, "jax_import": with_jax - start, "assignments": rows}


def one_student(course, jobs=1, repeats=3):
    """Median seconds of `autograder grade --jobs 1 --regrade` on one student's scans,
    losses and bptt notebooks, and of the same command with nothing left to grade."""
    folder = course.root / "one-student"
    for assignment in ("scans", "losses", "bptt"):
        submit(folder, "alice", assignment, reference_notebook(assignment))
    command = [str(BIN / "autograder"), "--course", str(course.root), "grade", str(folder), "--jobs", str(jobs),
               "--quiet", "--csv", str(course.root / "one-student.csv")]
    timed(command, course.root)
    return {"three_notebooks": median_seconds(lambda: timed(command + ["--regrade"], course.root), repeats),
            "nothing_to_grade": median_seconds(lambda: timed(command, course.root), repeats)}


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
        preparing = timed([str(BIN / "autograder"), "--course", str(course.root), "grade", str(warm), "--quiet",
                           "--csv", str(Path(folder) / "warm.csv")], course.root)
        make_submissions(course, course.root / "submitted", args.submissions)
        stock = stock_nbgrader(course.root)
        sandboxed = ours(course.root, args.jobs)
        per_submission = [json.loads(p.read_text())["result"]["seconds"]
                          for p in (course.state_dir / "graded").glob("student-*/scans.json")]
        unsafe = ours(course.root, args.jobs, unsafe=True)
        stages = breakdown(course)
        student = one_student(course)
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
        "first_grading_with_preparation_seconds": preparing,
        "breakdown": stages,
        "one_student": student,
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
        f"{results['sandbox_overhead_batch_seconds_per_submission']:.3f} s per submission. Targets: speed-up ≥ 5, "
        f"overhead ≤ 0.5 s.",
        "",
        f"Preparing an assignment once (its reference results and its JAX compilation cache, from the reference "
        f"answers) and grading one submission took {preparing:.1f} s; the batches above start with both ready. "
        f"With that included the speed-up is {stock / (sandboxed + preparing):.2f}.",
        "",
        f"Where one submission's time goes (the reference answers, sandboxed, median of 3; seconds): starting the "
        f"sandbox and Python {stages['sandbox_and_python_start']:.2f}, importing JAX {stages['jax_import']:.2f}, then",
        "",
        "| assignment | run without cache | run with cache | compiling (saved by the cache) | running | "
        "reading + planning | decoding + judging | recording |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ] + [f"| {a} | {r['no_cache']:.2f} | {r['cache']:.2f} | {r['compiling']:.2f} | {r['running']:.2f} | "
         f"{r['read_plan']:.3f} | {r['decode_judge']:.3f} | {r['record']:.3f} |"
         for a, r in stages["assignments"].items()] + [
        "",
        f"One student's three notebooks (scans, losses, bptt), `autograder grade --jobs 1 --regrade`: "
        f"{student['three_notebooks']:.2f} s (median of 3; target ≤ 6 s); the same command with nothing to grade "
        f"(the grader's start-up and bookkeeping): {student['nothing_to_grade']:.2f} s.",
    ]
    text = "\n".join(lines) + "\n"
    write_results(args.out, text, results)
    print(text)


if __name__ == "__main__":
    main()
