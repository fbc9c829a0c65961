"""An instructor's week through nbgrader's exchange, end to end on one machine, run from
the README: the code blocks of its section "Running the course on JupyterHub" are read
from README.md and run in order (so the README cannot drift from what is tested), in a
temporary course with a temporary exchange and three student homes.

ada hands in the reference answers, bob a scan that is wrong for one step (the hidden
case 'T = 1'), cy a hostile notebook (a forbidden lectlib answer, forged output, reads of
what the grader keeps) after the due date. nbgrader's exchange carries the notebooks both
ways; the grader grades what `nbgrader collect` gathered; each student fetches their own
page; nbgrader's export and the formgrader's view of the gradebook give the scores of
grades.csv; cy's lateness is nbgrader's; bob's resubmission is regraded alone.

What differs from the README, and why (``SUBSTITUTIONS`` and ``student_config``): the
exchange is a temporary folder, not /srv/nbgrader/exchange; the due date falls between
the on-time submissions and cy's; the students' nbgrader configuration goes into their
own ~/.jupyter, not /etc/jupyter; and, all three being one login here, it names the
student (on a hub nbgrader takes the id from the login). Where the sandbox cannot be set
up, grading runs with --unsafe, as in every grading test.
"""
import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import checks
from grading_helpers import SANDBOX_FLAGS, read_csv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SECTION = "## Running the course on JupyterHub"
README_EXCHANGE = "/srv/nbgrader/exchange"
README_DUE = "2026-12-13 17:00:00 UTC"
STEPS = ["once", "config", "release", "fetch", "submit", "due date", "collect, grade, hand back", "feedback",
         "regrade bob"]
ASSIGNMENT = "scans"
POINTS = {check.function: check.points for check in checks.load(ASSIGNMENT).values()}
FULL = sum(POINTS.values())

# Passes the visible case and the other hidden ones, fails the hidden case 'T = 1'.
SCAN_WRONG_FOR_ONE_STEP = '''def scan(f, h, xs):
    states = []
    for x in xs:
        h = f(h, x)
        states.append(h)
    out = jnp.stack(states)
    return out if len(xs) > 1 else out * 0
'''
# Forbidden (no graded answer may use lectlib), and it prints a forged verdict.
LINEAR_MEMORY_BY_LECTLIB = '''import lectlib

def linear_memory(h, x, gamma, theta):
    print("<script>alert(1)</script>[passed] 10/10 points")
    return lectlib.memory.linear_memory_step(h, x, gamma, theta)
'''
# Looks for what the grader keeps (the gradebook, the solutions, other submissions).
SNOOPING = '''import glob, os
found = []
for pattern in ("../../gradebook.db", "../../solutions/*/*.ipynb", "../../submitted/*/*/*.ipynb", "/tmp/*/*",
                os.path.expanduser("~/*")):
    found += glob.glob(pattern)[:3]
print("FOUND", found)
'''


def readme_steps():
    """``[(step, language, [lines])]``: the section's code blocks in order; a bash block's
    first line says who runs it and, after the colon, the step."""
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    steps = []
    for language, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S):
        lines = [line for line in body.splitlines() if line.strip()]
        if language == "python":
            steps.append(("config", language, lines))
            continue
        head = lines[0]
        assert head.startswith("# "), f"a command block of the README starts with who runs it: {head}"
        step = head.split(": ", 1)[1] if ": " in head else head.split(", ")[0][2:]
        steps.append((step, language, [line for line in lines[1:] if not line.startswith("#")]))
    return steps


def reference_answers():
    """``{grade_id: source}``: the solutions' answer cells as a student who got them right
    writes them (nbgrader's solution markers dropped)."""
    source = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            lines = [line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line]
            answers[meta["grade_id"]] = "\n".join(lines) + "\n"
    return answers


def fill_in(path, answers, extra_cells=()):
    """Writes ``answers`` (``{grade_id: source}``) into the fetched notebook at ``path``."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and cell.metadata["nbgrader"].get("solution"):
            cell.source = answers[gid]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    nbformat.write(notebook, path)


class Week:
    """The course, the exchange and the student homes of one week, and how to run a step."""

    def __init__(self, folder):
        self.folder = folder
        self.course = folder / "course"
        self.exchange = folder / "srv" / "exchange"
        self.homes = {s: folder / "home" / s for s in ("ada", "bob", "cy")}
        self.due = None
        self.log = []
        self.course.mkdir()
        shutil.copytree(ROOT / "solutions", self.course / "solutions")
        shutil.copy(ROOT / "nbgrader_config.py", self.course / "nbgrader_config.py")
        (self.course / ".venv").symlink_to(VENV_BIN.parent)
        self.steps = readme_steps()
        assert [step for step, _, _ in self.steps] == STEPS, "the README's steps changed: follow them here too"

    def commands(self, step):
        (lines,) = [lines for name, _, lines in self.steps if name == step]
        return lines

    def substitute(self, line):
        line = line.replace(README_EXCHANGE, str(self.exchange))
        if self.due is not None:
            line = line.replace(README_DUE, self.due)
        if " grade " in line and SANDBOX_FLAGS:
            line += " " + " ".join(SANDBOX_FLAGS)
        return line

    def environment(self, student=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER_", "XDG_", "JUPYTERHUB_")) and k not in ("VIRTUAL_ENV",)}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        if student:
            env.update(HOME=str(self.homes[student]), USER=student, LOGNAME=student)
        return env

    def run(self, step, student=None):
        """Runs the README's commands of ``step``, as ``student`` in their home or as the
        instructor in the course folder. Returns their output."""
        output = ""
        for line in self.commands(step):
            line = self.substitute(line)
            cwd = self.homes[student] if student else self.course
            result = subprocess.run(line, shell=True, cwd=cwd, env=self.environment(student), capture_output=True,
                                    text=True, timeout=1800)
            self.log.append((student or "instructor", line, result.returncode))
            assert result.returncode == 0, f"{student or 'instructor'}: {line}\n{result.stdout[-4000:]}\n" \
                                           f"{result.stderr[-4000:]}"
            output += result.stdout + result.stderr
        return output

    def student_config(self, student):
        """The README's configuration for students, in the student's ~/.jupyter (not
        /etc/jupyter); all students are one login here, so it names the student too."""
        (config,) = [lines for name, language, lines in self.steps if name == "config"]
        folder = self.homes[student] / ".jupyter"
        folder.mkdir(parents=True)
        text = "c = get_config()\n" + "\n".join(self.substitute(line) for line in config) + "\n"
        text += f'c.CourseDirectory.student_id = "{student}"   # on a hub, the login\n'
        (folder / "nbgrader_config.py").write_text(text)

    def timestamp(self, student):
        return (self.course / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()


def utc(text):
    from nbgrader.utils import parse_utc

    return parse_utc(text)


def export_rows(course):
    with open(course / "gradebook-export.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}


def formgrader_scores(course, env):
    """What the formgrader's submission list shows (nbgrader's API, configured by the
    course's nbgrader_config.py as the formgrader is): ``{student: (score, timestamp)}``."""
    script = """
import json
from nbgrader.apps.baseapp import NbGrader
from nbgrader.apps.api import NbGraderAPI
app = NbGrader()
app.initialize([])
api = NbGraderAPI(coursedir=app.coursedir, config=app.config)
print(json.dumps({s["student"]: [s["score"], s["timestamp"]] for s in api.get_submissions("scans")}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=course, env=env, capture_output=True, text=True,
                            timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """Runs the week up to the students fetching their feedback."""
    week = Week(tmp_path_factory.mktemp("week"))
    week.run("once")
    config = week.commands("config")
    with open(week.course / "nbgrader_config.py", "a") as handle:
        handle.write("\n" + "\n".join(week.substitute(line) for line in config) + "\n")
    for student in week.homes:
        week.homes[student].mkdir(parents=True)
        week.student_config(student)
    week.run("release")
    answers = reference_answers()
    work = {
        "ada": (answers, ()),
        "bob": ({**answers, "scan": SCAN_WRONG_FOR_ONE_STEP}, ()),
        "cy": ({**answers, "linear_memory": LINEAR_MEMORY_BY_LECTLIB}, (SNOOPING,)),
    }
    for student in ("ada", "bob"):
        week.run("fetch", student)
        fill_in(week.homes[student] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", *work[student])
        week.run("submit", student)
    week.run("fetch", "cy")
    fill_in(week.homes["cy"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", *work["cy"])
    time.sleep(1.1)
    week.due = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    week.run("due date")
    time.sleep(1.1)
    week.run("submit", "cy")                  # after the due date
    week.run("collect, grade, hand back")
    for student in week.homes:
        week.run("feedback", student)
    return week


def test_the_collected_submissions_are_graded_as_expected(week):
    for student in week.homes:
        folder = week.course / "submitted" / student / ASSIGNMENT
        assert {p.name for p in folder.iterdir()} >= {f"{ASSIGNMENT}.ipynb", "timestamp.txt", "submission_secret.txt"}
    grades = read_csv(week.course / "grades.csv")
    assert {s for s, _ in grades} == {"ada", "bob", "cy"}
    assert float(grades["ada", ASSIGNMENT]["score"]) == FULL
    assert float(grades["bob", ASSIGNMENT]["score"]) == FULL - POINTS["scan"]
    assert float(grades["cy", ASSIGNMENT]["score"]) == FULL - POINTS["linear_memory"]
    assert grades["cy", ASSIGNMENT]["status"].startswith("forbidden")
    assert "FOUND" not in (week.course / "grades.csv").read_text()


def test_each_student_fetches_their_own_page(week):
    pages = {}
    for student, home in week.homes.items():
        fetched = list((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        assert len(fetched) == 1, f"{student}: {fetched}"
        graded = week.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert fetched[0].read_bytes() == graded.read_bytes(), f"{student} fetched another page"
        assert fetched[0].parent.name == week.timestamp(student), "named after the submission's time, as nbgrader does"
        pages[student] = fetched[0].read_text()
    assert "T = 1" in pages["bob"] and "T = 1" not in pages["ada"].split('id="notebook"')[0]
    assert "<script>alert(1)</script>" not in pages["cy"]
    released = list((week.exchange / "rnn" / "feedback").glob("*.html"))
    assert len(released) == 3


def test_lateness_is_recorded_as_nbgrader_records_it(week):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{week.course / 'gradebook.db'}") as gb:
        submissions = {s: gb.find_submission(ASSIGNMENT, s) for s in week.homes}
        assert all(submissions[s].timestamp == utc(week.timestamp(s)) for s in week.homes), \
            "the gradebook's time is the exchange's, as nbgrader's autograde records it"
        late = {s: submissions[s].total_seconds_late for s in week.homes}
    assert late["ada"] == 0 and late["bob"] == 0 and late["cy"] > 0, late
    exported = export_rows(week.course)
    assert utc(exported["cy"]["timestamp"]) > utc(exported["cy"]["duedate"])
    assert utc(exported["ada"]["timestamp"]) <= utc(exported["ada"]["duedate"])


def test_nbgraders_export_and_formgrader_show_the_scores_of_grades_csv(week):
    grades = read_csv(week.course / "grades.csv")
    exported = export_rows(week.course)
    shown = formgrader_scores(week.course, week.environment())
    assert set(exported) == set(shown) == set(week.homes)
    for student in week.homes:
        score = float(grades[student, ASSIGNMENT]["score"])
        assert float(exported[student]["raw_score"]) == score == float(exported[student]["score"])
        assert float(exported[student]["max_score"]) == FULL
        assert shown[student][0] == score, (student, shown[student])


def test_the_class_report_and_similarity_of_the_week(week):
    page = (week.course / "report" / f"{ASSIGNMENT}.html").read_text()
    cases = page.split('<h2 id="cases">', 1)[1].split("<h2", 1)[0]
    first = re.search(r"<tr><td><code>(\w+)</code><br>(.*?)</td>\s*<td[^>]*>.*?([\d.]+%)<br>(\d+) / (\d+)</td>", cases,
                      re.S)
    assert first and first.groups() == ("scan", "T = 1", "33%", "1", "3"), cases[:800]
    assert (week.course / "similarity" / f"{ASSIGNMENT}.csv").is_file()
    assert "no lectlib" in page.split('<h2 id="rules">', 1)[1].split("<h2", 1)[0]


def test_regrading_one_student(week):
    """bob fixes scan and submits again; collecting with --update and grading again grades
    only bob; his new page reaches him; the export has his new score."""
    states = {s: week.course / ".autograder" / "graded" / s / f"{ASSIGNMENT}.json" for s in week.homes}
    before = {s: path.stat().st_mtime_ns for s, path in states.items()}
    digest = json.loads(states["ada"].read_text())["checks_digest"]
    fill_in(week.homes["bob"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", {"scan": reference_answers()["scan"]})
    week.run("submit", "bob")
    week.run("regrade bob")
    week.run("feedback", "bob")
    # (A change to what grades depend on, the checks, the runner or lectlib, made while this
    # test runs would regrade everyone, rightly; the message says so.)
    changed = json.loads(states["ada"].read_text())["checks_digest"] != digest
    assert {s: path.stat().st_mtime_ns for s, path in states.items() if s != "bob"} == \
        {s: t for s, t in before.items() if s != "bob"}, \
        "only bob should have been graded again" + (" (the grader's sources changed meanwhile)" if changed else "")
    assert states["bob"].stat().st_mtime_ns != before["bob"]
    grades = read_csv(week.course / "grades.csv")
    assert float(grades["bob", ASSIGNMENT]["score"]) == FULL
    assert float(export_rows(week.course)["bob"]["score"]) == FULL
    fetched = sorted((week.homes["bob"] / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(fetched) == 2
    newest = max(fetched, key=lambda p: utc(p.parent.name))
    assert newest.parent.name == week.timestamp("bob")
    assert newest.read_bytes() == (week.course / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_bytes()
