// Blurred images get a "Show" button; without JavaScript they simply stay blurred.
(function () {
  "use strict";
  document.querySelectorAll("[data-reveal]").forEach(function (button) {
    var image = button.closest("figure").querySelector("img[data-shield]");
    if (!image) { return; }
    var showLabel = button.textContent;
    var hideLabel = button.getAttribute("data-hide-label") || showLabel;
    button.hidden = false;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var revealed = image.classList.toggle("revealed");
      image.classList.toggle("shielded", !revealed);
      button.textContent = revealed ? hideLabel : showLabel;
      button.setAttribute("aria-pressed", revealed ? "true" : "false");
    });
  });
})();
