"""Every page of the book is clean text: no control characters.

A control character in a page is invisible in an editor and breaks the site: a BEL byte
(0x07) left where ``\\a`` was typed in ``\\alpha`` makes MathJax show "Math input error".
Only newline and tab are allowed (and carriage return is not: pages use Unix line ends).
The pages are the ones the table of contents lists (``_toc.yml``), so a new page is checked
as soon as it is in the book.
"""
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"\n", "\t"}


def book_pages():
    """The Markdown source of every page in ``_toc.yml`` (root, parts, chapters, sections)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def collect(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            collect(entry.get("sections"))
            collect(entry.get("chapters"))

    for part in toc.get("parts", []):
        collect(part.get("chapters"))
    collect(toc.get("chapters"))
    return [ROOT / f"{name}.md" for name in files]


def control_characters(text):
    """``(line, column, character)`` of every control character (Unicode category Cc) in
    ``text`` other than newline and tab; lines and columns count from 1."""
    found = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        for column, character in enumerate(line, start=1):
            if character not in ALLOWED and unicodedata.category(character) == "Cc":
                found.append((line_number, column, character))
    return found


def test_the_table_of_contents_lists_the_pages_we_expect():
    pages = {page.relative_to(ROOT).as_posix() for page in book_pages()}
    assert {"intro.md", "glossary.md", "references.md", "homework.md"} <= pages
    assert len([p for p in pages if re.match(r"chapters/\d\d_", p)]) >= 10, pages
    for page in book_pages():
        assert page.is_file(), f"{page} is in _toc.yml but does not exist"


def test_the_detector_finds_what_it_must_and_nothing_else():
    assert control_characters("\\alpha\tok\n") == []
    assert control_characters("first\nsecond \x07lpha") == [(2, 8, "\x07")]
    assert [c for _, _, c in control_characters("a\rb\x1bc\x7fd\x00")] == ["\r", "\x1b", "\x7f", "\x00"]
    assert control_characters("γ → ∞, naïve") == []


@pytest.mark.parametrize("page", book_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_has_no_control_characters(page):
    found = control_characters(page.read_text(encoding="utf-8"))
    where = ", ".join(f"line {line} column {column}: {ord(c):#04x} ({unicodedata.name(c, 'control')})"
                      for line, column, c in found)
    assert not found, f"{page.relative_to(ROOT)} contains control characters at {where}; " \
                      "retype them (a backslash escape in a Python string, such as '\\a', may have turned into one)"
