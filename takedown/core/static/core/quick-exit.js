// Quick exit: leave for a neutral site and replace this page in the history, on click or on pressing Escape
// twice. Without JavaScript the link still works as a plain link.
(function () {
  "use strict";
  var link = document.getElementById("quick-exit");
  if (!link) { return; }
  function leave(event) {
    if (event) { event.preventDefault(); }
    document.body.style.display = "none";
    window.location.replace(link.href);
  }
  link.addEventListener("click", leave);
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    if (now - lastEscape < 800) { leave(event); }
    lastEscape = now;
  });
})();
