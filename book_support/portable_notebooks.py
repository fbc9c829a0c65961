"""Downloaded chapter notebooks that read as well as their page in any Jupyter front end
(JupyterLab, VS Code, Colab), none of which knows MyST.

The markdown cells of a chapter are MyST: fenced directives (``{admonition}``,
``{dropdown}``), roles (``{py:func}`lectlib.run```) and targets. Plain Markdown with a
little HTML renders the same everywhere, so every markdown cell is rewritten:

- ``{admonition} Title`` (and ``{note}``, ``{tip}``, …) becomes a block quote
  (``<blockquote>``, so display math inside stays plain ``$$``) that opens with the title
  in bold;
- ``{dropdown} Title`` becomes ``<details><summary>Title</summary>…</details>``: a
  solution starts collapsed and opens on a click;
- a role naming lectlib becomes a link to that object on the site's API page (absolute when
  ``html_baseurl`` is set, else relative to the notebook's place on the site; the site's
  own download link makes it absolute, ``assets/course_site.js``); other roles become
  their text;
- a Markdown link to another page of the course (``[references](../references.md)``)
  leads to that page on the site, as lectlib's names do;
- ``(label)=`` targets and ``%`` comments are dropped.

Code cells the page hides stay hidden: ``remove-cell`` and ``hide-input`` cells get
JupyterLab's ``source_hidden`` (and a removed cell's output ``outputs_hidden``).

An unknown directive or role raises ``ValueError`` naming it, so a page that starts using
one fails the build instead of shipping raw MyST. Used by ``student_notebooks.py`` at the
end of every build; checked by tests/test_site.py (the conversion) and
tests/test_student_package.py (a downloaded chapter in a real JupyterLab).
"""
import html
import re

PORTABLE_KEY = "lectlib_portable"

ADMONITIONS = {"admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso"}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\s*\{(?P<name>[a-zA-Z][\w:-]*)\}\s*(?P<argument>.*?)\s*$")
_PLAIN_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_ROLE = re.compile(r"\{(?P<name>[a-zA-Z][\w:-]*)\}`(?P<text>[^`]+)`")
_TARGET = re.compile(r"^\s*\([\w.:-]+\)=\s*$")
_COMMENT = re.compile(r"^\s*%")
_OPTION = re.compile(r"^:[\w-]+:")
_PAGE_LINK = re.compile(r"\]\((?![A-Za-z][\w+.-]*:)([^)\s#]+\.(?:md|ipynb))(#[^)\s]*)?\)")
PY_ROLES = {"py:func", "py:mod", "py:class", "py:meth", "py:data", "py:attr", "py:obj", "py:exc",
            "func", "mod", "class", "meth", "data", "attr", "obj", "exc"}
TEXT_ROLES = {"ref", "doc", "numref", "eq", "term", "abbr", "sub", "sup", "student-wheel", "download"}


def _split_role_text(text):
    """``title <target>`` → (title, target); ``~a.b.c`` → (``c``, ``a.b.c``); else (text, text)."""
    explicit = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", text)
    if explicit:
        return explicit.group(1), explicit.group(2)
    if text.startswith("~"):
        return text[1:].rsplit(".", 1)[-1], text[1:]
    return text, text


def convert_page_links(line, page):
    """Markdown links to the course's own ``.md``/``.ipynb`` pages as links to the site's
    pages: ``page(path) -> address | None`` (``None``: the link stays as it is)."""
    if page is None:
        return line

    def replace(match):
        address = page(match.group(1))
        return f"]({address}{match.group(2) or ''})" if address else match.group(0)

    return _PAGE_LINK.sub(replace, line)


def convert_roles(line, link):
    """Every role of one line of MyST as plain Markdown.

    Arguments:
        line: a line of markdown.
        link: ``link(target) -> str | None``, the address of a Python object's
            documentation (``None``: no link, the name stays code).
    """
    def replace(match):
        name, text = match.group("name"), match.group("text")
        title, target = _split_role_text(text)
        if name in PY_ROLES:
            address = link(target.lstrip("~"))
            code = f"`{title}`"
            return f"[{code}]({address})" if address else code
        if name == "math":
            return f"${text}$"
        if name in ("code", "literal", "samp", "file", "command", "kbd"):
            return f"`{title}`"
        if name in TEXT_ROLES:
            return f"`{title}`" if name in ("student-wheel", "download") else title
        raise ValueError(f"a downloaded notebook cannot show the MyST role {{{name}}} (in {line.strip()!r}): "
                         f"book_support/portable_notebooks.py does not know how to write it as Markdown")

    return _ROLE.sub(replace, line)


def _closing(line, fence):
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _body_without_options(lines):
    """A directive's body without its ``:key: value`` options or ``---`` YAML block."""
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            return lines[end + 1:]
    start = 0
    while start < len(lines) and _OPTION.match(lines[start]):
        start += 1
    return lines[start:]


def _directive(name, argument, body, link, wheel, page):
    """One directive as plain Markdown/HTML lines."""
    inner = convert_lines(_body_without_options(body), link, wheel, page)
    if name == "dropdown":
        summary = convert_roles(argument, link) or "Show"
        return ["<details>", f"<summary>{html.escape(summary, quote=False)}</summary>", "", *inner, "",
                "</details>"]
    if name in ADMONITIONS:
        title = convert_roles(argument, link) if name == "admonition" else name.capitalize()
        if name == "seealso":
            title = "See also"
        return ["<blockquote>", "", f"**{title}**" if title else "", "", *inner, "", "</blockquote>"]
    if name in ("code-block", "code", "sourcecode"):
        return [f"```{argument}", *_body_without_options(body), "```"]
    if name == "student-commands":
        return ["```bash", *[line.replace("{wheel}", wheel or "{wheel}") for line in body], "```"]
    if name == "math":
        return ["$$", *_body_without_options(body), "$$"]
    raise ValueError(f"a downloaded notebook cannot show the MyST directive {{{name}}}: "
                     f"book_support/portable_notebooks.py does not know how to write it as Markdown")


def convert_lines(lines, link, wheel=None, page=None):
    """MyST markdown lines as plain Markdown lines (see the module's docstring)."""
    out = []
    index = 0
    while index < len(lines):
        line = lines[index]
        opened = _FENCE.match(line)
        plain = None if opened else _PLAIN_FENCE.match(line)
        if opened:
            fence = opened.group("fence")
            end = next((j for j in range(index + 1, len(lines)) if _closing(lines[j], fence)), len(lines))
            out += _directive(opened.group("name"), opened.group("argument"), lines[index + 1:end], link, wheel,
                              page)
            index = end + 1
        elif plain:
            fence = plain.group("fence")
            end = next((j for j in range(index + 1, len(lines)) if _closing(lines[j], fence)), len(lines) - 1)
            out += lines[index:end + 1]
            index = end + 1
        else:
            if not (_TARGET.match(line) or _COMMENT.match(line)):
                out.append(convert_page_links(convert_roles(line, link), page))
            index += 1
    return out


def convert_markdown(source, link, wheel=None, page=None):
    """One markdown cell's MyST source as plain Markdown."""
    return "\n".join(convert_lines(source.split("\n"), link, wheel, page))


def hide_like_the_page(cell):
    """JupyterLab's collapsed input (and output) for code cells the page hides."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    jupyter = {}
    if tags & {"remove-cell", "hide-cell", "remove-input", "hide-input"}:
        jupyter["source_hidden"] = True
    if tags & {"remove-cell", "hide-cell", "remove-output", "hide-output"}:
        jupyter["outputs_hidden"] = True
    if jupyter:
        cell.setdefault("metadata", {}).setdefault("jupyter", {}).update(jupyter)


def make_portable(notebook, link, wheel=None, page=None):
    """Rewrites an nbformat notebook in place (markdown cells, hidden code cells); returns
    whether it changed. A notebook already rewritten is left as it is."""
    if notebook.metadata.get(PORTABLE_KEY):
        return False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = convert_markdown(cell.source, link, wheel, page)
        elif cell.cell_type == "code":
            hide_like_the_page(cell)
    notebook.metadata[PORTABLE_KEY] = True
    return True
