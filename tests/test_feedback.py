"""Feedback a student can read, offline (autograder/student_feedback): graded in a temporary
course, written by `autograder feedback`, opened from disk in headless Chromium with every
request that is not file:// blocked. Math is typeset by the inlined MathJax, no request
leaves the machine, nothing scrolls sideways on a 390 px screen, the summary shows the
points and the first failing case, and no hidden case's code or values reach the page."""
import re
from urllib.parse import urlparse

import numpy as np
import pytest

from autograder import checks
from autograder import student_feedback as feedback
from autograder.cli import main as autograder
from autograder.course import CourseError
from grading_helpers import SANDBOX_FLAGS, new_course, reference_notebook, submit, with_answer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Passes the visible case and two hidden ones, then fails the hidden case 'T = 1'.
SCAN_WRONG_FOR_ONE_STEP = '''def scan(f, h, xs):
    states = []
    for x in xs:
        h = f(h, x)
        states.append(h)
    out = jnp.stack(states)
    return out if len(xs) > 1 else out * 0   # wrong for T = 1
'''
# Passes the visible case; on a hidden case it raises with the hidden arguments in the
# message, after a marker that its source does not contain as such.
LINEAR_MEMORY_LEAKS = '''def linear_memory(h, x, gamma, theta):
    h, x = jnp.asarray(h), jnp.asarray(x)
    if h.shape != (2,) or x.shape != (1,):
        raise ValueError("LEA" + "KED " + repr(np.asarray(theta).tolist()) + repr(np.asarray(h).tolist()))
    return gamma * h + theta.T @ jnp.concatenate([jnp.ones(1, x.dtype), x])
'''
# The backward pass by autodiff, which this exercise forbids (line 2 of the answer).
ELMAN_BACKWARD_BY_AUTODIFF = '''def elman_backward(params, xs, ys, h0):
    return jax.grad(elman_loss)(params, xs, ys, h0)
'''
# Uses lectlib, which no graded answer may.
APPLY_OUTPUTS_WITH_LECTLIB = '''import lectlib

def apply_outputs(g, hs, xs):
    return jnp.stack([g(h, x) for h, x in zip(hs, xs)])
'''


ADA_SECRET = "5e" * 64


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course with four 'scans' submissions and one 'bptt' graded in one batch (so every
    student has a row, and a page, for both: the missing ones say so), and their feedback."""
    course = new_course(tmp_path_factory.mktemp("feedback") / "course")
    submissions = tmp_path_factory.mktemp("submissions")
    submit(submissions, "ada", "scans", reference_notebook("scans"))
    (submissions / "ada" / "scans" / "submission_secret.txt").write_text(ADA_SECRET)   # as nbgrader's exchange does
    submit(submissions, "bob", "scans", with_answer("scans", "scan", SCAN_WRONG_FOR_ONE_STEP))
    (submissions / "bob" / "scans" / "submission_secret.txt").write_text("<script>not a secret</script>")
    submit(submissions, "cy", "scans", with_answer("scans", "linear_memory", LINEAR_MEMORY_LEAKS))
    submit(submissions, "dee", "scans", with_answer("scans", "apply_outputs", APPLY_OUTPUTS_WITH_LECTLIB))
    submit(submissions, "eve", "bptt", with_answer("bptt", "elman_backward", ELMAN_BACKWARD_BY_AUTODIFF))
    assert autograder(["--course", str(course.root), "grade", str(submissions), "--jobs", "2",
                       "--quiet"] + SANDBOX_FLAGS) == 0
    assert autograder(["--course", str(course.root), "feedback"]) == 0
    return course


def page_path(course, student, assignment="scans"):
    return course.feedback_dir / student / assignment / f"{assignment}.html"


def without_scripts_and_styles(html):
    return re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S | re.I)


def summary_of(html):
    match = re.search(r'<section[^>]*id="autograder-summary".*?</section>', html, re.S)
    assert match, "no summary at the top of the feedback"
    return match.group(0)


def summary_rows(html):
    """``{function: (points text, case text, [rules])}`` from the summary's HTML."""
    rows = {}
    for item in re.findall(r'<li class="autograder-function.*?</li>', summary_of(html), re.S):
        function = re.search(r"<code>(.*?)</code>", item).group(1)
        points = re.search(r'class="autograder-points">(.*?)<', item).group(1)
        case = re.search(r'class="autograder-case">(.*?)</p>', item, re.S).group(1)
        rules = re.findall(r'class="autograder-rule">(.*?)</p>', item, re.S)
        rows[function] = (points, case.replace("&#x27;", "'"), [r.replace("&#x27;", "'") for r in rules])
    return rows


# ---------------------------------------------------------------- no grading needed
def test_a_hidden_cases_error_shows_only_its_label_and_the_builtin_exceptions_type():
    from autograder.judge import CheckResult
    from autograder.status import Status
    from autograder.verdict import CaseKind, CaseVerdict, Untrusted

    check = checks.load("scans")["test_linear_memory"]
    hidden = next(c.label for c in check.cases if c.hidden)
    visible = next(c.label for c in check.cases if not c.hidden)
    leaked = Untrusted("ValueError: [[0.123456, 1.5], [2.25, 3.0]]")
    result = type("R", (), {"status": Status("ok"), "checks": [CheckResult(
        check.grade_id, check.function, 0, check.points,
        [CaseVerdict(visible, False, CaseKind.PASSED), CaseVerdict(hidden, True, CaseKind.RAISED, "ValueError",
                                                                   detail=leaked)])]})()
    page = feedback.summary_html(checks.load("scans"), result)
    assert "0.123456" not in page and f"hidden case &#x27;{hidden}&#x27;: raised ValueError" in page


def test_the_inlined_mathjax_cannot_end_its_script_early(tmp_path):
    fake = tmp_path / "tex-svg-full.js"
    fake.write_text('var a = "</script><script>alert(1)</SCRIPT>"; var b = /<!--x-->/;')
    text = feedback.mathjax_script(fake, tmp_path / "no-vendor.py")
    assert "</script" not in text.lower() and "<!--" not in text
    assert text == 'var a = "<\\/script><script>alert(1)<\\/SCRIPT>"; var b = /<\\!--x-->/;'


# ---------------------------------------------------------------- a graded course
@pytest.mark.slow
def test_feedback_lies_where_release_feedback_looks(graded):
    for student in ("ada", "bob", "cy", "dee", "eve"):
        assert page_path(graded, student).is_file() and page_path(graded, student, "bptt").is_file()
    for student, assignment in [("ada", "scans"), ("bob", "scans"), ("cy", "scans"), ("dee", "scans"),
                                ("eve", "bptt")]:      # submitted (a missing notebook has no time stamp)
        timestamp = graded.feedback_dir / student / assignment / "timestamp.txt"
        assert timestamp.is_file(), "nbgrader's release_feedback reads timestamp.txt"
    assert not list(graded.feedback_dir.rglob("*.json")), "grading state must not reach the students"


def test_release_feedback_hands_the_page_back(graded):
    """nbgrader's release_feedback names each page after the submission's secret (which
    nbgrader's exchange put beside the submitted notebook); a file that is not a secret is
    not passed on."""
    from nbgrader.utils import notebook_hash

    assert (graded.feedback_dir / "ada" / "scans" / "submission_secret.txt").read_text() == ADA_SECRET
    assert not (graded.feedback_dir / "bob" / "scans" / "submission_secret.txt").exists()
    (graded.root / ".exchange").mkdir(exist_ok=True)     # the exchange an instructor sets up for nbgrader
    api = graded.nbgrader_api()
    api.coursedir.course_id = "rnn"                      # the exchange's name for the course (instructor's config)
    result = api.release_feedback("scans", "ada")
    assert result["success"], result.get("error") or result.get("log")
    released = list((graded.root / ".exchange").rglob("*.html"))
    checksum = notebook_hash(secret=ADA_SECRET, notebook_id="scans")
    assert [p.name for p in released] == [f"{checksum}.html"]
    assert released[0].read_bytes() == page_path(graded, "ada").read_bytes()


@pytest.mark.slow
def test_the_summary_shows_points_first_failing_case_and_rules(graded):
    ada = summary_rows(page_path(graded, "ada").read_text())
    points = {check.function: check.points for check in checks.load("scans").values()}
    assert list(ada) == list(points)
    assert all(row[0] == f"{points[f]:g} / {points[f]:g}" and "passed" in row[1] for f, row in ada.items())
    assert "Your grade: <span class=\"autograder-total\">10 / 10</span>" in page_path(graded, "ada").read_text()

    bob = page_path(graded, "bob").read_text()
    rows = summary_rows(bob)
    assert rows["scan"][0] == "0 / 2"
    assert rows["scan"][1] == "First failing case: hidden case 'T = 1': wrong values"
    assert rows["linear_memory"][0] == "1 / 1"
    assert '<span class="autograder-total">8 / 10</span>' in bob

    eve = summary_rows(page_path(graded, "eve", "bptt").read_text())
    assert eve["elman_backward"][0] == "0 / 4"
    assert eve["elman_backward"][2] == ["Rule broken: by hand: no autodiff"], eve
    assert eve["elman_forward"][0] == "2 / 2"
    missing = page_path(graded, "eve").read_text()
    assert "no notebook was submitted" in summary_of(missing)

    dee = summary_rows(page_path(graded, "dee").read_text())
    assert dee["apply_outputs"][0] == "0 / 1"
    assert dee["apply_outputs"][2] == ["Rule broken: no lectlib"], dee
    assert dee["scan"][0] == "2 / 2" and not dee["scan"][2]


def hidden_texts(assignment):
    """Code sources and numbers (arguments and reference results) of the hidden cases that
    no visible case shares, as they would be printed (4 decimals, truncated)."""
    sources, numbers, visible_numbers = set(), set(), set()

    def walk(value, into):
        if isinstance(value, checks.Code):
            sources.add(value.source)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v, into)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, into)
        else:
            for v in np.asarray(value, dtype=np.float64).ravel():
                if abs(v) >= 1e-3:
                    text = f"{abs(v):.8f}"
                    into.add(text[:text.index(".") + 5])

    visible_sources = set()
    for check in checks.load(assignment).values():
        for index, case in enumerate(check.cases):
            args = check.case_args(index)
            if case.hidden:
                walk(args, numbers)
                walk(checks.reference_output(check, index), numbers)
            else:
                before = set(sources)
                walk(args, visible_numbers)
                visible_sources |= sources - before
    return sources - visible_sources, numbers - visible_numbers


@pytest.mark.slow
def test_hidden_cases_are_named_but_their_code_and_values_are_not_shown(graded):
    sources, numbers = hidden_texts("scans")
    assert "lambda h, x: h ** 2" in sources and len(numbers) > 100
    for student in ("ada", "bob", "cy", "dee"):
        html = page_path(graded, student).read_text()
        text = without_scripts_and_styles(html)
        release = (graded.release_dir / "scans" / "scans.ipynb").read_text()
        for source in sources:
            assert source not in html, (student, source)
        shown = [n for n in numbers if n in text and n not in release]
        assert not shown, (student, shown[:5])
    bob = page_path(graded, "bob").read_text()
    assert "hidden case &#x27;T = 1&#x27;" in bob or "hidden case 'T = 1'" in bob
    cy = page_path(graded, "cy").read_text()
    assert "LEAKED" not in cy, "the message of an exception raised on a hidden case reached the feedback"
    assert "raised ValueError" in cy


@pytest.mark.slow
def test_missing_mathjax_stops_feedback_with_a_clear_message(graded, tmp_path, monkeypatch):
    monkeypatch.setattr(feedback, "MATHJAX", tmp_path / "mathjax" / "tex-svg-full.js")
    monkeypatch.setattr(feedback, "VENDOR_SCRIPT", tmp_path / "vendor.py")
    before = page_path(graded, "ada").read_bytes()
    with pytest.raises(CourseError, match=r"MathJax is missing.*book_support/vendor\.py"):
        graded.feedback(assignment="scans", student="ada")
    assert page_path(graded, "ada").read_bytes() == before


# ---------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def browser():
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_offline(browser, path, viewport):
    """Opens ``path`` from file://, blocking (and recording) every other request."""
    page = browser.new_page(viewport=viewport)
    remote, problems = [], []

    def record(request):
        if urlparse(request.url).scheme not in ("file", "data", "blob", "about"):
            remote.append(request.url)

    page.on("request", record)
    page.on("pageerror", lambda exc: problems.append(f"exception: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else route.abort())
    page.goto(path.as_uri(), wait_until="load")
    return page, remote, problems


# Elements a reader would have to scroll sideways, or that stick out of the page. The one
# exception, as on the course website: a display equation wider than the screen scrolls in
# its own box (MathJax 3 cannot break lines), inside the page.
OVERFLOW = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > innerWidth + 1)
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide`);
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('mjx-assistive-mml')) continue;      // clipped to 1 px for screen readers
    const equation = el.closest('mjx-container[display="true"]');
    if (equation && (equation !== el || getComputedStyle(el).overflowX === 'auto')) {
      if (equation === el && el.getBoundingClientRect().right > innerWidth + 1)
        problems.push(`an equation sticks out of the page: ${el.textContent.slice(0, 60)}`);
      continue;
    }
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const classes = typeof el.className === 'string' ? el.className : '';
    const name = `${el.tagName.toLowerCase()}.${classes}`;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      problems.push(`${name} scrolls sideways: ${el.textContent.slice(0, 60)}`);
    else if (box.right > innerWidth + 1)
      problems.push(`${name} sticks out of the page: ${el.textContent.slice(0, 60)}`);
  }
  return problems;
}"""


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone-390px", "desktop-1280px"])
def test_feedback_reads_offline_in_a_browser(graded, browser, viewport):
    for student, assignment in [("ada", "scans"), ("bob", "scans"), ("cy", "scans"), ("dee", "scans"),
                                ("eve", "bptt"), ("eve", "scans")]:
        page, remote, problems = open_offline(browser, page_path(graded, student, assignment), viewport)
        typeset = page.evaluate("""() => new Promise(done => {
            const start = Date.now();
            (function wait() {
              if (window.MathJax && MathJax.startup && MathJax.startup.promise)
                MathJax.startup.promise.then(() => done(true), () => done(false));
              else if (Date.now() - start > 20000) done(false);
              else setTimeout(wait, 100);
            })();
        })""")
        assert not remote, f"{student}: requests to other hosts: {remote}"
        assert typeset, f"{student}: MathJax did not start: {problems}"
        assert page.locator("#notebook mjx-container").count() > 5, student
        raw = page.evaluate("""() => [...document.querySelectorAll('#notebook .rendered_html')]
                               .map(e => e.innerText).filter(t => /\\$\\$|\\\\frac|\\\\gamma/.test(t))""")
        assert not raw, f"{student}: TeX left untypeset: {raw[:2]}"
        assert not problems, f"{student}: {problems}"
        overflow = page.evaluate(OVERFLOW)
        assert not overflow, f"{student} at {viewport['width']} px: {overflow[:5]}"
        if student == "bob":
            summary = page.locator("#autograder-summary").inner_text()
            assert "8 / 10" in summary and "First failing case: hidden case 'T = 1'" in summary
            message = page.locator("#notebook .output_error pre").first
            assert "hidden case 'T = 1'" in message.inner_text()
            box = message.bounding_box()
            assert box["x"] + box["width"] <= viewport["width"] + 1
        page.close()


@pytest.mark.slow
def test_a_score_changed_in_the_gradebook_shows_in_the_summary(graded):
    """The instructor's word wins: a manual score (nbgrader's formgrader) is what the summary shows."""
    def set_manual(score):
        with graded.gradebook() as gb:
            gb.find_grade("test_scan", "scans", "scans", "bob").manual_score = score
            gb.db.commit()

    set_manual(2.0)
    try:
        graded.feedback(assignment="scans", student="bob")
        html = page_path(graded, "bob").read_text()
        assert summary_rows(html)["scan"][0] == "2 / 2"
        assert '<span class="autograder-total">10 / 10</span>' in html
    finally:
        set_manual(None)
        graded.feedback(assignment="scans", student="bob")
    assert summary_rows(page_path(graded, "bob").read_text())["scan"][0] == "0 / 2"


def test_what_the_sandbox_reported_reaches_the_page_only_in_fixed_words():
    """The runner lives in the sandbox with the hidden arguments: what it reported (exception
    messages, the step it reached, the names it reports as used, counts) is instructor
    detail; the page is built from the typed status and verdicts in fixed words."""
    from autograder.judge import CheckResult
    from autograder.status import Note, Status

    status = Status("timeout", "the notebook ran longer than 300 s and was stopped (0.71234)",
                    (Note("cell-errors", "errors in 2 cells (cell 3: ValueError: 0.71234; cell 5: x)"),
                     Note("rule-outside", "cell 4: uses jax.q0_71234; this exercise is by hand"),
                     Note("printed", "printed 71234 MB")))
    result = type("R", (), {"status": status, "checks": [
        CheckResult("test_elman_backward", "elman_backward", 0, 4, rules=("no-autodiff",),
                    detail="elman_backward: uses jax.v0_71234 (cell 7)"),
        CheckResult("test_elman_forward", "elman_forward", 0, 2, not_run="timeout")]})()
    page = feedback.summary_html(checks.load("bptt"), result)
    assert "71234" not in page
    assert "ran out of time; a cell raised an error" in page and "Rule broken: by hand: no autodiff" in page
