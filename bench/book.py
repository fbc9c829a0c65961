"""Benchmark: how long the course website takes to build.

Two numbers, each the median of ``--runs`` builds made in this one run:
- cold build: the build folder and the execution cache deleted first, so every chapter
  executes;
- no-change rebuild: straight after a build, nothing edited, so nothing executes.
Per-chapter execution times come from the cold build's execution report. Targets on the
course's 2-core machine: cold ≤ 180 s, no-change ≤ 20 s.

Usage: python bench/book.py [--runs 3] [--source .] [--out bench/results/book.md]
"""
import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLD_TARGET_SECONDS = 180
NO_CHANGE_TARGET_SECONDS = 20


def build_seconds(source):
    """Builds the book at ``source`` the way ``make book`` does; returns wall seconds."""
    start = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", "--warningiserror", "--keep-going", str(source)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: the book build failed, so there is nothing to time:\n{result.stdout[-4000:]}")
    return seconds


def chapter_execution_seconds(source):
    """{page: seconds} from the execution cache that the last build filled."""
    from jupyter_cache import get_cache

    cache = get_cache(str(Path(source) / "_build" / ".jupyter_cache"))
    times = {}
    for record in cache.list_cache_records():
        data = record.data or {}
        if "execution_seconds" in data:
            times[Path(record.uri).name] = data["execution_seconds"]
    return times


def measure(source, runs):
    cold, warm, per_chapter = [], [], {}
    for _ in range(runs):
        shutil.rmtree(Path(source) / "_build", ignore_errors=True)
        cold.append(build_seconds(source))
        for name, seconds in chapter_execution_seconds(source).items():
            per_chapter.setdefault(name, []).append(seconds)
        warm.append(build_seconds(source))
    return {
        "cold_seconds": cold,
        "no_change_seconds": warm,
        "cold_median": statistics.median(cold),
        "no_change_median": statistics.median(warm),
        "chapter_execution_median": {name: statistics.median(v) for name, v in sorted(per_chapter.items())},
    }


def table(results, runs):
    cold, warm = results["cold_median"], results["no_change_median"]
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} CPU cores "
        f"({platform.machine()}), median of {runs} builds each.",
        "",
        "| build | median seconds | target | met |",
        "|---|---:|---:|:---:|",
        f"| cold (cache cleared) | {cold:.1f} | ≤ {COLD_TARGET_SECONDS} | {'yes' if cold <= COLD_TARGET_SECONDS else 'NO'} |",
        f"| no-change rebuild | {warm:.1f} | ≤ {NO_CHANGE_TARGET_SECONDS} | "
        f"{'yes' if warm <= NO_CHANGE_TARGET_SECONDS else 'NO'} |",
        "",
        "| page | execution seconds (median) |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in results["chapter_execution_median"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "book.md")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    subprocess.run([sys.executable, str(ROOT / "book_support" / "vendor.py")], check=True)
    results = measure(args.source, args.runs)
    text = table(results, args.runs)
    write_results(args.out, text, results)
    print(text)


if __name__ == "__main__":
    main()
