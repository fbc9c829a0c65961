"""The pages speak one language: every work cited is listed and every work listed is cited
(references.md), one symbol per meaning (the collisions the notation once had stay gone),
and the homework's graded names mean in the chapters what they mean in the homework.

The successor of the text checks in test_pages_text.py for issue items 3, 5 and 7; the
pages are the ones ``_toc.yml`` lists.
"""
import json
import re
from pathlib import Path

import pytest

from test_pages_text import book_pages

ROOT = Path(__file__).resolve().parents[1]
YEAR = r"(1[89]\d\d|20[0-3]\d)"
# "Surname, 2015", "Surname (2015)", "Surname et al., 2015", "Surname et al. (2015)", "Surname and Other, 2015"
CITATION = re.compile(r"([A-Z][\w'’\-éè]+)(?: et al\.)?,? \(?" + YEAR + r"\b")


def prose(text):
    """The page without its code cells, code blocks and inline code: what a reader reads as text."""
    text = re.sub(r"```\{code-cell\}.*?```", " ", text, flags=re.S)
    text = re.sub(r"~~~.*?~~~", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    return " ".join(text.split())


def listed_works(text):
    """``(surnames of the authors, year)`` of every entry of references.md; an entry is a
    list item, its authors what comes before the first quotation mark or italic title."""
    works = []
    for entry in re.findall(r"^- (.*?)(?=^- |^#|\Z)", text, flags=re.S | re.M):
        entry = " ".join(entry.split())
        authors = re.split(r"[\"“*]", entry, maxsplit=1)[0]
        names = [name.strip() for name in re.split(r",| and | et al\.", authors) if name.strip()]
        surnames = {re.sub(r"\s+Jr\.?$", "", name).split()[-1].rstrip(".") for name in names}
        years = re.findall(YEAR, entry)
        works.append((frozenset(surnames), years[-1] if years else None, entry[:60]))
    return works


NOT_AUTHORS = {"In", "From", "Since", "By", "Until", "Before", "After", "Around", "Chapter", "Exercise"}


def citations(text):
    """``(the 80 characters before the year, year)`` of every author–year citation; a list of
    years after one name ("Shannon (1948, 1951)") cites each."""
    found = []
    for m in CITATION.finditer(text):
        if m.group(1) in NOT_AUTHORS:
            continue
        window = text[max(0, m.start() - 80):m.end(1) + 12]
        found.append((window, m.group(2)))
        more = re.match(r"(?:, " + YEAR + r")+", text[m.end():])
        found += [(window, year) for year in re.findall(YEAR, more.group(0))] if more else []
    return found


def cited_in(window, year, work):
    surnames, work_year, _ = work
    return year == work_year and any(re.search(rf"\b{re.escape(s)}\b", window) for s in surnames)


def chapter_texts():
    return {page.relative_to(ROOT).as_posix(): prose(page.read_text(encoding="utf-8"))
            for page in book_pages() if page.name != "references.md"}


def test_the_citation_finder_finds_author_year_forms():
    text = "as Hochreiter & Schmidhuber, 1997, and Le et al., 2015 and Pascanu et al. (2013) and Gu, Goel and Ré, 2022"
    found = {year for _, year in citations(text)}
    assert found == {"1997", "2015", "2013", "2022"}
    assert [year for _, year in citations("Shannon (1948, 1951) for bits")] == ["1948", "1951"]
    assert citations("on 2000 random strings, 1000 Adam steps. In 1878 Galton") == []
    work = listed_works('- Quoc V. Le, Navdeep Jaitly and Geoffrey E. Hinton. "A simple way". arXiv, 2015.\n')[0]
    assert work[0] == {"Le", "Jaitly", "Hinton"} and work[1] == "2015"
    assert cited_in("initialisation of Le et al., 2015", "2015", work)
    assert not cited_in("Vaswani et al. (2017)", "2017", work)


def test_every_cited_work_is_listed():
    works = listed_works((ROOT / "references.md").read_text(encoding="utf-8"))
    missing = [(page, window) for page, text in chapter_texts().items() for window, year in citations(text)
               if not any(cited_in(window, year, work) for work in works)]
    assert not missing, "cited but not in references.md: " + "; ".join(f"{p}: …{w}…" for p, w in missing)


def test_every_listed_work_is_cited():
    works = listed_works((ROOT / "references.md").read_text(encoding="utf-8"))
    found = [(window, year) for text in chapter_texts().values() for window, year in citations(text)]
    uncited = [work[2] for work in works if not any(cited_in(window, year, work) for window, year in found)]
    assert not uncited, f"listed in references.md but cited on no page (author, year): {uncited}"


def math_of(text):
    """The LaTeX of every ``$...$`` and ``$$...$$`` in ``text`` (prose only), one string each."""
    return re.findall(r"\$\$(.+?)\$\$|\$([^$]+?)\$", text, flags=re.S)


def math_pieces(text):
    return [block or inline for block, inline in math_of(text)]


# (what, a pattern in the page's math that uses the symbol in the wrong sense)
COLLISIONS = [
    ("V is the read-out matrix, not the vocabulary (write K = |𝒱|)", r"\|\s*V\s*\||\\lvert\s*V\s*\\rvert"),
    ("o_t is the read-out's output, not the LSTM's output gate (write q_t)", r"o_t\s*&?=\s*\\sigma|[UWb]_o\b"),
    ("c is the read-out bias, not the LSTM cell state (write s_t)", r"c_t\s*&?=\s*f_t|c_\{t-1\}|\\partial c_"),
    ("c is the read-out bias, not a character (write x_t)", r"p\(c_|e\(c"),
    ("s_t is the LSTM cell state, not a decoder's state (write h'_t)", r"W_a\s*s_|\\mathrm\{GRU\}\(s_"),
    ("the Hopfield state is h, not s", r"E\(s\)"),
]
# A page may name the other convention once, where it says so.
ALLOWED_BESIDE = re.compile(r"PyTorch|Olah")


def collisions(text):
    """``(what, the math)`` for every wrong-sense use of a symbol in ``text``."""
    found = []
    for piece in math_pieces(prose(text)):
        for what, pattern in COLLISIONS:
            if re.search(pattern, piece):
                found.append((what, piece.strip()[:80]))
    return found


def test_the_collision_finder_finds_the_old_notation():
    old = ("$$o_t &= \\sigma(U_o x_t + W_o h_{t-1} + b_o),\\\\ c_t &= f_t \\odot c_{t-1}$$ of $|V|$ characters, "
           "$p(c_{t+1} \\mid c_1)$, the decoder in state $\\tanh(W_a s_{t-1})$, energy $E(s)$")
    assert {what for what, _ in collisions(old)} == {what for what, _ in COLLISIONS}
    new = ("$$q_t &= \\sigma(U_q x_t + W_q h_{t-1} + b_q),\\\\ s_t &= f_t \\odot s_{t-1}$$ of $K$ characters, "
           "$o_t = c + V h_t$, $p(x_{t+1} \\mid x_1)$, $\\tanh(W_a h'_{t-1})$, $E(h)$")
    assert collisions(new) == []


@pytest.mark.parametrize("page", book_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_one_symbol_one_meaning(page):
    text = page.read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if not ALLOWED_BESIDE.search(p)]
    found = collisions("\n\n".join(paragraphs))
    assert not found, f"{page.relative_to(ROOT)}: " + "; ".join(f"{what}: ${math}$" for what, math in found)


def test_a_page_that_reverses_the_grus_z_says_so():
    """Chapter 9's GRU keeps z_t of the old state; a page whose z_t writes must warn."""
    for page in book_pages():
        text = prose(page.read_text(encoding="utf-8"))
        if re.search(r"\(1 - z_t\) \\odot h_\{t-1\}", text):
            assert re.search(r"opposite of chapter 9", text), f"{page.relative_to(ROOT)} reverses z_t without a word"


def test_the_glossary_lists_the_lstm_symbols_with_the_other_convention():
    glossary = (ROOT / "glossary.md").read_text(encoding="utf-8")
    rows = {row.split("|")[1].strip(): row for row in glossary.splitlines() if row.startswith("| $")}
    assert "PyTorch" in rows["$s_t$"] and "$c_t$" in rows["$s_t$"], rows.get("$s_t$")
    assert "PyTorch" in rows["$q_t$"] and "$o_t$" in rows["$q_t$"], rows.get("$q_t$")
    assert all(row.count("|") >= 5 and "ch. " in row.split("|")[3] for row in rows.values()), \
        [row for row in rows.values() if "ch. " not in row.split("|")[3]]


def graded_functions():
    """``{function name: assignment}`` of every graded function (the exported case files)."""
    cases = ROOT / "lectlib" / "homework" / "cases"
    names = {}
    for assignment in json.loads((cases / "index.json").read_text())["assignments"]:
        for entry in json.loads((cases / f"{assignment}.json").read_text())["checks"].values():
            names[entry["function"]] = assignment
    return names


def chapter_code(text):
    return "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S))


def test_a_homework_name_means_one_thing():
    """A chapter that defined `clock_loss(params, batch)` while homework 2's `clock_loss(y_hat, y)`
    is a per-sequence loss gave one name two meanings: chapters define no graded name."""
    names = graded_functions()
    assert {"clock_loss", "scan", "sequence_nll", "train_step"} <= set(names)
    clashes = []
    for page in book_pages():
        code = chapter_code(page.read_text(encoding="utf-8"))
        for name, assignment in names.items():
            if re.search(rf"^\s*(def {name}\(|{name}\s*=[^=])", code, flags=re.M):
                clashes.append(f"{page.relative_to(ROOT)} defines {name}, homework {assignment}'s graded function")
    assert not clashes, clashes


def notebook_markdown(assignment):
    notebook = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


@pytest.mark.parametrize("assignment", ["scans", "losses", "bptt", "gated"])
def test_each_homework_names_its_chapters_and_its_edges(assignment):
    text = notebook_markdown(assignment)
    assert re.search(r"\*\*Chapters\.\*\* This homework needs chapters? \d", text), assignment
    assert "edge" in text and "`T = 1`" in text, assignment
    cases = json.loads((ROOT / "lectlib" / "homework" / "cases" / f"{assignment}.json").read_text())
    for grade_id, entry in cases["checks"].items():
        labels = [case["label"] for case in entry["visible"]]
        assert any(label.startswith("edge: ") for label in labels), (assignment, grade_id, labels)


def test_homework_4_indexes_the_nll_as_chapter_11_does():
    chapter = prose((ROOT / "chapters" / "11_language_modeling.md").read_text(encoding="utf-8"))
    homework = notebook_markdown("gated")
    same = r"\\log p\(x_\{t\+1\} \\mid x_1, \\dots, x_t\)"
    assert re.search(same, chapter) and re.search(same, homework)
    assert not re.search(r"\|V\||c_\{t\+1\}", homework)


def test_the_visible_check_names_the_edge_a_function_fails():
    """A scan that is wrong only for one step passes the worked case and is caught by the
    visible edge case, whose label the message carries."""
    import jax.numpy as jnp

    from lectlib.homework import visible

    def scan_wrong_for_one_step(f, h, xs):
        states = []
        for x in xs:
            h = f(h, x)
            states.append(h)
        out = jnp.stack(states)
        return out if len(xs) > 1 else out * 0

    status, message = visible.run_cases(visible.load("scans")["test_scan"], scan_wrong_for_one_step)
    assert status == "failed" and "case 'edge: T = 1" in message, message
