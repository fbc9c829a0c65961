"""The student package: what the website serves students, tried the way a student uses it.

Fast tests: the visible cases shipped in ``lectlib/homework/cases`` are those of the
grader's checks (and only those), the visible-test helper's messages, the versions and
pins of the two distributions.

Slow tests (one fresh virtual environment per session, outside the repository): build
the wheel, install it and JupyterLab with the constraints, open a downloaded chapter in
that JupyterLab in a browser (it reads like its page: no raw MyST, solutions collapsed,
math typeset), and from a temporary folder run every chapter's downloaded notebook, each released homework notebook untouched (it stops at the
first answer with "not written yet") and with the reference answers filled in (it runs
clean and ``python -m lectlib.homework check`` passes it); ``autograder`` cannot be
imported there; the wheel holds no solution, hidden test or hidden case.
"""
import dataclasses
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "book_support"))
import student_notebooks  # noqa: E402  (book_support is not a package)

from autograder import checks  # noqa: E402
from lectlib.homework import encoding, visible  # noqa: E402

ASSIGNMENTS = tuple(checks.ASSIGNMENTS)   # every assignment the grader knows


# ------------------------------------------------------------------ fast
def test_the_case_files_are_up_to_date_with_the_checks():
    from autograder import student

    problems = student.stale()
    assert not problems, ("the visible cases in lectlib/homework/cases differ from autograder/checks; run "
                          "`.venv/bin/python -m autograder.student export` and commit them:\n" + "\n".join(problems))


def arrays_in(value):
    """Every numpy array (and scalar) inside a decoded value."""
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in arrays_in(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in arrays_in(v)]
    if isinstance(value, (np.ndarray, np.generic)):
        return [np.asarray(value)]
    return []


def shipped_arrays(case_file_texts):
    found = []
    for text in case_file_texts:
        data = json.loads(text)
        for entry in data.get("checks", {}).values():
            for case in entry["visible"]:
                found += arrays_in(encoding.decode(case["args"], functions=False))
                found += arrays_in(encoding.decode(case["expected"], functions=False))
    return found


def assert_no_hidden_case(case_file_texts, results=True):
    """No hidden case's label, arguments or (with ``results``) expected result is in these case files."""
    shipped = shipped_arrays(case_file_texts)
    joined = "\n".join(case_file_texts)
    for assignment in ASSIGNMENTS:
        for check in checks.load(assignment).values():
            visible_labels = {check.cases[i].label for i in check.visible_cases}
            for index, case in enumerate(check.cases):
                if not case.hidden:
                    continue
                if case.label not in visible_labels:
                    assert json.dumps(case.label) not in joined, (assignment, check.grade_id, case.label)
                hidden = arrays_in(check.case_args(index))
                if results:
                    hidden += arrays_in(checks.reference_output(check, index))
                for array in hidden:
                    if array.size < 2 or np.all(array == array.flat[0]):
                        continue   # constants such as zeros say nothing about the case
                    assert not any(a.shape == array.shape and np.array_equal(a, array) for a in shipped), \
                        f"{assignment} {check.grade_id}: a hidden case's values ('{case.label}') are in the package"


def test_the_case_files_hold_visible_cases_and_only_the_number_of_hidden_ones():
    texts = [(ROOT / "lectlib" / "homework" / "cases" / f"{a}.json").read_text() for a in ASSIGNMENTS]
    assert_no_hidden_case(texts, results=False)   # the wheel's test below also compares the results
    for assignment in ASSIGNMENTS:
        shipped = visible.load(assignment)
        for grade_id, check in checks.load(assignment).items():
            assert len(shipped[grade_id].cases) == len(check.visible_cases)
            assert shipped[grade_id].hidden_cases == sum(case.hidden for case in check.cases)


def test_a_hidden_case_in_a_case_file_is_caught():
    # The guard above must fail when a hidden case leaks: put one in and look.
    from autograder import student

    data = student.export("scans")
    check = checks.load("scans")["test_scan"]
    hidden = next(i for i, case in enumerate(check.cases) if case.hidden)
    data["checks"]["test_scan"]["visible"].append({
        "label": "leaked", "args": encoding.encode(check.case_args(hidden), checks.Code),
        "expected": encoding.encode(checks.reference_output(check, hidden))})
    with pytest.raises(AssertionError, match="hidden case"):
        assert_no_hidden_case([json.dumps(data)], results=False)


def test_the_visible_check_says_what_is_wrong(capsys):
    import jax.numpy as jnp

    def scan(f, h, xs):
        states = []
        for x in xs:
            h = f(h, x)
            states.append(h)
        return jnp.stack(states)

    visible.check("scans", "test_scan", scan)
    assert "scan: the visible cases pass." in capsys.readouterr().out

    def not_yet(f, h, xs):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match=r"^scan is not written yet \(it raises NotImplementedError\)$"):
        visible.check("scans", "test_scan", not_yet)
    with pytest.raises(AssertionError, match=r"scan, case .*should have shape \(3, 1\), received shape \(3,\)"):
        visible.check("scans", "test_scan", lambda f, h, xs: jnp.zeros(3))
    with pytest.raises(AssertionError, match=r"scan raised ZeroDivisionError on the case"):
        visible.check("scans", "test_scan", lambda f, h, xs: 1 / 0)


def test_the_pass_message_is_grammatical_for_one_and_for_several_cases():
    graded = visible.load("scans")["test_combine"]
    combine = lambda earlier, later: (later[0] * earlier[0], later[0] * earlier[1] + later[1])  # noqa: E731
    one = dataclasses.replace(graded, cases=graded.cases[:1], hidden_cases=1)
    several = dataclasses.replace(graded, cases=graded.cases * 2, hidden_cases=3)
    assert visible.run_cases(one, combine) == (
        "passed", "combine: the visible case passes. Grading also runs 1 hidden case (other sizes and edge cases).")
    assert visible.run_cases(several, combine) == (
        "passed", "combine: the visible cases pass. Grading also runs 3 hidden cases (other sizes and edge cases).")


def test_the_visible_check_warns_when_an_answer_breaks_a_rule(tmp_path, monkeypatch, capsys):
    answer = tmp_path / "answer_cell.py"
    answer.write_text("import lectlib\n\ndef combine(earlier, later):\n    return lectlib.compose_affine(earlier, later)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from answer_cell import combine

    graded = visible.load("scans")["test_combine"]
    ruled = dataclasses.replace(graded, rules=("no-lectlib",))
    warnings = visible.rule_warnings(ruled, visible.answer_source(combine))
    assert len(warnings) == 2 and warnings[0].startswith("combine: uses lectlib (line 1)"), warnings
    assert visible.rule_warnings(dataclasses.replace(graded, rules=()), visible.answer_source(combine)) == ()
    visible.check("scans", "test_combine", combine)   # the case files give no rules yet: no warning printed
    printed = capsys.readouterr().out
    assert ("Warning: combine: uses lectlib" in printed) == ("no-lectlib" in graded.rules), printed


def test_the_two_distributions_agree_on_the_version_and_are_pinned():
    student = tomllib.loads((ROOT / "student" / "pyproject.toml").read_text())["project"]
    instructor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"lectlib=={student['version']}" in instructor["dependencies"]
    assert student_notebooks.wheel_name() == f"lectlib-{student['version']}-py3-none-any.whl"
    assert f"pip install {student_notebooks.wheel_name()}" in (ROOT / "README.md").read_text()
    pinned = {re.split(r"==", line)[0].lower().replace("_", "-")
              for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line}
    wanted = instructor["dependencies"][1:] + instructor["optional-dependencies"]["test"] + student["dependencies"]
    names = {re.split(r"[<>=!\[ ]", requirement)[0].lower().replace("_", "-") for requirement in wanted}
    assert names <= pinned, f"not pinned in constraints.txt: {sorted(names - pinned)}"
    for needed in ("jax", "numpy", "matplotlib", "ipywidgets", "optax", "scikit-learn", "ipykernel", "nbclient"):
        assert any(r.lower().startswith(needed) for r in student["dependencies"]), needed


def test_the_notebook_check_reads_the_answer_cells_for_rule_violations():
    from lectlib.homework.__main__ import static_warnings, which_assignment

    notebook = nbformat.read(ROOT / "solutions" / "bptt" / "bptt.ipynb", as_version=4)
    assert which_assignment(notebook, "bptt (1).ipynb") == "bptt"
    graded = visible.load("bptt")
    assert not any(static_warnings(notebook, graded).values())
    answer = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "elman_backward")
    answer.source = "import jax\n\ndef elman_backward(params, xs, ys, h0):\n    return jax.grad(loss)(params, xs, ys, h0)\n"
    found = static_warnings(notebook, graded)
    assert "no-autodiff" in graded["test_elman_backward"].rules   # the backward pass is by hand (DESIGN.md)
    assert found["test_elman_backward"] == (
        "elman_backward: uses jax.grad (cell 10, line 4); this exercise is by hand",)
    assert not any(found[g] for g in graded if g != "test_elman_backward")
    # The check reads what the answer uses across the student's cells, as grading does:
    answer.source = "def elman_backward(params, xs, ys, h0):\n    return _helper(params, xs, ys, h0)\n"
    notebook.cells.insert(3, nbformat.v4.new_code_cell("from jax import grad as g\n_helper = g(loss)"))
    assert static_warnings(notebook, graded)["test_elman_backward"] == (
        "elman_backward: uses jax.grad (cell 4, line 1); this exercise is by hand",
        "elman_backward: uses jax.grad (cell 4, line 2); this exercise is by hand")


def test_checking_something_that_is_not_homework_says_so(tmp_path):
    notebook = tmp_path / "notes.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), notebook)
    result = subprocess.run([sys.executable, "-m", "lectlib.homework", "check", str(notebook)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "not one of the course's homework notebooks" in result.stderr
    result = subprocess.run([sys.executable, "-m", "lectlib.homework", "check", str(tmp_path / "gone.ipynb")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "no notebook at" in result.stderr


# ------------------------------------------------------------------ slow: a student's machine
RUNNER = r'''
"""Runs notebooks with nbclient in this Python; prints one JSON line per notebook."""
import json, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from lectlib.homework.__main__ import this_python_kernels
from jupyter_client.manager import KernelManager

for path in sys.argv[1:]:
    notebook = nbformat.read(path, as_version=4)
    start = time.time()
    client = NotebookClient(notebook, km=KernelManager(kernel_spec_manager=this_python_kernels()), timeout=900,
                            resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}})
    record = {"notebook": path, "error": None}
    try:
        client.execute()
    except CellExecutionError as exc:
        failing = next(i for i, c in enumerate(notebook.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
        output = next(o for o in notebook.cells[failing].outputs if o.output_type == "error")
        record["error"] = {"cell": failing, "ename": output.ename, "evalue": output.evalue,
                           "grade_id": notebook.cells[failing].metadata.get("nbgrader", {}).get("grade_id")}
    record["seconds"] = round(time.time() - start, 1)
    record["outputs"] = ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in notebook.cells]
    print(json.dumps(record), flush=True)
'''


@pytest.fixture(scope="session")
def student_wheel(tmp_path_factory):
    return student_notebooks.build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def student_env(tmp_path_factory, student_wheel):
    """A fresh virtual environment outside the repository with only the wheel installed
    (and what it depends on, pinned by constraints.txt). Returns ``run(args, cwd)``."""
    venv = tmp_path_factory.mktemp("student-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    # JupyterLab too, as the intro tells students (pip install <wheel> jupyterlab).
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
                              str(student_wheel), "jupyterlab"], env=env, capture_output=True, text=True,
                             timeout=1800)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    def run(args, cwd, timeout=3600):
        return subprocess.run([str(python)] + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)

    run.python, run.env = python, env
    return run


def run_notebooks(student_env, folder, paths):
    runner = folder / "run_notebooks.py"
    runner.write_text(RUNNER)
    result = student_env([runner] + [p.name for p in paths], cwd=folder)
    assert result.returncode == 0, result.stderr[-4000:]
    return {Path(r["notebook"]).name: r for r in map(json.loads, result.stdout.splitlines())}


pytestmark_slow = pytest.mark.slow


@pytestmark_slow
def test_the_wheel_holds_lectlib_and_no_grader_solution_or_hidden_case(student_wheel):
    assert student_wheel.name == student_notebooks.wheel_name()
    with zipfile.ZipFile(student_wheel) as wheel:
        names = wheel.namelist()
        texts = {name: wheel.read(name).decode("utf-8", errors="replace") for name in names}
    assert any(name == "lectlib/__init__.py" for name in names)
    assert {f"lectlib/homework/cases/{a}.json" for a in ASSIGNMENTS} <= set(names)
    assert "lectlib/homework/__main__.py" in names and "lectlib/homework/visible.py" in names
    assert not [n for n in names if n.startswith(("autograder", "solutions", "tests", "release", "bench"))], names
    for name, text in texts.items():
        for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
            assert marker not in text, f"{name} holds {marker!r}"
    assert_no_hidden_case([texts[f"lectlib/homework/cases/{a}.json"] for a in ASSIGNMENTS])


@pytestmark_slow
def test_autograder_cannot_be_imported_in_the_student_environment(student_env, tmp_path):
    result = student_env(["-c", "import lectlib, lectlib.homework.visible; print(lectlib.__file__)"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not result.stdout.strip().startswith(str(ROOT)), result.stdout
    result = student_env(["-c", "import autograder"], cwd=tmp_path)
    assert result.returncode != 0 and "ModuleNotFoundError: No module named 'autograder'" in result.stderr


@pytestmark_slow
def test_every_downloaded_chapter_notebook_runs_in_the_student_environment(site, student_env, tmp_path):
    downloads = sorted((site / "_sources" / "chapters").glob("*.ipynb"))
    assert len(downloads) >= 10, downloads
    copies = []
    for path in downloads:
        notebook = nbformat.read(path, as_version=4)
        note = notebook.cells[0]
        assert note.cell_type == "markdown" and note.metadata.get(student_notebooks.NOTE_KEY), path.name
        assert "import lectlib" in note.source and f"pip install {student_notebooks.wheel_name()}" in note.source
        copies.append(tmp_path / path.name)
        copies[-1].write_bytes(path.read_bytes())
    results = run_notebooks(student_env, tmp_path, copies)
    failed = {name: r["error"] for name, r in results.items() if r["error"]}
    assert not failed, failed
    assert set(results) == {p.name for p in copies}


def released_notebooks(site):
    """The homework notebooks as the site serves them (the homework page's downloads)."""
    found = {path.stem: path for path in (site / "_downloads").rglob("*.ipynb") if path.stem in ASSIGNMENTS}
    assert set(found) == set(ASSIGNMENTS), found
    return found


def with_reference_answers(released, assignment):
    """The released notebook with each answer cell replaced by the source notebook's answer."""
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(released, as_version=4)
    filled = 0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "\n".join(line for line in answers[meta["grade_id"]].splitlines()
                                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            filled += 1
    assert filled == len(answers)
    return notebook


@pytestmark_slow
def test_released_homework_stops_at_the_first_answer_when_untouched(site, student_env, tmp_path):
    copies = []
    for assignment, path in released_notebooks(site).items():
        copies.append(tmp_path / f"{assignment}.ipynb")
        copies[-1].write_bytes(path.read_bytes())
    results = run_notebooks(student_env, tmp_path, copies)
    for assignment in ASSIGNMENTS:
        first = next(iter(visible.load(assignment).values()))
        error = results[f"{assignment}.ipynb"]["error"]
        assert error is not None, f"{assignment}: the untouched notebook ran to the end"
        assert error["grade_id"] == first.grade_id and error["ename"] == "AssertionError", error
        assert error["evalue"] == f"{first.function} is not written yet (it raises NotImplementedError)", error
    # The student's command names everything that is missing.
    result = student_env(["-m", "lectlib.homework", "check", "losses.ipynb"], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Still missing: " + ", ".join(f.function for f in visible.load("losses").values()) in result.stdout


@pytestmark_slow
def test_released_homework_with_the_reference_answers_passes_the_student_check(site, student_env, tmp_path):
    for assignment, path in released_notebooks(site).items():
        nbformat.write(with_reference_answers(path, assignment), tmp_path / f"{assignment} (1).ipynb")
    for assignment in ASSIGNMENTS:
        result = student_env(["-m", "lectlib.homework", "check", f"{assignment} (1).ipynb"], cwd=tmp_path)
        out = result.stdout
        assert result.returncode == 0, out + result.stderr[-3000:]
        graded = visible.load(assignment)
        for function in graded.values():
            visible_count = len(function.cases)
            passes = "the visible case passes" if visible_count == 1 else "the visible cases pass"
            assert f"[ passed] {function.function}: {passes}." in out, out
        assert "error]" not in out and "[warning]" not in out, out
        assert f"{len(graded)} of {len(graded)} graded functions pass" in out and "Ready to hand in" in out, out


# ------------------------------------------------------------------ a chapter in JupyterLab
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
RAW_MYST = (":::", "```{", "{dropdown}", "{admonition}", "{py:func}", "{py:mod}")


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def jupyterlab(student_env, tmp_path):
    """JupyterLab from the student environment, headless on localhost with a token, its
    settings and runtime files in ``tmp_path``; every cell rendered (no windowing), no
    news or update checks. Yields ``(url, token, folder)``."""
    import secrets
    import time
    import urllib.request

    folder, config = tmp_path / "work", tmp_path / "config"
    folder.mkdir()
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    token, port = secrets.token_hex(16), free_port()
    env = {**student_env.env, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(config / "lab" / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(config / "lab" / "workspaces")}
    server = subprocess.Popen(
        [str(student_env.python), "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"JupyterLab did not start:\n{server.stdout.read()[-3000:]}")
                time.sleep(1)
        yield url, token, folder
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@pytestmark_slow
def test_a_downloaded_chapter_reads_like_its_page_in_jupyterlab(site, jupyterlab):
    """Opened in the JupyterLab a student installs (no MyST extension): the exercises and
    their solutions show no MyST source, every solution is collapsed until clicked, the
    math is typeset and lectlib's names link to the site's API page."""
    from urllib.parse import urljoin, urlparse

    playwright_sync = pytest.importorskip("playwright.sync_api")
    url, token, folder = jupyterlab
    chapter = site / "_sources" / "chapters" / "04_scans.ipynb"
    # As the site's download button hands it over: links made absolute against the site
    # (course_site.js; tests/test_site.py checks the button).
    site_address = "http://127.0.0.1:8000/_sources/chapters/04_scans.ipynb"
    notebook = json.loads(chapter.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            cell["source"] = re.sub(r"\]\(((?:\.\./)*[\w/.-]+\.html(?:#[^)\s]*)?)\)",
                                    lambda m: f"]({urljoin(site_address, m.group(1))})", source)
    (folder / chapter.name).write_text(json.dumps(notebook), encoding="utf-8")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        local = urlparse(url).netloc
        page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).netloc == local
                   or urlparse(route.request.url).scheme in ("data", "blob") else route.abort())
        page.goto(f"{url}/lab/tree/{chapter.name}?token={token}", wait_until="domcontentloaded")
        cells = page.locator(".jp-NotebookPanel .jp-Notebook")
        cells.wait_for(timeout=120_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownCell .jp-RenderedMarkdown').length > 10",
            timeout=120_000)
        page.wait_for_selector(".jp-NotebookPanel .jp-RenderedMarkdown mjx-container", timeout=120_000)
        page.wait_for_timeout(1500)
        text = cells.inner_text()
        assert not [marker for marker in RAW_MYST if marker in text], [m for m in RAW_MYST if m in text]
        assert "Exercise 4.1" in text
        # Every solution is a collapsed <details>; its text shows only after a click.
        solutions = cells.locator(".jp-RenderedMarkdown details")
        assert solutions.count() >= 3
        assert all(not details.evaluate("d => d.open") for details in solutions.all())
        first = solutions.first
        hidden_text = first.locator("p").first
        assert not hidden_text.is_visible()
        first.locator("summary").click()
        assert first.evaluate("d => d.open") and hidden_text.is_visible()
        # Math in the exercises and solutions is typeset, none left as TeX.
        assert first.locator("mjx-container").count() >= 1
        assert cells.locator(".jp-RenderedMarkdown mjx-container").count() > 20
        assert "\\mapsto" not in text and "$$" not in text
        # lectlib's names are links to the site's API page.
        links = cells.locator(".jp-RenderedMarkdown a[href^='http://127.0.0.1:8000/api.html#lectlib.']")
        assert links.count() >= 3
        browser.close()
