"""``autograder similarity``: pairs of submissions whose answers are suspiciously alike.

The comparison is ``copydetect``'s (winnowing fingerprints, as in MOSS): each document is
tokenized by Pygments, every name becomes ``V``/``F``, strings ``S``, comments and
whitespace go, and the document's fingerprints are the hashes of every run of ``noise``
characters of what is left. Two documents match where they share fingerprints; a
document's score against another is the fraction of its own fingerprinted code that the
other covers (renaming variables, re-indenting, re-commenting or reordering functions
changes nothing of that).

What is compared, for one assignment:

- each student's **answers**: the cells whose grade id is an answer cell (nbgrader
  ``solution: true``) of the release notebook, read with the grader's untrusted reader
  (``autograder.read``), joined in the release's order;
- with the **starter code** (the release notebook's answer cells: signatures, docstrings,
  ``raise NotImplementedError()``) as boilerplate: its fingerprints are removed from every
  document, so an untouched notebook has nothing left to match;
- every pair of students, and every student's answer cells, one by one, against each file
  of the course's own library (``lectlib/**/*.py``), which the students were given.

A pair is flagged when its score reaches ``threshold`` and the shared code is at least
``min_match`` characters of tokenized code (so that two one-line answers that can only be
written one way do not count). For two students the score is the larger of the two
fractions (a student who copied half of the other's work has a high fraction); for a
student against a library file it is the fraction of that answer cell found in the file
(the file itself is long). The defaults were measured on the course's own notebooks (the
comment above ``DEFAULT_NOISE``, and README's instructor section).

Output: ``<out>/<assignment>.html`` (the flagged pairs side by side, the matching regions
highlighted; one self-contained page, no scripts and nothing fetched) and
``<out>/<assignment>.csv`` (one row per flagged pair).
"""
import csv
import dataclasses
import html
import io
import itertools
from pathlib import Path

import numpy as np

from autograder import read as read_stage
from autograder.status import Status
from autograder.course import CourseError
from autograder.plan import cell_kinds

# Measured on the course's own notebooks (tests/test_similarity.py builds them; README,
# "Similar answers", has the table): the reference solutions against differently written
# correct variants of "scans", "losses" and "gated" score at most 0.46 / 0.33 / 0.25 / 0.09
# with noise 15 / 20 / 25 / 30; copies with renamed variables and reordered helpers score
# 1.00 at every noise. Against the library, the reference answers that follow the lecture's
# equations (gru_step: 0.92 of it, 123 characters, in lectlib/cells/gru.py) share at most
# 123 characters; an answer pasted from lectlib.scan shares 374.
DEFAULT_NOISE = 25          # characters of tokenized code in one fingerprint (copydetect's k, and its default)
DEFAULT_THRESHOLD = 0.5     # fraction of a document's own code found in the other
DEFAULT_MIN_MATCH = 150     # characters of tokenized code shared, at least
MAX_ANSWER_CHARS = 100_000  # of one submission's answers; more is cut (and the report says so)
LANGUAGE = "python"


@dataclasses.dataclass
class Document:
    """One side of a comparison: a student's answers or a library file."""
    name: str                 # student id, or ``lectlib/cells/gru.py``
    kind: str                 # "student", "answer" (one answer cell) or "source"
    text: str
    fingerprint: object       # copydetect CodeFingerprint
    answer: str | None = None  # the answer cell's grade id, for kind "answer"
    cut: bool = False          # the text was longer than MAX_ANSWER_CHARS and was cut

    @property
    def own_chars(self):
        """Characters of tokenized code that carry fingerprints (starter code removed)."""
        return int(self.fingerprint.token_coverage)


@dataclasses.dataclass
class Pair:
    assignment: str
    first: Document
    second: Document
    score: float              # what is compared with the threshold
    fractions: tuple          # (fraction of first found in second, of second in first)
    shared: int               # characters of tokenized code shared (in the first)
    slices: tuple             # copydetect's (2, n) start/end arrays in each raw text

    @property
    def kind(self):
        return "source" if self.second.kind == "source" else "student"

    @property
    def first_label(self):
        return self.first.name if self.first.kind == "student" else f"{self.first.name} ({self.first.answer})"


@dataclasses.dataclass
class Report:
    assignment: str
    students: list            # ids compared
    skipped: list             # (student, why) not compared: unreadable, not a student's folder
    pairs: list               # flagged Pairs, highest score first
    compared: int             # number of comparisons made
    settings: dict
    missing: list = dataclasses.field(default_factory=list)   # students with no notebook for it
    documents: list = dataclasses.field(default_factory=list)  # the students' Documents


class SimilarityError(CourseError):
    """The comparison cannot run; the message says why."""


def fingerprint(name, text, noise, boilerplate=frozenset()):
    """copydetect's fingerprint of ``text`` (Python source) with every fingerprint kept
    (window 1, so the result does not depend on Python's per-process string hashing),
    less the fingerprints in ``boilerplate``.

    The boilerplate is removed here rather than by copydetect: copydetect 0.5.0 removes it
    with ``numpy.intersect1d(..., assume_unique=True)`` on a hash list that holds every
    repeated fingerprint, which also deletes fingerprints that merely occur twice in the
    document (code a student repeats, such as the gates of a GRU)."""
    from copydetect.detector import CodeFingerprint      # imported when used: it brings matplotlib
    from copydetect.utils import get_token_coverage

    code = CodeFingerprint(name, k=noise, win_size=1, language=LANGUAGE, fp=io.StringIO(text))
    if boilerplate:
        code.hashes = code.hashes - boilerplate
        code.hash_idx = {h: where for h, where in code.hash_idx.items() if h not in boilerplate}
        code.token_coverage = get_token_coverage(code.hash_idx, noise, len(code.filtered_code))
    return code


def boilerplate_hashes(texts, noise):
    """The fingerprints of the starter code, as a set: of each starter cell, and of the
    cells joined as a student's answers are (``join_answers``), so that an untouched
    notebook leaves nothing, not even where one cell meets the next."""
    hashes = set(fingerprint("starter", join_answers(texts), noise).hashes)
    for text in texts:
        hashes |= fingerprint("starter", text, noise).hashes
    return frozenset(hashes)


def join_answers(sources):
    """One document of a submission's answer cells, in the release's order."""
    return "\n\n".join(sources)[:MAX_ANSWER_CHARS]


def answer_ids(release_notebook):
    """``[(grade_id, starter source)]`` of the release notebook's answer cells, in order."""
    return [(gid, source) for gid, kind, source in cell_kinds(release_notebook) if kind == "answer" and gid]


def student_answers(notebook, ids):
    """``{grade_id: source}`` of a student's answer cells (the grader's ``read.answers``)."""
    return read_stage.answers(notebook, set(ids))


def library_sources(library=None):
    """``{"lectlib/<path>": text}`` of the course library's Python files (``lectlib/**/*.py``
    of the ``lectlib`` this grader imports, the package the students were given, unless
    ``library`` names another folder)."""
    if library is None:
        import lectlib

        library = Path(lectlib.__file__).parent
    library = Path(library)
    sources = {}
    for path in sorted(library.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        sources[f"lectlib/{path.relative_to(library).as_posix()}"] = path.read_text(encoding="utf-8")
    return sources


def compare(assignment, first, second):
    """A ``Pair`` (unscored: score is the larger fraction) of two documents."""
    from copydetect.detector import compare_files

    with np.errstate(divide="ignore", invalid="ignore"):
        shared, fractions, slices = compare_files(first.fingerprint, second.fingerprint)
    fractions = tuple(float(f) if np.isfinite(f) else 0.0 for f in fractions)
    return Pair(assignment, first, second, max(fractions), fractions, int(shared), slices)


def check_settings(threshold, noise, min_match):
    if not 0 < threshold <= 1:
        raise SimilarityError(f"--threshold is a fraction of the code, between 0 and 1; received {threshold}")
    if not isinstance(noise, int) or noise < 5:
        raise SimilarityError(f"--noise is a number of characters of tokenized code, at least 5; received {noise}")
    if not isinstance(min_match, int) or min_match < noise:
        raise SimilarityError(f"--min-match must be at least --noise ({noise}); received {min_match}")


def documents(assignment, release_notebook, submissions, noise=DEFAULT_NOISE):
    """``(students, cells)``: one ``Document`` of each student's answers (kind "student"),
    and one of each non-empty answer cell (kind "answer"), the starter code removed from
    both. ``submissions``: ``{student: notebook}``."""
    starters = answer_ids(release_notebook)
    if not starters:
        raise SimilarityError(f"{assignment}: the release notebook has no answer cells to compare")
    ids = [gid for gid, _ in starters]
    boilerplate = boilerplate_hashes([source for _, source in starters], noise)
    students, cells = [], []
    for student in sorted(submissions):
        answers = student_answers(submissions[student], ids)
        whole = "\n\n".join(answers.get(gid, "") for gid in ids)
        text = join_answers([whole])
        students.append(Document(student, "student", text, fingerprint(student, text, noise, boilerplate),
                                 cut=len(whole) > len(text)))
        for gid in ids:
            source = answers.get(gid, "")[:MAX_ANSWER_CHARS]
            if source.strip():
                cells.append(Document(student, "answer", source, fingerprint(f"{student}/{gid}", source, noise,
                                                                             boilerplate), gid))
    return students, cells


def compare_assignment(assignment, release_notebook, submissions, library, threshold=DEFAULT_THRESHOLD,
                       noise=DEFAULT_NOISE, min_match=DEFAULT_MIN_MATCH):
    """Compares every pair of submissions of one assignment, and each answer with the library.

    ``submissions``: ``{student: notebook}`` (readable notebooks); ``library``:
    ``{relative path: text}``. Returns a ``Report`` (``skipped`` left empty)."""
    check_settings(threshold, noise, min_match)
    students, cells = documents(assignment, release_notebook, submissions, noise)
    sources = [Document(path, "source", text, fingerprint(path, text, noise)) for path, text in library.items()]

    flagged, compared = [], 0
    for first, second in itertools.combinations(students, 2):
        compared += 1
        pair = compare(assignment, first, second)
        if pair.score >= threshold and pair.shared >= min_match:
            flagged.append(pair)
    for cell in cells:
        for source in sources:
            compared += 1
            pair = compare(assignment, cell, source)
            pair.score = pair.fractions[0]        # how much of the answer is in the library file
            if pair.score >= threshold and pair.shared >= min_match:
                flagged.append(pair)
    flagged.sort(key=lambda p: (-p.score, p.first.name, p.second.name))
    settings = {"threshold": threshold, "noise": noise, "min_match": min_match}
    return Report(assignment, [d.name for d in students], [], flagged, compared, settings, documents=students)


def read_submissions(folder, assignment, course_assignments):
    """``({student: notebook}, [(name, why it was not compared)], [students who submitted
    nothing])`` for one assignment, read with the grader's bounded, untrusted reader."""
    work, not_graded = read_stage.find_submissions(folder, course_assignments, assignment)
    notebooks, skipped, missing = {}, [(entry.name, entry.reason) for entry in not_graded], []
    root = Path(folder).resolve()
    for item in work:
        if item.relative is None:
            if isinstance(item.note, Status) and item.note.text() == "missing: no notebook was submitted":
                missing.append(item.student)
            else:
                skipped.append((item.student, str(item.note)))
            continue
        submission = read_stage.read_submission(root, item.relative)
        if submission.notebook is None:
            skipped.append((item.student, submission.problem.text()))
        else:
            notebooks[item.student] = submission.notebook
    return notebooks, skipped, missing


def run(course, submissions, assignment=None, out=None, threshold=DEFAULT_THRESHOLD, noise=DEFAULT_NOISE,
        min_match=DEFAULT_MIN_MATCH):
    """Writes ``<out>/<assignment>.html`` and ``.csv`` for every assignment submitted (or
    only ``assignment``); returns the ``Report`` of each."""
    check_settings(threshold, noise, min_match)
    submissions = Path(submissions)
    try:
        work, _ = course.find_work(submissions, assignment)
    except CourseError as exc:
        raise SimilarityError(str(exc)) from None
    course_assignments = course.assignments()
    # the assignments that some student has a folder for, as grading chooses them
    chosen = [assignment] if assignment else [a for a in course_assignments if any(w.assignment == a for w in work)]
    if not chosen:
        raise SimilarityError(f"no submissions in {submissions} (expected <student_id>/<assignment>/<assignment>.ipynb "
                              f"for one of {', '.join(course_assignments)})")
    out = Path(out) if out else course.root / "similarity"
    library = library_sources()
    reports = []
    for name in chosen:
        if not (course.release_dir / name / f"{name}.ipynb").exists():
            course.release([name])
        notebooks, report_skipped, missing = read_submissions(submissions, name, course_assignments)
        report = compare_assignment(name, course.release_notebook(name), notebooks, library, threshold, noise,
                                    min_match)
        report.skipped, report.missing = report_skipped, missing
        try:
            out.mkdir(parents=True, exist_ok=True)
            write_csv(report, out / f"{name}.csv")
            write_html(report, out / f"{name}.html")
        except OSError as exc:
            raise SimilarityError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
        reports.append(report)
    return reports


# ------------------------------------------------------------------ output
CSV_FIELDS = ("assignment", "first", "second", "kind", "answer", "score", "first_fraction", "second_fraction",
              "shared_chars")


def write_csv(report, path):
    """One row per flagged pair: the two students (or the student and the library file)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for pair in report.pairs:
            writer.writerow([pair.assignment, pair.first.name, pair.second.name, pair.kind, pair.first.answer or "",
                             f"{pair.score:.3f}", f"{pair.fractions[0]:.3f}", f"{pair.fractions[1]:.3f}", pair.shared])


def highlighted(document, slices, css_class, truncate=-1):
    """The document's text as HTML, the matching regions in ``<mark class=css_class>``."""
    from copydetect.utils import highlight_overlap

    if slices is None or len(slices) == 0 or np.asarray(slices).size == 0:
        return html.escape(document.text)
    text, _ = highlight_overlap(document.text, np.asarray(slices), f"<mark class='{css_class}'>", "</mark>",
                                truncate=truncate, escape_html=True)
    return text


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table.summary { border-collapse: collapse; margin: 1em 0; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
section.pair { border-top: 2px solid #888; margin-top: 2em; padding-top: 0.5em; }
div.sides { display: flex; gap: 1em; }
div.side { flex: 1 1 0; min-width: 0; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85em; }
mark.first { background: #ffc7c7; }
mark.second { background: #bff0c4; }
p.note { color: #555; }
"""


def write_html(report, path):
    """One self-contained page: settings, the flagged pairs in a table, then each pair side
    by side with the shared code highlighted. No scripts, no external style sheets."""
    e = html.escape
    s = report.settings
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>Similarity: {e(report.assignment)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Similar answers: {e(report.assignment)}</h1>",
        f"<p>{len(report.students)} submissions compared with each other and with the course library "
        f"(<code>lectlib</code>), the starter code removed; {report.compared} comparisons. A pair is listed when "
        f"at least {s['threshold']:.0%} of one side's own code is found in the other and they share at least "
        f"{s['min_match']} characters of tokenized code (noise {s['noise']}). Similar is not proof of copying: "
        f"read both sides.</p>",
    ]
    if report.skipped:
        parts.append("<p class='note'>Not compared: " + "; ".join(f"{e(who)} ({e(why)})" for who, why in report.skipped)
                     + "</p>")
    cut = [d.name for d in report.documents if d.cut]
    if cut:
        parts.append(f"<p class='note'>Answers longer than {MAX_ANSWER_CHARS} characters, compared up to there: "
                     + ", ".join(e(who) for who in cut) + "</p>")
    if report.missing:
        parts.append("<p class='note'>Nothing submitted: " + ", ".join(e(who) for who in report.missing) + "</p>")
    if not report.pairs:
        parts.append("<p><strong>No pair reached the threshold.</strong></p>")
    else:
        parts.append("<table class='summary'><tr><th>#</th><th>first</th><th>second</th><th>score</th>"
                     "<th>fractions</th><th>shared</th></tr>")
        for i, pair in enumerate(report.pairs, 1):
            parts.append(f"<tr><td><a href='#pair-{i}'>{i}</a></td><td>{e(pair.first_label)}</td>"
                         f"<td>{e(pair.second.name)}</td><td>{pair.score:.0%}</td>"
                         f"<td>{pair.fractions[0]:.0%} / {pair.fractions[1]:.0%}</td><td>{pair.shared}</td></tr>")
        parts.append("</table>")
    for i, pair in enumerate(report.pairs, 1):
        truncate = 10 if pair.second.kind == "source" else -1
        first_html = highlighted(pair.first, pair.slices[0], "first")
        second_html = highlighted(pair.second, pair.slices[1], "second", truncate)
        parts.append(
            f"<section class='pair' id='pair-{i}'><h2>{i}. {e(pair.first_label)} and {e(pair.second.name)}: "
            f"{pair.score:.0%}</h2><div class='sides'>"
            f"<div class='side'><h3>{e(pair.first_label)} ({pair.fractions[0]:.0%} of it matches)</h3>"
            f"<pre>{first_html}</pre></div>"
            f"<div class='side'><h3>{e(pair.second.name)} ({pair.fractions[1]:.0%} of it matches)</h3>"
            f"<pre>{second_html}</pre></div></div></section>")
    parts.append("</body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
