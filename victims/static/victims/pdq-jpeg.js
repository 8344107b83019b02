/**
 * pdq-jpeg.js: a JPEG decoded at 1/2, 1/4 or 1/8 scale exactly as the server decodes it for PDQ.
 *
 * Meta's reference PDQ hashes of large JPEGs were made on images the IJG JPEG library (version 7 and
 * later) decoded at reduced size: only the low-frequency DCT coefficients of each 8x8 block go through a
 * smaller inverse DCT, and subsampled chroma goes straight to the output size through a larger one. The
 * server reproduces that in detection/_jpegdct.c (quantised coefficients read by libjpeg, then a
 * floating-point inverse DCT and libjpeg's YCbCr -> RGB). Browsers only decode at full size, with another
 * inverse DCT, which is 2 bits off on some of Meta's reference images. So this module reads the
 * coefficients itself (baseline and progressive Huffman JPEG, restart markers, 8-bit samples) and repeats
 * the server's arithmetic step for step, in the same order, in float64 like the C code.
 *
 * Exports:
 *   jpegHeader(bytes) -> { width, height, components, colorSpace, codable } | null
 *   reducedDecode(bytes, scale) -> { width, height, rgba } | null   (null: not a JPEG this can decode
 *     exactly: arithmetic coding, 12-bit, lossless, CMYK; throws Error("decode-failed") on corrupt data)
 *   IDCT_BASIS (for tests)
 */

// c(u) cos((2x + 1) u pi / 2n) for block sizes n = 1, 2, 4, 8, 16 (index x * 8 + u), written out as the
// server's C library computes them: JavaScript engines' Math.cos differs from glibc's in the last bit for
// a few of these, which can move a pixel across a rounding boundary.
export const IDCT_BASIS = {
  1: [
    0.7071067811865475, 6.123233995736766e-17, -1.0, -1.8369701987210297e-16,
    1.0, 3.061616997868383e-16, -1.0, -4.286263797015736e-16,
  ],
  2: [
    0.7071067811865475, 0.7071067811865476, 6.123233995736766e-17, -0.7071067811865475,
    -1.0, -0.7071067811865477, -1.8369701987210297e-16, 0.7071067811865474,
    0.7071067811865475, -0.7071067811865475, -1.8369701987210297e-16, 0.7071067811865477,
    -1.0, 0.7071067811865466, 5.51091059616309e-16, -0.7071067811865474,
  ],
  4: [
    0.7071067811865475, 0.9238795325112867, 0.7071067811865476, 0.38268343236508984,
    6.123233995736766e-17, -0.3826834323650897, -0.7071067811865475, -0.9238795325112867,
    0.7071067811865475, 0.38268343236508984, -0.7071067811865475, -0.9238795325112868,
    -1.8369701987210297e-16, 0.9238795325112865, 0.7071067811865477, -0.3826834323650899,
    0.7071067811865475, -0.3826834323650897, -0.7071067811865477, 0.9238795325112865,
    3.061616997868383e-16, -0.9238795325112867, 0.7071067811865466, 0.38268343236509067,
    0.7071067811865475, -0.9238795325112867, 0.7071067811865474, -0.3826834323650899,
    -4.286263797015736e-16, 0.38268343236509067, -0.7071067811865474, 0.9238795325112875,
  ],
  8: [
    0.7071067811865475, 0.9807852804032304, 0.9238795325112867, 0.8314696123025452,
    0.7071067811865476, 0.5555702330196023, 0.38268343236508984, 0.19509032201612833,
    0.7071067811865475, 0.8314696123025452, 0.38268343236508984, -0.1950903220161282,
    -0.7071067811865475, -0.9807852804032304, -0.9238795325112868, -0.5555702330196022,
    0.7071067811865475, 0.5555702330196023, -0.3826834323650897, -0.9807852804032304,
    -0.7071067811865477, 0.1950903220161283, 0.9238795325112865, 0.8314696123025455,
    0.7071067811865475, 0.19509032201612833, -0.9238795325112867, -0.5555702330196022,
    0.7071067811865474, 0.8314696123025455, -0.3826834323650899, -0.9807852804032307,
    0.7071067811865475, -0.1950903220161282, -0.9238795325112868, 0.5555702330196018,
    0.7071067811865477, -0.8314696123025451, -0.38268343236509056, 0.9807852804032304,
    0.7071067811865475, -0.555570233019602, -0.38268343236509034, 0.9807852804032304,
    -0.7071067811865467, -0.19509032201612803, 0.9238795325112867, -0.831469612302545,
    0.7071067811865475, -0.8314696123025453, 0.38268343236509, 0.19509032201612878,
    -0.7071067811865471, 0.9807852804032307, -0.9238795325112864, 0.5555702330196015,
    0.7071067811865475, -0.9807852804032304, 0.9238795325112865, -0.8314696123025451,
    0.7071067811865466, -0.5555702330196015, 0.38268343236508956, -0.19509032201612858,
  ],
  16: [
    0.7071067811865475, 0.9951847266721969, 0.9807852804032304, 0.9569403357322088,
    0.9238795325112867, 0.881921264348355, 0.8314696123025452, 0.773010453362737,
    0.7071067811865475, 0.9569403357322088, 0.8314696123025452, 0.6343932841636455,
    0.38268343236508984, 0.09801714032956077, -0.1950903220161282, -0.4713967368259977,
    0.7071067811865475, 0.881921264348355, 0.5555702330196023, 0.09801714032956077,
    -0.3826834323650897, -0.773010453362737, -0.9807852804032304, -0.9569403357322089,
    0.7071067811865475, 0.773010453362737, 0.19509032201612833, -0.4713967368259977,
    -0.9238795325112867, -0.9569403357322089, -0.5555702330196022, 0.09801714032956009,
    0.7071067811865475, 0.6343932841636455, -0.1950903220161282, -0.8819212643483549,
    -0.9238795325112868, -0.29028467725446244, 0.5555702330196018, 0.9951847266721969,
    0.7071067811865475, 0.4713967368259978, -0.555570233019602, -0.9951847266721969,
    -0.38268343236509034, 0.6343932841636456, 0.9807852804032304, 0.29028467725446255,
    0.7071067811865475, 0.29028467725446233, -0.8314696123025453, -0.7730104533627371,
    0.38268343236509, 0.9951847266721969, 0.19509032201612878, -0.8819212643483548,
    0.7071067811865475, 0.09801714032956077, -0.9807852804032304, -0.29028467725446244,
    0.9238795325112865, 0.471396736825998, -0.8314696123025451, -0.6343932841636454,
    0.7071067811865475, -0.09801714032956065, -0.9807852804032304, 0.29028467725446205,
    0.9238795325112867, -0.4713967368259975, -0.8314696123025456, 0.6343932841636447,
    0.7071067811865475, -0.29028467725446216, -0.8314696123025455, 0.7730104533627367,
    0.38268343236509045, -0.9951847266721969, 0.1950903220161272, 0.8819212643483553,
    0.7071067811865475, -0.4713967368259977, -0.5555702330196022, 0.9951847266721969,
    -0.3826834323650899, -0.6343932841636454, 0.9807852804032304, -0.29028467725446255,
    0.7071067811865475, -0.6343932841636454, -0.19509032201612866, 0.881921264348355,
    -0.9238795325112864, 0.29028467725446266, 0.5555702330196025, -0.9951847266721969,
    0.7071067811865475, -0.773010453362737, 0.1950903220161283, 0.471396736825998,
    -0.9238795325112867, 0.9569403357322085, -0.5555702330196015, -0.0980171403295627,
    0.7071067811865475, -0.8819212643483549, 0.5555702330196018, -0.09801714032955997,
    -0.38268343236509056, 0.7730104533627377, -0.9807852804032307, 0.9569403357322089,
    0.7071067811865475, -0.9569403357322088, 0.8314696123025452, -0.6343932841636448,
    0.3826834323650898, -0.09801714032955972, -0.19509032201613, 0.4713967368259984,
    0.7071067811865475, -0.9951847266721968, 0.9807852804032303, -0.9569403357322085,
    0.9238795325112864, -0.8819212643483547, 0.831469612302544, -0.7730104533627357,
  ],
};

// Zigzag position -> natural (row-major) position; 16 extra entries absorb corrupt run lengths as
// libjpeg's jpeg_natural_order does.
const NATURAL_ORDER = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
  63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

class Unsupported extends Error {}

function corrupt() {
  return new Error("decode-failed");
}

function buildHuffman(counts, symbols) {
  // JPEG Annex C/F: canonical codes; an 8-bit lookahead table answers most symbols at once.
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  const lookup = new Int32Array(256); // (length << 8) | symbol, 0 when the code is longer than 8 bits
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const n = counts[length - 1];
    if (n) {
      valptr[length] = k;
      mincode[length] = code;
      for (let i = 0; i < n; i++, k++, code++) {
        if (length <= 8) {
          const shift = 8 - length;
          for (let fill = 0; fill < 1 << shift; fill++) lookup[(code << shift) | fill] = (length << 8) | symbols[k];
        }
      }
      maxcode[length] = code - 1;
    }
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { maxcode, valptr, mincode, lookup, symbols };
}

/** Markers, tables and frame of a JPEG, without decoding any scan. */
function readMarkers(bytes, onScan) {
  const n = bytes.length;
  const u16 = (p) => (bytes[p] << 8) | bytes[p + 1];
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const state = {
    frame: null,
    jfif: false,
    adobeTransform: -1,
    quant: [],
    dc: [],
    ac: [],
    restartInterval: 0,
  };
  let p = 2;
  while (p < n) {
    if (bytes[p] !== 0xff) {
      p++;
      continue;
    }
    while (p < n && bytes[p] === 0xff) p++;
    if (p >= n) break;
    const marker = bytes[p++];
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (marker === 0xd9) break;
    if (p + 2 > n) throw corrupt();
    const length = u16(p);
    const end = p + length;
    if (length < 2 || end > n) throw corrupt();
    const body = p + 2;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      if (state.frame) throw corrupt();
      const components = [];
      for (let i = 0; i < bytes[body + 5]; i++) {
        const c = body + 6 + i * 3;
        components.push({ id: bytes[c], h: bytes[c + 1] >> 4, v: bytes[c + 1] & 15, tq: bytes[c + 2], quant: null });
      }
      state.frame = {
        progressive: marker === 0xc2,
        precision: bytes[body],
        height: u16(body + 1),
        width: u16(body + 3),
        components,
      };
    } else if ((marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)) {
      // Lossless, hierarchical or arithmetic-coded: decoded elsewhere (see reducedDecode).
      state.frame = { unsupported: true, height: u16(body + 1), width: u16(body + 3), components: [] };
      return state;
    } else if (marker === 0xc4) {
      let q = body;
      while (q < end) {
        const table = bytes[q];
        const counts = bytes.subarray(q + 1, q + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        const symbols = bytes.slice(q + 17, q + 17 + total);
        (table >> 4 ? state.ac : state.dc)[table & 15] = buildHuffman(counts, symbols);
        q += 17 + total;
      }
    } else if (marker === 0xdb) {
      let q = body;
      while (q < end) {
        const precision = bytes[q] >> 4;
        const table = new Uint16Array(64);
        for (let k = 0; k < 64; k++) {
          table[NATURAL_ORDER[k]] = precision ? u16(q + 1 + 2 * k) : bytes[q + 1 + k];
        }
        state.quant[bytes[q] & 15] = table;
        q += 1 + 64 * (precision ? 2 : 1);
      }
    } else if (marker === 0xdd) {
      state.restartInterval = u16(body);
    } else if (marker === 0xe0) {
      if (length >= 16 && String.fromCharCode(...bytes.subarray(body, body + 5)) === "JFIF\0") state.jfif = true;
    } else if (marker === 0xee) {
      if (length >= 14 && String.fromCharCode(...bytes.subarray(body, body + 5)) === "Adobe") {
        state.adobeTransform = bytes[body + 11];
      }
    } else if (marker === 0xda) {
      if (!onScan) return state; // header only: stop at the first scan
      const count = bytes[body];
      const scan = {
        components: [],
        ss: bytes[body + 1 + count * 2],
        se: bytes[body + 2 + count * 2],
        ah: bytes[body + 3 + count * 2] >> 4,
        al: bytes[body + 3 + count * 2] & 15,
      };
      for (let i = 0; i < count; i++) {
        const id = bytes[body + 1 + i * 2];
        const component = state.frame && state.frame.components.find((c) => c.id === id);
        if (!component) throw corrupt();
        const tables = bytes[body + 2 + i * 2];
        scan.components.push({ component, dc: state.dc[tables >> 4], ac: state.ac[tables & 15] });
      }
      p = onScan(state, scan, end);
      continue;
    }
    p = end;
  }
  return state;
}

function colorSpace(state) {
  const components = state.frame.components;
  if (components.length === 1) return "gray";
  if (components.length !== 3) return "other";
  if (state.jfif) return "ycbcr";
  if (state.adobeTransform >= 0) return state.adobeTransform === 0 ? "rgb" : "ycbcr";
  const [a, b, c] = components.map((x) => x.id);
  if (a === 82 && b === 71 && c === 66) return "rgb";
  return "ycbcr";
}

/** Size and colour space from the header, or null when these bytes are not a JPEG. */
export function jpegHeader(bytes) {
  let state;
  try {
    state = readMarkers(bytes, null);
  } catch (error) {
    return null;
  }
  if (!state || !state.frame) return null;
  const { width, height, components } = state.frame;
  const codable = !state.frame.unsupported && state.frame.precision === 8 && height > 0;
  return { width, height, components: components.length, colorSpace: codable ? colorSpace(state) : "other", codable };
}

function layout(frame) {
  const maxH = Math.max(...frame.components.map((c) => c.h));
  const maxV = Math.max(...frame.components.map((c) => c.v));
  const mcusX = Math.ceil(frame.width / (8 * maxH));
  const mcusY = Math.ceil(frame.height / (8 * maxV));
  for (const c of frame.components) {
    c.widthInBlocks = Math.ceil((frame.width * c.h) / (maxH * 8));
    c.heightInBlocks = Math.ceil((frame.height * c.v) / (maxV * 8));
    c.blocksPerLine = mcusX * c.h;
    c.blocksPerColumn = mcusY * c.v;
    c.coefficients = new Int16Array(c.blocksPerLine * c.blocksPerColumn * 64);
    c.pred = 0;
  }
  Object.assign(frame, { maxH, maxV, mcusX, mcusY });
}

/** Entropy-decodes one scan into the components' coefficient arrays; returns where the scan ends. */
function decodeScan(bytes, state, scan, start) {
  const frame = state.frame;
  const n = bytes.length;
  let pos = start;
  let bits = 0;
  let count = 0;
  let atMarker = false;
  const fill = () => {
    while (count <= 24) {
      let byte = 0;
      if (!atMarker && pos < n) {
        byte = bytes[pos];
        if (byte === 0xff) {
          const next = bytes[pos + 1];
          if (next === 0) pos += 2;
          else {
            atMarker = true;
            byte = 0;
          }
        } else pos++;
      } else atMarker = true;
      bits = ((bits << 8) | byte) >>> 0;
      count += 8;
    }
  };
  const read = (length) => {
    if (length === 0) return 0;
    if (count < length) fill();
    count -= length;
    return (bits >>> count) & ((1 << length) - 1);
  };
  const bit = () => {
    if (count < 1) fill();
    count -= 1;
    return (bits >>> count) & 1;
  };
  const decode = (table) => {
    if (!table) throw corrupt();
    if (count < 16) fill();
    const entry = table.lookup[(bits >>> (count - 8)) & 0xff];
    if (entry) {
      count -= entry >> 8;
      return entry & 0xff;
    }
    let code = (bits >>> (count - 8)) & 0xff;
    count -= 8;
    let length = 8;
    while (length < 17) {
      code = (code << 1) | bit();
      length++;
      if (code <= table.maxcode[length]) break;
    }
    if (length > 16) throw corrupt();
    return table.symbols[table.valptr[length] + code - table.mincode[length]];
  };
  const extend = (value, size) => (value < 1 << (size - 1) ? value - (1 << size) + 1 : value);

  const { ss, se, ah, al } = scan;
  let eobrun = 0;
  let blockDecoder;
  if (!frame.progressive) {
    blockDecoder = (entry, c, o) => {
      const t = decode(entry.dc);
      c.pred += t ? extend(read(t), t) : 0;
      const coefficients = c.coefficients;
      coefficients[o] = c.pred;
      for (let k = 1; k < 64; k++) {
        const rs = decode(entry.ac);
        const r = rs >> 4;
        const s = rs & 15;
        if (s === 0) {
          if (r !== 15) break;
          k += 15;
          continue;
        }
        k += r;
        coefficients[o + NATURAL_ORDER[k]] = extend(read(s), s);
      }
    };
  } else if (ss === 0 && ah === 0) {
    blockDecoder = (entry, c, o) => {
      const t = decode(entry.dc);
      c.pred += t ? extend(read(t), t) : 0;
      c.coefficients[o] = c.pred * (1 << al);
    };
  } else if (ss === 0) {
    blockDecoder = (entry, c, o) => {
      if (bit()) c.coefficients[o] |= 1 << al;
    };
  } else if (ah === 0) {
    blockDecoder = (entry, c, o) => {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      const coefficients = c.coefficients;
      for (let k = ss; k <= se; k++) {
        const rs = decode(entry.ac);
        const r = rs >> 4;
        const s = rs & 15;
        if (s === 0) {
          if (r < 15) {
            eobrun = (1 << r) - 1;
            if (r) eobrun += read(r);
            break;
          }
          k += 15;
          continue;
        }
        k += r;
        coefficients[o + NATURAL_ORDER[k]] = extend(read(s), s) * (1 << al);
      }
    };
  } else {
    // Successive approximation of AC coefficients, as libjpeg's decode_mcu_AC_refine.
    blockDecoder = (entry, c, o) => {
      const coefficients = c.coefficients;
      const p1 = 1 << al;
      const m1 = -1 << al;
      let k = ss;
      const refine = (z) => {
        if (bit() && (coefficients[z] & p1) === 0) coefficients[z] += coefficients[z] >= 0 ? p1 : m1;
      };
      if (eobrun === 0) {
        for (; k <= se; k++) {
          const rs = decode(entry.ac);
          let r = rs >> 4;
          let s = rs & 15;
          if (s) {
            if (s !== 1) throw corrupt();
            s = bit() ? p1 : m1;
          } else if (r !== 15) {
            eobrun = 1 << r;
            if (r) eobrun += read(r);
            break;
          }
          do {
            const z = o + NATURAL_ORDER[k];
            if (coefficients[z] !== 0) refine(z);
            else if (--r < 0) break;
            k++;
          } while (k <= se);
          if (s) coefficients[o + NATURAL_ORDER[k]] = s;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const z = o + NATURAL_ORDER[k];
          if (coefficients[z] !== 0) refine(z);
        }
        eobrun--;
      }
    };
  }

  const entries = scan.components;
  const single = entries.length === 1;
  const units = single
    ? entries[0].component.widthInBlocks * entries[0].component.heightInBlocks
    : frame.mcusX * frame.mcusY;
  const perLine = single ? entries[0].component.widthInBlocks : frame.mcusX;
  for (const entry of entries) {
    entry.component.pred = 0;
    // libjpeg latches a component's quantisation table when the component's first scan starts.
    if (!entry.component.quant) entry.component.quant = state.quant[entry.component.tq];
    if (!entry.component.quant) throw corrupt();
  }
  const restart = state.restartInterval;
  for (let unit = 0; unit < units; unit++) {
    if (restart && unit > 0 && unit % restart === 0) {
      // Byte-align, step over the RSTn marker, start prediction and end-of-band runs afresh.
      count = 0;
      atMarker = false;
      while (pos + 1 < n && !(bytes[pos] === 0xff && bytes[pos + 1] >= 0xd0 && bytes[pos + 1] <= 0xd7)) pos++;
      pos += 2;
      eobrun = 0;
      for (const entry of entries) entry.component.pred = 0;
    }
    const row = Math.floor(unit / perLine);
    const col = unit % perLine;
    if (single) {
      const c = entries[0].component;
      blockDecoder(entries[0], c, (row * c.blocksPerLine + col) * 64);
    } else {
      for (const entry of entries) {
        const c = entry.component;
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) {
            blockDecoder(entry, c, ((row * c.v + v) * c.blocksPerLine + col * c.h + h) * 64);
          }
        }
      }
    }
  }
  // The scan ends at the next marker that is not a restart marker.
  while (pos + 1 < n && !(bytes[pos] === 0xff && bytes[pos + 1] !== 0 && (bytes[pos + 1] < 0xd0 || bytes[pos + 1] > 0xd7))) {
    pos++;
  }
  return pos;
}

/** IJG 7+: a subsampled component gets a larger inverse DCT instead of upsampling afterwards. */
function componentDctSize(lumaSize, maxSampling, sampling) {
  let factor = 1;
  while (lumaSize * factor <= 8 && maxSampling % (sampling * factor * 2) === 0) factor *= 2;
  return lumaSize * factor;
}

/** One component at reduced size, as decode_component in detection/_jpegdct.c. */
function decodePlane(c, lumaSize, maxH, maxV) {
  const sizeH = componentDctSize(lumaSize, maxH, c.h);
  const sizeV = componentDctSize(lumaSize, maxV, c.v);
  if (sizeH > 16 || sizeV > 16) throw new Unsupported();
  const keepH = Math.min(sizeH, 8);
  const keepV = Math.min(sizeV, 8);
  const basisH = IDCT_BASIS[sizeH];
  const basisV = IDCT_BASIS[sizeV];
  const width = c.widthInBlocks * sizeH;
  const height = c.heightInBlocks * sizeV;
  const pixels = new Uint8Array(width * height);
  const coef = new Float64Array(64);
  const rows = new Float64Array(8 * 16);
  const quant = c.quant;
  for (let by = 0; by < c.heightInBlocks; by++) {
    for (let bx = 0; bx < c.widthInBlocks; bx++) {
      const o = (by * c.blocksPerLine + bx) * 64;
      for (let v = 0; v < keepV; v++) {
        for (let u = 0; u < keepH; u++) coef[v * 8 + u] = c.coefficients[o + v * 8 + u] * quant[v * 8 + u];
      }
      for (let v = 0; v < keepV; v++) {
        for (let x = 0; x < sizeH; x++) {
          let sum = 0.0;
          for (let u = 0; u < keepH; u++) sum += coef[v * 8 + u] * basisH[x * 8 + u];
          rows[v * 16 + x] = sum;
        }
      }
      for (let y = 0; y < sizeV; y++) {
        const dest = (by * sizeV + y) * width + bx * sizeH;
        for (let x = 0; x < sizeH; x++) {
          let sum = 0.0;
          for (let v = 0; v < keepV; v++) sum += basisV[y * 8 + v] * rows[v * 16 + x];
          const value = Math.floor(sum / 4.0 + 128.0 + 0.5);
          pixels[dest + x] = value < 0 ? 0 : value > 255 ? 255 : value;
        }
      }
    }
  }
  return {
    pixels,
    width,
    height,
    repH: Math.floor((lumaSize * Math.floor(maxH / c.h)) / sizeH),
    repV: Math.floor((lumaSize * Math.floor(maxV / c.v)) / sizeV),
  };
}

/**
 * The JPEG at 1/scale (scale 2, 4 or 8) as RGBA, exactly as the server's reduced decoding gives it, or
 * null for JPEGs the server does not decode that way either (CMYK, YCCK) or this cannot read
 * (arithmetic coding, 12-bit, lossless). Throws Error("decode-failed") on corrupt data.
 */
export function reducedDecode(bytes, scale) {
  if (scale !== 2 && scale !== 4 && scale !== 8) throw new RangeError("scale must be 2, 4 or 8");
  let state;
  try {
    state = readMarkers(bytes, (s, scan, end) => {
      if (!s.frame || s.frame.unsupported) throw new Unsupported();
      if (!s.frame.maxH) {
        if (s.frame.precision !== 8 || colorSpace(s) === "other" || s.frame.height === 0) throw new Unsupported();
        layout(s.frame);
      }
      return decodeScan(bytes, s, scan, end);
    });
  } catch (error) {
    if (error instanceof Unsupported) return null;
    if (error instanceof RangeError || error instanceof TypeError) throw corrupt();
    throw error;
  }
  if (!state || !state.frame || state.frame.unsupported || !state.frame.maxH) return null;
  const frame = state.frame;
  const space = colorSpace(state);
  const lumaSize = 8 / scale;
  const outW = Math.ceil(frame.width / scale);
  const outH = Math.ceil(frame.height / scale);
  let planes;
  try {
    planes = frame.components.map((c) => {
      if (!c.quant) throw corrupt();
      const plane = decodePlane(c, lumaSize, frame.maxH, frame.maxV);
      if (plane.width * plane.repH < outW || plane.height * plane.repV < outH) throw corrupt();
      return plane;
    });
  } catch (error) {
    if (error instanceof Unsupported) return null;
    throw error;
  }
  const rgba = new Uint8Array(outW * outH * 4);
  const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);
  // libjpeg's jdcolor.c constants: 16 fractional bits, rounded by adding one half.
  const half = 1 << 15;
  const rCr = Math.floor(1.402 * 65536 + 0.5);
  const bCb = Math.floor(1.772 * 65536 + 0.5);
  const gCb = Math.floor(0.34414 * 65536 + 0.5);
  const gCr = Math.floor(0.71414 * 65536 + 0.5);
  for (let y = 0; y < outH; y++) {
    const rows = planes.map((p) => Math.floor(y / p.repV) * p.width);
    for (let x = 0; x < outW; x++) {
      const o = (y * outW + x) * 4;
      const a = planes[0].pixels[rows[0] + Math.floor(x / planes[0].repH)];
      if (space === "gray") {
        rgba[o] = rgba[o + 1] = rgba[o + 2] = a;
      } else {
        const b = planes[1].pixels[rows[1] + Math.floor(x / planes[1].repH)];
        const c = planes[2].pixels[rows[2] + Math.floor(x / planes[2].repH)];
        if (space === "rgb") {
          rgba[o] = a;
          rgba[o + 1] = b;
          rgba[o + 2] = c;
        } else {
          const cb = b - 128;
          const cr = c - 128;
          rgba[o] = clamp(a + ((rCr * cr + half) >> 16));
          rgba[o + 1] = clamp(a + ((-gCb * cb - gCr * cr + half) >> 16));
          rgba[o + 2] = clamp(a + ((bCb * cb + half) >> 16));
        }
      }
      rgba[o + 3] = 255;
    }
  }
  return { width: outW, height: outH, rgba };
}
