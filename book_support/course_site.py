"""Sphinx extension for the course website: offline, with notebooks to download.

- Every executed page offers its notebook as a ``.ipynb`` download. MyST-NB writes each
  executed page to ``_build/jupyter_execute/<page>.ipynb``; the book theme lists it in the
  download menu when the page context names it under ``_sources``, but only does so
  itself when a remote launch service is configured, which this offline course has none of.
- Thebe (live code through a remote Binder kernel) is switched off: Jupyter Book always
  loads it, and it writes a CDN address into every page (twice, which is also a
  JavaScript error).
- One header, one sidebar toggle, one contents toggle. pydata-sphinx-theme 0.17
  defaults ``navbar_persistent`` to a search field whenever the site does not set it,
  which brings back the top header that sphinx-book-theme empties: a second search
  box, and a second copy of each toggle button placed before the book theme's. Both
  themes bind the first ``.primary-toggle`` / ``.secondary-toggle`` in the page, which
  was the hidden copy, so the visible buttons did nothing. We set it to empty.
- ``assets/course_site.css`` and ``assets/course_site.js``: wide equations and tables
  scroll inside their own box, long inline code wraps, the figures' sliders fit a phone
  and have accessible names, search snippets show no TeX source.
- The API reference page (``api.md``) holds one ``lectlib-api`` directive (in an
  ``{eval-rst}`` block: it writes reStructuredText, as autodoc does), which
  documents every public ``lectlib`` module found on disk with autodoc (one section
  per module, ``automodule`` with ``:members:``), so a new module appears without
  editing the page and every ``{py:func}`lectlib.<module>.<function>``` role resolves.
- Inline math followed by punctuation (``$T = 40$,``) is kept on one line with it: a line
  never starts with a lone comma.
- Light on the wire: when the build ends, every text file of the site (pages, scripts,
  styles, fonts that are not compressed already, notebooks) gets a gzip copy beside it,
  ``name.gz``, which ``serve.py`` (``make serve``) and static hosts that look for one
  (nginx ``gzip_static``) send to browsers that accept it.
"""
import gzip
import os
import pkgutil
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

HERE = Path(__file__).resolve().parent
API_PAGE = "api"
# Re-exported at the package's top level (``lectlib.scan``): documented there too.
TOP_LEVEL = ("scan", "linear_recurrence", "compose_affine", "run")


def lectlib_modules():
    """Every public module of lectlib, subpackages included, in name order."""
    import lectlib

    names = [info.name for info in pkgutil.walk_packages(lectlib.__path__, prefix="lectlib.")]
    return sorted(name for name in names if not any(part.startswith("_") for part in name.split(".")))


class LectlibApi(SphinxDirective):
    """``{lectlib-api}``: the whole of lectlib, one section per module."""

    has_content = False

    def run(self):
        lines = ["lectlib", "-------", "", ".. automodule:: lectlib", ""]
        for name in TOP_LEVEL:
            lines += [f".. autofunction:: lectlib.{name}", ""]
        for module in lectlib_modules():
            lines += [module, "-" * len(module), "",
                      f".. automodule:: {module}", "   :members:", "   :member-order: bysource", ""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="lectlib-api"), container)
        return container.children


_LITERAL = re.compile(r"(``.+?``)")


def escape_bars(line):
    """``|x|`` in a docstring is an absolute value, never a reST substitution: escape
    every ``|`` outside inline literals."""
    parts = _LITERAL.split(line)
    return "".join(part if part.startswith("``") else part.replace("|", "\\|") for part in parts)


def docstring_as_rest(app, what, name, obj, options, lines):
    """Docstrings are written for readers of the code (``|λ|``, ``Σ_t``): escape what
    reST would misread, leaving literal blocks (after ``::``) as they are."""
    literal_indent = None
    for index, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if not line.strip() or indent > literal_indent:
                continue
            literal_indent = None
        lines[index] = escape_bars(line)
        if line.rstrip().endswith("::"):
            literal_indent = indent


def skip_field_aliases(app, what, name, obj, skip, options):
    """A NamedTuple's fields are described in its "Attributes:" section; autodoc would
    list them a second time as "Alias for field number N"."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def one_header(app, config):
    """No second top header (see the module's docstring): ``navbar_persistent`` empty."""
    if config.html_theme == "sphinx_book_theme" and "navbar_persistent" not in config.html_theme_options:
        config.html_theme_options = {**config.html_theme_options, "navbar_persistent": []}


def serve_assets(app, config):
    """The site's own stylesheet and script, served from ``_static`` like the theme's."""
    config.html_static_path = [*config.html_static_path, str(HERE / "assets")]


def readable_attributes(app, config):
    """Napoleon's "Attributes:" as fields of the class, not separate objects that
    autodoc's members would duplicate."""
    config.napoleon_use_ivar = True


def always_reread_api(app, env, added, changed, removed):
    """The API page follows lectlib's modules, which Sphinx does not track: re-read it."""
    return [API_PAGE] if API_PAGE in env.found_docs else []


def offer_notebook(app, pagename, templatename, context, doctree):
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.exists():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


_PUNCTUATION = re.compile(r"^[,.;:!?)\]»’”]+")


def keep_punctuation_with_math(app, doctree, docname):
    """``$x$,`` → one unbreakable ``<span class="nobreak">`` holding the math and the
    punctuation after it."""
    for math in list(doctree.findall(nodes.math)):
        parent = math.parent
        if parent is None:
            continue
        index = parent.index(math)
        if index + 1 >= len(parent.children) or not isinstance(parent[index + 1], nodes.Text):
            continue
        text = parent[index + 1]
        found = _PUNCTUATION.match(str(text))
        if not found:
            continue
        punctuation, rest = found.group(0), str(text)[found.end():]
        group = nodes.inline("", "", classes=["nobreak"])
        parent.remove(math)
        group += math
        group += nodes.Text(punctuation)
        parent.replace(text, group)
        if rest:
            parent.insert(parent.index(group) + 1, nodes.Text(rest))


COMPRESSED_SUFFIXES = {".html", ".js", ".css", ".svg", ".json", ".txt", ".ipynb", ".ttf", ".eot", ".xml",
                       ".map", ".md", ".py", ".inv"}
MIN_COMPRESSED_BYTES = 1024


def precompress(folder):
    """A ``.gz`` copy beside every text file of ``folder`` of at least 1 KiB whose copy is
    missing or older; a copy whose file is gone is removed. Returns how many were written."""
    written = 0
    for path in Path(folder).rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".gz":
            if not path.with_suffix("").exists():
                path.unlink()
            continue
        if path.suffix not in COMPRESSED_SUFFIXES or path.stat().st_size < MIN_COMPRESSED_BYTES:
            continue
        target = path.with_name(path.name + ".gz")
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        data = path.read_bytes()
        partial = target.with_name(target.name + ".partial")
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0,
                                                      filename="") as compressed:
            compressed.write(data)
        os.replace(partial, target)
        written += 1
    return written


def compress_site(app, exception):
    if exception is None and app.builder.format == "html":
        precompress(app.outdir)


def drop_thebe(app, config):
    for listeners in app.events.listeners.values():
        listeners[:] = [entry for entry in listeners if not entry.handler.__module__.startswith("sphinx_thebe")]
    # Its stylesheet is registered at import time, not through an event.
    app.registry.css_files[:] = [entry for entry in app.registry.css_files if "thebe" not in entry[0]]


def setup(app):
    # The API reference: autodoc reads lectlib's docstrings, napoleon their
    # "Arguments:" / "Returns:" sections.
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.napoleon")
    app.add_directive("lectlib-api", LectlibApi)
    app.connect("config-inited", readable_attributes)
    app.connect("config-inited", one_header)
    app.connect("config-inited", serve_assets)
    app.add_css_file("course_site.css")
    app.add_js_file("course_site.js")
    app.connect("autodoc-process-docstring", docstring_as_rest)
    app.connect("autodoc-skip-member", skip_field_aliases)
    app.connect("env-get-outdated", always_reread_api)
    app.connect("config-inited", drop_thebe, priority=900)
    # Before the theme builds its header buttons (priority 501).
    app.connect("html-page-context", offer_notebook, priority=400)
    app.connect("doctree-resolved", keep_punctuation_with_math)
    # After every other step that writes into the site (the notebooks' note, at 500).
    app.connect("build-finished", compress_site, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
