"""The book builds with warnings as errors, no executed cell errors, every page offers its
notebook, nothing is loaded from another host, and a broken page really fails the build."""
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, build_book

pytestmark = pytest.mark.slow


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def test_every_toc_entry_exists_and_chapters_are_in_lecture_order():
    files = toc_files()
    for name in files:
        assert (ROOT / f"{name}.md").exists(), name
    chapters = [f for f in files if f.startswith("chapters/")]
    assert chapters == sorted(chapters), chapters


def test_no_executed_cell_has_an_error(built_site):
    executed = sorted((built_site.parent / "jupyter_execute").rglob("*.ipynb"))
    assert executed
    for path in executed:
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", f"{path.name}: {output.get('ename')}: {output.get('evalue')}"
                assert output.get("name") != "stderr", f"{path.name} wrote to stderr: {output.get('text')}"


def test_every_chapter_offers_a_runnable_notebook(built_site):
    for name in toc_files():
        if not name.startswith("chapters/"):
            continue
        notebook = built_site / "_sources" / f"{name}.ipynb"
        assert notebook.exists(), f"no .ipynb download for {name}"
        assert json.loads(notebook.read_text())["nbformat"] == 4
        page = (built_site / f"{name}.html").read_text()
        assert f"{Path(name).name}.ipynb" in page, f"{name}.html does not link its notebook"


class ResourceCollector(HTMLParser):
    """Every address a page loads by itself: scripts, styles, images, fonts, frames."""

    LOADING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
               ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}

    def __init__(self):
        super().__init__()
        self.addresses = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") not in (None, "stylesheet", "icon", "preload", "modulepreload"):
            return  # navigation links (next, prev, search) load nothing
        for loading_tag, attr in self.LOADING:
            if tag == loading_tag and attrs.get(attr):
                self.addresses.append(attrs[attr])


def test_no_page_loads_anything_from_another_host(built_site):
    remote = re.compile(r"^(https?:)?//", re.IGNORECASE)
    offenders = {}
    for page in built_site.rglob("*.html"):
        collector = ResourceCollector()
        collector.feed(page.read_text(encoding="utf-8"))
        found = [a for a in collector.addresses if remote.match(a)]
        css_imports = re.findall(r"@import\s+url\((['\"]?)(https?:)?//", page.read_text(encoding="utf-8"))
        if found or css_imports:
            offenders[str(page.relative_to(built_site))] = found + [str(i) for i in css_imports]
    assert not offenders, offenders
    for stylesheet in built_site.rglob("*.css"):
        text = stylesheet.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"url\((['\"]?)(https?:)?//", text), f"{stylesheet} loads from another host"
    for page in built_site.rglob("*.html"):
        assert "cdn.jsdelivr" not in page.read_text() and "unpkg.com" not in page.read_text(), page


BROKEN_PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# A broken page

{body}
"""


def make_small_book(tmp_path, body):
    """A copy of the course's book configuration with one page holding ``body``."""
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "intro.md", book / "intro.md")
    (book / "book_support").symlink_to(ROOT / "book_support")
    (book / "page.md").write_text(BROKEN_PAGE.format(body=body))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    return book


def test_a_cell_that_raises_fails_the_build(tmp_path):
    book = make_small_book(tmp_path, "```{code-cell} ipython3\nraise RuntimeError('planted failure')\n```\n")
    result = build_book(book, timeout=300)
    assert result.returncode != 0
    assert "planted failure" in result.stdout


def test_a_bad_cross_reference_fails_the_build(tmp_path):
    book = make_small_book(tmp_path, "See {ref}`no-such-label`.\n")
    result = build_book(book, timeout=300)
    assert result.returncode != 0
    assert "no-such-label" in result.stdout


def test_homework_page_offers_the_student_versions_only(built_site):
    page = (built_site / "homework.html").read_text()
    for assignment in ("scans", "losses", "bptt", "gated", "ssm"):
        downloads = list((built_site / "_downloads").rglob(f"{assignment}.ipynb"))
        assert len(downloads) == 1, assignment
        assert downloads[0].relative_to(built_site).as_posix() in page
        text = downloads[0].read_text()
        assert "YOUR CODE HERE" in text and "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text


def test_every_chapter_has_a_figure_and_exercises_with_solutions(built_site):
    chapters = sorted((ROOT / "chapters").glob("*.md"))
    assert chapters
    for chapter in chapters:
        source = chapter.read_text()
        assert source.count("{admonition} Exercise") >= 2, f"{chapter.name}: fewer than 2 exercises"
        assert source.count("{dropdown} Solution") >= source.count("{admonition} Exercise"), chapter.name
        html = (built_site / "chapters" / f"{chapter.stem}.html").read_text()
        assert "lectlib-interactive-figure" in html, f"{chapter.name}: no interactive figure on the page"


# --- one hop from formula to code to test ----------------------------------------------------

@pytest.fixture(scope="module")
def site(request):
    """The built website's folder: ``$COURSE_SITE`` if set (a site built elsewhere), else
    this checkout's build."""
    override = os.environ.get("COURSE_SITE")
    return Path(override) if override else request.getfixturevalue("built_site")


def public_modules():
    import pkgutil

    import lectlib

    names = [info.name for info in pkgutil.walk_packages(lectlib.__path__, prefix="lectlib.")]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split(".")))


def test_the_api_page_documents_every_public_lectlib_module(site):
    inventory = load_inventory(site)
    modules = set(inventory.get("py:module", {}))
    assert set(public_modules()) | {"lectlib"} <= modules, set(public_modules()) - modules
    functions = inventory.get("py:function", {})
    for name in ("lectlib.scan", "lectlib.scans.scan", "lectlib.bptt.elman_grads", "lectlib.cells.elman.step"):
        assert name in functions and functions[name][2].startswith("api.html#"), name


def load_inventory(site):
    from sphinx.util.inventory import InventoryFile

    with open(site / "objects.inv", "rb") as stream:
        return InventoryFile.load(stream, "", lambda base, uri: uri)


def test_every_api_role_in_the_pages_resolves(site):
    # Sphinx leaves an unresolved {py:func} as plain text without a warning; here it fails.
    inventory = load_inventory(site)
    known = {name for objects in inventory.values() for name in objects}
    role = re.compile(r"\{py:(?:func|mod|class|obj|data|meth|attr)\}`~?([^`<]+?)(?:\s*<([^>]+)>)?`")
    missing = {}
    for page in [*ROOT.glob("*.md"), *(ROOT / "chapters").glob("*.md")]:
        for match in role.finditer(page.read_text(encoding="utf-8")):
            target = (match.group(2) or match.group(1)).strip()
            if target not in known:
                missing.setdefault(page.name, []).append(target)
    assert not missing, missing


def test_every_figure_a_cell_draws_is_on_the_page(site):
    # A widget once switched matplotlib to Agg, and every later figure of the page vanished.
    draws = re.compile(r"^(?:fig\w*|\w+)\s*(?:,\s*\w+\s*)*=\s*plt\.(?:subplots|figure)\(|^plt\.(?:plot|imshow)\(", re.M)
    missing = []
    for path in sorted((site.parent / "jupyter_execute").rglob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            tags = set(cell.get("metadata", {}).get("tags", []))
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] != "code" or tags & {"remove-output", "remove-cell"} or not draws.search(source):
                continue
            if not any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])):
                missing.append(f"{path.name} cell {index}: {source.splitlines()[0][:60]}")
    assert not missing, missing
