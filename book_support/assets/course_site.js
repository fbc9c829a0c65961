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
    });
  });
  function watch() {
    nameSliders(document);
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
  function texToText(tex) {
    return tex
      .replace(/^\\\(|\\\)$|^\\\[|\\\]$|^\$+|\$+$/g, "")
      .replace(/\\(?:mathbf|mathrm|mathcal|operatorname|text|bar|hat|tilde|boldsymbol)\s*/g, "")
      .replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)")
      .replace(/\\([A-Za-z]+)\s*/g, function (m, name) { return SYMBOLS[name] || ""; })
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
  window.courseSite = { texToText: texToText };

  patchSearch();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { patchSearch(); watch(); });
  } else {
    watch();
  }
})();
