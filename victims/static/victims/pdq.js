/**
 * pdq.js: hash images on the victim's own device (PDQ + SHA-256), so that only hashes leave it.
 *
 * Plain ES module, no dependencies, no build step, no inline script: works under a strict
 * Content-Security-Policy that allows `script-src 'self'` and `worker-src 'self'` (without the latter
 * it hashes on the page instead of in a worker). Needs a secure context (HTTPS or localhost) for
 * crypto.subtle. pdq-jpeg.js and pdq-worker.js must be served next to it.
 *
 * Public API
 * ----------
 *   import { hashFiles } from "./pdq.js";
 *
 *   const results = await hashFiles(fileInput.files, (p) => {
 *     // p = { fileIndex, fileCount, stage, fraction, overall, thread }
 *     //   stage:    "read" | "sha256" | "decode" | "resize" | "pdq" | "done" | "error"
 *     //   fraction: progress of this file, 0..1;  overall: progress of the whole batch, 0..1
 *     //   thread:   "worker" or "page" (where the hashing runs)
 *   });
 *   // results[i] belongs to files[i]:
 *   //   { sha256: "64 hex", pdq: "64 hex" | null, quality: 0..100 | null, width, height,
 *   //     error: null | "decode-failed" | "too-large" | "unsupported-browser" }
 *   // A file that is not a decodable image still gets its sha256 (unless it is over maxBytes: then
 *   // nothing is read); its pdq is null and error says why.
 *
 * Options (third argument, all optional):
 *   useWorker (true)     hash in a Web Worker (pdq-worker.js) so the page stays responsive; falls
 *                        back to the main thread when a worker cannot start.
 *   workerUrl            URL of pdq-worker.js when it is not served next to this module.
 *   webglForAlpha (true) re-read images that have transparency through WebGL, which keeps the colour
 *                        under transparent pixels as Pillow does (a 2D canvas does not).
 *   maxPixels (64e6), maxBytes (64 MiB)  refuse larger images ("too-large"), as the server does.
 *
 * Also exported, for tests and for callers that already hold pixels:
 *   pdqFromRgba(rgba, width, height) -> { pdq, quality }
 *   referenceSize(width, height) -> [w, h];  jpegDraftScale(size, target) -> 1 | 2 | 4 | 8
 *   referenceResize(rows, width, height, outW, outH, { filter, premultiplied }) -> { rgba, width, height }
 *   sha256Hex(arrayBuffer) -> Promise<hex>;  hammingDistance(hexA, hexB) -> bits
 *   hashFilesInThisThread(files, onProgress, options)  (what the worker runs)
 *
 * The same hash as the server (detection/hashing.py + detection/downscale.py)
 * --------------------------------------------------------------------------
 * The server prepares an image the way Meta's reference did when it made its published hashes:
 * an image larger than 512 px on a side is shrunk to fit 512 x 512 (classic Pillow thumbnail size,
 * truncating), a large JPEG being first decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (IJG
 * libjpeg 7+ style), then resized with Pillow's bicubic filter (nearest neighbour for palette and 1-bit
 * images, premultiplied for images with an alpha band); then luma 0.299 R + 0.587 G + 0.114 B goes
 * to Meta's C++ PDQ in float32. EXIF orientation is ignored; alpha is dropped, colour kept.
 *
 * Here: the reduced JPEG decoding is pdq-jpeg.js (coefficients read in JavaScript, the server's
 * inverse DCT and colour conversion); every other image is decoded by the browser (createImageBitmap,
 * no colour management, no premultiplication, EXIF orientation neutralised in a private copy of the
 * bytes); Pillow's fixed-point bicubic and nearest-neighbour resizing and its premultiplication are
 * reproduced byte for byte; PDQ's Jarosz filter, decimation, DCT, median and quality are reproduced
 * with float32 rounding emulated by Math.fround. Where a browser decoder itself differs from Pillow,
 * docs/browser-hashing.md says where and by how much.
 */

import { jpegHeader, reducedDecode } from "./pdq-jpeg.js";

// ---------------------------------------------------------------------------------------------
// PDQ core (Meta's reference pdq/cpp/hashing/pdqhashing.cpp, as the `pdqhash` binding runs it)
// ---------------------------------------------------------------------------------------------

const LUMA_FROM_R = 0.299;
const LUMA_FROM_G = 0.587;
const LUMA_FROM_B = 0.114;
const MIN_HASHABLE_DIM = 5;
const JAROSZ_PASSES = 2;
const f32 = Math.fround;

/** 16x64 DCT-II basis rows 1..16: a float scale times a double cosine, stored as float (as the C++). */
const DCT = (() => {
  const d = new Float32Array(16 * 64);
  const scale = f32(Math.sqrt(2.0 / 64.0));
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) d[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64.0) * (i + 1) * (2 * j + 1));
  }
  return d;
})();

function jaroszWindowSize(dimension) {
  return Math.floor((dimension + 2 * 64 - 1) / (2 * 64));
}

/** One 1-D box filter pass, as box1DFloat: running float sum, shrinking windows at the edges. */
function box1D(input, output, start, length, stride, fullWindow) {
  const half = Math.floor((fullWindow + 2) / 2);
  const phase1 = half - 1;
  const phase2 = fullWindow - half + 1;
  const phase3 = length - fullWindow;
  const phase4 = half - 1;
  let li = start;
  let ri = start;
  let oi = start;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < phase1; i++) {
    sum = f32(sum + input[ri]);
    count++;
    ri += stride;
  }
  for (let i = 0; i < phase2; i++) {
    sum = f32(sum + input[ri]);
    count++;
    output[oi] = sum / count; // a Float32Array store rounds the quotient to float
    ri += stride;
    oi += stride;
  }
  for (let i = 0; i < phase3; i++) {
    sum = f32(sum + input[ri]);
    sum = f32(sum - input[li]);
    output[oi] = sum / count;
    li += stride;
    ri += stride;
    oi += stride;
  }
  for (let i = 0; i < phase4; i++) {
    sum = f32(sum - input[li]);
    count--;
    output[oi] = sum / count;
    li += stride;
    oi += stride;
  }
}

function qualityMetric(a64) {
  let gradientSum = 0;
  const add = (u, v) => {
    // C++: int d = ((u - v) * 100) / 255; in float, truncated toward zero.
    gradientSum += Math.abs(Math.trunc(f32(f32(f32(u - v) * 100) / 255)));
  };
  for (let i = 0; i < 63; i++) for (let j = 0; j < 64; j++) add(a64[i * 64 + j], a64[(i + 1) * 64 + j]);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 63; j++) add(a64[i * 64 + j], a64[i * 64 + j + 1]);
  return Math.min(100, Math.floor(gradientSum / 90));
}

/** B = D A D^T for frequencies 1..16, each product and sum rounded to float as in dct64To16. */
function dct64To16(a64) {
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f32(sum + f32(DCT[i * 64 + k] * a64[k * 64 + j]));
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f32(sum + f32(t[i * 64 + k] * DCT[j * 64 + k]));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

/** Bits are "coefficient > median"; Torben's median of 256 values is the 128th smallest. */
function bitsToHex(b) {
  const median = Float32Array.from(b).sort()[127];
  let hex = "";
  for (let word = 15; word >= 0; word--) {
    let w = 0;
    for (let bit = 0; bit < 16; bit++) if (b[word * 16 + bit] > median) w |= 1 << bit;
    hex += w.toString(16).padStart(4, "0");
  }
  return hex;
}

/**
 * PDQ of RGBA pixels (alpha ignored), as pdqhash.compute on the RGB array.
 * @returns {{pdq: string, quality: number}}
 */
export function pdqFromRgba(rgba, width, height) {
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return { pdq: "0".repeat(64), quality: 0 };
  const n = width * height;
  // The binding computes luma in float64 with numpy and casts it to float32.
  const luma = new Float32Array(n);
  for (let p = 0, q = 0; p < n; p++, q += 4) {
    luma[p] = rgba[q] * LUMA_FROM_R + rgba[q + 1] * LUMA_FROM_G + rgba[q + 2] * LUMA_FROM_B;
  }
  const a64 = new Float32Array(64 * 64);
  if (width === 64 && height === 64) {
    a64.set(luma); // the C++ skips the blur for input that is already 64x64
  } else {
    const scratch = new Float32Array(n);
    const alongRows = jaroszWindowSize(width);
    const alongCols = jaroszWindowSize(height);
    for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
      for (let i = 0; i < height; i++) box1D(luma, scratch, i * width, width, 1, alongRows);
      for (let j = 0; j < width; j++) box1D(scratch, luma, j, height, width, alongCols);
    }
    for (let i = 0; i < 64; i++) {
      const ini = Math.floor(((i + 0.5) * height) / 64);
      for (let j = 0; j < 64; j++) a64[i * 64 + j] = luma[ini * width + Math.floor(((j + 0.5) * width) / 64)];
    }
  }
  return { pdq: bitsToHex(dct64To16(a64)), quality: qualityMetric(a64) };
}

export function hammingDistance(hexA, hexB) {
  let bits = 0;
  for (let i = 0; i < hexA.length; i += 8) {
    let x = (parseInt(hexA.slice(i, i + 8), 16) ^ parseInt(hexB.slice(i, i + 8), 16)) >>> 0;
    while (x) {
      x &= x - 1;
      bits++;
    }
  }
  return bits;
}

// ---------------------------------------------------------------------------------------------
// Shrinking as the server does (detection/downscale.py; Pillow's Resample.c, Geometry.c, Convert.c)
// ---------------------------------------------------------------------------------------------

const REFERENCE_MAX_SIDE = 512;

/** The size classic Pillow thumbnail((512, 512)) picks: aspect kept, truncated. */
export function referenceSize(width, height) {
  let x = width;
  let y = height;
  if (x > REFERENCE_MAX_SIDE) {
    y = Math.trunc(Math.max((y * REFERENCE_MAX_SIDE) / x, 1));
    x = REFERENCE_MAX_SIDE;
  }
  if (y > REFERENCE_MAX_SIDE) {
    x = Math.trunc(Math.max((x * REFERENCE_MAX_SIDE) / y, 1));
    y = REFERENCE_MAX_SIDE;
  }
  return [x, y];
}

/** The reduced-decoding denominator classic draft() picks for a JPEG of `size` shrunk to `target`. */
export function jpegDraftScale([width, height], [targetW, targetH]) {
  const scale = Math.min(Math.floor(width / targetW), Math.floor(height / targetH));
  for (const s of [8, 4, 2]) if (scale >= s) return s;
  return 1;
}

const PRECISION_BITS = 32 - 8 - 2;

function bicubic(x) {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/** precompute_coeffs + normalize_coeffs_8bpc, bicubic (support 2), over the whole input. */
function resampleCoefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = scale < 1.0 ? 1.0 : scale;
  const support = 2.0 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const coeffs = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      weights[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0.0 ? weights[x] / ww : weights[x];
      coeffs[xx * ksize + x] = Math.trunc(k < 0 ? -0.5 + k * (1 << PRECISION_BITS) : 0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, coeffs, bounds };
}

function clip8(ss) {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Rows of a row source one at a time, in order, fetched a strip at a time. */
function rowReader(source, width, height, onStrip) {
  const stripRows = Math.max(1, Math.floor((8 << 20) / (width * 4)));
  let strip = null;
  let stripY0 = 0;
  let stripN = 0;
  return async (y) => {
    if (strip === null || y >= stripY0 + stripN) {
      stripY0 = y;
      stripN = Math.min(stripRows, height - y);
      strip = await source(stripY0, stripN);
      if (onStrip) onStrip((stripY0 + stripN) / height);
    }
    return strip.subarray((y - stripY0) * width * 4, (y - stripY0 + 1) * width * 4);
  };
}

function premultiply(row) {
  // Pillow's RGBA -> RGBa: MULDIV255(c, a) = (t = c * a + 128, ((t >> 8) + t) >> 8)
  const out = new Uint8Array(row.length);
  for (let i = 0; i < row.length; i += 4) {
    const a = row[i + 3];
    for (let c = 0; c < 3; c++) {
      const t = row[i + c] * a + 128;
      out[i + c] = ((t >> 8) + t) >> 8;
    }
    out[i + 3] = a;
  }
  return out;
}

function unpremultiply(rgba) {
  // Pillow's RGBa -> RGBA: CLIP8(255 * c / a), left alone where a is 0 or 255
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3];
    if (a === 0 || a === 255) continue;
    for (let c = 0; c < 3; c++) rgba[i + c] = Math.min(255, Math.floor((255 * rgba[i + c]) / a));
  }
}

/**
 * Image.resize((outW, outH), filter) of a whole image given as a row source (`rows(y0, count)` returns
 * RGBA bytes of full-width rows, asked for in increasing order). filter "bicubic" is Pillow's two-pass
 * fixed-point resampler (RGBA images with `premultiplied`: through RGBa, as Pillow resizes RGBA and LA);
 * "nearest" is what Pillow does for palette and 1-bit images (ImagingScaleAffine).
 */
export async function referenceResize(rows, width, height, outW, outH, options = {}, onStrip = null) {
  const { filter = "bicubic", premultiplied = false } = options;
  const row = rowReader(rows, width, height, onStrip);
  if (filter === "nearest") {
    const out = new Uint8Array(outW * outH * 4);
    const a0 = width / outW;
    const a4 = height / outH;
    const xin = new Int32Array(outW);
    let xo = a0 * 0.5;
    for (let x = 0; x < outW; x++) {
      xin[x] = Math.trunc(xo);
      xo += a0;
    }
    let yo = a4 * 0.5;
    for (let y = 0; y < outH; y++) {
      const source = await row(Math.trunc(yo));
      for (let x = 0; x < outW; x++) out.set(source.subarray(xin[x] * 4, xin[x] * 4 + 4), (y * outW + x) * 4);
      yo += a4;
    }
    return { rgba: out, width: outW, height: outH };
  }
  if (filter !== "bicubic") throw new RangeError(`unknown filter ${filter}`);
  const needHorizontal = outW !== width;
  const needVertical = outH !== height;
  // Pillow 13 runs the vertical pass first when the height shrinks more than twice as much as the
  // width (ImagingResampleInner); the order changes the rounding in between, so it is followed here.
  const horizontalFirst = !(height - outH > 0 && height - outH > (width - outW) * 2);
  const read = premultiplied ? async (y) => premultiply(await row(y)) : row;
  const horiz = needHorizontal ? resampleCoefficients(width, outW) : null;
  const vert = needVertical ? resampleCoefficients(height, outH) : null;
  let result;
  if (horizontalFirst) {
    const yFirst = vert ? vert.bounds[0] : 0;
    const yLast = vert ? vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1] : height;
    const tempW = needHorizontal ? outW : width;
    const temp = new Uint8Array(tempW * (yLast - yFirst) * 4);
    for (let y = yFirst; y < yLast; y++) {
      const source = await read(y);
      if (needHorizontal) resampleRow(source, horiz, outW, temp, (y - yFirst) * tempW * 4);
      else temp.set(source, (y - yFirst) * tempW * 4);
    }
    result = { rgba: temp, width: tempW, height: yLast - yFirst };
    if (needVertical) {
      const rowAt = (y) => temp.subarray(y * tempW * 4, (y + 1) * tempW * 4);
      result = { rgba: resampleColumns(rowAt, vert, yFirst, tempW, outH), width: tempW, height: outH };
    }
  } else {
    // Vertical pass over the full width, reading each source row once, in order.
    const window = new Map();
    let next = 0;
    const cached = async (y) => {
      while (next <= y) window.set(next, await read(next++));
      return window.get(y);
    };
    const rowsOut = new Uint8Array(width * outH * 4);
    const { ksize, coeffs, bounds } = vert;
    const half = 1 << (PRECISION_BITS - 1);
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bounds[yy * 2];
      const ymax = bounds[yy * 2 + 1];
      for (const y of window.keys()) if (y < ymin) window.delete(y);
      const sources = [];
      for (let y = 0; y < ymax; y++) sources.push(await cached(ymin + y));
      for (let i = 0; i < width * 4; i++) {
        let s = half;
        for (let y = 0; y < ymax; y++) s += sources[y][i] * coeffs[yy * ksize + y];
        rowsOut[yy * width * 4 + i] = clip8(s);
      }
    }
    result = { rgba: rowsOut, width, height: outH };
    if (needHorizontal) {
      const out = new Uint8Array(outW * outH * 4);
      for (let y = 0; y < outH; y++) {
        resampleRow(rowsOut.subarray(y * width * 4, (y + 1) * width * 4), horiz, outW, out, y * outW * 4);
      }
      result = { rgba: out, width: outW, height: outH };
    }
  }
  if (premultiplied) unpremultiply(result.rgba);
  return result;
}

/** ImagingResampleHorizontal_8bpc for one RGBA row. */
function resampleRow(source, { ksize, coeffs, bounds }, outW, out, offset) {
  const half = 1 << (PRECISION_BITS - 1);
  for (let xx = 0; xx < outW; xx++) {
    const xmin = bounds[xx * 2];
    const xmax = bounds[xx * 2 + 1];
    let s0 = half;
    let s1 = half;
    let s2 = half;
    let s3 = half;
    for (let x = 0; x < xmax; x++) {
      const k = coeffs[xx * ksize + x];
      const p = (x + xmin) * 4;
      s0 += source[p] * k;
      s1 += source[p + 1] * k;
      s2 += source[p + 2] * k;
      s3 += source[p + 3] * k;
    }
    out[offset + xx * 4] = clip8(s0);
    out[offset + xx * 4 + 1] = clip8(s1);
    out[offset + xx * 4 + 2] = clip8(s2);
    out[offset + xx * 4 + 3] = clip8(s3);
  }
}

/** ImagingResampleVertical_8bpc over rows held in memory (bounds relative to row `first`). */
function resampleColumns(rowAt, { ksize, coeffs, bounds }, first, width, outH) {
  const half = 1 << (PRECISION_BITS - 1);
  const out = new Uint8Array(width * outH * 4);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - first;
    const ymax = bounds[yy * 2 + 1];
    const rows = [];
    for (let y = 0; y < ymax; y++) rows.push(rowAt(ymin + y));
    for (let i = 0; i < width * 4; i++) {
      let s = half;
      for (let y = 0; y < ymax; y++) s += rows[y][i] * coeffs[yy * ksize + y];
      out[yy * width * 4 + i] = clip8(s);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What Pillow would open a file as, where that changes the resizing
// ---------------------------------------------------------------------------------------------

/**
 * How the server resizes this file: { format, filter: "bicubic" | "nearest", alphaBand }.
 * Pillow resizes palette ("P") and 1-bit images with nearest neighbour and images with an alpha band
 * (RGBA, LA) premultiplied. alphaBand is null where the header does not say (then an image that
 * decodes with transparency is taken to have one).
 */
export function resizeRule(bytes) {
  const ascii = (start, end) => String.fromCharCode(...bytes.subarray(start, end));
  const n = bytes.length;
  if (n > 26 && bytes[0] === 0x89 && ascii(1, 4) === "PNG" && ascii(12, 16) === "IHDR") {
    const depth = bytes[24];
    const type = bytes[25];
    const nearest = type === 3 || (type === 0 && depth === 1);
    return { format: "png", filter: nearest ? "nearest" : "bicubic", alphaBand: type === 4 || type === 6 };
  }
  if (n > 13 && ascii(0, 4) === "GIF8") {
    // Pillow opens a GIF's first frame as "P" whenever there is a palette, global or local.
    return { format: "gif", filter: "nearest", alphaBand: false };
  }
  if (n > 30 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") {
    const chunk = ascii(12, 16);
    let alpha = false;
    if (chunk === "VP8X") alpha = (bytes[20] & 0x10) !== 0;
    else if (chunk === "VP8L") alpha = ((bytes[21 + 3] >> 4) & 1) === 1;
    return { format: "webp", filter: "bicubic", alphaBand: alpha };
  }
  if (n > 54 && ascii(0, 2) === "BM") {
    const view = new DataView(bytes.buffer, bytes.byteOffset, n);
    const header = view.getUint32(14, true);
    const core = header === 12;
    const bits = core ? view.getUint16(24, true) : view.getUint16(28, true);
    if (bits <= 8) {
      const colors = (!core && view.getUint32(46, true)) || 1 << bits;
      const entry = core ? 3 : 4;
      const start = 14 + header;
      const indices = colors === 2 ? [0, 255] : Array.from({ length: colors }, (_, i) => i);
      // Pillow drops a palette that is exactly the grey ramp and reads "1" or "L" instead of "P".
      const grey = start + colors * entry <= n &&
        indices.every((v, i) => bytes[start + i * entry] === v && bytes[start + i * entry + 1] === v &&
          bytes[start + i * entry + 2] === v);
      const nearest = !grey || colors <= 2;
      return { format: "bmp", filter: nearest ? "nearest" : "bicubic", alphaBand: false };
    }
    return { format: "bmp", filter: "bicubic", alphaBand: null };
  }
  if (n > 3 && bytes[0] === 0xff && bytes[1] === 0xd8) return { format: "jpeg", filter: "bicubic", alphaBand: false };
  return { format: "other", filter: "bicubic", alphaBand: null };
}

// ---------------------------------------------------------------------------------------------
// Browser side: read, SHA-256, decode, hash; in a Web Worker when possible
// ---------------------------------------------------------------------------------------------

const DEFAULTS = Object.freeze({
  useWorker: true,
  workerUrl: null,
  webglForAlpha: true,
  maxPixels: 64e6,
  maxBytes: 64 * 1024 * 1024,
});

const THREAD = typeof document === "undefined" ? "worker" : "page";

// Share of a file's time each stage starts and ends at, for a progress bar that moves evenly.
const STAGE_STARTS = { read: 0, sha256: 0.05, decode: 0.1, resize: 0.3, pdq: 0.8, done: 1, error: 1 };
const STAGE_ENDS = { read: 0.05, sha256: 0.1, decode: 0.3, resize: 0.8, pdq: 0.95, done: 1, error: 1 };

export async function sha256Hex(buffer) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    // crypto.subtle exists only in secure contexts (HTTPS, or localhost).
    throw new Error("unsupported-browser");
  }
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Sets the EXIF Orientation tag (0x0112) to 1 in a TIFF block, in place; returns the value it had
 * (0 when there is none). The server hashes pixels as stored. Browsers rotate some formats by EXIF
 * when decoding and not others (Chromium: JPEG and PNG, not WebP), and the option that would stop
 * them ("imageOrientation: none") meant the opposite in older browsers; so the tag is neutralised in
 * a private copy of the bytes before the browser decodes them.
 */
function neutraliseTiffOrientation(bytes, tiffStart, tiffEnd) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (tiffEnd - tiffStart < 8) return 0;
  const order = view.getUint16(tiffStart);
  if (order !== 0x4949 && order !== 0x4d4d) return 0;
  const little = order === 0x4949;
  const ifd0 = tiffStart + view.getUint32(tiffStart + 4, little);
  if (ifd0 + 2 > tiffEnd) return 0;
  const entries = view.getUint16(ifd0, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd0 + 2 + i * 12;
    if (entry + 12 > tiffEnd) return 0;
    if (view.getUint16(entry, little) === 0x0112 && view.getUint16(entry + 2, little) === 3) {
      const value = view.getUint16(entry + 8, little);
      view.setUint16(entry + 8, 1, little);
      return value;
    }
  }
  return 0;
}

let crcTable = null;
function crc32(bytes, start, end) {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Neutralises EXIF orientation in JPEG (APP1), PNG (eXIf) and WebP (EXIF) bytes, in place.
 * Returns the orientation the file declared (1..8), or 1 when it declares none.
 */
export function withoutExifOrientation(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let orientation = 0;
  if (n > 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let p = 2;
    while (p + 4 <= n && bytes[p] === 0xff) {
      const marker = bytes[p + 1];
      if (marker === 0xda || marker === 0xd9) break; // start of scan: no more metadata
      const length = view.getUint16(p + 2);
      const body = p + 4;
      if (marker === 0xe1 && length >= 8 && body + 6 <= n &&
          String.fromCharCode(...bytes.subarray(body, body + 4)) === "Exif") {
        orientation = neutraliseTiffOrientation(bytes, body + 6, Math.min(n, p + 2 + length)) || orientation;
      }
      p += 2 + length;
    }
  } else if (n > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    let p = 8;
    while (p + 12 <= n) {
      const length = view.getUint32(p);
      const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
      if (p + 12 + length > n) break;
      if (type === "eXIf") {
        const found = neutraliseTiffOrientation(bytes, p + 8, p + 8 + length);
        if (found) {
          view.setUint32(p + 8 + length, crc32(bytes, p + 4, p + 8 + length));
          orientation = found;
        }
      }
      if (type === "IDAT" || type === "IEND") break; // eXIf must precede IDAT
      p += 12 + length;
    }
  } else if (n > 12 && String.fromCharCode(...bytes.subarray(0, 4)) === "RIFF" &&
             String.fromCharCode(...bytes.subarray(8, 12)) === "WEBP") {
    let p = 12;
    while (p + 8 <= n) {
      const type = String.fromCharCode(...bytes.subarray(p, p + 4));
      const length = view.getUint32(p + 4, true);
      if (type === "EXIF") {
        // Some writers keep the "Exif\0\0" prefix inside the chunk.
        const start = String.fromCharCode(...bytes.subarray(p + 8, p + 12)) === "Exif" ? p + 14 : p + 8;
        orientation = neutraliseTiffOrientation(bytes, start, Math.min(n, p + 8 + length)) || orientation;
      }
      p += 8 + length + (length & 1);
    }
  }
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

function makeCanvas(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  if (typeof document !== "undefined") {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }
  throw new Error("unsupported-browser");
}

/** Decodes bytes to an ImageBitmap with no colour management, no premultiplication. */
async function decodeBitmap(bytes, type) {
  if (typeof createImageBitmap === "undefined") throw new Error("unsupported-browser");
  const blob = new Blob([bytes], { type: type || "" });
  try {
    return await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch (error) {
    if (error && error.name === "TypeError") throw new Error("unsupported-browser");
    throw new Error("decode-failed");
  }
}

/**
 * Rows of a bitmap through a 2D canvas, one strip at a time. Exact for opaque images (every
 * browser stores canvas pixels premultiplied, which only loses information where alpha < 255).
 */
function canvasRowSource(bitmap) {
  const { width } = bitmap;
  const canvas = makeCanvas(width, 1);
  let context = null;
  let transparency = false;
  const rows = async (y0, count) => {
    if (THREAD === "page") {
      // Without a worker, give the page a turn between strips so the progress bar can repaint.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (context === null || canvas.height !== count) {
      canvas.height = count; // resets the context state, so set it again
      context = canvas.getContext("2d", { willReadFrequently: true });
      context.imageSmoothingEnabled = false;
      context.globalCompositeOperation = "copy";
    }
    context.drawImage(bitmap, 0, y0, width, count, 0, 0, width, count);
    const data = context.getImageData(0, 0, width, count).data;
    if (!transparency) {
      for (let i = 3; i < data.length; i += 4) {
        if (data[i] !== 255) {
          transparency = true;
          break;
        }
      }
    }
    return data;
  };
  return { rows, sawTransparency: () => transparency };
}

/**
 * Rows of a bitmap read back from a WebGL texture: unpremultiplied, exactly as decoded. Returns
 * null where WebGL is unavailable (then the canvas rows stand, see docs/browser-hashing.md).
 */
function webglRowSource(bitmap) {
  let canvas;
  let gl = null;
  try {
    canvas = makeCanvas(1, 1);
    gl = canvas.getContext("webgl2", { premultipliedAlpha: false, antialias: false });
  } catch (error) {
    gl = null;
  }
  if (!gl) return null;
  const { width } = bitmap;
  const tileWidth = Math.min(width, gl.getParameter(gl.MAX_TEXTURE_SIZE));
  const texture = gl.createTexture();
  const framebuffer = gl.createFramebuffer();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
  gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
  gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
  gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
  const rows = async (y0, count) => {
    const out = new Uint8Array(width * count * 4);
    const tile = new Uint8Array(tileWidth * count * 4);
    for (let x0 = 0; x0 < width; x0 += tileWidth) {
      const w = Math.min(tileWidth, width - x0);
      // WebGL 2 honours UNPACK_SKIP_* for image sources: upload just this tile of the bitmap.
      gl.pixelStorei(gl.UNPACK_SKIP_PIXELS, x0);
      gl.pixelStorei(gl.UNPACK_SKIP_ROWS, y0);
      gl.pixelStorei(gl.UNPACK_ROW_LENGTH, width);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, w, count, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
      gl.readPixels(0, 0, w, count, gl.RGBA, gl.UNSIGNED_BYTE, tile);
      if (gl.getError() !== gl.NO_ERROR) throw new Error("decode-failed");
      for (let y = 0; y < count; y++) {
        out.set(tile.subarray(y * w * 4, (y + 1) * w * 4), (y * width + x0) * 4);
      }
    }
    return out;
  };
  const release = () => {
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
    const lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  };
  return { rows, release };
}

/** Pixels of the whole image as a row source, from memory. */
function memoryRows(rgba, width) {
  return async (y0, count) => rgba.subarray(y0 * width * 4, (y0 + count) * width * 4);
}

/** One file: { sha256, pdq, quality, width, height, error }. */
async function hashOneFile(file, options, report) {
  const result = { sha256: null, pdq: null, quality: null, width: null, height: null, error: null };
  if (file.size > options.maxBytes) {
    // Not even read: the server refuses it too, and a video-sized buffer could exhaust a phone's memory.
    result.error = "too-large";
    return result;
  }
  report("read", 0);
  const buffer = await file.arrayBuffer();
  report("sha256", 0);
  result.sha256 = await sha256Hex(buffer);
  report("decode", 0);
  const bytes = new Uint8Array(buffer.slice(0));
  const rule = resizeRule(bytes);
  const onStrip = (f) => report("resize", f);
  let small = null;

  if (rule.format === "jpeg") {
    // A large JPEG: the server decodes it at reduced size in the DCT domain; do the same.
    const header = jpegHeader(bytes);
    if (header && header.width * header.height <= options.maxPixels) {
      const target = referenceSize(header.width, header.height);
      const scale = jpegDraftScale([header.width, header.height], target);
      if (scale > 1 && header.codable) {
        let reduced = null;
        try {
          reduced = reducedDecode(bytes, scale);
        } catch (error) {
          reduced = null; // the browser's own decoder may still read it; the server would refuse it
        }
        if (reduced !== null) {
          result.width = header.width;
          result.height = header.height;
          report("resize", 0);
          small = await referenceResize(memoryRows(reduced.rgba, reduced.width), reduced.width, reduced.height,
            target[0], target[1], {}, onStrip);
        }
      }
    }
  }

  if (small === null) {
    withoutExifOrientation(bytes);
    let bitmap;
    try {
      bitmap = await decodeBitmap(bytes, file.type);
    } catch (error) {
      result.error = error.message === "unsupported-browser" ? "unsupported-browser" : "decode-failed";
      return result;
    }
    try {
      const { width, height } = bitmap;
      result.width = width;
      result.height = height;
      if (width * height > options.maxPixels) {
        result.error = "too-large";
        return result;
      }
      const [targetW, targetH] = referenceSize(width, height);
      const prepare = async (rows, transparent) => {
        if (targetW === width && targetH === height) return { rgba: await rows(0, height), width, height };
        const premultiplied = rule.filter === "bicubic" && (rule.alphaBand ?? transparent);
        return referenceResize(rows, width, height, targetW, targetH, { filter: rule.filter, premultiplied },
          onStrip);
      };
      report("resize", 0);
      const canvas = canvasRowSource(bitmap);
      small = await prepare(canvas.rows, false);
      if (canvas.sawTransparency()) {
        // A 2D canvas stores premultiplied pixels, so colour under partial transparency comes back
        // rounded and colour under full transparency comes back black, while Pillow keeps it (and
        // premultiplies with its own rounding). WebGL hands back the bytes as decoded.
        const exact = options.webglForAlpha ? webglRowSource(bitmap) : null;
        if (exact !== null) {
          try {
            small = await prepare(exact.rows, true);
          } finally {
            exact.release();
          }
        } else if (rule.alphaBand === null && rule.filter === "bicubic") {
          small = await prepare(canvas.rows, true);
        }
      }
    } finally {
      bitmap.close();
    }
  }
  report("pdq", 0);
  const { pdq, quality } = pdqFromRgba(small.rgba, small.width, small.height);
  result.pdq = pdq;
  result.quality = quality;
  return result;
}

function progressReporter(onProgress, fileIndex, fileCount) {
  return (stage, fraction) => {
    if (!onProgress) return;
    const within = STAGE_STARTS[stage] + (STAGE_ENDS[stage] - STAGE_STARTS[stage]) * fraction;
    onProgress({
      fileIndex,
      fileCount,
      stage,
      fraction: within,
      overall: (fileIndex + within) / fileCount,
      thread: THREAD,
    });
  };
}

/** Hashes the files on the current thread (the worker calls this; so does the fallback). */
export async function hashFilesInThisThread(files, onProgress, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const list = Array.from(files);
  const results = [];
  for (let i = 0; i < list.length; i++) {
    const report = progressReporter(onProgress, i, list.length);
    let result;
    try {
      result = await hashOneFile(list[i], opts, report);
    } catch (error) {
      result = { sha256: null, pdq: null, quality: null, width: null, height: null,
        error: error && error.message === "unsupported-browser" ? "unsupported-browser" : "decode-failed" };
    }
    report(result.error ? "error" : "done", 1);
    results.push(result);
  }
  return results;
}

function workerUrl(options) {
  if (options.workerUrl) return options.workerUrl;
  return new URL("./pdq-worker.js", import.meta.url);
}

/**
 * Hashes every file; resolves to one result per file, in order. See the top of this file.
 */
export function hashFiles(files, onProgress = null, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const list = Array.from(files);
  if (!opts.useWorker || typeof Worker === "undefined") {
    return hashFilesInThisThread(list, onProgress, opts);
  }
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(workerUrl(opts), { type: "module" });
    } catch (error) {
      resolve(hashFilesInThisThread(list, onProgress, opts));
      return;
    }
    let settled = false;
    const fallBack = () => {
      if (settled) return;
      settled = true;
      worker.terminate();
      // A worker that cannot start (CSP without worker-src, no module workers, no OffscreenCanvas)
      // must not leave the person stuck: hash on the page instead. Same code, same result.
      hashFilesInThisThread(list, onProgress, opts).then(resolve, reject);
    };
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      fallBack();
    });
    worker.addEventListener("messageerror", fallBack);
    worker.addEventListener("message", (event) => {
      const message = event.data;
      if (message.type === "progress") {
        if (onProgress) onProgress(message.progress);
      } else if (message.type === "result") {
        if (settled) return;
        const needsPage = message.results.some((r) => r.error === "unsupported-browser");
        if (needsPage) {
          fallBack();
          return;
        }
        settled = true;
        worker.terminate();
        resolve(message.results);
      } else if (message.type === "failed") {
        fallBack();
      }
    });
    const { workerUrl: _ignored, ...plain } = opts;
    worker.postMessage({ files: list, options: plain });
  });
}
