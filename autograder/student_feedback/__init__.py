"""Feedback a student can read, offline: ``feedback/<student>/<assignment>/<assignment>.html``.

nbgrader's ``generate_feedback`` still does the work (it reads the autograded notebook,
takes every score from the gradebook, so a grade an instructor changed in the formgrader
shows, copies ``timestamp.txt``, sets permissions, writes where ``release_feedback``
looks). We run it with our own template (``templates/autograder_feedback``, which
extends nbgrader's ``feedback`` template) and one preprocessor of our own, which

- puts a **summary** at the top of the page: for each graded function the points earned
  and possible, the first failing case in words (``hidden case 'T = 1': the result has
  the right shape but wrong values``) or that all cases passed, and any rule the answer
  broke (``uses jax.grad (line 2); this exercise is by hand``), plus what happened to the
  notebook as a whole when it was not simply ``ok``;
- rewrites the verdict under each test cell from the **trusted grading state**
  (``.autograder/graded/<student>/<assignment>.json``, written by ``record``), never by
  running anything again.

**Hidden cases are named, never shown.** The verdicts name a hidden case by its label and
describe a wrong result without numbers (``lectlib.homework.compare`` with
``show_values=False``). But the runner and everything it reports live in the sandbox,
where the student's code sees the hidden arguments, so any text that came from there may
carry them (``raise ValueError(repr(xs))``, a forged step or rule message). The page shows
such text only in fixed words: an exception's type if it is one of Python's own (its
message is dropped, for visible cases too: the code may have kept an earlier hidden
case's arguments), the step a stopped run reached only as ``cell N`` or a real grade id,
errors in the student's own cells as their number and the first one's cell and type, a
forbidden use as the rule's own forbidden name (``jax.grad``, ``lectlib``). Test cells
show only the visible test call of the release notebook.

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
import builtins
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
# The runner and everything it reports live in the sandbox, under the student's control,
# where the hidden arguments are: any text it sent may carry them. The feedback shows such
# text only when it is one of a fixed set of words (an exception's type is named only if
# it is one of Python's own or the grader's), and otherwise says that something was there.
KNOWN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                             if isinstance(value, type) and issubclass(value, BaseException)) | {"ForbiddenUse"}
TRUSTED_STEP = re.compile(r"cell \d{1,6}|start-up")


def _reasons(check):
    return [rule.reason for rule in check.rules]


def _strip_function(message, function):
    prefix = f"{function}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def safe_message(check, message, status=None):
    """``message`` (a verdict of ``check``) as the student may see it.

    A verdict on a case is ``"<function>: <visible|hidden> case '<label>': <what>"``. ``what``
    is kept when it is ours: a comparison (it never shows a hidden case's values), ``not
    written yet``, ``not reached: <status>`` (the status cleaned by ``safe_status_text``).
    Otherwise it is the text of an exception the student's code raised in the sandbox,
    where it could have seen hidden arguments (of this case, or stashed from an earlier
    check): only the exception's type is kept. A verdict that is the whole submission's
    status (nothing was graded) is cleaned as the status is."""
    if status is not None and message == status.text():
        head = status.kind + (f": {safe_status_text(status.detail, status.kind)}" if status.detail else "")
        return "; ".join([head] + [safe_note(note, check.rules) for note in status.notes])
    for case in check.cases:
        head = f"{check.function}: {'hidden' if case.hidden else 'visible'} case '{case.label}': "
        if not message.startswith(head):
            continue
        what = message[len(head):]
        if what.startswith(("the result", "not written yet")):
            return message
        if what.startswith("not reached: "):
            return head + "not reached: " + safe_status_text(what[len("not reached: "):])
        kind = re.match(r"([A-Za-z_][\w.]*)(?::|$)", what)
        name = kind.group(1) if kind and kind.group(1) in KNOWN_EXCEPTIONS else "an exception"
        where = "run the visible test in your notebook to see it" if not case.hidden else "not shown for a hidden case"
        return f"{head}raised {name} (its message: {where})"
    return safe_rule_message(check, message)


def safe_rule_message(check, message):
    """A rule verdict ``"<function>: uses <name> (line N); <reason>"`` with ``<name>``
    replaced by the rule's own forbidden name it falls under (it may have been reported by
    the runner, from inside the sandbox, and so carry anything)."""
    match = re.fullmatch(re.escape(f"{check.function}: uses ") + r"(.*?)" + WHERE + "; (.*)", message)
    if not match:
        return message
    used, line, reason = match.group(1), match.group(2) or "", match.group(3)
    named = _forbidden_name(used, [rule for rule in check.rules if rule.reason == reason])
    return f"{check.function}: uses {named or 'something this exercise forbids'}{line}; {reason}"


def _forbidden_name(used, rules):
    """The forbidden name (a rule's own words, e.g. ``jax.grad``, ``lectlib``) that the
    reported ``used`` falls under, or ``None``."""
    if not DOTTED.fullmatch(used):
        return None
    return next((name for name in (rule.matches(used) for rule in rules) if name), None)


def _grade_ids():
    return {gid for assignment in checks_module.ASSIGNMENTS for gid in checks_module.load(assignment)}


# Where judge says a forbidden use happened: " (line 2)", " (line 2 of cell 7)", " (cell 7)".
WHERE = r"( \((?:line \d{1,6}(?: of cell \d{1,6})?|cell \d{1,6})\))?"
DOTTED = re.compile(r"[A-Za-z_]\w{0,40}(\.[A-Za-z_]\w{0,40}){0,5}")


def safe_note(note, rules):
    """A status note as the student may see it: a use of something forbidden outside the
    graded functions (``cell 4: uses jax.grad (line 2); <reason>``) names it only when it
    falls under a rule of the assignment; other notes as ``safe_status_text`` leaves them."""
    match = re.fullmatch(r"(cell \d{1,6}: )?uses (.*?)" + WHERE + "; (.*)", note)
    if match:
        named = _forbidden_name(match.group(2), rules)
        return (f"{match.group(1) or ''}uses {named or 'something this assignment forbids'}"
                f"{match.group(3) or ''}; {match.group(4)}")
    return safe_status_text(note)


RUN_KINDS = ("timeout", "memory", "disk", "output-limit", "process-limit", "crashed")


def safe_status_text(text, kind=None):
    """``text`` (a status detail or note; ``kind`` the status's kind, else read from a
    ``"<kind>: "`` prefix) without what the runner reported in words: the errors of the
    student's own cells only as their number, and, for what stopped a run, the step it
    reached only when it reads ``cell N`` or ``check <grade id>``."""
    errors = re.match(r"errors in (\d+) cells? \((?:cell (\d{1,6}): ([A-Za-z_]\w*))?", text)
    if errors:
        # judge writes "errors in N cells (cell <number>: <error>; ...)"; the first cell's
        # number is the grader's (an integer it checked), the error's type is shown if known.
        count = int(errors.group(1))
        first = ""
        if errors.group(2):
            kind = errors.group(3) if errors.group(3) in KNOWN_EXCEPTIONS else "an exception"
            first = f"{'the first, ' if count > 1 else ''}cell {int(errors.group(2))}, raised {kind}; "
        return (f"errors in {count} cell{'s' if count > 1 else ''} ({first}run your notebook from the top to see "
                f"{'them' if count > 1 else 'it'})")

    def keep(match):
        inside = match.group(1)
        if (TRUSTED_STEP.fullmatch(inside) or re.fullmatch(r"exit code -?\d{1,4}", inside)
                or (inside.startswith("check ") and inside[len("check "):] in _grade_ids())):
            return match.group(0)
        return " (details not shown)"

    prefix = text.split(":", 1)[0]
    if (kind or prefix) not in RUN_KINDS:
        return text
    return re.sub(r" \(((?:[^()]|\([^()]*\))*)\)$", keep, text)


def summary_rows(checks, result, scores=None):
    """One row per graded function, in the notebook's order: ``dict(grade_id, function,
    points, max_points, passed, case, rules)``. ``case`` is the first failing case or the
    passes in words (hidden cases by label only), ``rules`` the rules broken; ``scores``
    (``{grade_id: points}`` from the gradebook) overrides the recorded points."""
    by_id = {c.grade_id: c for c in result.checks}
    status_texts = [result.status.detail, *result.status.notes]
    rows = []
    for gid, check in checks.items():
        recorded = by_id.get(gid)
        message = safe_message(check, recorded.message, result.status) if recorded else "not graded"
        broken = []
        reasons = "|".join(re.escape(r) for r in _reasons(check))
        pattern = re.compile(re.escape(f"{check.function}: uses ") + r"(.*?); (" + reasons + r")") if reasons else None
        for text in [message, *status_texts]:
            for match in (pattern.finditer(text) if pattern else ()):
                rule = _strip_function(safe_rule_message(check, match.group(0)), check.function)
                if rule not in broken:
                    broken.append(rule)
        if broken and message.startswith(f"{check.function}: uses "):
            case = "not judged: a rule of this exercise was broken, which costs its points"
        elif recorded and recorded.message == result.status.text():
            case = "not graded: see what happened, above"
        else:
            case = _strip_function(message, check.function)
        points = recorded.points if recorded else 0.0
        if scores and scores.get(gid) is not None:
            points = float(scores[gid])
        max_points = recorded.max_points if recorded else float(check.points)
        rows.append({"grade_id": gid, "function": check.function, "points": points, "max_points": max_points,
                     "passed": points >= max_points, "case": case, "rules": broken})
    return rows


def _number(value):
    return f"{float(value):g}"


def _case_label(row):
    failed_case = not row["passed"] and row["case"].startswith(("visible case", "hidden case"))
    return "First failing case: " if failed_case else ""


def summary_html(checks, result, scores=None):
    """The summary at the top of the page, as HTML (every student-derived text escaped)."""
    rows = summary_rows(checks, result, scores)
    earned = sum(row["points"] for row in rows)
    possible = sum(row["max_points"] for row in rows)
    e = html.escape
    parts = ['<section id="autograder-summary" class="autograder-summary tex2jax_ignore">',
             f'<h2>Your grade: <span class="autograder-total">{_number(earned)} / {_number(possible)}</span></h2>']
    status = result.status
    rules = {rule.name: rule for check in checks.values() for rule in check.rules}.values()
    if status.kind != "ok":
        if status.kind == "forbidden":     # the rules broken, as the rows below show them
            detail = "; ".join(f"{row['function']}: {rule}" for row in rows for rule in row["rules"])
        else:
            detail = safe_status_text(status.detail, status.kind) if status.detail else ""
        parts.append(f'<p class="autograder-status"><strong>What happened:</strong> {e(status.kind)}'
                     f'{": " + e(detail) if detail else ""}</p>')
    if status.notes:
        parts.append('<p class="autograder-notes-title">Notes from grading:</p><ul class="autograder-notes">'
                     + "".join(f"<li>{e(safe_note(note, rules))}</li>" for note in status.notes) + "</ul>")
    parts.append('<ol class="autograder-functions">')
    for row in rows:
        state = "passed" if row["passed"] else "failed"
        parts.append(
            f'<li class="autograder-function autograder-{state}" data-grade-id="{e(row["grade_id"])}">'
            f'<p class="autograder-head"><a href="#{e(row["grade_id"])}"><code>{e(row["function"])}</code></a> '
            f'<span class="autograder-points">{_number(row["points"])} / {_number(row["max_points"])}</span></p>'
            f'<p class="autograder-case">{_case_label(row)}{e(row["case"])}</p>')
        for rule in row["rules"]:
            parts.append(f'<p class="autograder-rule">Rule broken: {e(rule)}</p>')
        parts.append("</li>")
    parts.append("</ol>")
    parts.append('<p class="autograder-hidden-note">Hidden cases are named by their label; their code and '
                 'values stay with the grader.</p></section>')
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
            message = safe_message(checks[gid], recorded.message, result.status) if recorded else "not graded"
            if recorded and recorded.points >= recorded.max_points:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=message + "\n")]
            else:
                cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=message,
                                                       traceback=[f"CheckFailed: {message}"])]
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
