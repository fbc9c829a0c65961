"""Sphinx extension: the website serves the student package, and every chapter notebook
it offers says how to install it.

- **The wheel.** When the build starts, the student distribution (``student/pyproject.toml``:
  ``lectlib`` with ``lectlib.homework``) is built into a wheel at the site's root,
  ``lectlib-<version>-py3-none-any.whl``; wheels of other versions are removed from there.
  Pages link it with the role ``{student-wheel}`text``` (a download link; ``{name}`` in
  the text becomes the file name) and show commands that name it with the
  directive ``{student-commands}`` (a bash block; ``{wheel}`` in it becomes the file name).
- **The note.** When the build ends, every downloadable chapter notebook
  (``_sources/**/*.ipynb``, offered by ``course_site.py``) gets a first cell saying what
  to install if ``import lectlib`` fails. The cell is marked in its metadata, so it is
  added once however often the build runs.
- **Plain Markdown.** At the same time its MyST (admonitions, dropdowns, roles) becomes
  Markdown and HTML that any notebook front end renders, its roles links to the site's
  API page (``portable_notebooks.py``).

Also a command, for ``make wheel``: ``python book_support/student_notebooks.py DIR``
builds the same wheel into ``DIR``.
"""
import html
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTE_KEY = "lectlib_install_note"


def student_version(root=ROOT):
    """The student distribution's version, from ``student/pyproject.toml``."""
    project = tomllib.loads((root / "student" / "pyproject.toml").read_text())["project"]
    return project["version"]


def wheel_name(root=ROOT):
    """``lectlib-<version>-py3-none-any.whl``: what ``build_wheel`` produces."""
    return f"lectlib-{student_version(root)}-py3-none-any.whl"


def build_wheel(out_dir, root=ROOT):
    """Builds the student package's wheel into ``out_dir`` with this Python's setuptools
    (no download: the build runs offline once the course is set up).

    Leaves no build folder behind (a stale one would put deleted modules into the wheel).
    Returns the wheel's path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    build_folder = root / "student" / "build"
    shutil.rmtree(build_folder, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                 "--quiet", "--wheel-dir", scratch, str(root / "student")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"building the student package failed:\n{result.stdout[-4000:]}")
            built = sorted(Path(scratch).glob("*.whl"))
            if [path.name for path in built] != [wheel_name(root)]:
                raise RuntimeError(f"expected the wheel {wheel_name(root)}, the build made {[p.name for p in built]}")
            for old in out_dir.glob("lectlib-*.whl"):
                old.unlink()
            target = out_dir / built[0].name
            shutil.copyfile(built[0], target)
    finally:
        shutil.rmtree(build_folder, ignore_errors=True)
    return target


def note_cell(name):
    """The markdown cell put first in every downloaded chapter notebook."""
    text = (f"**To run this notebook** you need the course's student package, `lectlib`. If `import lectlib` "
            f"fails, download `{name}` from the course website (the *Homework* page links it), install it into "
            f"the Python this notebook runs in, and restart the kernel: in a terminal `pip install {name}`, "
            f"or in a cell `%pip install {name}`; in Colab, upload the wheel with the file browser first. "
            f"It brings everything the chapters use (JAX, numpy, matplotlib, ipywidgets, optax, scikit-learn).")
    return {"cell_type": "markdown", "metadata": {NOTE_KEY: True}, "source": text}


def put_note(notebook, name):
    """Puts the note first in an nbformat notebook unless it is there. Returns whether it changed."""
    import nbformat

    if notebook.cells and notebook.cells[0].metadata.get(NOTE_KEY):
        if notebook.cells[0].source == note_cell(name)["source"]:
            return False
        notebook.cells.pop(0)
    cell = nbformat.v4.new_markdown_cell(note_cell(name)["source"], metadata={NOTE_KEY: True})
    notebook.cells.insert(0, cell)
    return True


def add_note(path, name):
    """Puts the note first in the notebook at ``path`` unless it is there. Returns whether it changed."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    changed = put_note(notebook, name)
    if changed:
        nbformat.write(notebook, path)
    return changed


# ------------------------------------------------------------------ Sphinx
def package_root(srcdir):
    """The folder whose ``student/pyproject.toml`` describes the wheel a book serves: the
    book's own source folder when it has one, else the course this extension belongs to
    (a book that borrows the course's pages and configuration, such as the test books)."""
    srcdir = Path(srcdir)
    return srcdir if (srcdir / "student" / "pyproject.toml").is_file() else ROOT


def relative_wheel_uri(docname, name):
    return "../" * docname.count("/") + name


def student_wheel_role(role, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes

    env = inliner.document.settings.env
    name = wheel_name(package_root(env.srcdir))
    label = text.strip().replace("{name}", name) or name
    uri = relative_wheel_uri(env.docname, name)
    markup = (f'<a class="reference download student-wheel" href="{html.escape(uri)}" download>'
              f'<code class="docutils literal notranslate"><span class="pre">{html.escape(label)}</span></code></a>')
    return [nodes.raw(rawtext, markup, format="html")], []


def make_commands_directive():
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class StudentCommands(SphinxDirective):
        """A bash block whose ``{wheel}`` is the student wheel's file name."""
        has_content = True

        def run(self):
            code = "\n".join(self.content).replace("{wheel}", wheel_name(package_root(self.env.srcdir)))
            block = nodes.literal_block(code, code, language="bash")
            self.set_source_info(block)
            return [block]

    return StudentCommands


def build_and_serve_wheel(app):
    if app.builder.format != "html":
        return
    build_wheel(app.outdir, package_root(app.srcdir))


def remember_wheel_name(app, config):
    # A config value that changes with the version, so that a new version re-reads every page.
    config.student_wheel = wheel_name(package_root(app.srcdir))


def api_links(app, notebook_path):
    """``link(name) -> address | None`` of a Python object documented on the site, for a
    notebook at ``notebook_path`` in the built site: absolute under ``html_baseurl``
    when the site sets one, else relative to the notebook."""
    import os

    objects = app.env.get_domain("py").objects
    base = (app.config.html_baseurl or "").rstrip("/")

    def find(name):
        for candidate in (name, f"lectlib.{name}"):
            if candidate in objects:
                return objects[candidate]
        matches = [key for key in objects if key.endswith(f".{name}")]
        return objects[matches[0]] if len(matches) == 1 else None

    def link(name):
        entry = find(name)
        if entry is None:
            return None
        page = app.builder.get_target_uri(entry.docname)
        if base:
            return f"{base}/{page}#{entry.node_id}"
        relative = os.path.relpath(Path(app.outdir) / page, Path(notebook_path).parent)
        return f"{Path(relative).as_posix()}#{entry.node_id}"

    return link


def page_links(app, notebook_path, docname):
    """``page(path) -> address | None`` of a course page linked as ``path`` (relative to
    the page ``docname``'s source), for the notebook at ``notebook_path``: its address on
    the site, as :func:`api_links` makes it."""
    import os
    import posixpath

    base = (app.config.html_baseurl or "").rstrip("/")

    def page(path):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(docname), path))
        target = posixpath.splitext(target)[0]
        if target not in app.env.found_docs:
            return None
        uri = app.builder.get_target_uri(target)
        if base:
            return f"{base}/{uri}"
        return Path(os.path.relpath(Path(app.outdir) / uri, Path(notebook_path).parent)).as_posix()

    return page


def prepare_chapter_notebooks(app, exception):
    import nbformat

    from portable_notebooks import make_portable

    if exception is not None or app.builder.format != "html":
        return
    name = wheel_name(package_root(app.srcdir))
    sources = Path(app.outdir) / "_sources"
    for path in sorted(sources.rglob("*.ipynb")):
        # From the executed notebook each time (a page not written again keeps last
        # build's copy, made by an older version of the conversion perhaps).
        executed = Path(app.outdir).parent / "jupyter_execute" / path.relative_to(sources)
        notebook = nbformat.read(executed if executed.is_file() else path, as_version=4)
        docname = path.relative_to(sources).with_suffix("").as_posix()
        make_portable(notebook, api_links(app, path), name, page_links(app, path, docname))
        put_note(notebook, name)
        text = nbformat.writes(notebook) + "\n"
        if path.read_text(encoding="utf-8") != text:   # unchanged: keep its time (and its .gz)
            path.write_text(text, encoding="utf-8")


def setup(app):
    app.add_config_value("student_wheel", "", "env")
    app.connect("config-inited", remember_wheel_name)
    app.add_role("student-wheel", student_wheel_role)
    app.add_directive("student-commands", make_commands_directive())
    app.connect("builder-inited", build_and_serve_wheel)
    app.connect("build-finished", prepare_chapter_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python book_support/student_notebooks.py OUT_DIR   (builds the student wheel into OUT_DIR)")
    print(f"built {build_wheel(Path(sys.argv[1]))}")
