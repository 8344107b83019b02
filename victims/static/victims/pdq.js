/**
 * pdq.js: hash images on the victim's own device (PDQ + SHA-256), so that only hashes leave it.
 *
 * Plain ES module, no dependencies, no build step, no inline script: works under a strict
 * Content-Security-Policy that allows `script-src 'self'` and `worker-src 'self'`.
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
 *   //   { sha256: "64 hex", pdq: "64 hex" | null, quality: 0..100 | null,
 *   //     width, height, error: null | "decode-failed" | "too-large" | "unsupported-browser" }
 *   // A file that is not a decodable image still gets its sha256; its pdq is null and error says why.
 *
 * Options (third argument, all optional):
 *   useWorker (true)        hash in a Web Worker (pdq-worker.js next to this file) so the page stays
 *                           responsive; falls back to the main thread when workers are unavailable.
 *   workerUrl               URL of pdq-worker.js when it is not served next to this module.
 *   precision ("float32")   "float32" reproduces Meta's C++ reference and the `pdqhash` binding the
 *                           server uses; "float64" reproduces Meta's pure-Python reference.
 *   applyExifOrientation (false)  the server hashes pixels as stored, without EXIF rotation;
 *                           true rotates/mirrors as Pillow's ImageOps.exif_transpose does.
 *   webglForAlpha (true)    re-read images that have transparency through WebGL, which keeps the
 *                           colour under transparent pixels as Pillow does (a 2D canvas does not).
 *   maxPixels (150e6)       refuse to decode larger images ("too-large"); the server refuses them too.
 *
 * Also exported, for tests and for callers that already hold pixels:
 *   pdqFromRgba(rgba, width, height, {precision}) -> { pdq, quality }
 *   thumbnailSize(width, height, max) -> [w, h] | null;  pillowThumbnail(source, width, height, max)
 *   sha256Hex(arrayBuffer) -> Promise<hex>;  hammingDistance(hexA, hexB) -> bits
 *   hashFilesInThisThread(files, onProgress, options)  (what the worker runs)
 *
 * What "the same hash as the server" means here
 * ---------------------------------------------
 * The server decodes with Pillow, converts to RGB (alpha dropped, not composited), shrinks images
 * larger than 512 px with Pillow's `thumbnail((512, 512))` (bicubic, reducing_gap 2.0, as Meta's
 * Python reference does), computes luma as 0.299 R + 0.587 G + 0.114 B and hands it to PDQ.
 * Everything after decoding is reproduced here bit for bit: Pillow's fixed-point bicubic resampler
 * and its `reduce()` box filter, PDQ's two-pass Jarosz box filter, the 64x64 decimation, the 16x16
 * DCT, the median and the quality metric, with float32 rounding emulated by Math.fround where the
 * reference works in float32. Only the decoder differs (browser vs Pillow); docs/browser-hashing.md
 * lists where that matters.
 */

// ---------------------------------------------------------------------------------------------
// PDQ core (Meta's reference, pdq/cpp/hashing/pdqhashing.cpp and pdq/python/pdqhashing)
// ---------------------------------------------------------------------------------------------

const LUMA_FROM_R = 0.299;
const LUMA_FROM_G = 0.587;
const LUMA_FROM_B = 0.114;
const MIN_HASHABLE_DIM = 5;
const JAROSZ_PASSES = 2;

const identity = (x) => x;

/** 16x64 DCT-II basis rows 1..16 (row-major). float32: scaled and rounded like the C++. */
function dctMatrix(f32) {
  const d = new Float64Array(16 * 64);
  const scale = Math.fround(Math.sqrt(2.0 / 64.0));
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      const c = Math.cos((Math.PI / 2 / 64.0) * (i + 1) * (2 * j + 1));
      // The C++ multiplies a float scale by a double cosine and stores a float; the Python
      // reference leaves the matrix unscaled (a positive scale cannot change any bit, but the
      // rounding has to follow each reference exactly).
      d[i * 64 + j] = f32 ? Math.fround(scale * c) : c;
    }
  }
  return d;
}

const DCT_F32 = dctMatrix(true);
const DCT_F64 = dctMatrix(false);

function jaroszWindowSize(dimension) {
  return Math.floor((dimension + 2 * 64 - 1) / (2 * 64));
}

/** One 1-D box filter pass, exactly as box1DFloat: running sum, shrinking windows at the edges. */
function box1D(input, output, start, length, stride, fullWindow, round) {
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
    sum = round(sum + input[ri]);
    count++;
    ri += stride;
  }
  for (let i = 0; i < phase2; i++) {
    sum = round(sum + input[ri]);
    count++;
    output[oi] = round(sum / count);
    ri += stride;
    oi += stride;
  }
  for (let i = 0; i < phase3; i++) {
    sum = round(sum + input[ri]);
    sum = round(sum - input[li]);
    output[oi] = round(sum / count);
    li += stride;
    ri += stride;
    oi += stride;
  }
  for (let i = 0; i < phase4; i++) {
    sum = round(sum - input[li]);
    count--;
    output[oi] = round(sum / count);
    li += stride;
    oi += stride;
  }
}

function jaroszFilter(buf1, buf2, rows, cols, windowAlongRows, windowAlongCols, round) {
  for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
    for (let i = 0; i < rows; i++) box1D(buf1, buf2, i * cols, cols, 1, windowAlongRows, round);
    for (let j = 0; j < cols; j++) box1D(buf2, buf1, j, rows, cols, windowAlongCols, round);
  }
}

function qualityMetric(a64, f32) {
  const round = f32 ? Math.fround : identity;
  let gradientSum = 0;
  const add = (u, v) => {
    // C++: int d = ((u - v) * 100) / 255; all in float, then truncated toward zero.
    const d = Math.trunc(round(round(round(u - v) * 100) / 255));
    gradientSum += Math.abs(d);
  };
  for (let i = 0; i < 63; i++) for (let j = 0; j < 64; j++) add(a64[i * 64 + j], a64[(i + 1) * 64 + j]);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 63; j++) add(a64[i * 64 + j], a64[i * 64 + j + 1]);
  return Math.min(100, Math.floor(gradientSum / 90));
}

/** B = D A D^T restricted to frequencies 1..16, summed in the reference's order. */
function dct64To16(a64, f32) {
  const d = f32 ? DCT_F32 : DCT_F64;
  const round = f32 ? Math.fround : identity;
  const t = new Float64Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = round(sum + round(d[i * 64 + k] * a64[k * 64 + j]));
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = round(sum + round(t[i * 64 + k] * d[j * 64 + k]));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

/** Bits are "coefficient > median"; Torben's median of 256 values is the 128th smallest. */
function bitsToHex(b) {
  const median = Float64Array.from(b).sort()[127];
  let hex = "";
  for (let word = 15; word >= 0; word--) {
    let w = 0;
    for (let bit = 0; bit < 16; bit++) if (b[word * 16 + bit] > median) w |= 1 << bit;
    hex += w.toString(16).padStart(4, "0");
  }
  return hex;
}

/**
 * PDQ of an RGBA (or RGB-in-RGBA) pixel buffer; alpha is ignored, as Pillow's convert("RGB") does.
 * @returns {{pdq: string, quality: number}}
 */
export function pdqFromRgba(rgba, width, height, { precision = "float32" } = {}) {
  const f32 = precision === "float32";
  if (!f32 && precision !== "float64") throw new RangeError(`unknown precision ${precision}`);
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) {
    return { pdq: "0".repeat(64), quality: 0 };
  }
  const n = width * height;
  // float32 mode: the pdqhash binding computes luma in float64 with numpy and casts to float32.
  const Buffer = f32 ? Float32Array : Float64Array;
  const luma = new Buffer(n);
  for (let p = 0, q = 0; p < n; p++, q += 4) {
    luma[p] = rgba[q] * LUMA_FROM_R + rgba[q + 1] * LUMA_FROM_G + rgba[q + 2] * LUMA_FROM_B;
  }
  const a64 = new Float64Array(64 * 64);
  if (f32 && width === 64 && height === 64) {
    // The C++ skips the blur for input that is already 64x64 (video frames); Python does not.
    a64.set(luma);
  } else {
    const scratch = new Buffer(n);
    const round = f32 ? Math.fround : identity;
    jaroszFilter(luma, scratch, height, width, jaroszWindowSize(width), jaroszWindowSize(height), round);
    for (let i = 0; i < 64; i++) {
      const ini = Math.floor(((i + 0.5) * height) / 64);
      for (let j = 0; j < 64; j++) {
        const inj = Math.floor(((j + 0.5) * width) / 64);
        a64[i * 64 + j] = luma[ini * width + inj];
      }
    }
  }
  const quality = qualityMetric(a64, f32);
  return { pdq: bitsToHex(dct64To16(a64, f32)), quality };
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
// Pillow's Image.thumbnail((512, 512)) on an RGB image, bit for bit
// (PIL/Image.py thumbnail/resize/_get_safe_box, libImaging/Reduce.c, libImaging/Resample.c)
// ---------------------------------------------------------------------------------------------

/** Target size of Image.thumbnail((max, max)), or null when the image already fits. */
export function thumbnailSize(width, height, max = 512) {
  if (max >= width && max >= height) return null;
  const roundAspect = (number, key) => {
    const lo = Math.floor(number);
    const hi = Math.ceil(number);
    // Python's min() keeps the first of equal keys, i.e. the floor.
    return Math.max(key(hi) < key(lo) ? hi : lo, 1);
  };
  const aspect = width / height;
  let x = max;
  let y = max;
  if (x / y >= aspect) {
    x = roundAspect(y * aspect, (n) => Math.abs(aspect - n / y));
  } else {
    y = roundAspect(x / aspect, (n) => (n === 0 ? 0 : Math.abs(aspect - x / n)));
  }
  if (x === width && y === height) return null;
  return [x, y];
}

const PRECISION_BITS = 32 - 8 - 2;

function bicubic(x) {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the bicubic filter (support 2). */
function resampleCoefficients(inSize, in0, in1, outSize) {
  let scale = Math.fround(in1 - in0) / outSize;
  const filterScale = scale < 1.0 ? 1.0 : scale;
  const support = 2.0 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const coeffs = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
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

/** division_UINT32(count, 8): the reciprocal Pillow's reduce() multiplies by, computed in float32. */
function reduceMultiplier(count) {
  return Math.trunc(Math.fround(4294967296 / Math.fround(256 * count)));
}

/**
 * Streaming version of `im.thumbnail((max, max))` for an RGB image.
 *
 * `source(y0, rows)` returns RGBA bytes of `rows` full-width rows starting at `y0`; rows are asked
 * for in increasing order, a strip at a time, so a large image never has to sit in memory twice.
 * Returns { rgba, width, height } of the thumbnail (or of the whole image when it already fits).
 */
export async function pillowThumbnail(source, width, height, max = 512, onStrip = null) {
  const target = thumbnailSize(width, height, max);
  const stripRows = Math.max(1, Math.floor((8 << 20) / (width * 4)));
  if (target === null) {
    return { rgba: await source(0, height), width, height };
  }
  const [outW, outH] = target;
  const reducingGap = 2.0;
  const factorX = Math.trunc(width / outW / reducingGap) || 1;
  const factorY = Math.trunc(height / outH / reducingGap) || 1;

  // Stage 1 (optional): Image.reduce((fx, fy)) over the "safe box", which for a thumbnail of the
  // whole image is the whole image. Produces rows of the reduced image, in order.
  let inW = width;
  let inH = height;
  let box = [0, 0, width, height];
  let nextRow; // async () => Uint8Array (RGBA row of the stage-1 image)
  if (factorX > 1 || factorY > 1) {
    inW = Math.ceil(width / factorX);
    inH = Math.ceil(height / factorY);
    box = [0, 0, Math.fround(width / factorX), Math.fround(height / factorY)];
    const rowsPerStrip = Math.max(1, Math.floor(stripRows / factorY)) * factorY;
    let strip = null;
    let stripY0 = 0;
    let stripN = 0;
    let outY = 0;
    const sums = new Float64Array(inW * 3);
    nextRow = async () => {
      const y0 = outY * factorY;
      const yCount = Math.min(factorY, height - y0);
      if (strip === null || y0 >= stripY0 + stripN) {
        stripY0 = y0;
        stripN = Math.min(rowsPerStrip, height - y0);
        strip = await source(stripY0, stripN);
        if (onStrip) onStrip((stripY0 + stripN) / height);
      }
      sums.fill(0);
      for (let yy = y0; yy < y0 + yCount; yy++) {
        const base = (yy - stripY0) * width * 4;
        for (let x = 0; x < width; x++) {
          const o = Math.floor(x / factorX) * 3;
          const p = base + x * 4;
          sums[o] += strip[p];
          sums[o + 1] += strip[p + 1];
          sums[o + 2] += strip[p + 2];
        }
      }
      const row = new Uint8Array(inW * 4);
      for (let x = 0; x < inW; x++) {
        const xCount = Math.min(factorX, width - x * factorX);
        const count = xCount * yCount;
        const amend = Math.floor(count / 2);
        const mult = reduceMultiplier(count);
        for (let c = 0; c < 3; c++) {
          // (ss * multiplier) >> 24 in UINT32; the product stays below 2^32, exact in a double.
          row[x * 4 + c] = Math.floor(((sums[x * 3 + c] + amend) * mult) / 16777216);
        }
      }
      outY++;
      return row;
    };
  } else {
    let strip = null;
    let stripY0 = 0;
    let stripN = 0;
    let y = 0;
    nextRow = async () => {
      if (strip === null || y >= stripY0 + stripN) {
        stripY0 = y;
        stripN = Math.min(stripRows, height - y);
        strip = await source(stripY0, stripN);
        if (onStrip) onStrip((stripY0 + stripN) / height);
      }
      const row = strip.subarray((y - stripY0) * width * 4, (y - stripY0 + 1) * width * 4);
      y++;
      return row;
    };
  }

  // Stage 2: ImagingResampleInner, horizontal pass into a temp image, then the vertical pass.
  const vert = resampleCoefficients(inH, box[1], box[3], outH);
  const yFirst = vert.bounds[0];
  const yLast = vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1];
  const needHorizontal = outW !== inW || box[0] !== 0 || box[2] !== outW;
  const needVertical = outH !== inH || box[1] !== 0 || box[3] !== outH;
  const tempW = needHorizontal ? outW : inW;
  const temp = new Uint8Array(tempW * (yLast - yFirst) * 4);
  const horiz = needHorizontal ? resampleCoefficients(inW, box[0], box[2], outW) : null;
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < yLast; y++) {
    const row = await nextRow();
    if (y < yFirst) continue;
    const t = (y - yFirst) * tempW * 4;
    if (!needHorizontal) {
      temp.set(row.subarray(0, inW * 4), t);
      continue;
    }
    const { ksize, coeffs, bounds } = horiz;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let x = 0; x < xmax; x++) {
        const k = coeffs[xx * ksize + x];
        const p = (x + xmin) * 4;
        s0 += row[p] * k;
        s1 += row[p + 1] * k;
        s2 += row[p + 2] * k;
      }
      temp[t + xx * 4] = clip8(s0);
      temp[t + xx * 4 + 1] = clip8(s1);
      temp[t + xx * 4 + 2] = clip8(s2);
    }
  }
  if (!needVertical) {
    return { rgba: temp, width: tempW, height: yLast - yFirst };
  }
  const out = new Uint8Array(tempW * outH * 4);
  const { ksize, coeffs, bounds } = vert;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - yFirst;
    const ymax = bounds[yy * 2 + 1];
    for (let xx = 0; xx < tempW; xx++) {
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let y = 0; y < ymax; y++) {
        const k = coeffs[yy * ksize + y];
        const p = ((y + ymin) * tempW + xx) * 4;
        s0 += temp[p] * k;
        s1 += temp[p + 1] * k;
        s2 += temp[p + 2] * k;
      }
      const o = (yy * tempW + xx) * 4;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { rgba: out, width: tempW, height: outH };
}

// ---------------------------------------------------------------------------------------------
// Browser side: read, SHA-256, decode, hash; in a Web Worker when possible
// ---------------------------------------------------------------------------------------------

const DEFAULTS = Object.freeze({
  useWorker: true,
  workerUrl: null,
  precision: "float32",
  applyExifOrientation: false,
  webglForAlpha: true,
  maxPixels: 150e6,
});

const THREAD = typeof document === "undefined" ? "worker" : "page";

// Share of a file's time each stage ends at, for a progress bar that moves evenly.
const STAGE_ENDS = { read: 0.05, sha256: 0.1, decode: 0.3, resize: 0.8, pdq: 0.95, done: 1, error: 1 };
const STAGE_STARTS = { read: 0, sha256: 0.05, decode: 0.1, resize: 0.3, pdq: 0.8, done: 1, error: 1 };

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
 * (0 when there is none). Browsers rotate some formats by EXIF when decoding and not others
 * (Chromium: JPEG and PNG, not WebP), and the option that would stop them ("imageOrientation:
 * none") meant the opposite in older browsers. So the tag is neutralised in a private copy of the
 * bytes, and the rotation, when wanted, is applied here, the way Pillow's exif_transpose does.
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

/**
 * Pillow's exif_transpose for orientations 2..8, as a row source over the transformed image.
 * Needs the whole decoded image once (rotations read columns), so it costs a second copy.
 */
function orientedRowSource(source, width, height, orientation) {
  const swap = orientation >= 5;
  const outW = swap ? height : width;
  const outH = swap ? width : height;
  let full = null;
  const rows = async (y0, count) => {
    if (full === null) full = await source(0, height);
    const out = new Uint8Array(outW * count * 4);
    for (let y = y0; y < y0 + count; y++) {
      for (let x = 0; x < outW; x++) {
        let sx;
        let sy;
        switch (orientation) {
          case 2: sx = width - 1 - x; sy = y; break; // mirror left-right
          case 3: sx = width - 1 - x; sy = height - 1 - y; break; // rotate 180
          case 4: sx = x; sy = height - 1 - y; break; // mirror top-bottom
          case 5: sx = y; sy = x; break; // transpose
          case 6: sx = y; sy = height - 1 - x; break; // rotate 90 clockwise
          case 7: sx = width - 1 - y; sy = height - 1 - x; break; // transverse
          default: sx = width - 1 - y; sy = x; break; // 8: rotate 90 counter-clockwise
        }
        const from = (sy * width + sx) * 4;
        const to = ((y - y0) * outW + x) * 4;
        out[to] = full[from];
        out[to + 1] = full[from + 1];
        out[to + 2] = full[from + 2];
        out[to + 3] = full[from + 3];
      }
    }
    return out;
  };
  return { rows, width: outW, height: outH };
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

/** One file: { sha256, pdq, quality, width, height, error }. */
async function hashOneFile(file, options, report) {
  const result = { sha256: null, pdq: null, quality: null, width: null, height: null, error: null };
  report("read", 0);
  const buffer = await file.arrayBuffer();
  report("sha256", 0);
  result.sha256 = await sha256Hex(buffer);
  report("decode", 0);
  const bytes = new Uint8Array(buffer.slice(0));
  const orientation = withoutExifOrientation(bytes);
  let bitmap;
  try {
    bitmap = await decodeBitmap(bytes, file.type);
  } catch (error) {
    result.error = error.message === "unsupported-browser" ? "unsupported-browser" : "decode-failed";
    return result;
  }
  try {
    const { width, height } = bitmap;
    if (width * height > options.maxPixels) {
      result.error = "too-large";
      return result;
    }
    const turn = options.applyExifOrientation && orientation > 1;
    const shrink = async (source) => {
      const view = turn
        ? orientedRowSource(source, width, height, orientation)
        : { rows: source, width, height };
      result.width = view.width;
      result.height = view.height;
      return pillowThumbnail(view.rows, view.width, view.height, 512, (f) => report("resize", f));
    };
    report("resize", 0);
    const canvas = canvasRowSource(bitmap);
    let small = await shrink(canvas.rows);
    if (options.webglForAlpha && canvas.sawTransparency()) {
      // A 2D canvas stores premultiplied pixels, so colour under partial transparency comes back
      // rounded and colour under full transparency comes back black, while Pillow's convert("RGB")
      // keeps it. WebGL hands back the bytes as decoded; use it when the image has any alpha.
      const exact = webglRowSource(bitmap);
      if (exact !== null) {
        try {
          small = await shrink(exact.rows);
        } finally {
          exact.release();
        }
      }
    }
    report("pdq", 0);
    const { pdq, quality } = pdqFromRgba(small.rgba, small.width, small.height, options);
    result.pdq = pdq;
    result.quality = quality;
  } finally {
    bitmap.close();
  }
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
