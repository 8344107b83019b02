"""PDQ index speed, side by side: our multi-index hashing, faiss IndexBinaryFlat range search, numpy brute force.

Run on one core:  taskset -c 0 .venv/bin/python bench/index_speed.py [--size 1000000] [--queries 1000]

Bank (a): SIZE random hashes plus, for every query, planted near-duplicates at distances 0..40.
Bank (b): the same size, a tenth of it in clusters of 1,000 hashes within 10 bits of a centre; queries lie
within 0..8 bits of the centres (real banks hold many near-copies of one image).
Radius 31 (PDQ's match threshold). Recall is measured against the numpy brute force. Each timing is the best
of --repeat runs; the load average is printed so the figures can be judged.
"""

from __future__ import annotations

import argparse
import os
import time

import faiss
import numpy as np

from detection.index import PdqIndex

RADIUS = 31


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64, endpoint=False)


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Each row with exactly distances[i] distinct random bits flipped."""
    out = hashes.copy()
    for i, d in enumerate(distances):
        for bit in rng.choice(256, size=int(d), replace=False):
            out[i, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def bank_a(rng: np.random.Generator, size: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    queries = random_hashes(rng, nq)
    planted = flip_bits(rng, np.repeat(queries, 41, axis=0), np.tile(np.arange(41), nq))
    return np.concatenate([random_hashes(rng, size), planted]), queries


def bank_b(rng: np.random.Generator, size: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    clustered = size // 10
    centres = random_hashes(rng, clustered // 1000)
    members = flip_bits(rng, np.repeat(centres, 1000, axis=0), rng.integers(0, 11, clustered))
    queries = flip_bits(rng, centres[rng.integers(0, len(centres), nq)], rng.integers(0, 9, nq))
    return np.concatenate([random_hashes(rng, size - clustered), members]), queries


def as_faiss(hashes: np.ndarray) -> np.ndarray:
    # faiss wants bytes; any fixed byte order gives the same Hamming distances.
    return np.ascontiguousarray(hashes).view(np.uint8).reshape(len(hashes), 32)


def numpy_brute(bank: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(np.bitwise_count(bank ^ q).sum(axis=1) <= RADIUS).tolist()) for q in queries]


def best_of(repeat: int, fn):  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(name: str, bank: np.ndarray, queries: np.ndarray, repeat: int) -> None:
    nq = len(queries)
    print(f"\n== bank {name}: {len(bank):,} hashes, {nq:,} queries, radius {RADIUS}")
    start = time.perf_counter()
    index = PdqIndex.build(np.arange(len(bank)), bank)
    print(f"our index build:     {time.perf_counter() - start:8.2f} s")
    flat = faiss.IndexBinaryFlat(256)
    flat.add(as_faiss(bank))

    ours_t, ours = best_of(repeat, lambda: index.search(queries, max_distance=RADIUS))
    faiss_t, (lims, _, labels) = best_of(repeat, lambda: flat.range_search(as_faiss(queries), RADIUS + 1))
    brute_t, truth = best_of(1, lambda: numpy_brute(bank, queries))

    total = sum(len(t) for t in truth)
    ours_found = sum(len(truth[i] & {hit for hit, _ in ours[i]}) for i in range(nq))
    ours_extra = sum(len({hit for hit, _ in ours[i]} - truth[i]) for i in range(nq))
    faiss_found = sum(len(truth[i] & set(labels[lims[i] : lims[i + 1]].tolist())) for i in range(nq))
    print(f"matches in bank:     {total:8,d}  ({total / nq:.1f} per query)")
    print(f"{'method':<22}{'seconds':>9}{'queries/s':>12}{'recall':>9}")
    print(f"{'our index (MIH, C)':<22}{ours_t:9.3f}{nq / ours_t:12,.0f}{ours_found / total:9.4f}"
          f"{'  (+' + str(ours_extra) + ' false)' if ours_extra else ''}")
    print(f"{'faiss flat range':<22}{faiss_t:9.3f}{nq / faiss_t:12,.0f}{faiss_found / total:9.4f}")
    print(f"{'numpy brute force':<22}{brute_t:9.3f}{nq / brute_t:12,.0f}{1:9.4f}")
    print(f"speed-up over faiss: {faiss_t / ours_t:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    print(f"cpus allowed: {sorted(os.sched_getaffinity(0))}, load average: {os.getloadavg()}")
    rng = np.random.default_rng(args.seed)
    run("(a) random + planted 0..40", *bank_a(rng, args.size, args.queries), args.repeat)
    run("(b) 10% in clusters of 1,000", *bank_b(rng, args.size, args.queries), args.repeat)
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
