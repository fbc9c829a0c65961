"""Feedback a student can read, offline: ``feedback/<student>/<assignment>/<assignment>.html``.

nbgrader's ``generate_feedback`` still does the work (it reads the autograded notebook,
takes every score from the gradebook, so a grade an instructor changed in the formgrader
shows, copies ``timestamp.txt``, sets permissions, writes where ``release_feedback``
looks). We run it with our own template (``templates/autograder_feedback``, which
extends nbgrader's ``feedback`` template) and one preprocessor of our own, which

- puts a **summary** at the top of the page: for each graded function the points earned
  and possible, the first failing case in words (``hidden case 'T = 1': wrong values``) or
  that all cases passed, and any rule the answer broke (``by hand: no autodiff``), plus
  what happened to the notebook as a whole when it was not simply ``ok``;
- rewrites the verdict under each test cell from the **trusted grading state**
  (``.autograder/graded/<student>/<assignment>.json``, written by ``record``), never by
  running anything again.

**Nothing the submission chose reaches the page.** The runner and everything it reports
live in the sandbox, where the student's code sees the hidden arguments. So the page is
rendered from typed verdicts only (``autograder.verdict``): a case's label from the
manifest and its kind from a closed set (and, for "raised", the exception's type if it is
one of Python's built-in names), rule titles, what a visible case expected (built from the
reference alone) and fixed words for what happened to the run ("ran out of time", "a cell
raised an error"). No received shape, value, key, count, step, exit code or message; the
text from the sandbox is ``verdict.Untrusted`` and cannot be formatted. Test cells show
only the visible test call of the release notebook.

**Math is typeset by the course's own MathJax, inlined into the page.** The site vendors
MathJax 3 from npm (``book_support/vendor.py``, pinned by ``book_support/package-lock.json``).
Each feedback file must work alone, opened from disk: ``nbgrader release_feedback``
copies only the ``.html`` file, renamed to a checksum, into the exchange, so nothing placed
next to it (a ``mathjax/`` folder, font files) would reach the student. So the page
carries MathJax itself, as one inline script: the ``tex-svg-full.js`` component, because

- SVG output draws every glyph as a path: no font files to load, which CommonHTML
  output (``tex-chtml*``) needs (about twenty ``.woff`` files, fetched relative to the
  script's address, which an inline script does not have);
- the ``-full`` component bundles every TeX extension, so nothing is autoloaded (an
  inline script has no address to autoload from; MathJax would fall back to a path of
  its own choosing);
- the menu is switched off, so the speech engine, which MathJax fetches from a CDN when
  a reader turns it on, is never loaded.

It costs about 2.3 MB per feedback file (the notebook itself is a few hundred kB), read
from disk: no request leaves the student's machine. If the vendored MathJax is missing,
``vendor.py`` is run (``npm ci`` from the pinned lock file, as ``make book`` does); if it
is still missing, feedback stops with a message saying what to run. It never falls back
to a CDN.

**Nothing scrolls sideways.** ``feedback.css`` wraps messages and code (``pre-wrap``,
long words broken), hides the empty ``In [ ]:`` prompts and lets headings grow, so the
page reads on a 390 px phone screen. The one exception is the website's: a display
equation wider than the screen scrolls in its own box (MathJax 3 cannot break lines, and
scaled to fit it would be too small to read). Tested in Chromium from ``file://`` by ``tests/test_feedback.py``.
"""
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool

from autograder import checks as checks_module
from autograder import record as record_stage

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
TEMPLATE_NAME = "autograder_feedback"
CSS = HERE / "feedback.css"
ROOT = HERE.parents[1]                         # the course repository (book_support lives there)
VENDOR_SCRIPT = ROOT / "book_support" / "vendor.py"
MATHJAX = ROOT / "book_support" / "static" / "vendor" / "mathjax" / "tex-svg-full.js"

# MathJax 3's configuration: the TeX delimiters the homework notebooks use, no menu (it
# would offer the speech engine, which MathJax fetches from a CDN), SVG glyphs cached once
# per page. Code, outputs and the summary are never scanned for TeX.
MATHJAX_CONFIG = """window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
        processEscapes: true, processEnvironments: true},
  svg: {fontCache: 'global'},
  options: {enableMenu: false, ignoreHtmlClass: 'tex2jax_ignore'}
};"""


class FeedbackError(Exception):
    """Feedback cannot be written; the message says why and what to run."""


def mathjax_script(path=None, vendor_script=None):
    """The vendored MathJax component as text safe to put inside ``<script>``.

    Runs ``book_support/vendor.py`` when the file is missing; raises ``FeedbackError``
    saying what to run when it is still missing."""
    path = Path(path or MATHJAX)
    vendor_script = Path(vendor_script or VENDOR_SCRIPT)
    if not path.is_file() and vendor_script.is_file():
        print(f"feedback: {path.name} is not vendored yet; running {vendor_script.name}", file=sys.stderr)
        subprocess.run([sys.executable, str(vendor_script)], check=False)
    if not path.is_file():
        raise FeedbackError(
            f"the course's MathJax is missing ({path}), so feedback would show raw TeX; run "
            f"'{Path(sys.executable).name} book_support/vendor.py' in the course repository (or 'make book'), "
            f"which installs it from npm, pinned by book_support/package-lock.json, then write feedback again")
    text = path.read_text(encoding="utf-8")
    # Inside <script>, only "</script" and "<!--" mean something to the HTML parser; in
    # JavaScript strings and regular expressions "<\/" and "<\!" mean the same as before.
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
    return text.replace("<!--", "<\\!--")


# ---------------------------------------------------------------- the summary
# Rendered from typed verdicts only (autograder.verdict, autograder.judge.CheckResult,
# autograder.status.Status): case labels and points from the manifest, verdict kinds,
# built-in exception names, rule titles and fixed words. Text from the sandbox is
# ``verdict.Untrusted`` and formatting it raises, so it cannot reach a page.


def summary_rows(checks, result, scores=None):
    """One row per graded function, in the notebook's order: ``dict(grade_id, function,
    points, max_points, passed, case, rules)``: ``case`` is the verdict in fixed words
    (``CheckResult.student_text``), ``rules`` the titles of the rules broken; ``scores``
    (``{grade_id: points}`` from the gradebook) overrides the recorded points."""
    from autograder.judge import rule_title

    by_id = {c.grade_id: c for c in result.checks}
    rows = []
    for gid, check in checks.items():
        recorded = by_id.get(gid)
        points = recorded.points if recorded else 0.0
        if scores and scores.get(gid) is not None:
            points = float(scores[gid])
        max_points = recorded.max_points if recorded else float(check.points)
        rows.append({"grade_id": gid, "function": check.function, "points": points, "max_points": max_points,
                     "passed": points >= max_points, "case": recorded.student_text() if recorded else "not graded",
                     "first_failure": bool(recorded and not recorded.rules and not recorded.not_run
                                           and recorded.first_failure()),
                     "rules": [rule_title(r) for r in recorded.rules] if recorded else []})
    return rows


def _number(value):
    return f"{float(value):g}"


def summary_html(checks, result, scores=None):
    """The summary at the top of the page, as HTML (every text escaped, all of it trusted)."""
    rows = summary_rows(checks, result, scores)
    earned = sum(row["points"] for row in rows)
    possible = sum(row["max_points"] for row in rows)
    e = html.escape
    parts = ['<section id="autograder-summary" class="autograder-summary tex2jax_ignore">',
             f'<h2>Your grade: <span class="autograder-total">{_number(earned)} / {_number(possible)}</span></h2>']
    if result.status.kind != "ok" or result.status.notes:
        parts.append(f'<p class="autograder-status"><strong>What happened:</strong> '
                     f'{e(result.status.student_text())}</p>')
    parts.append('<ol class="autograder-functions">')
    for row in rows:
        state = "passed" if row["passed"] else "failed"
        lead = "First failing case: " if row["first_failure"] else ""
        parts.append(
            f'<li class="autograder-function autograder-{state}" data-grade-id="{e(row["grade_id"])}">'
            f'<p class="autograder-head"><a href="#{e(row["grade_id"])}"><code>{e(row["function"])}</code></a> '
            f'<span class="autograder-points">{_number(row["points"])} / {_number(row["max_points"])}</span></p>'
            f'<p class="autograder-case">{lead}{e(row["case"])}</p>')
        for rule in row["rules"]:
            parts.append(f'<p class="autograder-rule">Rule broken: {e(rule)}</p>')
        parts.append("</li>")
    parts.append("</ol>")
    parts.append('<p class="autograder-hidden-note">Hidden cases are named by their label; their code and '
                 'values stay with the grader. Run the visible checks in your notebook '
                 '(<code>python -m lectlib.homework check</code>) to see values.</p></section>')
    return "\n".join(parts)


# ---------------------------------------------------------------- nbgrader's converter, our template
class TrustedVerdicts(Preprocessor):
    """Replaces the output under each test cell by the verdict of the trusted grading
    state and puts the summary into ``resources['autograder']``. Runs after nbgrader's
    ``GetGrades``, so the summary's points are the gradebook's."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        data = resources["autograder"]
        checks, result = data["checks"], data["result"]
        by_id = {c.grade_id: c for c in result.checks}
        scores = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if cell.cell_type != "code" or gid not in checks:
                continue
            if meta.get("score") is not None:
                scores[gid] = meta["score"]
            recorded = by_id.get(gid)
            words = f"{checks[gid].function}: {recorded.student_text() if recorded else 'not graded'}"
            if recorded and recorded.passed:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=words + "\n")]
            else:
                cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=words,
                                                       traceback=[f"CheckFailed: {words}"])]
        data["summary_html"] = summary_html(checks, result, scores)
        return nb, resources


def _converter_class():
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    import nbgrader

    formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    nbgrader_templates = formgrader / "templates"
    bootstrap_css = formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css"

    class CourseFeedback(GenerateFeedback):
        """nbgrader's ``generate_feedback`` with this course's template and verdicts."""

        def __init__(self, page, **kwargs):
            super().__init__(**kwargs)
            self.page = page
            self.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, TrustedVerdicts]
            config = Config()
            config.HTMLExporter.template_name = TEMPLATE_NAME
            config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates)]
            # nbgrader's folder itself, so that our template can extend 'feedback/index.html.j2'.
            config.HTMLExporter.extra_template_paths = [str(bootstrap_css), str(nbgrader_templates)]
            self.update_config(config)

        def init_single_notebook_resources(self, notebook_filename):
            resources = super().init_single_notebook_resources(notebook_filename)
            student, assignment = resources["nbgrader"]["student"], resources["nbgrader"]["assignment"]
            resources["autograder"] = dict(self.page(student, assignment))
            return resources

    return CourseFeedback


def write_feedback(course, assignment=None, student=None):
    """Writes ``feedback/<student>/<assignment>/<assignment>.html`` for every graded
    submission (of ``assignment`` and ``student`` when given); returns the paths written.
    Raises ``FeedbackError`` when nothing is graded or MathJax is missing."""
    from nbgrader.utils import capture_log, temp_attrs

    graded = sorted(course.state_dir.glob("graded/*/*.json"))
    if not graded:
        raise FeedbackError("nothing is graded yet: run 'autograder grade SUBMISSIONS' first")
    chosen = [(state.parent.name, state.stem) for state in graded
              if (assignment is None or state.stem == assignment) and (student is None or state.parent.name == student)]
    if not chosen:
        raise FeedbackError(f"no graded submission of {assignment or 'any assignment'} by {student or 'anyone'}")
    script = mathjax_script()
    css = CSS.read_text(encoding="utf-8")
    manifests = {}

    def page(who, which):
        if which not in manifests:
            manifests[which] = checks_module.load(which)
        _, result = record_stage.load_state(course.state_dir, who, which)
        if result is None:
            raise FeedbackError(f"the grading state of {who}/{which} cannot be read; grade it again")
        return {"checks": manifests[which], "result": result, "mathjax_config": MATHJAX_CONFIG,
                "mathjax_script": script, "css": css}

    api = course.nbgrader_api()
    converter = _converter_class()
    written = []
    for who, which in chosen:
        with temp_attrs(api.coursedir, assignment_id=which, student_id=who):
            app = converter(page, coursedir=api.coursedir, parent=api)
            app.force = True
            outcome = capture_log(app)
        if not outcome["success"]:
            raise FeedbackError(f"nbgrader could not write feedback for {who}/{which}:\n"
                                f"{outcome.get('error') or outcome.get('log')}")
        written += sorted((course.feedback_dir / who / which).glob("*.html"))
    return written
