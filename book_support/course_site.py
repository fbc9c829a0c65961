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
"""
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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
