"""``autograder``: release homework, grade submissions, write feedback, validate a notebook,
compare answers for copying, report on the class.

    autograder release [--course DIR]
    autograder grade SUBMISSIONS [--assignment A] [--jobs N] [--csv PATH] [--regrade] [--unsafe]
                     [--memory-gib G] [--disk-mib M] [--processes N] [--notebook-seconds S] [--cell-seconds S]
    autograder feedback [--assignment A] [--student S]
    autograder validate NOTEBOOK [--assignment A]
    autograder similarity [SUBMISSIONS] [--assignment A] [--out DIR] [--threshold F] [--noise N] [--min-match N]
    autograder report [--assignment A] [--out DIR] [--similarity DIR]

SUBMISSIONS is laid out ``<student_id>/<assignment>/<assignment>.ipynb`` (what nbgrader
collects). ``grade`` exits 0 when grading ran, even if some submissions failed; it exits 1
only when grading itself could not run, and says why. Interrupted (Ctrl-C, SIGTERM), it stops
every sandboxed run, keeps what was graded, says how much that is and exits 130 (143 for
SIGTERM); the same command continues where it stopped.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

# nbformat imports jsonschema, which builds the grammars of rfc3987_syntax when that is
# installed (a second of start-up, in every command); notebooks' schema never asks for
# the "iri" format it checks, so the grader's process goes without it.
sys.modules.setdefault("rfc3987_syntax", None)

from autograder import record
from autograder.batch import Interrupted
from autograder.course import Course, CourseError
from autograder.sandbox import Limits
from autograder.verdict import inert


def build_parser():
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="the course directory (holds solutions/); default: the current folder")
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="write the student version of every assignment into release/")
    release.add_argument("--assignment", help="only this assignment")

    grade = commands.add_parser("grade", help="grade a folder of submissions")
    grade.add_argument("submissions", type=Path, help="folder laid out <student_id>/<assignment>/<notebook>.ipynb")
    grade.add_argument("--assignment", help="grade only this assignment")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--csv", type=Path, help="where to write the grades (default: grades.csv in the course)")
    grade.add_argument("--regrade", action="store_true", help="grade again even if a submission is unchanged")
    grade.add_argument("--unsafe", action="store_true",
                       help="run student code WITHOUT the sandbox (no isolation); only for code you trust")
    grade.add_argument("--memory-gib", type=float, default=2.0, help="memory limit per submission (default 2)")
    grade.add_argument("--processes", type=int, default=64, help="process limit per submission (default 64)")
    grade.add_argument("--notebook-seconds", type=float, default=300.0, help="time limit per notebook (default 300)")
    grade.add_argument("--cell-seconds", type=float, default=60.0, help="time limit per cell (default 60)")
    grade.add_argument("--disk-mib", type=float, default=1024.0,
                       help="size of the scratch folder per submission, in MiB (default 1024); files there count "
                            "as memory too, so the memory limit is raised by as much")
    grade.add_argument("--output-bytes", type=int, default=1024**2,
                       help="terminal output kept per submission before it is stopped (default 1 MiB)")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")

    feedback = commands.add_parser("feedback", help="write HTML feedback for every graded submission")
    feedback.add_argument("--assignment")
    feedback.add_argument("--student")

    validate = commands.add_parser("validate", help="grade one notebook before you submit it")
    validate.add_argument("notebook", type=Path)
    validate.add_argument("--assignment", help="which assignment (default: from the file name)")
    validate.add_argument("--unsafe", action="store_true", help="run without the sandbox")

    from autograder import similarity
    alike = commands.add_parser("similarity", help="report pairs of submissions whose answers are suspiciously alike")
    alike.add_argument("submissions", type=Path, nargs="?",
                       help="folder laid out <student_id>/<assignment>/<notebook>.ipynb (default: submitted/ in the course)")
    alike.add_argument("--assignment", help="only this assignment (default: every assignment submitted)")
    alike.add_argument("--out", type=Path, help="where to write <assignment>.html and .csv (default: similarity/ in the course)")
    alike.add_argument("--threshold", type=float, default=similarity.DEFAULT_THRESHOLD,
                       help=f"fraction of one side's own code found in the other that flags a pair "
                            f"(default {similarity.DEFAULT_THRESHOLD})")
    alike.add_argument("--noise", type=int, default=similarity.DEFAULT_NOISE,
                       help=f"shortest match that counts, in characters of tokenized code (default {similarity.DEFAULT_NOISE})")
    alike.add_argument("--min-match", type=int, default=similarity.DEFAULT_MIN_MATCH,
                       help=f"characters of tokenized code a flagged pair shares at least (default {similarity.DEFAULT_MIN_MATCH})")

    report = commands.add_parser("report", help="one page per assignment on what the class got right and wrong")
    report.add_argument("--assignment", help="only this assignment (default: every assignment graded)")
    report.add_argument("--out", type=Path, help="where to write <assignment>.html and .csv (default: report/ in the course)")
    report.add_argument("--similarity", type=Path,
                        help="where autograder similarity wrote its reports (default: similarity/ in the course)")
    return parser


def print_table(results, out=None):
    """The grades and the folders not graded, one line each, on ``out`` (standard output)."""
    out = out or sys.stdout
    rows = [("student", "assignment", "score", "max", "status")]
    rows += [(inert(r.student), r.assignment, *record.score_cells(r), r.status.text()) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] + "\n")


def positive(value, name, parser):
    if value <= 0:
        parser.error(f"{name} must be positive, received {value}")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        course = Course(args.course)
        if args.command == "release":
            for path in course.release([args.assignment] if args.assignment else None):
                print(f"released {path.relative_to(course.root)}")
        elif args.command == "grade":
            for name in ("jobs", "memory_gib", "processes", "notebook_seconds", "cell_seconds", "output_bytes",
                         "disk_mib"):
                positive(getattr(args, name), "--" + name.replace("_", "-"), parser)
            limits = Limits(memory_bytes=int(args.memory_gib * 2**30), pids=args.processes,
                            wall_seconds=args.notebook_seconds, cell_seconds=args.cell_seconds,
                            output_bytes=args.output_bytes, disk_bytes=int(args.disk_mib * 2**20))
            results = course.grade(args.submissions, args.assignment, args.jobs, args.csv, args.unsafe, limits,
                                   regrade=args.regrade, progress=not args.quiet)
            print_table(results)
            csv_path = args.csv or course.root / "grades.csv"
            not_graded = sum(r.status.kind == "not-graded" for r in results)
            print(f"\n{len(results) - not_graded} grades written to {csv_path}"
                  + (f", and {not_graded} folder(s) that could not be graded, with the reason" if not_graded else ""))
        elif args.command == "feedback":
            written = course.feedback(args.assignment, args.student)
            for path in written:
                print(f"wrote {path.relative_to(course.root)}")
        elif args.command == "validate":
            return validate(course, args)
        elif args.command == "similarity":
            from autograder import similarity
            out = args.out or course.root / "similarity"
            for report in similarity.run(course, args.submissions or course.root / "submitted", args.assignment, out,
                                         args.threshold, args.noise, args.min_match):
                print(f"{report.assignment}: {len(report.students)} submissions compared, "
                      f"{len(report.pairs)} {'pair' if len(report.pairs) == 1 else 'pairs'} flagged; wrote {out / (report.assignment + '.html')} and {out / (report.assignment + '.csv')}")
                for who, why in report.skipped:
                    print(f"  not compared: {inert(who)} ({inert(why)})")
        elif args.command == "report":
            from autograder import report
            for path in report.run(course, args.assignment, args.out, args.similarity):
                print(f"wrote {path}")
    except CourseError as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"autograder: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:        # Ctrl-C outside grading (grading catches its own)
        print("autograder: interrupted", file=sys.stderr)
        return 130
    return 0


def validate(course, args):
    """Grades one notebook in a throw-away folder, prints each function's verdict."""
    assignment = args.assignment or args.notebook.stem
    if assignment not in course.assignments():
        raise CourseError(f"cannot tell which assignment {args.notebook.name} is; pass --assignment "
                          f"(one of {', '.join(course.assignments())})")
    if not args.notebook.is_file():
        raise CourseError(f"no notebook at {args.notebook}")
    with tempfile.TemporaryDirectory() as folder:
        submissions = Path(folder) / "submissions"
        target = submissions / "you" / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        target.write_bytes(args.notebook.read_bytes())
        scratch_course = Path(folder) / "course"
        scratch_course.mkdir()
        (scratch_course / "solutions").symlink_to(course.solutions)
        result = Course(scratch_course).grade(submissions, assignment, jobs=1, csv_path=Path(folder) / "g.csv",
                                              unsafe=args.unsafe, progress=False)[0]
    # What a student sees: typed verdicts in fixed words (a notebook validated here may be a student's).
    for check in result.checks:
        mark = "passed" if check.passed else "FAILED"
        print(f"[{mark}] {check.points:g}/{check.max_points:g}  {check.function}: {check.student_text()}")
    print(f"\n{assignment}: {result.score:g} of {result.max_score:g} points; {result.status.student_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
