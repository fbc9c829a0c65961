// Runs before the Jupyter widget manager and MathJax on every page with widgets.
(function () {
  // 1. Tell require.js where the widget manager lives on this site, so the fonts and
  //    styles it loads resolve from any page, at any depth, with no CDN.
  var here = document.currentScript.src;
  var vendor = here.slice(0, here.lastIndexOf("/") + 1);
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": vendor + "html-manager" } });

  // 2. The widget manager typesets labels with MathJax 2's MathJax.Hub.Queue; the site
  //    runs MathJax 3, which has no Hub. Give every MathJax object MathJax 3 installs a
  //    Hub whose Queue typesets with the MathJax 3 call once MathJax is ready.
  function typesetLater(command) {
    var element = command && command[2];
    var mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise) {
      mathjax.startup.promise.then(function () {
        return mathjax.typesetPromise(element ? [element] : undefined);
      });
    }
  }
  var current = window.MathJax;
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      Object.defineProperty(value, "Hub", { value: { Queue: typesetLater }, enumerable: false });
    }
    return value;
  }
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); },
  });
  withHub(current);
})();
