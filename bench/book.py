"""Benchmark: how long the course website takes to build, from scratch and again.

Builds a copy of the course (the files git tracks, as a fresh clone has them, with its
own ``lectlib`` first on the kernels' path) the way ``make book`` does, and times, each
the median of ``--runs`` rounds:
- cold build: no ``_build/`` at all (no execution cache, no compilation cache), so every
  page executes and every program compiles;
- no-change rebuild: straight after, nothing edited, so nothing executes;
- a leaf module changed: a line added to ``lectlib/<--leaf>`` (default ``readout.py``,
  which one chapter imports): the pages that import it execute again, and only they;
- a core module changed: the same for ``lectlib/<--core>`` (default ``scans.py``, which
  ``import lectlib`` loads, so every page executes again, loading what it compiles from
  the compilation cache).
The added line is a comment, so no program changes: what a rebuild costs beyond executing
the pages is what the compilation cache saves. Per-page execution times come from the cold
build's execution cache. Targets on the course's 2-core machine: cold ≤ 120 s,
no-change ≤ 5 s, one lectlib function changed ≤ 30 s. The load average before and after
each build is recorded: on a shared machine the numbers are only comparable at equal load.

Usage: python bench/book.py [--runs 3] [--leaf readout.py] [--core scans.py]
       [--commit REV] [--out bench/results/book.md]
"""
import argparse
import datetime
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = {"cold": 120, "no_change": 5, "leaf_change": 30, "core_change": None}
LABELS = {"cold": "cold (no _build/)", "no_change": "no-change rebuild",
          "leaf_change": "one leaf lectlib module changed", "core_change": "one core lectlib module changed"}


def copy_course(target, commit=None):
    """The files git tracks, as they are in the working tree (or at ``commit``), plus the
    vendored site assets (``book_support/vendor.py`` fetched them into the checkout); the
    homework released."""
    if commit:
        archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    else:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
        for name in filter(None, listed.decode().split("\0")):
            source = ROOT / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    shutil.copytree(ROOT / "book_support" / "static", target / "book_support" / "static", dirs_exist_ok=True)
    subprocess.run([str(BIN / "autograder"), "--course", str(target), "release"], check=True, env=environment(target),
                   stdout=subprocess.DEVNULL)


def environment(course):
    """The build's environment: the copy's lectlib first on every path (the kernels inherit
    it), and no compilation cache chosen from outside."""
    env = {**os.environ, "PYTHONPATH": str(course)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    return env


def build(course):
    """Builds the book at ``course`` as ``make book`` does. Returns (wall seconds, CPU
    seconds of the build and its kernels, pages executed, load average before, after)."""
    env = environment(course)
    load_before = os.getloadavg()[0]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", "--warningiserror", "--keep-going", str(course)],
        cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seconds = time.perf_counter() - start
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (now.ru_utime + now.ru_stime) - (used.ru_utime + used.ru_stime)
    if result.returncode != 0:
        problems = [line for line in result.stdout.splitlines() if "WARNING" in line or "ERROR" in line]
        sys.exit("error: the book build failed, so there is nothing to time:\n" + "\n".join(problems[-40:])
                 + "\n" + result.stdout[-2000:])
    executed = sorted(Path(line.split(": Executing notebook")[0]).name for line in result.stdout.splitlines()
                      if ": Executing notebook" in line)
    return seconds, cpu, executed, load_before, os.getloadavg()[0]


def chapter_execution_seconds(course):
    """{page: seconds} from the execution cache that the last build filled."""
    from jupyter_cache import get_cache

    cache = get_cache(str(Path(course) / "_build" / ".jupyter_cache"))
    return {Path(record.uri).name: record.data["execution_seconds"]
            for record in cache.list_cache_records() if "execution_seconds" in (record.data or {})}


def change(module):
    with open(module, "a", encoding="utf-8") as handle:
        handle.write(f"\n# changed by bench/book.py at {time.time()}\n")


def measure(runs, leaf, core, commit=None, progress=lambda results: None):
    """Builds and times; calls ``progress(results so far)`` after every build (a long
    benchmark on a busy machine leaves what it measured even if it is stopped)."""
    timings = {kind: [] for kind in TARGETS}
    cpu_times = {kind: [] for kind in TARGETS}
    loads, executed, per_page = [], {}, {}

    def results():
        done = [kind for kind in TARGETS if timings[kind]]
        return {
            "seconds": timings,
            "median": {kind: statistics.median(timings[kind]) for kind in done},
            "cpu_seconds": cpu_times,
            "cpu_median": {kind: statistics.median(cpu_times[kind]) for kind in done},
            "commit": commit or "working tree",
            "pages_executed": executed,
            "load_average_before_after": loads,
            "leaf_module": leaf, "core_module": core,
            "chapter_execution_median": {name: statistics.median(v) for name, v in sorted(per_page.items())},
        }

    with tempfile.TemporaryDirectory(prefix="bench-book-") as scratch:
        course = Path(scratch) / "course"
        course.mkdir()
        copy_course(course, commit)
        for _ in range(runs):
            shutil.rmtree(course / "_build", ignore_errors=True)
            steps = [("cold", None), ("no_change", None), ("leaf_change", course / "lectlib" / leaf),
                     ("core_change", course / "lectlib" / core)]
            for kind, module in steps:
                if module is not None:
                    change(module)
                seconds, cpu, pages, before, after = build(course)
                timings[kind].append(seconds)
                cpu_times[kind].append(cpu)
                executed[kind] = pages
                loads.append((kind, round(before, 2), round(after, 2)))
                if kind == "cold":
                    for name, value in chapter_execution_seconds(course).items():
                        per_page.setdefault(name, []).append(value)
                progress(results())
    return results()


def table(results, runs):
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} CPU cores "
        f"({platform.machine()}), median of {runs} rounds; "
        f"source: {results['commit']}. CPU seconds: the build's and its kernels' (user + system).",
        "",
        "| build | median seconds | target | met | CPU seconds | pages executed |",
        "|---|---:|---:|:---:|---:|---|",
    ]
    for kind, target in TARGETS.items():
        if kind not in results["median"]:
            continue
        seconds = results["median"][kind]
        label = LABELS[kind]
        if kind in ("leaf_change", "core_change"):
            label += f" (`lectlib/{results[kind.split('_')[0] + '_module']}`)"
        met = "" if target is None else ("yes" if seconds <= target else "NO")
        pages = results["pages_executed"][kind]
        lines.append(f"| {label} | {seconds:.1f} | {'' if target is None else f'≤ {target}'} | {met} | "
                     f"{results['cpu_median'][kind]:.1f} | "
                     f"{len(pages)}{': ' + ', '.join(pages) if 0 < len(pages) < 4 else ''} |")
    lines += ["", "Load average (1 min) before → after each build: "
              + "; ".join(f"{kind} {before} → {after}" for kind, before, after in results["load_average_before_after"]),
              "", "| page | execution seconds, cold (median) |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in results["chapter_execution_median"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--leaf", default="readout.py", help="a lectlib module few pages import")
    parser.add_argument("--core", default="scans.py", help="a lectlib module every page imports")
    parser.add_argument("--commit", help="build the files of this commit instead of the working tree's")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "book.md")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for module in (args.leaf, args.core):
        if not (ROOT / "lectlib" / module).is_file():
            parser.error(f"no module lectlib/{module}")
    subprocess.run([sys.executable, str(ROOT / "book_support" / "vendor.py")], check=True)
    results = measure(args.runs, args.leaf, args.core, args.commit,
                      progress=lambda partial: write_results(args.out, table(partial, args.runs), partial))
    text = table(results, args.runs)
    write_results(args.out, text, results)
    print(text)


if __name__ == "__main__":
    main()
