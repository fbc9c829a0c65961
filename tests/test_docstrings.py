"""One hop from formula to code to test: every public lectlib function's docstring names
the chapter it implements and a test file that exists (the API reference page shows
both). The homework's visible-test helper (``lectlib.homework``) implements no chapter;
its docstrings name the homework instead. Fast: it imports lectlib and reads docstrings."""
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import lectlib

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = re.compile(r"\b[Cc]hapters? (\d+)\b")
TEST_FILE = re.compile(r"\btests/(test_\w+\.py)\b")


def public_modules():
    names = [info.name for info in pkgutil.walk_packages(lectlib.__path__, prefix="lectlib.")]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split(".")))


def public_functions():
    """(qualified name, function) for every public function defined in a public module."""
    found = []
    for name in public_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isfunction(value) or value.__module__ != name:
                continue
            found.append((f"{name}.{attr}", value))
    return found


def chapter_numbers():
    return {int(p.name.split("_")[0]) for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md")}


def test_there_are_public_functions_to_check():
    names = [name for name, _ in public_functions()]
    assert "lectlib.scans.scan" in names and "lectlib.bptt.elman_grads" in names and len(names) > 50


@pytest.mark.parametrize("name, function", public_functions(), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_names_its_chapter_and_an_existing_test(name, function):
    doc = inspect.getdoc(function) or ""
    assert doc, f"{name} has no docstring"
    chapters = {int(n) for n in CHAPTER.findall(doc)}
    if name.startswith("lectlib.homework."):
        assert chapters or re.search(r"\b[Hh]omework\b", doc), f"{name}: the docstring names no homework"
    else:
        assert chapters, f"{name}: the docstring names no chapter ('Chapter N')"
    assert chapters <= chapter_numbers(), f"{name}: names chapter(s) {sorted(chapters - chapter_numbers())}, which do not exist"
    tests = TEST_FILE.findall(doc)
    assert tests, f"{name}: the docstring names no test file ('tests/test_x.py')"
    missing = [t for t in tests if not (ROOT / "tests" / t).exists()]
    assert not missing, f"{name}: names test files that do not exist: {missing}"
