// "Hash on this device": reads the chosen images in the browser, computes PDQ and SHA-256 with pdq.js, and
// puts only the hashes into the form. The file input has no name, so the files themselves are never sent.
// Used by the first report and by "add images" on the case page; a form marked `hidden` (nothing works in it
// without JavaScript) is shown once this script runs.
import { hashFiles } from "./pdq.js";

document.querySelectorAll("form[data-device-hash]").forEach((form) => {
  const block = form.querySelector("[data-device-hash-block]");
  const input = block.querySelector("[data-device-files]");
  const hidden = form.querySelector("input[name=device_hashes]");
  const progressBox = block.querySelector("[data-device-progress]");
  const bar = progressBox.querySelector("progress");
  const text = block.querySelector("[data-device-progress-text]");
  const list = block.querySelector("[data-device-results]");
  const submit = form.querySelector("button[type=submit]");
  const label = (name, values) => {
    let message = block.dataset[name] || "";
    for (const [key, value] of Object.entries(values || {})) { message = message.replace(`{${key}}`, value); }
    return message;
  };
  const maxImages = parseInt(block.dataset.maxImages || "10", 10);
  let busy = false;
  block.hidden = false;
  form.hidden = false;

  const showStored = () => {
    // After a form error the hashes come back in the hidden field: say so instead of asking to hash again.
    if (!hidden.value) { return; }
    try {
      const count = JSON.parse(hidden.value).length;
      text.textContent = label("labelKept", { count });
      progressBox.hidden = false;
      bar.value = 100;
    } catch (error) { hidden.value = ""; }
  };
  showStored();

  input.addEventListener("change", async () => {
    if (!input.files.length) { return; }
    if (input.files.length > maxImages) {
      // The server would refuse it too, but only after the person had waited for every image to be hashed.
      hidden.value = "";
      list.replaceChildren();
      progressBox.hidden = false;
      bar.value = 0;
      text.textContent = label("labelTooMany", { limit: maxImages, count: input.files.length });
      block.classList.add("has-error");
      input.setAttribute("aria-invalid", "true");
      input.value = "";
      input.focus();
      return;
    }
    block.classList.remove("has-error");
    input.removeAttribute("aria-invalid");
    busy = true;
    submit.disabled = true;
    hidden.value = "";
    list.replaceChildren();
    progressBox.hidden = false;
    bar.value = 0;
    const total = input.files.length;
    let results;
    try {
      results = await hashFiles(input.files, (p) => {
        bar.value = Math.round(p.overall * 100);
        text.textContent = label("labelProgress", { n: p.fileIndex + 1, total });
      });
    } catch (error) {
      results = Array.from(input.files, () => ({ error: "unsupported-browser" }));
    }
    const good = [];
    results.forEach((result, index) => {
      const item = document.createElement("li");
      if (result.error || !result.pdq) {
        item.className = "failed";
        item.textContent = label("labelFailed", { n: index + 1 });
      } else {
        item.textContent = label("labelReady", { n: index + 1 });
        good.push({ sha256: result.sha256, pdq: result.pdq, quality: result.quality,
                    width: result.width, height: result.height });
      }
      list.append(item);
    });
    hidden.value = good.length ? JSON.stringify(good) : "";
    bar.value = 100;
    text.textContent = label("labelDone", { count: good.length, total });
    busy = false;
    submit.disabled = false;
  });

  form.addEventListener("submit", (event) => {
    if (busy) { event.preventDefault(); }
  });
});
