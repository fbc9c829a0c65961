"""Benchmark: how many bytes a chapter's first visit moves, before and after compression.

Serves a built site on localhost twice, and opens every chapter in headless Chromium with
an empty cache (a new browser context per page, offline: any other host is blocked),
counting the bytes of every response body the server sends:
- before: the files as they are (``python -m http.server``, what ``make serve`` ran
  before the site was precompressed);
- after: ``book_support/serve.py`` (``make serve``), which sends the ``.gz`` copy the
  build writes beside every text file to a browser that accepts gzip.
The largest files of the first chapter are listed too. The load average before and after
is recorded (the byte counts do not depend on it; the timings of a page would).

Usage: python bench/site.py [--site _build/html] [--out bench/results/site.md]
"""
import argparse
import datetime
import os
import platform
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from report import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book_support"))
import serve  # noqa: E402  (book_support is not a package)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
VIEWPORT = {"width": 1366, "height": 900}


def first_visits(site, handler, pages, browser):
    """``{page: [(path, bytes), …]}``: every response body sent while each page loaded
    into an empty cache and settled (figures drawn, math typeset)."""
    sent = []
    server = serve.make_server(site, handler=handler, sent=sent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    local = urlparse(url).netloc
    visits = {}
    try:
        for name in pages:
            sent.clear()
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).netloc == local
                       or urlparse(route.request.url).scheme in ("data", "blob") else route.abort())
            page.goto(f"{url}/{name}", wait_until="networkidle")
            if page.locator(".lectlib-interactive-figure").count():
                page.locator(".lectlib-interactive-figure img").first.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            page.wait_for_load_state("networkidle")
            context.close()
            visits[name] = list(sent)
    finally:
        server.shutdown()
        server.server_close()
    return visits


def megabytes(count):
    return f"{count / 1e6:.2f}"


def main(argv=None):
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "site.md"))
    args = parser.parse_args(argv)
    site = Path(args.site)
    pages = sorted(p.relative_to(site).as_posix() for p in (site / "chapters").glob("*.html"))
    if not pages:
        sys.exit(f"error: no chapters in {site}; build the site first (make book)")
    load_before = os.getloadavg()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        before = first_visits(site, serve.PlainHandler, pages, browser)
        after = first_visits(site, serve.PrecompressedHandler, pages, browser)
        browser.close()
    load_after = os.getloadavg()

    rows, data_pages = [], {}
    for name in pages:
        raw, packed = sum(size for _, size in before[name]), sum(size for _, size in after[name])
        data_pages[name] = {"before_bytes": raw, "after_bytes": packed, "requests": len(after[name])}
        rows.append(f"| {Path(name).stem} | {len(after[name])} | {megabytes(raw)} | {megabytes(packed)} | "
                    f"{packed / raw:.2f} |")
    first = pages[0]
    packed_sizes = dict(after[first])
    largest = sorted(before[first], key=lambda item: -item[1])[:6]
    total_before = sum(d["before_bytes"] for d in data_pages.values())
    total_after = sum(d["after_bytes"] for d in data_pages.values())
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join([
        f"Measured {when} on {os.cpu_count()} CPU cores ({platform.machine()}), headless Chromium at "
        f"{VIEWPORT['width']} px, empty cache, offline. Load average (1, 5, 15 min): "
        f"{', '.join(f'{x:.1f}' for x in load_before)} before, {', '.join(f'{x:.1f}' for x in load_after)} after "
        f"(byte counts do not depend on it).",
        "",
        "First visit of each chapter: bytes the server sent. Before: every file as it is "
        "(`python -m http.server`); after: `make serve` (`book_support/serve.py`), gzip copies "
        "written by the build.",
        "",
        "| chapter | requests | before (MB) | after (MB) | after / before |",
        "|---|---:|---:|---:|---:|",
        *rows,
        f"| all chapters | | {megabytes(total_before)} | {megabytes(total_after)} | "
        f"{total_after / total_before:.2f} |",
        "",
        f"The largest files of {Path(first).stem}'s first visit:",
        "",
        "| file | before (MB) | after (MB) |",
        "|---|---:|---:|",
        *[f"| `{path}` | {megabytes(size)} | {megabytes(packed_sizes.get(path, 0))} |" for path, size in largest],
        "",
    ])
    data = {"measured": when, "cpu_count": os.cpu_count(), "load_before": load_before, "load_after": load_after,
            "viewport": VIEWPORT, "pages": data_pages,
            "largest_first_page": [{"path": p, "before": s, "after": packed_sizes.get(p, 0)} for p, s in largest]}
    write_results(Path(args.out), table, data)
    print(table)


if __name__ == "__main__":
    main()
