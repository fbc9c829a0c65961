"""Puts the scripts and fonts the website needs into ``book_support/static/vendor/``, so the built site
works with no internet: MathJax, require.js and the Jupyter widget manager.

They come from the npm registry, pinned by ``book_support/package-lock.json`` (``npm ci``),
and are copied, not committed. axe-core comes the same way, for the browser tests' offline
accessibility check (``tests/test_site.py`` reads it from ``node_modules``); it is not part of the website. Run by ``make book`` and by the book tests; a second run
with nothing changed does nothing.
"""
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENDOR = HERE / "static" / "vendor"
STAMP = VENDOR / ".lock-sha256"
LOCK = HERE / "static" / ".vendor.lock"     # static/ is never removed, static/vendor is

# (what to copy from node_modules, where it goes below _static/vendor)
ASSETS = [
    ("mathjax/es5", "mathjax"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
    ("requirejs/require.js", "require.js"),
]
# For the tests only, read from node_modules: never published with the site.
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"

# (file below _static/vendor, text, replacement): each text must occur exactly once.
PATCHES = [
    # The widget manager compiles its state schemas with Ajv's default strict mode, which
    # logs "strict mode: use allowUnionTypes" twice on every page with a figure. The
    # schemas' union types ("type": ["string", "null"]) are what the format intends.
    # (Two bundles in the file, each with its own Ajv.)
    ("html-manager/embed-amd.js", "gt=new(ht());gt.compile(At)", "gt=new(ht())({allowUnionTypes:!0});gt.compile(At)"),
    ("html-manager/embed-amd.js", "k=new(w()),E=k.compile(y)", "k=new(w())({allowUnionTypes:!0}),E=k.compile(y)"),
]


def lock_digest():
    """Changes when the pinned packages or the site's own script change."""
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes())
    digest.update((HERE / "widgets_offline.js").read_bytes())
    digest.update(repr(PATCHES).encode())
    return digest.hexdigest()


def apply_patches(vendor_dir=VENDOR):
    for name, text, replacement in PATCHES:
        path = vendor_dir / name
        content = path.read_text(encoding="utf-8")
        if content.count(text) != 1:
            sys.exit(f"error: {path} holds {content.count(text)} copies of the text book_support/vendor.py "
                     f"patches ({text!r}); the pinned package changed: update PATCHES")
        path.write_text(content.replace(text, replacement), encoding="utf-8")


def install_node_modules():
    if shutil.which("npm") is None:
        sys.exit("error: npm is not installed; the website's scripts come from the npm registry "
                 "(Debian: apt-get install npm)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                   cwd=HERE, check=True)


def vendor():
    """Vendors the assets unless the stamp says they are current. Two runs at once (two
    test workers building the book) wait for each other: two ``npm ci`` in one folder
    would delete each other's files."""
    import fcntl

    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (STAMP.exists() and STAMP.read_text() == lock_digest()):
            vendor_now()


def vendor_now():
    install_node_modules()
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    for source, target in ASSETS:
        origin = HERE / "node_modules" / source
        if origin.is_dir():
            shutil.copytree(origin, VENDOR / target, ignore=shutil.ignore_patterns("*.map"))
        else:
            shutil.copy2(origin, VENDOR / target)
    shutil.copy2(HERE / "widgets_offline.js", VENDOR / "widgets_offline.js")
    apply_patches()
    STAMP.write_text(lock_digest())
    print(f"vendored {', '.join(t for _, t in ASSETS)} into {VENDOR.relative_to(ROOT)}")


if __name__ == "__main__":
    vendor()
