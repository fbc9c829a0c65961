"""``autograder report``: what the class got right and wrong, one page per assignment.

Read from the grading state (``.autograder/graded/<student>/<assignment>.json``: each
submission's GradeResult with its typed case verdicts, ``autograder.verdict``), nothing is
run again. For one assignment it writes ``<out>/<assignment>.html``, one page with no
scripts and nothing fetched (figures are inline SVG images with alt text), and
``<out>/<assignment>.csv``, the same tables in long form. The page shows:

- the distribution of scores (a histogram);
- per graded function, the share of students with full points;
- per hidden case (its label from the manifest), the share of students failing it among
  those whose function was judged on it (it ran and returned, raised or ran out of time),
  the worst first: the concept map of which edge the class misunderstands;
- per rule (``by hand: no autodiff``, ``no lectlib``, ...) who broke it, in which function;
- the submissions that did not run, and why;
- the pairs ``autograder similarity`` flagged (its CSV), linked to its page;
- grading time per notebook.

This is an instructor's page, but it is still made of what students chose: student ids
and what the sandbox reported are escaped (the template escapes everything), and text
from the sandbox (``Untrusted``) only appears through ``for_instructor``.

Tested in tests/test_report.py; timed in bench/report.py.
"""
import base64
import collections
import csv
import dataclasses
import io
import json
import os
from pathlib import Path
from urllib.parse import quote

from autograder.course import CourseError
from autograder.judge import GradeResult, rule_title
from autograder.verdict import CaseKind, CaseVerdict, Untrusted, inert, untrusted_from_json

# Kinds that say the function was judged on the case: it ran and its answer was compared,
# raised or ran out of time. The others (not written, not defined, not reached, forbidden,
# tampering) say nothing about the concept the case tests.
JUDGED = frozenset({CaseKind.PASSED, CaseKind.WRONG_VALUE, CaseKind.WRONG_SHAPE, CaseKind.WRONG_TYPE,
                    CaseKind.RAISED, CaseKind.TIMED_OUT})
RAN = ("ok", "forbidden")          # status kinds of a notebook that ran to its end (autograder.status)
DETAIL_CHARACTERS = 200            # of a status's detail on the page
CSV_FIELDS = ("assignment", "table", "function", "item", "count", "of", "share")


@dataclasses.dataclass(frozen=True)
class CheckRow:
    grade_id: str
    function: str
    points: float
    max_points: float
    cases: tuple          # CaseVerdict, in the manifest's order
    rules: tuple          # names of the rules the answer broke

    @property
    def full(self):
        return self.points >= self.max_points


@dataclasses.dataclass(frozen=True)
class Graded:
    """One submission's recorded result, as the report needs it."""
    student: str
    score: float
    max_score: float
    status: str           # the status kind, from a fixed set
    detail: str           # the status's detail, instructor text (escaped on the page)
    seconds: float
    checks: tuple


def instructor_text(value, limit=DETAIL_CHARACTERS):
    """Text for the instructor's page or CSV: ``Untrusted`` (and the grader's own
    ``InstructorText``) only through ``for_instructor``, anything else cut short and inert
    in a spreadsheet."""
    if isinstance(value, dict):
        value = untrusted_from_json(value) or json.dumps(value)
    if isinstance(value, Untrusted):
        return value.for_instructor(limit)
    text = " ".join(str(value or "").split())
    return inert(text[:limit] + "…" if len(text) > limit else text)


def parse_result(data):
    """A ``Graded`` from a state file's ``result`` (GradeResult JSON, read by the grader's
    own ``GradeResult.from_json``). Raises ``ValueError``, ``KeyError`` or ``TypeError`` on
    anything else."""
    result = GradeResult.from_json(data)
    checks = tuple(CheckRow(str(c.grade_id), str(c.function), float(c.points), float(c.max_points),
                            tuple(c.cases), tuple(str(rule) for rule in c.rules)) for c in result.checks)
    if not all(isinstance(case, CaseVerdict) for check in checks for case in check.cases):
        raise TypeError("a case verdict is not a CaseVerdict")
    return Graded(str(result.student), float(result.score), float(result.max_score), str(result.status.kind),
                  instructor_text(result.status.detail), float(result.seconds or 0.0), checks)


def load_results(state_dir, assignment):
    """``([Graded], [unreadable state file])`` of every graded submission of ``assignment``."""
    results, unreadable = [], []
    graded = Path(state_dir) / "graded"
    for path in sorted(graded.glob(f"*/{assignment}.json")):
        try:
            result = parse_result(json.loads(path.read_text())["result"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):   # not a GradeResult of this grader
            unreadable.append(path.parent.name)
            continue
        if result.student != path.parent.name:
            unreadable.append(path.parent.name)
            continue
        results.append(result)
    return results, unreadable


# ------------------------------------------------------------------ aggregation
@dataclasses.dataclass(frozen=True)
class CaseRow:
    function: str
    label: str
    failing: int
    judged: int
    kinds: tuple          # ((kind value, count), ...) of the failures, most common first

    @property
    def share(self):
        return self.failing / self.judged if self.judged else 0.0


@dataclasses.dataclass
class Summary:
    assignment: str
    results: list
    max_score: float
    functions: list       # (function, max points, students with full points, students)
    cases: list           # CaseRow, the worst first
    rules: list           # (rule, function, [students])
    not_run: list         # (student, status kind, detail)
    times: list           # (student, seconds) of the notebooks that ran, slowest first
    similarity: list      # rows of similarity/<assignment>.csv
    similarity_page: str | None
    unreadable: list


def summarize(assignment, results, similarity_rows=(), similarity_page=None, unreadable=()):
    """The report's tables from the graded ``results`` of one assignment."""
    results = sorted(results, key=lambda r: r.student)
    functions, order = {}, []
    cases = collections.OrderedDict()
    rules = collections.OrderedDict()
    for result in results:
        for check in result.checks:
            if check.function not in functions:
                functions[check.function] = [check.max_points, 0, 0]
                order.append(check.function)
            entry = functions[check.function]
            entry[1] += check.full
            entry[2] += 1
            for case in check.cases:
                if not case.hidden:
                    continue
                row = cases.setdefault((check.function, case.label), [0, 0, collections.Counter()])
                if case.kind in JUDGED:
                    row[1] += 1
                    if not case.passed:
                        row[0] += 1
                        row[2][case.kind.value] += 1
            for rule in check.rules:
                rules.setdefault((rule, check.function), []).append(result.student)
    position = {name: i for i, name in enumerate(order)}
    case_rows = [CaseRow(function, label, failing, judged, tuple(kinds.most_common()))
                 for (function, label), (failing, judged, kinds) in cases.items()]
    case_rows.sort(key=lambda row: (-row.share, -row.failing, position[row.function]))
    return Summary(
        assignment=assignment, results=results,
        max_score=max((r.max_score for r in results), default=0.0),
        functions=[(name, *functions[name]) for name in order],
        cases=case_rows,
        rules=[(rule, function, students) for (rule, function), students in rules.items()],
        not_run=[(r.student, r.status, r.detail) for r in results if r.status not in RAN],
        times=sorted(((r.student, r.seconds) for r in results if r.status not in ("missing", "unreadable")),
                     key=lambda item: -item[1]),
        similarity=list(similarity_rows), similarity_page=similarity_page, unreadable=list(unreadable))


def read_similarity(path, assignment):
    """The rows of ``autograder similarity``'s CSV for ``assignment`` (none if it has not run)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("assignment") == assignment]
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    for row in rows:
        try:
            row["score"] = float(row.get("score") or 0.0)
        except ValueError:
            row["score"] = 0.0
    return rows


# ------------------------------------------------------------------ figures
def _svg_image(figure):
    """``data:`` URI of the figure as SVG (text drawn as paths: no font is fetched)."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "autograder-report"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width=4.8, height=2.6):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def score_histogram(summary):
    """``(data URI, alt text)`` of the score distribution, one bar per point when points are few."""
    import numpy as np

    scores = np.array([r.score for r in summary.results])
    top = summary.max_score
    if top <= 40 and float(top).is_integer():
        edges = np.arange(-0.5, top + 1.0)
    else:
        edges = np.linspace(0.0, max(top, 1e-9), 21)
    counts, edges = np.histogram(scores, bins=edges)
    figure, axes = _figure()
    axes.bar((edges[:-1] + edges[1:]) / 2, counts, width=np.diff(edges) * 0.9, color="#4c72b0")
    axes.set_xlabel(f"score (out of {top:g})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    parts = [f"{(lo + hi) / 2:g}: {count}" if top <= 40 else f"{lo:.3g} to {hi:.3g}: {count}"
             for lo, hi, count in zip(edges[:-1], edges[1:], counts) if count]
    alt = (f"Histogram of the scores of {len(scores)} students out of {top:g} points "
           f"(median {np.median(scores):g}); students per score: " + "; ".join(parts) + ".")
    return _svg_image(figure), alt


def function_bars(summary):
    """``(data URI, alt text)``: per graded function, the share of students with full points."""
    names = [name for name, *_ in summary.functions]
    shares = [full / total if total else 0.0 for _, _, full, total in summary.functions]
    figure, axes = _figure(height=0.45 * len(names) + 0.9)
    positions = range(len(names))
    axes.barh(positions, shares, color="#55a868")
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of students with full points")
    alt = ("Bar chart: share of students with full points per graded function: "
           + "; ".join(f"{name} {share:.0%}" for name, share in zip(names, shares)) + ".")
    return _svg_image(figure), alt


def time_histogram(summary):
    """``(data URI, alt text)`` of grading time per notebook, or ``None`` when nothing ran."""
    import numpy as np
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    seconds = np.array([s for _, s in summary.times])
    if not len(seconds):
        return None
    figure, axes = _figure()
    low, high = max(seconds.min(), 0.01), max(seconds.max(), 0.02)
    if high / low > 20:          # a few notebooks that ran out of time would squash the rest into one bar
        axes.hist(np.clip(seconds, low, None), bins=np.geomspace(low, high * 1.001, 25), color="#8172b2")
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(ScalarFormatter())
        axes.xaxis.set_minor_formatter(NullFormatter())
    else:
        axes.hist(seconds, bins=20, color="#8172b2")
    axes.set_xlabel("seconds to grade one notebook")
    axes.set_ylabel("notebooks")
    axes.yaxis.get_major_locator().set_params(integer=True)
    alt = (f"Histogram of the time taken to grade each of {len(seconds)} notebooks: median "
           f"{np.median(seconds):.1f} s, 90th percentile {np.percentile(seconds, 90):.1f} s, "
           f"longest {seconds.max():.1f} s.")
    return _svg_image(figure), alt


# ------------------------------------------------------------------ output
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1em; max-width: 60em; color: #222;
       line-height: 1.4; overflow-wrap: break-word; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
figure { margin: 1em 0; } figure img { width: 100%; height: auto; max-width: 40em; display: block; }
figcaption { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
td, th { border-bottom: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th, td.number, td.word { white-space: nowrap; } td.number { text-align: right; }
td.who { overflow-wrap: anywhere; min-width: 6em; }
.bar { display: inline-block; height: 0.7em; background: #c44e52; vertical-align: middle; }
.note { color: #555; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Class report: {{ s.assignment }}</title><style>{{ style }}</style></head><body>
<h1>Class report: {{ s.assignment }}</h1>
<p>{{ s.results | length }} graded submissions, {{ submitted }} of them submitted; median score
{{ "%g" | format(median) }} of {{ "%g" | format(s.max_score) }}. Made from the recorded grades (nothing was run
again); grades.csv has every student's row, <a href="{{ csv_name }}">{{ csv_name }}</a> these tables.</p>
{% if s.unreadable %}<p class="note">Grading state that could not be read (grade these students again):
{{ s.unreadable | join(", ") }}</p>{% endif %}

<h2 id="scores">Scores</h2>
<figure><img src="{{ scores[0] }}" alt="{{ scores[1] }}"><figcaption>Students per score.</figcaption></figure>

<h2 id="functions">Full points per function</h2>
<figure><img src="{{ functions[0] }}" alt="{{ functions[1] }}"></figure>
<div class="scroll"><table><tr><th>function</th><th>points</th><th>full points</th></tr>
{% for name, points, full, total in s.functions %}<tr><td><code>{{ name }}</code></td>
<td class="number">{{ "%g" | format(points) }}</td>
<td class="number">{{ "%.0f%%" | format(100 * full / total if total else 0) }}<br>{{ full }} / {{ total }}</td></tr>
{% endfor %}</table></div>

<h2 id="cases">Hidden cases failed</h2>
<p>Per hidden case, the share of students failing it among those whose function was judged on it (it ran and
returned a value, raised or ran out of time; not written, not reached or forbidden answers are not counted). The
worst first: the edges the class misunderstands.</p>
{% if failed %}<div class="scroll"><table><tr><th>hidden case</th><th>failing</th><th>how</th></tr>
{% for row in failed %}<tr><td><code>{{ row.function }}</code><br>{{ row.label }}</td>
<td class="number"><span class="bar" style="width: {{ "%.1f" | format(3 * row.share) }}em"></span>
{{ "%.0f%%" | format(100 * row.share) }}<br>{{ row.failing }} / {{ row.judged }}</td>
<td>{% for kind, count in row.kinds %}{{ kind }} {{ count }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endfor %}</table></div>{% elif s.cases %}<p>No student whose function was judged failed a hidden case.</p>
{% else %}<p>No hidden case verdicts were recorded.</p>{% endif %}
{% if failed and s.cases | length > failed | length %}<p class="note">No student failed the other
{{ s.cases | length - failed | length }} hidden cases ({{ csv_name }} lists every case).</p>{% endif %}

<h2 id="rules">Forbidden uses</h2>
{% if s.rules %}<div class="scroll"><table><tr><th>rule</th><th>function</th><th>students</th><th>who</th></tr>
{% for rule, function, students in s.rules %}<tr><td>{{ rule_title(rule) }}</td><td><code>{{ function }}</code></td>
<td class="number">{{ students | length }}</td><td class="who">{{ students | join(", ") }}</td></tr>
{% endfor %}</table></div>{% else %}<p>No answer broke a rule.</p>{% endif %}

<h2 id="not-run">Submissions that did not run</h2>
{% if s.not_run %}<div class="scroll"><table><tr><th>student</th><th>status</th><th>why</th></tr>
{% for student, kind, detail in s.not_run %}<tr><td class="who">{{ student }}</td><td class="word">{{ kind }}</td>
<td>{{ detail }}</td></tr>
{% endfor %}</table></div>{% else %}<p>Every submitted notebook ran to its end.</p>{% endif %}

<h2 id="similarity">Similar answers</h2>
{% if s.similarity %}<p>Pairs flagged by <code>autograder similarity</code>{% if s.similarity_page %}; read both
sides on <a href="{{ s.similarity_page }}">its report</a>{% endif %}. Similar is not proof of copying.</p>
<div class="scroll"><table><tr><th>first</th><th>second</th><th>kind</th><th>score</th></tr>
{% for row in s.similarity %}<tr><td class="who">{{ row.first }}</td><td class="who">{{ row.second }}</td>
<td>{{ row.kind }}</td>
<td class="number">{{ "%.0f%%" | format(100 * row.score) }}</td></tr>
{% endfor %}</table></div>
{% elif s.similarity_page %}<p>No pair was flagged (<a href="{{ s.similarity_page }}">the similarity report</a>).</p>
{% else %}<p class="note">No similarity report for this assignment; run <code>autograder similarity</code>
first.</p>{% endif %}

<h2 id="time">Grading time</h2>
{% if times %}<figure><img src="{{ times[0] }}" alt="{{ times[1] }}">
<figcaption>Notebooks per grading time.</figcaption></figure>
<div class="scroll"><table><tr><th>slowest notebooks</th><th>seconds</th></tr>
{% for student, seconds in s.times[:5] %}<tr><td class="who">{{ student }}</td>
<td class="number">{{ "%.1f" | format(seconds) }}</td></tr>
{% endfor %}</table></div>{% else %}<p>No notebook ran.</p>{% endif %}
</body></html>
"""


def render(summary, csv_name):
    """The page's HTML. Everything is escaped by the template (``autoescape``)."""
    import jinja2
    import numpy as np

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    scores = [r.score for r in summary.results]
    return environment.from_string(PAGE).render(
        s=summary, style=STYLE, csv_name=csv_name, rule_title=rule_title,
        failed=[row for row in summary.cases if row.failing], median=float(np.median(scores)) if scores else 0.0,
        submitted=sum(r.status not in ("missing",) for r in summary.results),
        scores=score_histogram(summary), functions=function_bars(summary), times=time_histogram(summary))


def csv_rows(summary):
    """The page's tables in long form: ``(table, function, item, count, of, share)``."""
    total = len(summary.results)
    rows = [("function", name, "full points", full, of, full / of if of else 0.0)
            for name, _, full, of in summary.functions]
    rows += [("hidden case", row.function, row.label, row.failing, row.judged, row.share) for row in summary.cases]
    rows += [("rule", function, rule, len(students), total, len(students) / total) for rule, function, students
             in summary.rules]
    for kind, count in collections.Counter(kind for _, kind, _ in summary.not_run).most_common():
        rows.append(("did not run", "", kind, count, total, count / total))
    return rows


def write_csv(summary, path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for table, function, item, count, of, share in csv_rows(summary):
            writer.writerow([summary.assignment, table, inert(function), inert(item), count, of, f"{share:.3f}"])


def write_report(summary, out):
    """Writes ``<out>/<assignment>.html`` and ``.csv``; returns the two paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    page, table = out / f"{summary.assignment}.html", out / f"{summary.assignment}.csv"
    write_csv(summary, table)
    page.write_text(render(summary, table.name), encoding="utf-8")
    return page, table


def run(course, assignment=None, out=None, similarity_dir=None):
    """Writes the report of ``assignment`` (or of every assignment with grades); returns
    the paths written. ``CourseError`` when there is nothing to report."""
    out = Path(out) if out else course.root / "report"
    similarity_dir = Path(similarity_dir) if similarity_dir else course.root / "similarity"
    assignments = course.assignments()
    if assignment is not None and assignment not in assignments:
        raise CourseError(f"unknown assignment {assignment!r}; the course has {', '.join(assignments)}")
    written = []
    for name in [assignment] if assignment else assignments:
        results, unreadable = load_results(course.state_dir, name)
        if not results:
            if assignment:
                raise CourseError(f"no graded submissions of {name} in {course.state_dir}; run autograder grade first")
            continue
        page = similarity_dir / f"{name}.html"
        link = quote(os.path.relpath(page, out.resolve())) if page.is_file() else None
        summary = summarize(name, results, read_similarity(similarity_dir / f"{name}.csv", name), link, unreadable)
        written += write_report(summary, out)
    if not written:
        raise CourseError(f"no graded submissions in {course.state_dir}; run autograder grade first")
    return written
