// The course website's own behaviour, on every page (checked by tests/test_site.py).
(function () {
  "use strict";

  // 1. Sliders of the interactive figures get an accessible name and a spoken value.
  //    The widget manager draws a <label> that is not tied to the slider's handle (a
  //    div with role="slider") and announces the index, not the value shown: name the
  //    handle after the label and let it read the readout.
  function nameSliders(root) {
    root.querySelectorAll(".widget-slider").forEach(function (slider) {
      var handle = slider.querySelector("[role=slider]");
      var label = slider.querySelector(".widget-label");
      var readout = slider.querySelector(".widget-readout");
      if (!handle) return;
      var name = label ? label.textContent.trim() : "";
      if (name && handle.getAttribute("aria-label") !== name) handle.setAttribute("aria-label", name);
      if (label && label.getAttribute("title") === "null") label.removeAttribute("title");
      var value = readout ? readout.textContent.trim() : "";
      if (value && handle.getAttribute("aria-valuetext") !== value) handle.setAttribute("aria-valuetext", value);
    });
  }
  var pending = false;
  var observer = new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      nameSliders(document);
      fitAll();
    });
  });
  function watch() {
    nameSliders(document);
    fitAll();
    window.addEventListener("resize", fitAll);
    // MathJax's fonts arrive after the equations are drawn, and change their widths.
    if (document.fonts) {
      document.fonts.ready.then(fitAll);
      document.fonts.addEventListener("loadingdone", fitAll);
    }
    observer.observe(document.body, {
      childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["aria-valuenow"],
    });
  }

  // 2. Search results: a snippet is the page's text around the word found, and Sphinx
  //    takes it from the page's HTML, where math is still TeX source (\(\gamma^k\)).
  //    Show a short plain-text form of inline math and an ellipsis for display math, and
  //    leave out the print-only table of contents.
  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", eta: "η", theta: "θ",
    lambda: "λ", mu: "μ", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", Delta: "Δ", Sigma: "Σ",
    sum: "Σ", prod: "Π", top: "ᵀ", cdot: "·", times: "×", infty: "∞", leq: "≤", geq: "≥",
    approx: "≈", to: "→", odot: "⊙", partial: "∂", nabla: "∇", ldots: "…", dots: "…",
  };
  // Operators written as words keep their word (\tanh' is "tanh'", not "'").
  var OPERATORS = ["tanh", "sinh", "cosh", "sin", "cos", "exp", "log", "ln", "max", "min", "arg", "det",
                   "softmax", "sign", "lim", "sup", "inf"];
  function texToText(tex) {
    return tex
      .replace(/^\\\(|\\\)$|^\\\[|\\\]$|^\$+|\$+$/g, "")
      .replace(/\\(?:mathbf|mathrm|mathcal|operatorname|text|bar|hat|tilde|boldsymbol)\s*/g, "")
      .replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)")
      .replace(/\\([A-Za-z]+)\s*/g, function (m, name, at, tex) {
        if (SYMBOLS[name]) return SYMBOLS[name];
        if (OPERATORS.indexOf(name) < 0) return "";
        return /[A-Za-z0-9\\]/.test(tex.charAt(at + m.length)) ? name + " " : name;
      })
      .replace(/\\[,;:!{} ]/g, " ")
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }
  function withoutTex(htmlString) {
    var doc = new DOMParser().parseFromString(htmlString, "text/html");
    // The book theme's print-only table of contents is not what a snippet should quote.
    doc.querySelectorAll(".onlyprint").forEach(function (el) { el.remove(); });
    doc.querySelectorAll(".math").forEach(function (el) {
      var display = el.tagName === "DIV" || /^\s*\\\[/.test(el.textContent);
      el.replaceWith(doc.createTextNode(display ? " … " : texToText(el.textContent.trim())));
    });
    return doc.documentElement.outerHTML;
  }
  function patchSearch() {
    // searchtools.js declares `const Search`: a global binding, not a window property.
    var search = typeof Search !== "undefined" ? Search : window.Search;
    if (!search || !search.htmlToText || search.htmlToText.withoutTex) return;
    var original = search.htmlToText;
    search.htmlToText = function (htmlString, anchor) {
      return original.call(this, withoutTex(htmlString), anchor);
    };
    search.htmlToText.withoutTex = true;
  }
  // 3. Whatever scrolls sideways says so: a display equation a little too wide for its
  //    column is scaled down to fit (to 80 % at most); one still too wide, a wide table or
  //    an output scrolls in its own box, which gets the scroll cue (the class
  //    "is-scrollable", shadows at the hidden edges), a keyboard stop and a name.
  var MIN_EQUATION_SCALE = 0.8;
  function markScrollable(box, name) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.classList.contains("is-scrollable")) {
      box.classList.add("is-scrollable");
      if (!box.hasAttribute("tabindex")) { box.setAttribute("tabindex", "0"); box.dataset.courseTabindex = "1"; }
      if (!box.hasAttribute("role")) box.setAttribute("role", "region");
      if (!box.hasAttribute("aria-label")) box.setAttribute("aria-label", name + " (scrolls sideways)");
    } else if (!scrolls && box.classList.contains("is-scrollable")) {
      box.classList.remove("is-scrollable");
      if (box.dataset.courseTabindex) { box.removeAttribute("tabindex"); delete box.dataset.courseTabindex; }
      if (box.getAttribute("role") === "region") box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }
  function fitEquation(math) {
    if (!math.dataset.courseFontSize) math.dataset.courseFontSize = math.style.fontSize || "100%";
    var original = parseFloat(math.dataset.courseFontSize) || 100;
    math.style.fontSize = math.dataset.courseFontSize;
    var width = math.scrollWidth, room = math.clientWidth;
    if (width > room + 1 && room > 0) {
      var scale = room / width;
      if (scale >= MIN_EQUATION_SCALE) math.style.fontSize = (Math.floor(original * scale * 10 - 1) / 10) + "%";
    }
    markScrollable(math, "equation");
  }
  function fitAll() {
    document.querySelectorAll('.bd-article mjx-container[display="true"]').forEach(fitEquation);
    // Tables, and the boxes of cell outputs that scroll (the page's own, such as chapter
    // 4's benchmark table, or the output area's).
    document.querySelectorAll(".bd-article .pst-scrollable-table-container, .bd-article .cell_output div, " +
                              ".bd-article table.indextable")
      .forEach(function (box) {
        var overflow = window.getComputedStyle(box).overflowX;
        if (overflow !== "auto" && overflow !== "scroll") return;
        markScrollable(box, box.matches("table") ? "index" : box.querySelector("table") ? "table" : "output");
      });
  }

  // 4. On a phone the navigation and the page's contents are drawers (dialogs) over the
  //    page: following one of their links closes the drawer, even to a place on the same page.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("dialog a[href]");
    if (!link) return;
    var drawer = link.closest("dialog");
    if (drawer && drawer.open) drawer.close();
  });

  // 5. A downloaded chapter notebook links lectlib's functions to the API page by a path
  //    relative to the notebook on this site; outside the site that path leads nowhere.
  //    The download link hands over the notebook with those links made absolute.
  function absoluteLinks(notebookText, notebookUrl) {
    var notebook = JSON.parse(notebookText);
    notebook.cells.forEach(function (cell) {
      if (cell.cell_type !== "markdown") return;
      var source = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
      cell.source = source.replace(/\]\(((?:\.\.\/)*[\w\/.-]+\.html(?:#[^)\s]*)?)\)/g, function (m, target) {
        return "](" + new URL(target, notebookUrl).href + ")";
      });
    });
    return JSON.stringify(notebook, null, 1) + "\n";
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href$=".ipynb"]');
    if (!link || !window.fetch || !/^https?:$/.test(location.protocol)) return;
    event.preventDefault();
    var url = new URL(link.getAttribute("href"), location.href).href;
    fetch(url).then(function (response) { return response.text(); }).then(function (text) {
      var blob = new Blob([absoluteLinks(text, url)], { type: "application/x-ipynb+json" });
      var save = document.createElement("a");
      save.href = URL.createObjectURL(blob);
      save.download = url.split("/").pop();
      document.body.appendChild(save);
      save.click();
      save.remove();
      window.setTimeout(function () { URL.revokeObjectURL(save.href); }, 10000);
    }).catch(function () { location.href = url; });
  });

  // 6. A page opened from a search result highlights the words searched for (in the
  //    address, ?highlight=, or left by the search page). Sphinx's sphinx_highlight.js
  //    does so only where searchtools.js is absent, and this theme loads it on every page
  //    (for its search pop-up), so nothing was ever highlighted.
  function highlightSearchedWords() {
    if (typeof SphinxHighlight === "undefined" || document.getElementById("search-results")) return;
    var terms = new URL(location.href).searchParams.get("highlight") || localStorage.getItem("sphinx_highlight_terms");
    if (terms) SphinxHighlight.highlightSearchWords();
  }

  window.courseSite = { texToText: texToText, absoluteLinks: absoluteLinks, fitAll: fitAll };

  patchSearch();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { patchSearch(); watch(); highlightSearchedWords(); });
  } else {
    watch();
    highlightSearchedWords();
  }
})();
