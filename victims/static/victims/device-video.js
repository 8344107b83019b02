// "Hash on this device", videos: reads each chosen video in 4 MiB pieces and computes its MD5 incrementally
// with spark-md5 (vendored, victims/static/victims/vendor/spark-md5-3.0.2), so a video of hundreds of megabytes
// is never held in memory whole. Only {md5, size} goes into the form; the file input has no name, so the videos
// themselves are never sent. MD5 is what StopNCII exchanges for videos.
(function () {
  "use strict";
  var CHUNK = 4 * 1024 * 1024;
  var form = document.querySelector("form[data-device-hash]");
  if (!form || typeof SparkMD5 === "undefined") { return; }
  var block = form.querySelector("[data-device-video-block]");
  if (!block) { return; }
  var input = block.querySelector("[data-device-videos]");
  var hidden = form.querySelector("input[name=device_videos]");
  var progressBox = block.querySelector("[data-device-video-progress]");
  var bar = progressBox.querySelector("progress");
  var text = block.querySelector("[data-device-video-progress-text]");
  var list = block.querySelector("[data-device-video-results]");
  var submit = form.querySelector("button[type=submit]");
  var busy = false;
  block.hidden = false;

  function label(name, values) {
    var message = block.dataset[name] || "";
    Object.keys(values || {}).forEach(function (key) { message = message.replace("{" + key + "}", values[key]); });
    return message;
  }

  function readPiece(file, start) {
    var piece = file.slice(start, Math.min(file.size, start + CHUNK));
    if (piece.arrayBuffer) { return piece.arrayBuffer(); }
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(piece);
    });
  }

  async function md5Of(file, onProgress) {
    var spark = new SparkMD5.ArrayBuffer();
    for (var start = 0; start < file.size; start += CHUNK) {
      spark.append(await readPiece(file, start));
      onProgress(Math.min(1, (start + CHUNK) / file.size));
    }
    return spark.end();
  }

  input.addEventListener("change", async function () {
    if (!input.files.length) { return; }
    busy = true;
    submit.disabled = true;
    hidden.value = "";
    list.replaceChildren();
    progressBox.hidden = false;
    bar.value = 0;
    var files = Array.from(input.files);
    var total = files.length;
    var good = [];
    for (var index = 0; index < total; index++) {
      var file = files[index];
      var item = document.createElement("li");
      text.textContent = label("labelProgress", { n: index + 1, total: total });
      try {
        if (!file.size) { throw new Error("empty"); }
        var md5 = await md5Of(file, function (done) { bar.value = Math.round(((index + done) / total) * 100); });
        good.push({ md5: md5, size: file.size });
        item.textContent = label("labelReady", { n: index + 1 });
        item.dataset.md5 = md5;
      } catch (error) {
        item.className = "failed";
        item.textContent = label("labelFailed", { n: index + 1 });
      }
      list.append(item);
    }
    hidden.value = good.length ? JSON.stringify(good) : "";
    bar.value = 100;
    text.textContent = label("labelDone", { count: good.length, total: total });
    busy = false;
    submit.disabled = false;
  });

  form.addEventListener("submit", function (event) {
    if (busy) { event.preventDefault(); }
  });
})();
