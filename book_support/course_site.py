"""Sphinx extension for the course website: offline, with notebooks to download.

- Every executed page offers its notebook as a ``.ipynb`` download. MyST-NB writes each
  executed page to ``_build/jupyter_execute/<page>.ipynb``; the book theme lists it in the
  download menu when the page context names it under ``_sources``, but only does so
  itself when a remote launch service is configured, which this offline course has none of.
- Thebe (live code through a remote Binder kernel) is switched off: Jupyter Book always
  loads it, and it writes a CDN address into every page (twice, which is also a
  JavaScript error).
"""
import shutil
from pathlib import Path


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
    app.connect("config-inited", drop_thebe, priority=900)
    # Before the theme builds its header buttons (priority 501).
    app.connect("html-page-context", offer_notebook, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
