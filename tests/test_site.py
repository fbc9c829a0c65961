"""The built website in a real browser (headless Debian Chromium driven by Playwright),
served on localhost: pages load cleanly and offline, math is typeset, sliders move
figures without a kernel, the search works and its snippets show no TeX, and every page
works on a phone (390 px) and a desktop (1366 px): the navigation and contents toggles
open and the drawers close, no equation is clipped and whatever scrolls sideways shows a
cue and takes the keyboard, table cells break no word, nothing overflows the page,
images have alt text and sliders names; axe-core (offline, from book_support/node_modules)
finds no serious or critical problem in light or dark mode; the site is served
compressed; downloaded chapter notebooks hold plain Markdown.

Every page is opened offline: any request to a host other than the local server is
blocked (and reported). The server is book_support/serve.py, the one ``make serve`` runs.

``COURSE_SITE=/path/to/_build/html`` tests a site built elsewhere (for example with
``jupyter-book build --path-output /tmp/x .``) instead of building this checkout."""
import base64
import gzip
import hashlib
import html.parser
import io
import json
import re
import sys
import threading
import urllib.request
from urllib.parse import urlparse

import pytest

from conftest import ROOT
from lectlib import widgets

sys.path.insert(0, str(ROOT / "book_support"))
import serve  # noqa: E402  (book_support is not a package)
import vendor  # noqa: E402

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]

pytestmark = pytest.mark.slow


SENT = []   # (path, bytes) of every response body the test server sent


@pytest.fixture(scope="module")
def site_url(site):
    server = serve.make_server(site, sent=SENT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def offline_page(browser, site_url, **options):
    """A new page that can reach the local server and nothing else (other requests are
    aborted; PageWatch reports them)."""
    page = browser.new_page(**options)
    local = urlparse(site_url).netloc

    def only_local(route):
        target = urlparse(route.request.url)
        if target.scheme in ("data", "blob", "file") or target.netloc == local:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_local)
    return page


class PageWatch:
    """Collects what went wrong while a page loaded: console errors, uncaught exceptions,
    failed requests, HTTP errors, and any request to a host other than the local server."""

    def __init__(self, page, site_url):
        self.problems = []
        local_host = urlparse(site_url).netloc

        def console(msg):
            if msg.type == "error":
                self.problems.append(f"console: {msg.text}")
            elif msg.type == "warning" and (msg.location or {}).get("url", "").startswith(site_url):
                # A warning from the site's own scripts (vendored ones included).
                self.problems.append(f"console warning: {msg.text} ({msg.location.get('url')})")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.problems.append(f"exception: {exc}"))
        page.on("requestfailed", lambda req: self.problems.append(f"failed: {req.url} {req.failure}"))
        page.on("response", lambda res: res.status >= 400 and self.problems.append(f"HTTP {res.status}: {res.url}"))

        def check_host(request):
            parsed = urlparse(request.url)
            if parsed.scheme in ("http", "https") and parsed.netloc != local_host:
                self.problems.append(f"remote request: {request.url}")

        page.on("request", check_host)


def site_pages(built_site):
    return sorted(p.relative_to(built_site).as_posix() for p in built_site.rglob("*.html")
                  if "_static" not in p.parts and "_sources" not in p.parts)


def test_every_page_loads_offline_without_errors(site, site_url, browser):
    pages = site_pages(site)
    assert "intro.html" in pages and any(p.startswith("chapters/") for p in pages)
    failures = {}
    for name in pages:
        page = offline_page(browser, site_url)
        watch = PageWatch(page, site_url)
        page.goto(f"{site_url}/{name}", wait_until="networkidle")
        page.wait_for_timeout(300)
        if watch.problems:
            failures[name] = watch.problems
        page.close()
    assert not failures, failures


def test_the_site_root_serves_a_favicon(site_url):
    # Browsers request /favicon.ico for the index.html redirect, which has no favicon link;
    # a 404 there is a console error on the first page a student opens.
    with urllib.request.urlopen(f"{site_url}/favicon.ico") as response:
        assert response.status == 200
        assert response.read(4) == b"\x00\x00\x01\x00"  # the ICO signature


def test_math_is_typeset(site_url, browser):
    page = offline_page(browser, site_url)
    page.goto(f"{site_url}/chapters/04_scans.html", wait_until="networkidle")
    # In the article: a heading's math is also in the print-only contents, never visible.
    page.wait_for_selector(".bd-article mjx-container", timeout=20_000)
    assert page.locator(".bd-article mjx-container").count() > 5
    page.close()


def pages_with_figures(built_site):
    return [name for name in site_pages(built_site)
            if "lectlib-interactive-figure" in (built_site / name).read_text(encoding="utf-8")]


def visible_image_source(page, figure):
    return figure.evaluate("""fig => {
        const shown = [...fig.querySelectorAll('img')].filter(img => img.offsetParent !== null && img.offsetWidth > 0);
        return shown.length === 1 ? shown[0].src : `${shown.length} images visible`;
    }""")


def test_slider_changes_the_figure_without_a_kernel(site, site_url, browser):
    with_figures = pages_with_figures(site)
    assert with_figures, "no page has an interactive figure"
    for name in with_figures:
        page = offline_page(browser, site_url)
        page.goto(f"{site_url}/{name}", wait_until="networkidle")
        figure = page.locator(".lectlib-interactive-figure").first
        figure.wait_for(timeout=20_000)
        before = visible_image_source(page, figure)
        assert before.startswith("blob:") or before.startswith("data:"), before
        handle = figure.locator(".noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        page.wait_for_timeout(300)
        after = visible_image_source(page, figure)
        assert after != before and (after.startswith("blob:") or after.startswith("data:")), (name, before, after)
        page.close()


def test_search_finds_associative(site_url, browser):
    page = offline_page(browser, site_url)
    page.goto(f"{site_url}/search.html?q=associative", wait_until="networkidle")
    page.wait_for_selector("#search-results li, ul.search li", timeout=20_000)
    results = page.locator("ul.search li")
    assert results.count() >= 1
    assert "Scans" in results.all_inner_texts()[0] or any("scans" in t.lower() for t in results.all_inner_texts())
    page.close()


def test_the_homework_page_link_downloads_the_student_wheel(site, site_url, browser):
    # Students start from the homework page: its link must hand them the package itself.
    import zipfile

    wheels = sorted(p.name for p in site.glob("lectlib-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    page = offline_page(browser, site_url, accept_downloads=True)
    page.goto(f"{site_url}/homework.html", wait_until="networkidle")
    link = page.locator("a.student-wheel").first
    assert link.inner_text().strip() == wheels[0]
    with page.expect_download(timeout=20_000) as info:
        link.click()
    download = info.value
    assert download.suggested_filename == wheels[0]
    with zipfile.ZipFile(download.path()) as wheel:
        assert "lectlib/homework/visible.py" in wheel.namelist()
    page.close()


# --- a phone and a desktop -----------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const visible = el => { const b = el.getBoundingClientRect(); const s = getComputedStyle(el);
                          return b.width > 0 && b.height > 0 && s.visibility !== 'hidden'; };
  const doc = document.documentElement;
  if (doc.scrollWidth > innerWidth) problems.push(`page is ${doc.scrollWidth} px wide in a ${innerWidth} px window`);
  // Display math: the equation fits its box, or its box scrolls; the box stays in the window.
  document.querySelectorAll('mjx-container[display="true"]').forEach((m, i) => {
    const box = m.getBoundingClientRect();
    const text = m.textContent.slice(0, 30);
    if (box.left < -1 || box.right > innerWidth + 1) problems.push(`equation ${i} (${text}) leaves the window`);
    if (m.scrollWidth > m.clientWidth + 1) {
      const overflow = getComputedStyle(m).overflowX;
      m.scrollLeft = m.scrollWidth;
      const reached = m.scrollLeft + m.clientWidth >= m.scrollWidth - 2;
      m.scrollLeft = 0;
      if (!['auto', 'scroll'].includes(overflow) || !reached) problems.push(`equation ${i} (${text}) is clipped`);
    }
  });
  // Whatever scrolls sideways shows it (course_site.js's "is-scrollable": shadows at the
  // hidden edges), takes the keyboard and has a name; a code block is focusable.
  document.querySelectorAll('.bd-article div, .bd-article pre, .bd-article table, .bd-article mjx-container[display="true"]')
    .forEach(el => {
      if (!visible(el) || !['auto', 'scroll'].includes(getComputedStyle(el).overflowX)) return;
      if (el.scrollWidth <= el.clientWidth + 1) return;
      const what = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} (${el.textContent.trim().slice(0, 30)})`;
      if (el.tabIndex < 0) problems.push(`${what} scrolls sideways but the keyboard cannot reach it`);
      if (el.tagName === 'PRE') return;
      if (!el.classList.contains('is-scrollable') || !getComputedStyle(el).backgroundImage.includes('gradient'))
        problems.push(`${what} scrolls sideways with no cue`);
      if (!el.getAttribute('aria-label')) problems.push(`${what} scrolls sideways and has no name`);
    });
  // On a desktop every display equation fits its column.
  if (innerWidth >= 1200) document.querySelectorAll('.bd-article mjx-container[display="true"]').forEach((m, i) => {
    if (visible(m) && m.scrollWidth > m.clientWidth + 1)
      problems.push(`equation ${i} (${m.textContent.slice(0, 30)}) is ${m.scrollWidth - m.clientWidth} px wider than the column`);
  });
  // No table cell breaks a word across lines (breaking at a space, hyphen or slash is fine).
  document.querySelectorAll('.bd-article table td, .bd-article table th').forEach(cell => {
    if (!visible(cell)) return;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.parentElement.closest('mjx-container')) continue;
      for (const word of node.data.matchAll(/[^\\s\\-–—\\/]+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) problems.push(`a table cell breaks the word ${word[0]}`);
      }
    }
  });
  // Inline math keeps the punctuation after it on its line: no line starts with a lone comma.
  document.querySelectorAll('.bd-article span.math').forEach(math => {
    const next = math.nextSibling;
    if (!next || next.nodeType !== Node.TEXT_NODE || !/^[,.;:]/.test(next.data) || !visible(math)) return;
    const range = document.createRange();
    range.setStart(next, 0);
    range.setEnd(next, 1);
    const mark = range.getBoundingClientRect(), rects = math.getClientRects();
    const last = rects[rects.length - 1];
    if (last && mark.top >= last.bottom - 1) problems.push(`"${next.data[0]}" after ${math.textContent.slice(0, 20)} starts a line`);
  });
  // Tables scroll within their column.
  document.querySelectorAll('.bd-article table').forEach((t, i) => {
    const b = t.getBoundingClientRect();
    let scroller = t.parentElement;
    while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
    if (b.right > innerWidth + 1 && !scroller) problems.push(`table ${i} overflows its column`);
  });
  // Every image says what it shows, in words: not empty, not a file name (MyST-NB's default).
  document.querySelectorAll('.bd-article img').forEach(img => {
    const alt = (img.getAttribute('alt') || '').trim();
    if (visible(img) && !alt) problems.push(`image without alt text: ${img.src.slice(0, 60)}`);
    else if (visible(img) && (/\\.(png|jpe?g|gif|svg|webp)$/i.test(alt) || /^(\\.\\.?\\/|\\/|_images)/.test(alt)))
      problems.push(`image whose alt text is a file name, not a description: ${alt.slice(0, 80)}`);
  });
  // One copy of each toggle and of the search field; no second header.
  const shown = sel => [...document.querySelectorAll(sel)].filter(visible).length;
  if (shown('.primary-toggle') !== 1) problems.push(`${shown('.primary-toggle')} visible navigation toggles`);
  if (document.querySelectorAll('.primary-toggle').length !== 1) problems.push('more than one navigation toggle in the page');
  if (document.querySelectorAll('.secondary-toggle').length > 1) problems.push('more than one contents toggle in the page');
  if (shown('.search-button-field, .search-button') !== 1) problems.push(`${shown('.search-button-field, .search-button')} visible search fields`);
  const header = document.querySelector('#pst-header');
  if (header && header.getBoundingClientRect().height > 0) problems.push('a second header above the page');
  return problems;
}"""


def open_page(browser, site_url, name, viewport, **options):
    page = offline_page(browser, site_url, viewport=viewport, **options)
    page.goto(f"{site_url}/{name}", wait_until="networkidle")
    if page.locator(".lectlib-interactive-figure").count():
        page.locator(".lectlib-interactive-figure img").first.wait_for(timeout=20_000)
    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
    page.wait_for_timeout(300)
    return page


def check_toggles(page, viewport):
    """The navigation toggle opens the site's navigation (a drawer on a phone, the sidebar
    collapses and comes back on a desktop); the contents toggle opens the page's contents."""
    problems = []
    toggle = page.locator(".primary-toggle")
    navigation = page.locator("#pst-primary-sidebar, #pst-primary-sidebar-modal").locator("nav.bd-docs-nav")
    if viewport is PHONE:
        if navigation.is_visible():
            problems.append("navigation shown before the toggle is pressed")
        toggle.click()
        page.wait_for_timeout(300)
        if not (page.locator("#pst-primary-sidebar-modal[open]").count() and navigation.is_visible()):
            problems.append("the navigation toggle does not open the navigation")
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
        if page.locator("#pst-primary-sidebar-modal[open]").count():
            problems.append("the navigation does not close")
    else:
        if not navigation.is_visible():
            problems.append("no navigation on a desktop")
        toggle.click()
        page.wait_for_timeout(400)
        if navigation.is_visible():
            problems.append("the navigation toggle does not hide the sidebar")
        toggle.click()
        page.wait_for_timeout(400)
        if not navigation.is_visible():
            problems.append("the navigation toggle does not bring the sidebar back")
    contents = page.locator(".secondary-toggle")
    has_contents = page.locator("#pst-secondary-sidebar nav.page-toc, #pst-secondary-sidebar .page-toc").count()
    if has_contents and contents.count() and contents.is_visible():
        contents.click()
        page.wait_for_timeout(300)
        if not (page.locator("#pst-secondary-sidebar-modal[open]").count()
                and page.locator("#pst-secondary-sidebar-modal .page-toc").first.is_visible()):
            problems.append("the contents toggle does not open the page's contents")
        else:
            # Tapping an entry goes there and closes the drawer.
            entries = page.locator("#pst-secondary-sidebar-modal .page-toc a[href^='#']:visible")
            if entries.count():
                entries.last.click()
                page.wait_for_timeout(400)
                if page.locator("#pst-secondary-sidebar-modal[open]").count():
                    problems.append("the contents drawer stays open after tapping an entry")
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    elif has_contents and not page.locator("#pst-secondary-sidebar .page-toc").first.is_visible():
        problems.append("the page's contents can be neither seen nor opened")
    return problems


def check_sliders(page):
    """Every slider's accessible name is its label, and it speaks the value it shows."""
    problems = []
    for slider in page.locator(".lectlib-interactive-figure .widget-slider").all():
        label = slider.locator(".widget-label").inner_text().strip()
        named = slider.get_by_role("slider", name=label, exact=True)
        if not label or named.count() != 1:
            problems.append(f"slider {label!r} has no accessible name")
            continue
        readout = slider.locator(".widget-readout").inner_text().strip()
        if named.get_attribute("aria-valuetext") != readout:
            problems.append(f"slider {label!r} speaks {named.get_attribute('aria-valuetext')!r}, shows {readout!r}")
        box, column = slider.bounding_box(), page.locator(".bd-article").bounding_box()
        readout_box = slider.locator(".widget-readout").bounding_box()
        if readout_box["x"] + readout_box["width"] > column["x"] + column["width"] + 1 or box["width"] > column["width"] + 1:
            problems.append(f"slider {label!r} or its value does not fit the column")
    for frame in page.locator(".lectlib-interactive-figure img").all():
        alt = frame.get_attribute("alt") or ""
        if not alt.startswith("Interactive figure,") or "=" not in alt:
            problems.append(f"interactive frame's alt text does not name its values: {alt[:80]!r}")
        values, _, description = alt.partition(": ")
        if "_" in values or re.search(r"[\\${}]", alt) or description.strip() in ("", "a figure"):
            problems.append(f"interactive frame's alt text does not say what it shows in words: {alt[:100]!r}")
    return problems


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone-390px", "desktop-1366px"])
def test_every_page_works_on_a_phone_and_a_desktop(site, site_url, browser, viewport):
    failures = {}
    for name in site_pages(site):
        page = open_page(browser, site_url, name, viewport)
        problems = page.evaluate(LAYOUT_PROBLEMS) + check_sliders(page) + check_toggles(page, viewport)
        if problems:
            failures[name] = problems
        page.close()
    assert not failures, failures


def test_search_snippets_show_no_tex_source(site_url, browser):
    page = offline_page(browser, site_url)
    page.goto(f"{site_url}/search.html?q=forgetting", wait_until="networkidle")
    page.wait_for_selector("ul.search li p.context", timeout=20_000)
    page.wait_for_timeout(1000)
    snippets = page.locator("ul.search li p.context").all_inner_texts()
    assert snippets
    assert any("γ" in text for text in snippets), snippets   # the math is there, as text
    tex = [text for text in snippets if re.search(r"\\\(|\\\[|\\[A-Za-z]+", text)]
    assert not tex, tex
    page.close()


# --- static figures: readable on a phone, described in words --------------------------------

def chapter_notebooks(built_site):
    """The executed chapter notebooks the site offers for download."""
    notebooks = sorted((built_site / "_sources" / "chapters").glob("*.ipynb"))
    assert notebooks, f"no executed chapter notebooks under {built_site / '_sources' / 'chapters'}"
    return notebooks


def static_figures(built_site):
    """(chapter, cell index, PNG bytes, output metadata) of every image a chapter shows
    inline (the interactive figures' frames live in widget state, not here)."""
    found = []
    for notebook in chapter_notebooks(built_site):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    found.append((notebook.stem, index, base64.b64decode(output["data"]["image/png"]),
                                  output.get("metadata", {})))
    return found


def test_every_static_figure_has_text_readable_on_a_phone(site):
    """A phone scales a figure to its 358 px column: a text of s points in an image W px
    wide at d dpi is s * d / 72 * min(1, 358 / W) px there; every figure's smallest text
    must be at least 10 px. The smallest text (drawings' labels included) is measured
    while the figure is shown (lectlib.widgets.readable_inline_figures, recorded in the
    output's metadata); the width is read here from the image the site serves."""
    from PIL import Image

    figures = static_figures(site)
    assert len(figures) >= 10, f"only {len(figures)} static figures found in the chapters"
    problems = []
    for chapter, index, png, metadata in figures:
        where = f"{chapter}, cell {index}"
        if not (site / "_images" / f"{hashlib.sha256(png).hexdigest()}.png").exists():
            problems.append(f"{where}: the page does not serve this image")
        report = metadata.get("lectlib", {}).get("readable")
        if report is None:
            problems.append(f"{where}: shown without lectlib.widgets.readable_inline_figures()")
            continue
        with Image.open(io.BytesIO(png)) as image:
            width = image.size[0]
        px = report["smallest_text_points"] * report["dpi"] / 72 * min(1.0, widgets.PHONE_COLUMN_PX / width)
        if px < widgets.MIN_TEXT_PX_ON_PHONE - 1e-6:
            problems.append(f"{where}: {report['smallest_text']!r} is {px:.1f} px on a phone")
    assert not problems, problems


class ImageTags(html.parser.HTMLParser):
    """The attributes of every <img> in a page (not those inside scripts' data)."""

    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def looks_like_a_file_name(alt):
    return bool(re.search(r"\.(png|jpe?g|gif|svg|webp)$", alt, re.I) or re.match(r"(\.\.?/|/|_images)", alt)
                or not re.search(r"\s", alt))


def test_every_image_in_a_chapter_says_what_it_shows(site):
    """Static figures' alt text is written by the page (MyST-NB's image option ``alt``),
    never MyST-NB's default, the image's path. The interactive frames are checked in the
    browser (check_sliders)."""
    problems, count = [], 0
    for page in sorted((site / "chapters").glob("*.html")):
        parser = ImageTags()
        parser.feed(page.read_text(encoding="utf-8"))
        for image in parser.images:
            count += 1
            alt = (image.get("alt") or "").strip()
            if not alt or looks_like_a_file_name(alt) or len(alt) < 20:
                problems.append(f"{page.name}: {image.get('src', '')[:60]} has alt {alt[:80]!r}")
    assert count >= 10, f"only {count} images in the chapters"
    assert not problems, problems


def test_the_alt_text_check_knows_a_file_name():
    assert looks_like_a_file_name("../_images/8b3ed7b6be4f4429242b35826036cd6e.png")
    assert looks_like_a_file_name("figure.png") and looks_like_a_file_name("_images/x")
    assert not looks_like_a_file_name("Training loss on a log scale against the Adam step")


# --- search: highlighted terms, snippets in words ------------------------------------------

def test_a_search_result_page_highlights_the_words_searched(site_url, browser):
    page = offline_page(browser, site_url)
    page.goto(f"{site_url}/chapters/04_scans.html?highlight=associative", wait_until="networkidle")
    page.wait_for_timeout(500)
    marked = page.locator(".bd-article span.highlighted")
    assert marked.count() >= 1 and "associative" in marked.first.inner_text().lower()
    # and from the search page itself: follow the first result
    page.goto(f"{site_url}/search.html?q=associative", wait_until="networkidle")
    page.locator("ul.search li a").first.click()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert page.locator(".bd-article span.highlighted").count() >= 1, page.url
    page.close()


def test_search_snippets_keep_operators_written_as_words(site_url, browser):
    # Chapter 8's "\tanh'(a) = 1 - h^2" lost its tanh: a snippet said "has ' = 1 − h^2".
    page = offline_page(browser, site_url)
    page.goto(f"{site_url}/search.html", wait_until="networkidle")
    assert page.evaluate(r"courseSite.texToText(String.raw`\(\tanh'(a_t) = 1 - h_t^2\)`)") == "tanh'(a_t) = 1 - h_t^2"
    assert page.evaluate(r"courseSite.texToText(String.raw`\(\tanh x + \gamma\)`)") == "tanh x + γ"
    page.close()


# --- accessibility: axe-core, offline, light and dark ---------------------------------------

AXE_IMPACTS = ("serious", "critical")


def axe_problems(page):
    """axe-core's serious and critical violations on the page, as short strings."""
    page.add_script_tag(content=vendor.AXE.read_text(encoding="utf-8"))
    report = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact,
                                            where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"{v['id']} ({v['impact']}) at {v['where']}" for v in report if v["impact"] in AXE_IMPACTS]


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_finds_no_serious_problem_on_any_page(site, site_url, browser, mode):
    assert vendor.AXE.is_file(), f"{vendor.AXE} is missing: run book_support/vendor.py"
    failures = {}
    for viewport in (PHONE, DESKTOP):
        for name in site_pages(site):
            page = offline_page(browser, site_url, viewport=viewport)
            # The theme reads the reader's choice of mode from localStorage before drawing.
            page.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")
            page.goto(f"{site_url}/{name}", wait_until="networkidle")
            if page.locator(".math").count():
                page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
            page.wait_for_timeout(300)
            assert page.evaluate("document.documentElement.dataset.theme") == mode, name
            problems = axe_problems(page)
            if problems:
                failures[f"{name} at {viewport['width']} px"] = problems
            page.close()
    assert not failures, failures


# --- light on the wire ----------------------------------------------------------------------

def test_big_files_are_served_compressed(site, site_url):
    big = [path for path in site.rglob("*") if path.is_file() and path.suffix in (".js", ".css", ".html", ".ipynb")
           and path.stat().st_size > 100_000]
    assert any(path.name == "embed-amd.js" for path in big)
    missing = [str(path.relative_to(site)) for path in big if not path.with_name(path.name + ".gz").is_file()]
    assert not missing, missing
    embed = next(path for path in big if path.name == "embed-amd.js")
    request = urllib.request.Request(f"{site_url}/{embed.relative_to(site).as_posix()}",
                                     headers={"Accept-Encoding": "br, gzip"})
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Type"] in ("application/javascript", "text/javascript")
        body = response.read()
    assert gzip.decompress(body) == embed.read_bytes() and len(body) < embed.stat().st_size / 3
    # A client that does not accept gzip gets the file itself.
    with urllib.request.urlopen(f"{site_url}/{embed.relative_to(site).as_posix()}") as response:
        assert response.headers.get("Content-Encoding") is None and response.read() == embed.read_bytes()


def test_a_chapters_first_visit_moves_less_than_half_its_bytes(site, site_url, browser):
    SENT.clear()
    page = open_page(browser, site_url, "chapters/04_scans.html", DESKTOP)
    page.close()
    sent = sum(size for _, size in SENT)
    files = {urlparse(path).path for path, _ in SENT}
    raw = sum((site / path.lstrip("/")).stat().st_size for path in files if (site / path.lstrip("/")).is_file())
    assert files and sent < raw / 2, (sent, raw)


# --- the downloaded chapter notebooks -------------------------------------------------------

RAW_MYST = re.compile(r"^\s*(:::|```\{)|\{[a-z:-]+\}`", re.M)


def test_downloaded_notebooks_hold_plain_markdown_and_collapsed_solutions(site):
    api_ids = set(re.findall(r'id="([^"]+)"', (site / "api.html").read_text(encoding="utf-8")))
    for path in chapter_notebooks(site):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        markdown = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
        text = "\n".join(markdown)
        assert not RAW_MYST.search(text), (path.name, RAW_MYST.search(text))
        assert "<details open" not in text and text.count("<details>") == text.count("</details>")
        links = re.findall(r"\]\(\.\./\.\./api\.html#([^)]+)\)", text)
        assert all(anchor in api_ids for anchor in links), (path.name, set(links) - api_ids)
        hidden = [cell for cell in notebook["cells"] if "remove-cell" in cell["metadata"].get("tags", [])]
        assert all(cell["metadata"]["jupyter"]["source_hidden"] for cell in hidden), path.name
    scans = json.loads((site / "_sources" / "chapters" / "04_scans.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(cell["source"]) for cell in scans["cells"] if cell["cell_type"] == "markdown")
    assert text.count("<summary>Solution</summary>") >= 3 and "**Exercise 4.1**" in text
    assert "(../../api.html#lectlib." in text


def test_the_download_button_hands_over_a_notebook_whose_links_lead_to_the_site(site_url, browser):
    page = open_page(browser, site_url, "chapters/04_scans.html", DESKTOP, accept_downloads=True)
    link = page.locator("a[href$='04_scans.ipynb']").first
    with page.expect_download(timeout=20_000) as info:
        link.evaluate("a => a.click()")    # in the theme's download menu, hidden until opened
    download = info.value
    assert download.suggested_filename == "04_scans.ipynb"
    notebook = json.loads(open(download.path(), encoding="utf-8").read())
    text = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    assert f"]({site_url}/api.html#lectlib." in text and "](../" not in text
    assert "<details>" in text
    page.close()
