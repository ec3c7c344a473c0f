// Typeset the math pymdownx.arithmatex marked up (generic mode: \( \) inline,
// \[ \] display) with the KaTeX shipped in assets/katex/. Material's instant
// navigation swaps page bodies without reloading scripts, so render on every
// document$ emission rather than once on load.
(function () {
  function typeset(root) {
    root.querySelectorAll(".arithmatex").forEach(function (element) {
      renderMathInElement(element, {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: false,
      });
    });
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(function (page) { typeset(page.body || document.body); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { typeset(document.body); });
  }
})();
