"""Resident memory of a large PDQ index (default 10,000,000 random hashes), in memory and memory-mapped.

Run:  .venv/bin/python bench/index_memory.py [--size 10000000]

Prints the process's resident set (VmRSS) before and after building `detection.index.PdqIndex` in memory (the
input arrays freed), then the index file's size, and the resident set of a fresh process that maps the file
and answers 1,000 queries at radius 31 (what each web or worker process holds).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from detection.index import PdqIndex


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or 'self'}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--map", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.map:
        before = rss_mb()
        index = PdqIndex.open(args.map)
        rng = np.random.default_rng(3)
        queries = rng.integers(0, 2**64, size=(1000, 4), dtype=np.uint64, endpoint=False)
        start = time.perf_counter()
        index.search(queries, 31)
        elapsed = time.perf_counter() - start
        print(f"{rss_mb() - before:.0f} {elapsed * 1000 / 1000:.3f}")
        return
    print(f"load average {os.getloadavg()[0]:.2f}")
    base = rss_mb()
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**64, size=(args.size, 4), dtype=np.uint64, endpoint=False)
    ids = np.arange(args.size, dtype=np.int64)
    start = time.perf_counter()
    index = PdqIndex.build(ids, hashes)
    built = time.perf_counter() - start
    path = os.path.join(tempfile.mkdtemp(prefix="pdq-index-"), "index.mih")
    PdqIndex.write(path, ids, hashes)
    del hashes, ids
    gc.collect()
    print(f"{args.size:,} hashes: in-memory build {built:.1f} s; resident set of the index "
          f"{rss_mb() - base:.0f} MB (process total {rss_mb():.0f} MB)")
    del index
    gc.collect()
    print(f"index file {os.path.getsize(path) / 2**20:.0f} MB")
    out = subprocess.run([sys.executable, __file__, "--map", path], capture_output=True, text=True, check=True)
    grown, per_query = out.stdout.split()
    print(f"a process mapping the file: resident growth after 1,000 queries {grown} MB, {per_query} ms a query")
    os.unlink(path)


if __name__ == "__main__":
    main()
