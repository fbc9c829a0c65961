"""Sphinx extension: how the book's pages execute, so that a rebuild redoes only what changed.

- **The execution cache knows lectlib.** MyST-NB keeps each executed page in
  jupyter-cache under a hash of the page's code cells and its ``kernelspec``, so a change
  to ``lectlib`` alone used to leave every page with its old numbers. When a page is read,
  the lectlib modules it imports, directly or through other lectlib modules, are found
  (:func:`page_modules`), their files are recorded as the page's dependencies (Sphinx
  reads the page again when one of them is newer than the page's last reading), and the
  digest of their contents goes into the page's ``kernelspec`` as ``lectlib_digest``,
  so the cached notebook no longer matches and the page executes again. A page that
  does not import what changed keeps its digest and its cached outputs; touching a file
  without changing it re-reads the pages but executes nothing.
- **JAX's persistent compilation cache.** The kernels that execute the pages load what an
  earlier build compiled from ``_build/jax-cache/<machine>/``, next to the execution cache
  (:func:`compile_cache_environment`; set in this process's environment when the build
  starts, which the kernels inherit). The notebooks themselves are unchanged: a downloaded
  chapter runs without it.

Pages execute one at a time. Sphinx's parallel reading (two kernels at once) cannot be
used: ``sphinx_multitoc_numbering`` does not declare itself safe for it, so Sphinx reads
serially anyway and warns, and the warning fails the ``-W`` build.
"""
import ast
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import re
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

DIGEST_KEY = "lectlib_digest"
COMPILE_CACHE_FOLDER = "jax-cache"

# A page's code reaches lectlib's modules by name: ``import lectlib.cells``,
# ``lectlib.widgets.slider(...)`` (loaded on first use), ``from lectlib import memory``.
_DOTTED = re.compile(r"\blectlib(?:\.[A-Za-z_]\w*)*")
_FROM_IMPORT = re.compile(r"\bfrom\s+(lectlib(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n#;]+)")
_MODULE_NAME = re.compile(r"lectlib(?:\.[A-Za-z_]\w*)+")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*\n", re.S)


def compile_cache_environment(folder):
    """The variables that make JAX load every compiled program it finds in ``folder`` and
    store every new one there, however quickly it compiled.

    XLA's own caches stay off: their paths, inside ``folder``, would go into every key
    (the grader's cache found that out), and a build folder may be moved or copied."""
    return {"JAX_COMPILATION_CACHE_DIR": str(folder), "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": "none",
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def machine_key():
    """16 hex digits naming what a compiled program is only valid for: the JAX and jaxlib
    versions, the architecture and the processor's features (XLA compiles for the host's
    instruction set, and a build folder can be copied to another machine)."""
    flags = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        flags = next((line for line in cpuinfo.splitlines() if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    described = json.dumps([version("jax"), version("jaxlib"), platform.machine(), platform.system(),
                            " ".join(sorted(flags.split(":", 1)[-1].split()))])
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def compile_cache_folder(build_folder, name=COMPILE_CACHE_FOLDER):
    """``<build_folder>/<name>/<machine_key()>``, created; caches of other machines or
    JAX versions in ``<name>/`` are removed (nothing could load them)."""
    parent = Path(build_folder) / name
    folder = parent / machine_key()
    if parent.is_dir():
        for other in parent.iterdir():
            if other != folder and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------- what a page imports
def module_file(package_root, name):
    """The file of module ``name`` (``lectlib.x.y``) under ``package_root`` (the folder
    holding ``lectlib/``), or None when there is no such module."""
    parts = name.split(".")
    base = Path(package_root).joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def resolve(package_root, name):
    """The files that importing ``name`` runs: the longest prefix of ``name`` that is a
    module (``lectlib.cells.elman.step`` is the module ``lectlib.cells.elman``) and every
    package above it."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if module_file(package_root, ".".join(parts[:end])):
            return {module_file(package_root, ".".join(parts[:i])) for i in range(1, end + 1)} - {None}
    return set()


def names_in_code(code):
    """Every lectlib name a piece of page code mentions, as a dotted name (modules, or
    members of modules: :func:`resolve` finds the module). Read as text, not parsed: a
    page's cell may hold IPython syntax."""
    names = set(_DOTTED.findall(code))
    for package, imported in _FROM_IMPORT.findall(code):
        for item in imported.strip("()").split(","):
            item = item.split(" as ")[0].strip()
            if item.isidentifier():
                names.add(f"{package}.{item}")
    return names


_READ = {}


def names_in_module(path, package_root):
    """The lectlib modules a lectlib module imports: its import statements (at any depth,
    relative ones resolved), and module names written as strings (``import_module``)."""
    path = Path(path)
    stat = path.stat()
    key = (path, Path(package_root), stat.st_mtime_ns, stat.st_size)
    if key not in _READ:
        _READ[key] = _names_in_module(path, package_root)
    return _READ[key]


def _names_in_module(path, package_root):
    relative = path.relative_to(package_root).with_suffix("")
    package = list(relative.parts[:-1])      # for __init__.py too: the package is its folder
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.fullmatch(node.value):
            names.add(node.value)
    return {name for name in names if name == "lectlib" or name.startswith("lectlib.")}


def data_files(path, package_root):
    """Files of lectlib's data folders (folders without ``__init__.py``, such as
    ``data_files/``) that the module at ``path`` names in its source."""
    source = Path(path).read_text(encoding="utf-8")
    found = set()
    for folder in (Path(package_root) / "lectlib").rglob("*"):
        if folder.is_dir() and not (folder / "__init__.py").exists() and folder.name != "__pycache__" \
                and re.search(rf"[\"']{re.escape(folder.name)}[\"']", source):
            found |= {f for f in folder.rglob("*") if f.is_file()}
    return found


def page_modules(code, package_root):
    """The files of lectlib (modules and the data they read) that running ``code`` can
    load, following lectlib's own imports; sorted."""
    todo = set().union(*(resolve(package_root, name) for name in names_in_code(code))) if code else set()
    seen = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix != ".py":
            continue
        for name in names_in_module(path, package_root):
            todo |= resolve(package_root, name) - seen
        todo |= data_files(path, package_root) - seen
    return sorted(seen)


def digest(files, package_root):
    """16 hex digits of the files' names (relative to ``package_root``) and contents."""
    hasher = hashlib.sha256()
    for path in sorted(files):
        hasher.update(Path(path).relative_to(package_root).as_posix().encode() + b"\0")
        hasher.update(Path(path).read_bytes() + b"\0")
    return hasher.hexdigest()[:16]


def lectlib_root(page_folder):
    """The folder holding the ``lectlib`` a kernel started in ``page_folder`` imports: the
    page's own folder first (a kernel's working directory is on its path), then this
    process's path (``PYTHONPATH`` included), then installed packages."""
    search = [str(page_folder)] + [entry for entry in sys.path if entry]
    spec = importlib.machinery.PathFinder.find_spec("lectlib", search)
    if spec is None:
        spec = importlib.util.find_spec("lectlib")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).resolve().parents[1]


def code_of_page(text):
    """The code cells' sources of a MyST notebook page, joined (empty if it has none)."""
    cells = re.findall(r"^(`{3,}|~{3,})\{code-cell\}[^\n]*\n(.*?)^\1[ \t]*$", text, re.S | re.M)
    return "\n".join(body for _, body in cells)


def with_digest(text, value):
    """``text`` with ``kernelspec.lectlib_digest: value`` in its front matter, written as
    one line of JSON (which YAML reads) followed by blank lines, so that every line of
    the page keeps its number in build messages. Unchanged when the page has no
    front matter with a kernelspec."""
    import yaml

    match = _FRONT_MATTER.match(text)
    if not match:
        return text
    metadata = yaml.safe_load(match.group(1))
    if not isinstance(metadata, dict) or not isinstance(metadata.get("kernelspec"), dict):
        return text
    metadata["kernelspec"] = {**metadata["kernelspec"], DIGEST_KEY: value}
    lines = match.group(1).count("\n")
    front = json.dumps(metadata, sort_keys=False) + "\n" + "\n" * (lines - 1)
    return text[:match.start(1)] + front + text[match.end(1):]


# ---------------------------------------------------------------- Sphinx events
def mark_lectlib_dependencies(app, docname, source):
    text = source[0]
    code = code_of_page(text)
    if not code or not _FRONT_MATTER.match(text):
        return
    page = Path(app.env.doc2path(docname))
    root = lectlib_root(page.parent)
    if root is None:
        return
    files = page_modules(code, root)
    for path in files:
        app.env.note_dependency(str(path))
    source[0] = with_digest(text, digest(files, root))


def use_compile_cache(app, config):
    """JAX's persistent compilation cache for the kernels this build starts (they inherit
    this process's environment), unless the caller chose one."""
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    folder = compile_cache_folder(Path(app.outdir).parent)
    os.environ.update(compile_cache_environment(folder))


def setup(app):
    app.connect("config-inited", use_compile_cache)
    app.connect("source-read", mark_lectlib_dependencies)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
