// Test harness for victims/static/victims/pdq.js: hashes whatever is put in the file input and
// publishes the results for the Playwright test. Query string: ?worker=0 forces the main thread,
// ?webgl=0 reads transparent images through a 2D canvas only.
import { hashFiles } from "/static/victims/pdq.js";

const params = new URLSearchParams(location.search);
const input = document.getElementById("files");
const bar = document.getElementById("progress");
const out = document.getElementById("out");
window.pdqProgress = [];
window.pdqMainThreadBusy = 0;

input.addEventListener("change", async () => {
  document.body.dataset.state = "running";
  window.pdqProgress = [];
  // Counts main-thread timer ticks while hashing: stays high only if the page is responsive.
  const ticker = setInterval(() => { window.pdqMainThreadBusy += 1; }, 20);
  const started = performance.now();
  const results = await hashFiles(input.files, (p) => {
    window.pdqProgress.push({ ...p, t: performance.now() });
    bar.value = p.overall;
  }, {
    useWorker: params.get("worker") !== "0",
    webglForAlpha: params.get("webgl") !== "0",
  });
  clearInterval(ticker);
  window.pdqElapsedMs = performance.now() - started;
  window.pdqResults = results;
  out.textContent = JSON.stringify(results, null, 1);
  document.body.dataset.state = "done";
});
document.body.dataset.state = "ready";
