"""The class report (autograder/report.py): on a mixed batch of graded results the planted
concept failure (a third of the class fails only the hidden case 'T = 1' of scan) heads
the per-case table; every table counts what it says; the page opens offline in Chromium
with no request leaving it, alt text on every figure, nothing scrolling sideways at 390 px;
and what a submission chose (a student id, a status, a similarity row) appears escaped."""
import csv
import html
import re
from urllib.parse import urlparse

import pytest

from autograder import report
from autograder.cli import main as autograder
from autograder.course import Course
from autograder.verdict import CaseKind, Untrusted
from report_helpers import course_folder, graded_result, mixed_batch, write_state

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
MARKER = "PLANTED-7f3a"
# No "/" (it names a folder): a script's start tag, which unescaped would swallow the page.
HOSTILE_ID = f'<script>document.title="{MARKER}"<img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The mixed batch of 30, one hostile student id, a similarity CSV naming it, reported."""
    root = course_folder(tmp_path_factory.mktemp("report") / "course")
    for result in mixed_batch(30):
        write_state(root, result)
    # a state folder named as no student folder could be (grading takes only plain ids), with a
    # crash whose detail carries markup: both must reach the page as text
    write_state(root, graded_result(HOSTILE_ID, "scans", status="crashed", detail=f"<b>{MARKER}</b> exit code 3",
                                    unreached=True, seconds=500.0))
    mismatch = graded_result("zz-renamed", "scans")
    write_state(root, mismatch).parent.rename(root / ".autograder" / "graded" / "zz-other")
    (root / "similarity").mkdir()
    with open(root / "similarity" / "scans.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "first", "second", "kind", "answer", "score", "first_fraction",
                         "second_fraction", "shared_chars"])
        writer.writerow(["scans", "s001", HOSTILE_ID, "student", "", "0.910", "0.910", "0.800", "400"])
    (root / "similarity" / "scans.html").write_text("<!DOCTYPE html><title>similarity</title>")
    assert autograder(["--course", str(root), "report", "--assignment", "scans"]) == 0
    return root


def table_rows(page, section):
    """The cells' text of each row of the table under ``<h2 id=section>``."""
    part = page.split(f'<h2 id="{section}">', 1)[1].split("<h2", 1)[0]
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", "", cell)).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", part, re.S) if "<td" in row]


def test_the_planted_concept_failure_heads_the_case_table(reported):
    page = (reported / "report" / "scans.html").read_text()
    rows = table_rows(page, "cases")
    # 12 of the 27 students whose scan was judged on 'T = 1' fail it (10 fail only it, 2 with
    # another case too); the 4 that timed out, crashed or submitted nothing are not counted.
    assert rows[0] == ["scanT = 1", "44%12 / 27", "wrong-value 10, wrong-shape 2"], rows[:3]
    # the answers left unwritten (2) and forbidden (2) are not counted either
    assert rows[1:] == [["linear_memoryzero input", "8%2 / 25", "raised 2"],
                        ["apply_outputsT = 1", "8%2 / 25", "wrong-value 2"]]
    assert "No student failed the other 17 hidden cases" in " ".join(page.split())
    with open(reported / "report" / "scans.csv", newline="") as handle:
        cases = [row for row in csv.DictReader(handle) if row["table"] == "hidden case"]
    assert (cases[0]["function"], cases[0]["item"], cases[0]["count"], cases[0]["of"]) == ("scan", "T = 1", "12", "27")
    assert len(cases) == 20 and [float(row["share"]) for row in cases] == sorted(
        (float(row["share"]) for row in cases), reverse=True)


def test_functions_rules_and_what_did_not_run(reported):
    page = (reported / "report" / "scans.html").read_text()
    functions = {row[0]: row[2] for row in table_rows(page, "functions")}
    # 31 results: 12 fail scan's T = 1, 4 never ran (2 timeouts, 1 missing, 1 crashed)
    assert functions["scan"] == "48%15 / 31"
    assert functions["linear_memory"] == "74%23 / 31"      # and 2 raised, 2 forbidden
    assert table_rows(page, "rules") == [["no lectlib", "linear_memory", "2", "s006, s021"]]
    not_run = table_rows(page, "not-run")
    assert [row[:2] for row in not_run] == [[HOSTILE_ID, "crashed"], ["s008", "timeout"], ["s023", "timeout"],
                                            ["s024", "missing"]]
    assert "could not be read (grade these students again):\nzz-other" in page, "a state file of another student"
    assert "16 of them submitted" not in page and "31 graded submissions, 30 of them submitted" in page


def test_what_a_submission_chose_is_escaped(reported):
    page = (reported / "report" / "scans.html").read_text()
    assert "<script" not in page.lower() and "<img src=x" not in page and "<b>" not in page
    escaped = HOSTILE_ID.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    assert page.count(escaped) == 3, "in the table of what did not run, the slowest notebooks and similarity"
    assert f"&lt;b&gt;{MARKER}&lt;/b&gt; exit code 3" in page
    link = re.search(r'<a href="([^"]+)">its report</a>', page)
    assert link and (reported / "report" / link.group(1)).resolve() == (reported / "similarity" / "scans.html")


def test_untrusted_text_reaches_the_report_only_through_for_instructor():
    text = Untrusted("=HYPERLINK(\"http://x\")\n<b>bold</b>")
    assert report.instructor_text(text) == text.for_instructor(report.DETAIL_CHARACTERS)
    assert report.instructor_text(text.to_json()).startswith("[submission's text] ")
    assert report.instructor_text("=cmd|' /C calc'!A0").startswith("'=")
    with pytest.raises(TypeError):
        f"{text}"


def test_the_command_says_what_is_missing(tmp_path, capsys):
    root = course_folder(tmp_path / "course")
    assert autograder(["--course", str(root), "report"]) == 1
    assert "no graded submissions" in capsys.readouterr().err
    assert autograder(["--course", str(root), "report", "--assignment", "nope"]) == 1
    assert "unknown assignment 'nope'" in capsys.readouterr().err
    write_state(root, graded_result("ada", "losses"))
    assert autograder(["--course", str(root), "report"]) == 0
    assert sorted(p.name for p in (root / "report").iterdir()) == ["losses.csv", "losses.html"]
    page = (root / "report" / "losses.html").read_text()
    assert "Every submitted notebook ran to its end" in page and "run <code>autograder similarity</code>" in page


def test_load_results_reads_what_grading_recorded(tmp_path):
    root = course_folder(tmp_path / "course")
    write_state(root, graded_result("ada", "scans", {("scan", "T = 1"): CaseKind.TIMED_OUT}))
    (root / ".autograder" / "graded" / "bob").mkdir()
    (root / ".autograder" / "graded" / "bob" / "scans.json").write_text("{not json")
    results, unreadable = report.load_results(Course(root).state_dir, "scans")
    assert unreadable == ["bob"]
    (ada,) = results
    scan = next(check for check in ada.checks if check.function == "scan")
    assert not scan.full and [c.kind for c in scan.cases if c.label == "T = 1"] == [CaseKind.TIMED_OUT]


@pytest.fixture(scope="module")
def browser():
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1280])
def test_the_report_reads_offline_in_a_browser(reported, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    remote = []
    page.on("request", lambda request: urlparse(request.url).scheme not in ("file", "data", "about")
            and remote.append(request.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else route.abort())
    page.goto((reported / "report" / "scans.html").as_uri(), wait_until="load")
    assert not remote, remote
    images = page.evaluate("""() => [...document.images]
                              .map(i => [i.alt, i.naturalWidth, i.getBoundingClientRect().right])""")
    assert len(images) == 3
    for alt, natural, right in images:
        assert len(alt) > 40 and natural > 0 and right <= width + 1, (alt, natural, right)
    assert "12 students" not in images[0][0] and "31 students" in images[0][0]
    assert page.evaluate("() => document.scripts.length") == 0
    assert page.title() == "Class report: scans", "a planted script ran"
    assert HOSTILE_ID in page.locator("#similarity ~ div table").first.inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
    page.close()
