"""A bank for the partner API benchmark: N random PDQ hashes behind detection.index.PdqIndex, entry metadata in
flat arrays, as the real bank's in-memory side holds them. Lookups only (the benchmark measures lookups).

The hashes come from a .npy file of shape (N, 4) uint64 named by PARTNER_BENCH_BANK; every gunicorn worker of
a --preload server shares the index built once in the master (copy-on-write).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from takedown.partners.bank import BankMatch

FIRST_SEEN = datetime(2026, 5, 19, tzinfo=UTC)


class BenchBank:
    def __init__(self, path: str) -> None:
        words = np.load(path, mmap_mode="r")
        n = len(words)
        self.ids = np.arange(1, n + 1, dtype=np.int64)
        self.status_active = np.ones(n + 1, dtype=bool)
        self.quality = np.full(n + 1, 90, dtype=np.uint8)
        mode = os.environ.get("PARTNER_BENCH_INDEX", "mih")
        if mode == "mih":
            # PARTNER_BENCH_INDEX_MODULE lets a run use another build of the index (e.g. a work-in-progress copy).
            module = importlib.import_module(os.environ.get("PARTNER_BENCH_INDEX_MODULE", "detection.index"))
            PdqIndex = module.PdqIndex

            self.index = PdqIndex.build(self.ids, np.ascontiguousarray(words))
            self._search = self.index.search
        else:  # numpy brute force, to check the harness where detection.index is not available
            packed = np.ascontiguousarray(words)
            self.bytes = packed

            def brute(values: Sequence[str], max_distance: int) -> list[list[tuple[int, int]]]:
                out = []
                for value in values:
                    q = np.array([int(value[i:i + 16], 16) for i in range(0, 64, 16)], dtype=np.uint64)
                    d = np.bitwise_count(packed ^ q).sum(axis=1)
                    hits = np.nonzero(d <= max_distance)[0]
                    out.append(sorted(((int(self.ids[h]), int(d[h])) for h in hits), key=lambda m: (m[1], m[0])))
                return out

            self._search = brute

    def lookup(self, *, signal_type: str, values: Sequence[str], max_distance: int,
               statuses: Collection[str]) -> list[list[BankMatch]]:
        if signal_type != "pdq":
            return [[] for _ in values]
        results = self._search(list(values), max_distance=max_distance)
        return [[BankMatch(entry_id=i, distance=d, status="Active", first_seen=FIRST_SEEN,
                           quality=int(self.quality[i]))
                 for i, d in matches if self.status_active[i]] for matches in results]


@lru_cache(maxsize=1)
def bank() -> BenchBank:
    return BenchBank(os.environ["PARTNER_BENCH_BANK"])
