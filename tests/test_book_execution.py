"""How the book's pages execute (book_support/course_execution.py): a page executes again
when a lectlib module it imports changes, and only then; its kernels use JAX's persistent
compilation cache under the build folder."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import BIN, ROOT

sys.path.insert(0, str(ROOT / "book_support"))
import course_execution  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))


def relative(files, root):
    return {Path(f).relative_to(root).as_posix() for f in files}


def test_relative_imports_strings_and_data_folders_are_followed(tmp_path):
    package = tmp_path / "lectlib"
    (package / "sub").mkdir(parents=True)
    (package / "data_files").mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\nfrom .sub import c\n")
    (package / "b.py").write_text("def f():\n    import importlib\n    return importlib.import_module('lectlib.d')\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from ..e import g\n")
    (package / "d.py").write_text("from importlib import resources\nPATH = resources.files('lectlib') / 'data_files'\n")
    (package / "e.py").write_text("g = 1\n")
    (package / "unused.py").write_text("import lectlib.a\n")
    (package / "data_files" / "numbers.json").write_text("[1]")
    found = relative(course_execution.page_modules("from lectlib import a\n", tmp_path), tmp_path)
    assert found == {"lectlib/__init__.py", "lectlib/a.py", "lectlib/b.py", "lectlib/sub/__init__.py",
                     "lectlib/sub/c.py", "lectlib/d.py", "lectlib/e.py", "lectlib/data_files/numbers.json"}
    # A member of a module names the module; a name that is no module is ignored.
    assert relative(course_execution.page_modules("x = lectlib.e.g + lectlib.nothing", tmp_path), tmp_path) == {
        "lectlib/__init__.py", "lectlib/e.py"}
    assert course_execution.page_modules("import numpy", tmp_path) == []


LOADED = """
import json, sys
import lectlib  # the package itself and what it imports eagerly
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "lectlib" or m.startswith("lectlib.")]:
        del sys.modules[loaded]
    __import__(name)
    print(json.dumps([name, sorted({sys.modules[m].__file__ for m in sys.modules
                                    if (m == "lectlib" or m.startswith("lectlib.")) and sys.modules[m].__file__})]))
"""


@pytest.mark.slow
def test_every_module_python_loads_is_a_dependency():
    """Against Python's own import machinery: whatever importing a lectlib module loads
    (in a fresh set of lectlib modules) is among the files page_modules finds. (Slow:
    imports every module again, about 15 s.)"""
    names = [name for name in _public_modules() if not name.endswith("__main__")]
    result = subprocess.run([sys.executable, "-c", LOADED, *names], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in result.stdout.splitlines():
        name, loaded = json.loads(line)
        found = {str(p) for p in course_execution.page_modules(f"import {name}\n", ROOT)}
        assert set(loaded) <= found, (name, set(loaded) - found)


def _public_modules():
    import pkgutil

    import lectlib

    return sorted(info.name for info in pkgutil.walk_packages(lectlib.__path__, prefix="lectlib."))


def test_each_chapter_depends_on_what_it_imports_and_not_on_other_chapters_modules():
    dependencies = {chapter.stem: relative(course_execution.page_modules(
        course_execution.code_of_page(chapter.read_text()), ROOT), ROOT) for chapter in CHAPTERS}
    for chapter, files in dependencies.items():
        assert {"lectlib/__init__.py", "lectlib/scans.py"} <= files, chapter
    language = [c for c, files in dependencies.items() if "lectlib/language.py" in files]
    assert language and all("language" in c for c in language), language
    assert not any("lectlib/beyond/hopfield.py" in files for c, files in dependencies.items() if "beyond" not in c)


def test_the_digest_goes_into_the_kernelspec_and_keeps_every_line_number():
    text = (ROOT / "chapters" / CHAPTERS[0].name).read_text()
    marked = course_execution.with_digest(text, "0123456789abcdef")
    assert marked.count("\n") == text.count("\n")
    assert marked.splitlines()[20:] == text.splitlines()[20:]
    import yaml

    front = yaml.safe_load(marked.split("---\n")[1])
    assert front["kernelspec"]["lectlib_digest"] == "0123456789abcdef"
    assert front["kernelspec"]["name"] == "python3"
    assert course_execution.with_digest("# no front matter\n", "x") == "# no front matter\n"


def test_the_compile_cache_is_keyed_by_machine_and_drops_other_machines_caches(tmp_path):
    stale = tmp_path / "jax-cache" / "another-machine"
    stale.mkdir(parents=True)
    folder = course_execution.compile_cache_folder(tmp_path)
    assert folder.parent == tmp_path / "jax-cache" and folder.is_dir() and not stale.exists()
    assert folder.name == course_execution.machine_key() and len(folder.name) == 16
    environment = course_execution.compile_cache_environment(folder)
    assert environment["JAX_COMPILATION_CACHE_DIR"] == str(folder)
    assert environment["JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES"] == "none"


# ---------------------------------------------------------------- a small book, built three times
PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# {title}

```{{code-cell}} ipython3
{code}
```
"""


def small_book(folder):
    """A book with the course's configuration, a copy of lectlib beside it and two pages:
    one imports ``lectlib.language``, the other only ``lectlib``."""
    folder.mkdir()
    shutil.copy(ROOT / "_config.yml", folder / "_config.yml")
    (folder / "book_support").symlink_to(ROOT / "book_support")
    shutil.copytree(ROOT / "lectlib", folder / "lectlib", ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "intro.md").write_text("# Intro\n\nTwo pages.\n")
    (folder / "pages").mkdir()
    (folder / "pages" / "language.md").write_text(PAGE.format(title="Language", code=textwrap.dedent("""\
        import lectlib.language
        print("mark:", getattr(lectlib.language, "BUILD_MARK", "original"))
        import jax
        print("sum:", int(jax.jit(lambda x: x.sum())(jax.numpy.arange(4))))""")))
    (folder / "pages" / "other.md").write_text(PAGE.format(title="Other", code=textwrap.dedent("""\
        import lectlib
        print("mark:", lectlib.scan.__name__)""")))
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: pages/language\n"
                                     "  - file: pages/other\n")
    return folder


def build(book):
    """Builds ``book`` with its own lectlib first on the path (the kernels inherit it);
    returns the pages that executed."""
    env = {**os.environ, "PYTHONPATH": str(book)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    result = subprocess.run([str(BIN / "jupyter-book"), "build", "--warningiserror", "--keep-going", str(book)],
                            cwd=book, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    return {Path(line.split(":")[0]).stem for line in result.stdout.splitlines() if "Executing notebook" in line}


@pytest.mark.slow
def test_a_change_to_lectlib_executes_again_exactly_the_pages_that_import_it(tmp_path):
    book = small_book(tmp_path / "book")
    assert build(book) == {"language", "other"}
    html = (book / "_build" / "html" / "pages" / "language.html").read_text()
    assert "mark: original" in html
    cache = book / "_build" / "jax-cache" / course_execution.machine_key()
    assert any(cache.iterdir()), "the kernels stored nothing in the compilation cache"

    language = book / "lectlib" / "language.py"
    language.write_text(language.read_text() + '\nBUILD_MARK = "changed"\n')
    assert build(book) == {"language"}
    assert "mark: changed" in (book / "_build" / "html" / "pages" / "language.html").read_text()

    os.utime(book / "lectlib" / "scans.py")          # newer, not different: re-read, nothing executes
    assert build(book) == set()
