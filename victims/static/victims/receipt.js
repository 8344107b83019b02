// The receipt page: Print and Copy buttons, shown only when this script runs (they need JavaScript).
(function () {
  "use strict";
  var print = document.querySelector("[data-print]");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
  var copy = document.querySelector("[data-copy]");
  var status = document.getElementById("copy-status");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(copy.getAttribute("data-copy-text")).then(function () {
        status.textContent = copy.getAttribute("data-copied-label");
      });
    });
  }
})();
