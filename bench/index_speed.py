"""PDQ index speed, side by side, on banks with dihedral variants: our multi-index hashing against faiss's
IndexBinaryFlat (exhaustive), IndexBinaryMultiHash and IndexBinaryHash, with numpy brute force as the truth.

Run:  .venv/bin/python bench/index_speed.py [--images 1000000] [--queries 1000] [--repeat 5]

Banks (bench/banks.py), both as production indexes case images: 8 rows per image, its PDQ-style hash and its 7
other dihedral variants.
- (a) random: --images random images (8 x --images rows) plus, for every query, 41 planted near-duplicates at
  distances 0..40; queries are fresh random images.
- (b) clustered: 90% random images, 10% in clusters of 1,000 images whose 8 hashes each lie within 0..10 bits
  of the cluster centre's (real banks hold many near-copies of one image); queries are one of a centre's 8
  hashes with 0..8 bits flipped.
Radius 31 (PDQ's match threshold), single-threaded (faiss with one OpenMP thread). Every method runs --repeat
times, the methods taking turns within each round so that a change in the shared machine's load hits all of
them; every run is printed, and the median. Recall is against faiss's exhaustive
IndexBinaryFlat over every query, which is checked against numpy brute force on the first --check queries.

Ours: the index production builds (its substrings sized to the bank: 12 of 21-22 bits from two million rows),
and the same with 16 substrings of 16 bits, as it was before (issue 19).

faiss settings: IndexBinaryMultiHash(256, nhash=16, b=16) with nflip=1 is exact at radius 31 by the same
pigeonhole argument our index uses (16 substrings of 16 bits, 31 < 16 x 2); IndexBinaryHash(256, b=16) indexes
the first 16 bits only and probes nflip=2 bits around them, so it misses matches (its recall is printed).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from banks import VARIANTS, case_images, flip_bits

from detection.index import PdqIndex

RADIUS = 31
OURS = "ours (MIH, sized to bank)"
OURS_16 = "ours, 16 x 16 bits (before)"


class SixteenBitPdqIndex(PdqIndex):
    """Our index as it was before its substrings were sized to the bank: always 16 substrings of 16 bits."""

    SUBSTRINGS = 16


def bank_random(rng: np.random.Generator, images: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    queries = case_images(rng, nq)[:, 0]
    planted = flip_bits(rng, np.repeat(queries, 41, axis=0), np.tile(np.arange(41), nq))
    return np.concatenate([case_images(rng, images).reshape(-1, 4), planted]), queries


def bank_clustered(rng: np.random.Generator, images: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    clustered = images // 10 // 1000 * 1000
    centres = case_images(rng, clustered // 1000)  # (clusters, 8, 4)
    members = np.repeat(centres, 1000, axis=0).reshape(-1, 4)  # every hash of every member image
    members = flip_bits(rng, members, np.repeat(rng.integers(0, 11, clustered), VARIANTS))
    chosen = centres[rng.integers(0, len(centres), nq), rng.integers(0, VARIANTS, nq)]
    queries = flip_bits(rng, chosen, rng.integers(0, 9, nq))
    return np.concatenate([case_images(rng, images - clustered).reshape(-1, 4), members]), queries


def as_faiss(hashes: np.ndarray) -> np.ndarray:
    # faiss wants bytes; any fixed byte order gives the same Hamming distances.
    return np.ascontiguousarray(hashes).view(np.uint8).reshape(len(hashes), 32)


def numpy_brute(bank: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(np.bitwise_count(bank ^ q).sum(axis=1) <= RADIUS).tolist()) for q in queries]


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def faiss_found(result: tuple[Any, Any, Any], nq: int) -> list[set[int]]:
    lims, _, labels = result
    return [set(labels[lims[i]: lims[i + 1]].tolist()) for i in range(nq)]


def run(name: str, bank: np.ndarray, queries: np.ndarray, repeat: int, check: int) -> None:
    nq = len(queries)
    print(f"\n== bank {name}: {len(bank):,} hashes ({len(bank) // VARIANTS:,} images x {VARIANTS} and planted), "
          f"{nq:,} queries, radius {RADIUS}", flush=True)
    methods: dict[str, Callable[[], list[set[int]]]] = {}
    memory: dict[str, float] = {}
    build: dict[str, float] = {}

    before, start = rss_mb(), time.perf_counter()
    index = PdqIndex.build(np.arange(len(bank)), bank)
    build[OURS], memory[OURS] = time.perf_counter() - start, rss_mb() - before
    methods[OURS] = lambda: [{i for i, _ in found} for found in index.search(queries, RADIUS)]

    before, start = rss_mb(), time.perf_counter()
    narrow = SixteenBitPdqIndex.build(np.arange(len(bank)), bank)
    build[OURS_16], memory[OURS_16] = time.perf_counter() - start, rss_mb() - before
    methods[OURS_16] = lambda: [{i for i, _ in found} for found in narrow.search(queries, RADIUS)]

    fq = as_faiss(queries)
    before, start = rss_mb(), time.perf_counter()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(as_faiss(bank))
    build["faiss IndexBinaryFlat"], memory["faiss IndexBinaryFlat"] = time.perf_counter() - start, rss_mb() - before
    methods["faiss IndexBinaryFlat"] = lambda: faiss_found(flat.range_search(fq, RADIUS + 1), nq)

    before, start = rss_mb(), time.perf_counter()
    multi = faiss.IndexBinaryMultiHash(256, 16, 16)
    multi.nflip = 1
    multi.add(as_faiss(bank))
    build["faiss IndexBinaryMultiHash"] = time.perf_counter() - start
    memory["faiss IndexBinaryMultiHash"] = rss_mb() - before
    methods["faiss IndexBinaryMultiHash"] = lambda: faiss_found(multi.range_search(fq, RADIUS + 1), nq)

    before, start = rss_mb(), time.perf_counter()
    single = faiss.IndexBinaryHash(256, 16)
    single.nflip = 2
    single.add(as_faiss(bank))
    build["faiss IndexBinaryHash"], memory["faiss IndexBinaryHash"] = time.perf_counter() - start, rss_mb() - before
    methods["faiss IndexBinaryHash"] = lambda: faiss_found(single.range_search(fq, RADIUS + 1), nq)

    # The truth: faiss's exhaustive scan over every query, itself checked against numpy brute force on the first
    # --check queries (numpy takes a tenth of a second or more per query at millions of rows).
    truth = methods["faiss IndexBinaryFlat"]()
    start = time.perf_counter()
    checked = numpy_brute(bank, queries[:check])
    brute_t = time.perf_counter() - start
    if checked != truth[:check]:
        raise SystemExit("faiss IndexBinaryFlat disagrees with numpy brute force: no truth to measure recall by")
    total = sum(len(t) for t in truth)
    print(f"matches in bank: {total:,} ({total / nq:.1f} per query); faiss flat equals numpy brute force on the "
          f"first {check} queries (numpy: {check / brute_t:,.1f} queries/s)")
    for fn in methods.values():  # warm-up: page faults and caches are not part of the figures
        fn()
    times: dict[str, list[float]] = {m: [] for m in methods}
    recall: dict[str, tuple[float, int]] = {}
    for _ in range(repeat):
        for method, fn in methods.items():
            gc.collect()
            start = time.perf_counter()
            found = fn()
            times[method].append(time.perf_counter() - start)
            hit = sum(len(truth[i] & found[i]) for i in range(nq))
            extra = sum(len(found[i] - truth[i]) for i in range(nq))
            recall[method] = (hit / total, extra)
    flat_median = statistics.median(times["faiss IndexBinaryFlat"])
    print(f"{'method':<28}{'build s':>8}{'memory MB':>10}{'median s':>10}{'queries/s':>11}{'recall':>8}"
          f"{'vs flat':>9}  every run (s)")
    for method, runs in times.items():
        median = statistics.median(runs)
        hit, extra = recall[method]
        print(f"{method:<28}{build[method]:8.1f}{memory[method]:10.0f}{median:10.3f}{nq / median:11,.0f}"
              f"{hit:8.4f}{flat_median / median:8.1f}x  {', '.join(f'{t:.3f}' for t in runs)}"
              f"{f'  (+{extra} false)' if extra else ''}", flush=True)
    # Threads: the search releases the GIL and takes no lock, so two threads on two cores answer more.
    from concurrent.futures import ThreadPoolExecutor

    halves = [queries[: nq // 2], queries[nq // 2:]]
    with ThreadPoolExecutor(2) as pool:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            list(pool.map(lambda part: index.search(part, RADIUS), halves))
            runs.append(time.perf_counter() - start)
    print(f"{'ours, 2 threads':<28}{'':>8}{'':>10}{statistics.median(runs):10.3f}"
          f"{nq / statistics.median(runs):11,.0f}{'':>8}{flat_median / statistics.median(runs):8.1f}x  "
          f"{', '.join(f'{t:.3f}' for t in runs)}")
    methods.clear()  # the indexes go when this returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", type=int, default=50, help="queries checked against numpy brute force")
    parser.add_argument("--only", choices=("random", "clustered"), default=None)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; faiss {faiss.__version__}; "
          f"cores {os.cpu_count()}; uptime: {uptime()}")
    rng = np.random.default_rng(args.seed)
    if args.only in (None, "random"):
        run("(a) random images + planted 0..40", *bank_random(rng, args.images, args.queries), args.repeat,
            args.check)
    if args.only in (None, "clustered"):
        run("(b) 10% of images in clusters of 1,000", *bank_clustered(rng, args.images, args.queries),
            args.repeat, args.check)
    print(f"\nuptime at the end: {uptime()}")


if __name__ == "__main__":
    main()
