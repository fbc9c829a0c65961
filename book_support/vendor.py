"""Puts the scripts and fonts the website needs into ``book_support/static/vendor/``, so the built site
works with no internet: MathJax, require.js and the Jupyter widget manager.

They come from the npm registry, pinned by ``book_support/package-lock.json`` (``npm ci``),
and are copied, not committed. Run by ``make book`` and by the book tests; a second run
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

# (what to copy from node_modules, where it goes below _static/vendor)
ASSETS = [
    ("mathjax/es5", "mathjax"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
    ("requirejs/require.js", "require.js"),
]


def lock_digest():
    """Changes when the pinned packages or the site's own script change."""
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes())
    digest.update((HERE / "widgets_offline.js").read_bytes())
    return digest.hexdigest()


def install_node_modules():
    if shutil.which("npm") is None:
        sys.exit("error: npm is not installed; the website's scripts come from the npm registry "
                 "(Debian: apt-get install npm)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                   cwd=HERE, check=True)


def vendor():
    if STAMP.exists() and STAMP.read_text() == lock_digest():
        return
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
    STAMP.write_text(lock_digest())
    print(f"vendored {', '.join(t for _, t in ASSETS)} into {VENDOR.relative_to(ROOT)}")


if __name__ == "__main__":
    vendor()
