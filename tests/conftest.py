"""Shared test settings and fixtures.

Strict JAX everywhere (rank promotion raises), as the course's style asks. The book is
built once per test session, the way ``make book`` builds it, and shared by the book
and browser tests.

Tiers: ``make test-fast`` runs the tests not marked ``slow`` (no book build, browser,
end-to-end grading or student venv); ``make test`` runs all of them. A test that uses one
of the expensive fixtures (``SLOW_FIXTURES``) is marked ``slow`` here even if its module
forgot to (a test of test_feedback.py used its graded batch unmarked). The tests' own JAX
process keeps what it compiles in ``_build/jax-cache-tests/`` (JAX's persistent
compilation cache, keyed as the book's is), so a second run loads instead of compiling.

Under pytest-xdist (``pytest -n 2``), every module runs whole on one worker, so its
module-scoped fixtures (a released course, a graded batch) are made once; and the modules
that build the book or the student package (``BOOK_MODULES``) share one worker, since they
write into the checkout (``_build/``, ``student/build``, ``book_support/static``) and
share the one built site and the one student venv.
"""
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The built site, the student package and its venv, the browser, and the batches graded end
# to end in the sandbox (test_feedback's, test_grading's, test_grading_interrupt's).
SLOW_FIXTURES = {"built_site", "site", "student_wheel", "student_env", "browser", "graded", "first_batch",
                 "uninterrupted"}
BOOK_MODULES = {"test_book.py", "test_book_execution.py", "test_site.py", "test_student_package.py"}


def use_compile_cache():
    """JAX's persistent compilation cache for this process (not the subprocesses the tests
    start: the grader and the student's environment choose their own), unless the caller
    set one."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    sys.path.insert(0, str(ROOT / "book_support"))
    try:
        from course_execution import compile_cache_environment, compile_cache_folder
    finally:
        sys.path.remove(str(ROOT / "book_support"))
    folder = compile_cache_folder(ROOT / "_build", name="jax-cache-tests")
    for name, value in compile_cache_environment(folder).items():
        option = name.lower()
        jax.config.update(option, float(value) if option.endswith("_secs") else
                          int(value) if option.endswith("_bytes") else value)


use_compile_cache()


def pytest_itemcollected(item):
    """Marks as each test is collected, before ``-m`` selects."""
    if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("slow"):
        item.add_marker(pytest.mark.slow)


def work_unit(nodeid):
    """The part of the suite one xdist worker runs whole: ``"book"`` for the modules that
    build the book or the student package, else the test's module."""
    module = nodeid.split("::", 1)[0]
    return "book" if Path(module).name in BOOK_MODULES else module


def pytest_xdist_make_scheduler(config, log):
    """Under xdist, whole work units (``work_unit``) go to one worker each. (xdist's own
    ``--dist loadgroup`` cannot do it with pytest 9: the group it appends to a test's id is
    lost, and tests of one group are spread over the workers.)"""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


def build_book(source, timeout=900):
    """Vendors the site's assets, releases the homework and builds the book at ``source``
    with warnings as errors.

    Returns the finished ``subprocess.CompletedProcess`` (output merged into stdout).
    """
    subprocess.run([sys.executable, str(ROOT / "book_support" / "vendor.py")], check=True, cwd=ROOT)
    if (Path(source) / "solutions").is_dir():
        # The homework page links the student versions, as `make book` releases them first.
        subprocess.run([str(BIN / "autograder"), "--course", str(source), "release"], check=True,
                       stdout=subprocess.DEVNULL)
    return subprocess.run(
        [str(BIN / "jupyter-book"), "build", "--warningiserror", "--keep-going", str(source)],
        cwd=source, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def built_site():
    """The course website, built from this checkout into ``_build/html``."""
    result = build_book(ROOT)
    assert result.returncode == 0, f"the book build failed:\n{result.stdout[-6000:]}"
    return ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def site(request):
    """The built website's folder: ``$COURSE_SITE`` if set (a site built elsewhere, e.g.
    with ``jupyter-book build --path-output``), else this checkout's build."""
    override = os.environ.get("COURSE_SITE")
    if override:
        path = Path(override)
        assert (path / "intro.html").exists(), f"COURSE_SITE={override} holds no built site"
        return path
    return request.getfixturevalue("built_site")
