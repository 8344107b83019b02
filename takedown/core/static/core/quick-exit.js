// Quick exit: end the case session on the server, then leave for a neutral site, replacing this page in the
// history, on click or on pressing Escape twice. The link itself (a GET of /exit/) does the same without
// JavaScript; the beacon makes sure the session ends even if the navigation is cut short.
(function () {
  "use strict";
  var link = document.getElementById("quick-exit");
  if (!link) { return; }
  var leaving = false;
  function leave(event) {
    if (event) { event.preventDefault(); }
    if (leaving) { return; }
    leaving = true;
    document.body.style.display = "none";
    try {
      var token = document.querySelector("input[name=csrfmiddlewaretoken]");
      if (navigator.sendBeacon && token) {
        var body = new FormData();
        body.append("csrfmiddlewaretoken", token.value);
        navigator.sendBeacon(link.href, body);
      }
    } catch (ignored) { /* the GET below ends the session too */ }
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
