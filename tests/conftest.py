"""Shared test settings and fixtures.

Strict JAX everywhere (rank promotion raises), as the course's style asks. The book is
built once per test session, the way ``make book`` builds it, and shared by the book
and browser tests.
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
