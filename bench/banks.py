"""Benchmark banks shaped as production builds them (shared by bench/bank_build.py and bench/index_speed.py).

Production indexes every PDQ hash of a case image 8 times: the image's hash and its 7 other dihedral variants
(rotations and flips, ``detection.holder``), while hashes imported from elsewhere come alone. So:

- a *case bank* of N images holds 8N index rows: each image's 8 dihedral hashes;
- an *import bank* holds one row per hash.

An image's 8 hashes are made the way PDQ makes them: from one 16x16 matrix of DCT coefficients (here drawn from a
normal distribution, one matrix per image), transformed by each element of the dihedral group (a horizontal
flip negates the odd columns, a vertical flip the odd rows, a transpose swaps them), then thresholded at the
matrix's median. So each hash has exactly 128 bits set, as a PDQ hash has, and the 8 hashes of one image are
related as a real image's are, not 8 independent random values. Every 64-bit word uses all 64 bits.
"""

from __future__ import annotations

import numpy as np

VARIANTS = 8


def random_words(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniformly random 256-bit hashes as (n, 4) uint64: every bit of every word, the top bit included."""
    return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64, endpoint=False)


def _pack(bits: np.ndarray) -> np.ndarray:
    """(..., 256) booleans -> (..., 4) uint64, the first bit the most significant of the first word."""
    packed = np.packbits(bits, axis=-1)  # (..., 32) bytes, big-endian bit order
    return packed.view(">u8").astype(np.uint64)


def dct_matrices(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal((n, 16, 16), dtype=np.float32)


def dihedral_hashes(dct: np.ndarray) -> np.ndarray:
    """(n, 16, 16) DCT coefficients -> (n, 8, 4) uint64: the 8 dihedral PDQ-style hashes of each image; index 0
    is the image as it is."""
    odd = (np.arange(16) % 2).astype(np.float32)
    sign = 1 - 2 * odd  # +1 on even frequencies, -1 on odd ones
    cols, rows = sign[None, None, :], sign[None, :, None]
    flipped_h = dct * cols
    flipped_v = dct * rows
    rot180 = dct * rows * cols
    transposed = dct.transpose(0, 2, 1)
    forms = [dct, flipped_h, flipped_v, rot180, transposed, transposed * cols, transposed * rows,
             transposed * rows * cols]
    out = np.empty((len(dct), VARIANTS, 4), dtype=np.uint64)
    for k, form in enumerate(forms):
        flat = form.reshape(len(dct), 256)
        median = np.median(flat, axis=1, keepdims=True)
        out[:, k] = _pack(flat > median)
    return out


def case_images(rng: np.random.Generator, n: int, chunk: int = 100_000) -> np.ndarray:
    """(n, 8, 4) uint64: n case images' dihedral hashes."""
    out = np.empty((n, VARIANTS, 4), dtype=np.uint64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        out[start:stop] = dihedral_hashes(dct_matrices(rng, stop - start))
    return out


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Each row of an (n, 4) array with exactly distances[i] distinct random bits flipped."""
    out = hashes.copy()
    for i, d in enumerate(distances):
        for bit in rng.choice(256, size=int(d), replace=False):
            out[i, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def hex_rows(words: np.ndarray) -> list[str]:
    """(n, 4) uint64 -> n strings of 64 hex digits (the bank's spelling)."""
    text = np.ascontiguousarray(words).astype(">u8").tobytes().hex()
    return [text[i:i + 64] for i in range(0, len(text), 64)]
