// Web Worker for pdq.js: hashes the files it is sent and reports progress, so that decoding and
// hashing large photos never freezes the page. Started by hashFiles() as a module worker.
import { hashFilesInThisThread } from "./pdq.js";

self.addEventListener("message", async (event) => {
  const { files, options } = event.data;
  try {
    const results = await hashFilesInThisThread(
      files,
      (progress) => self.postMessage({ type: "progress", progress }),
      options,
    );
    self.postMessage({ type: "result", results });
  } catch (error) {
    self.postMessage({ type: "failed", message: String(error && error.message) });
  }
});
