"""The downloaded chapter notebooks' Markdown (book_support/portable_notebooks.py): MyST
becomes plain Markdown and HTML that any notebook front end renders. Fast: the
conversion alone, on text and on every chapter's source; the built site's notebooks are
checked in tests/test_site.py and a real JupyterLab in tests/test_student_package.py."""
import re
import sys

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "book_support"))
import portable_notebooks as portable  # noqa: E402  (book_support is not a package)

RAW_MYST = re.compile(r"^\s*(:::|```\{)|\{[a-z:-]+\}`", re.M)


def link(name):
    return f"../../api.html#{name}" if name.startswith("lectlib") else None


EXERCISE = """Before.

```{admonition} Exercise 4.1
Is $(x, y) \\mapsto x - y$ associative? Use {py:func}`lectlib.scan`.
```

```{dropdown} Solution
No: $(1 - 2) - 3 = -4$ but $1 - (2 - 3) = 2$.

$$
a = b
$$
```
"""


def test_an_exercise_becomes_a_quote_and_its_solution_a_collapsed_details():
    text = portable.convert_markdown(EXERCISE, link)
    assert text == """Before.

<blockquote>

**Exercise 4.1**

Is $(x, y) \\mapsto x - y$ associative? Use [`lectlib.scan`](../../api.html#lectlib.scan).

</blockquote>

<details>
<summary>Solution</summary>

No: $(1 - 2) - 3 = -4$ but $1 - (2 - 3) = 2$.

$$
a = b
$$

</details>
"""
    assert "<details open" not in text


def test_roles_become_links_or_text():
    assert portable.convert_roles("{py:mod}`lectlib.data`", link) == "[`lectlib.data`](../../api.html#lectlib.data)"
    assert portable.convert_roles("{py:func}`~lectlib.data.clock`", link) == \
        "[`clock`](../../api.html#lectlib.data.clock)"
    assert portable.convert_roles("{py:func}`jax.lax.scan`", link) == "`jax.lax.scan`"   # no page: code
    assert portable.convert_roles("see {ref}`the scans <scans>`", link) == "see the scans"
    assert portable.convert_roles("{math}`x^2`", link) == "$x^2$"


def test_links_to_the_course_pages_lead_to_the_site():
    def page(path):
        return {"../references.md": "../../references.html"}.get(path)

    line = "see [the papers](../references.md#bptt), [x](https://a.org/b.md) and [y](missing.md)"
    assert portable.convert_markdown(line, link, page=page) == \
        "see [the papers](../../references.html#bptt), [x](https://a.org/b.md) and [y](missing.md)"


def test_options_targets_and_comments_are_dropped_and_code_kept():
    text = portable.convert_markdown("(sec-x)=\n% a comment\n```{note}\n:class: dropdown\nText\n```\n"
                                     "````{dropdown} Show\n```python\nx = 1\n```\n````", link)
    assert text == ("<blockquote>\n\n**Note**\n\nText\n\n</blockquote>\n<details>\n<summary>Show</summary>\n\n"
                    "```python\nx = 1\n```\n\n</details>")


def test_an_unknown_directive_or_role_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"\{glossary\}"):
        portable.convert_markdown("```{glossary}\nterm\n```", link)
    with pytest.raises(ValueError, match=r"\{cite\}"):
        portable.convert_markdown("as shown {cite}`x`", link)


def test_a_notebook_is_rewritten_once_and_hidden_cells_stay_hidden():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(EXERCISE),
        nbformat.v4.new_code_cell("assert True", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("plot()", metadata={"tags": ["hide-input"]}),
        nbformat.v4.new_code_cell("x = 1")])
    assert portable.make_portable(notebook, link)
    markdown, removed, hidden, shown = notebook.cells
    assert "<details>" in markdown.source and not RAW_MYST.search(markdown.source)
    assert removed.metadata.jupyter == {"source_hidden": True, "outputs_hidden": True}
    assert hidden.metadata.jupyter == {"source_hidden": True}
    assert "jupyter" not in shown.metadata
    before = markdown.source
    assert not portable.make_portable(notebook, link) and markdown.source == before


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "chapters").glob("*.md")))
def test_every_chapter_converts_to_plain_markdown(page):
    source = (ROOT / "chapters" / page).read_text(encoding="utf-8")
    # the Markdown between code cells, as MyST-NB splits it into cells
    markdown = re.sub(r"(?ms)^```\{code-cell\}.*?^```\s*$", "", source.split("\n---\n", 1)[1])
    text = portable.convert_markdown(markdown, link)
    assert not RAW_MYST.search(text), RAW_MYST.search(text)
    assert text.count("<details>") == text.count("</details>") == markdown.count("```{dropdown}")
