"""vPDQ search speed: 10,000 banked videos x 60 frames in the PDQ index, against the same index serving images.

Run on one core:  taskset -c 0 .venv/bin/python bench/vpdq_index_speed.py [--videos 10000] [--frames 60]

The bank: VIDEOS random videos of FRAMES frames (random PDQ hashes, quality 90), held exactly as a process holds
them (detection.holder.BankView over detection.index.VpdqFrameIndex, one row per frame), searched through
detection.vpdqbank.bank_vpdq_search (frame search plus HMA's rule). Queries: QUERIES videos, half copies of
banked videos (every frame 0..20 bits away; half of those trimmed to their middle third), half unrelated.
Beside it, the same number of rows as plain PDQ image hashes (BankView over PdqIndex) answering the same
frame hashes one by one, as image lookups: the PDQ index's own rate for the same work.
Checks: every copy finds its video with HMA's percentages equal to the pairwise rule, no unrelated video
matches. Prints the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import django
import numpy as np

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["BANK_REFRESH_SECONDS"] = "1000000"  # the view is built here; no database refresh while timing
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from django.conf import settings  # noqa: E402

from detection import bank  # noqa: E402
from detection.holder import VARIANTS, BankView, SnapshotArrays  # noqa: E402
from detection.index import PdqIndex, VpdqFrameIndex  # noqa: E402
from detection.videomatch import VpdqFeature, vpdq_compare  # noqa: E402
from detection.vpdqbank import bank_vpdq_search  # noqa: E402


def hexes(words: np.ndarray) -> list[str]:
    return [row.astype(">u8").tobytes().hex() for row in words]


def flip(rng: np.random.Generator, words: np.ndarray, most: int) -> np.ndarray:
    out = words.copy()
    for row in out:
        for bit in rng.choice(256, size=int(rng.integers(0, most + 1)), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings.BANK_REFRESH_SECONDS = 1e9
    rng = np.random.default_rng(18)
    n, f = args.videos, args.frames
    print(f"load average before: {os.getloadavg()}")
    words = rng.integers(0, 2**64, size=(n * f, 4), dtype=np.uint64)
    entry_ids = np.arange(1, n + 1, dtype=np.int64)
    now_us = int(time.time() * 1e6)
    started = time.perf_counter()
    stride = VpdqFrameIndex.ENTRY_STRIDE
    arrays = SnapshotArrays(
        entry_ids=entry_ids, status=np.ones(n, np.uint8), quality=np.full(n, -1, np.int16),
        first_seen_us=np.full(n, now_us, np.int64),
        index_ids=(np.repeat(entry_ids, f) * stride + np.tile(np.arange(f), n)).astype(np.int64),
        index_hashes=words, watermark_us=now_us, frames=np.full(n, f, np.int32))
    view = BankView.in_memory(VpdqFrameIndex, arrays)
    print(f"built the vPDQ view: {n:,} videos x {f} frames = {n * f:,} rows in {time.perf_counter() - started:.1f} s")
    state = bank._states.setdefault("vpdq", bank._State())
    state.view, state.checked = view, time.monotonic()

    queries: list[tuple[int | None, list[VpdqFeature]]] = []
    for q in range(args.queries):
        if q % 2 == 0:
            video = int(rng.integers(0, n))
            frames = flip(rng, words[video * f:(video + 1) * f], 20)
            if q % 4 == 0:
                frames = frames[f // 3: 2 * f // 3]
            queries.append((video + 1, [VpdqFeature(h, 90, float(i)) for i, h in enumerate(hexes(frames))]))
        else:
            queries.append((None, [VpdqFeature(h, 90, float(i)) for i, h in
                                   enumerate(hexes(rng.integers(0, 2**64, size=(f, 4), dtype=np.uint64)))]))
    frame_count = sum(len(features) for _, features in queries)

    answers = [bank_vpdq_search(features=features) for _, features in queries]

    wrong = 0
    for (expected, features), found in zip(queries, answers, strict=True):
        if expected is None:
            wrong += bool(found)
            continue
        match = next((m for m in found if m.entry_id == expected), None)
        truth = vpdq_compare(features, [VpdqFeature(h, 90, 0.0)
                                        for h in hexes(words[(expected - 1) * f: expected * f])])
        if match is None or (match.query_match_percent, match.compared_match_percent) != (
                truth.query_match_percent, truth.compared_match_percent):
            wrong += 1

    image_arrays = SnapshotArrays(
        entry_ids=np.arange(1, n * f + 1, dtype=np.int64), status=np.ones(n * f, np.uint8),
        quality=np.full(n * f, 90, np.int16), first_seen_us=np.full(n * f, now_us, np.int64),
        index_ids=np.arange(1, n * f + 1, dtype=np.int64) * VARIANTS, index_hashes=words, watermark_us=now_us)
    images = BankView.in_memory(PdqIndex, image_arrays)

    def timed(run: object) -> float:
        started = time.perf_counter()
        run()  # type: ignore[operator]
        return time.perf_counter() - started

    # Rounds alternate between the three so that a change in the machine's load hits each alike; best of each.
    vpdq_runs, image_runs, batch_runs = [], [], []
    for _ in range(args.rounds):
        vpdq_runs.append(timed(lambda: [bank_vpdq_search(features=features) for _, features in queries]))
        image_runs.append(timed(lambda: [images.search([feature.pdq], 31, [1])
                                         for _, features in queries for feature in features]))
        batch_runs.append(timed(lambda: [images.search([feature.pdq for feature in features], 31, [1])
                                         for _, features in queries]))
    vpdq_seconds, image_seconds, image_batch_seconds = min(vpdq_runs), min(image_runs), min(batch_runs)

    print(f"{len(queries)} query videos ({frame_count:,} frames), {wrong} answered wrongly")
    print(f"vPDQ (frame search + HMA's rule): {len(queries) / vpdq_seconds:,.1f} videos/s, "
          f"{frame_count / vpdq_seconds:,.0f} frames/s, {1000 * vpdq_seconds / len(queries):.2f} ms a video")
    print(f"same frames as PDQ image lookups, one hash a call: {frame_count / image_seconds:,.0f} hashes/s")
    print(f"same frames as PDQ image lookups, one video's frames a call: "
          f"{frame_count / image_batch_seconds:,.0f} hashes/s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
