"""The vPDQ snapshot from PostgreSQL: how long reading 10,000 videos x 60 frames and writing the snapshot takes.

Run:  .venv/bin/python bench/vpdq_bank_build.py [--videos 10000] [--frames 60]

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/takedown_v18_vpdq_bench;
created with `createdb` and migrated when missing, filled with --videos random videos if it holds fewer) and a
temporary BANK_INDEX_DIR. Prints the time of `detection.bank.bank_index_build(signal_type="vpdq")` (every live
video and its frames read through the ORM, 2,000 rows at a time, and the snapshot written) and the load average.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/takedown_v18_vpdq_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", url.rsplit("/", 1)[1]], capture_output=True)
    os.environ["DATABASE_URL"] = url
    os.environ["BANK_INDEX_DIR"] = tempfile.mkdtemp(prefix="vpdq-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
    os.environ.setdefault("DEBUG", "true")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    import numpy as np
    from django.core.management import call_command
    from django.utils import timezone

    from detection.bank import bank_index_build
    from detection.models import BankEntry, BankVpdq
    from detection.videomatch import VpdqFeature, features_text, vpdq_key

    call_command("migrate", verbosity=0)
    have = BankEntry.objects.filter(signal_type="vpdq").count()
    rng = np.random.default_rng(18)
    if have < args.videos:
        print(f"adding {args.videos - have:,} videos ...", flush=True)
        now = timezone.now()
        for start in range(have, args.videos, 1000):
            batch = []
            for _ in range(min(1000, args.videos - start)):
                words = rng.integers(0, 2**64, size=(args.frames, 4), dtype=np.uint64)
                features = [VpdqFeature(row.astype(">u8").tobytes().hex(), 90, float(i)) for i, row in enumerate(words)]
                batch.append(features)
            entries = BankEntry.objects.bulk_create([
                BankEntry(signal_type="vpdq", value=vpdq_key(f), status="Active", first_seen=now, updated_at=now)
                for f in batch])
            BankVpdq.objects.bulk_create([BankVpdq(entry=e, features=features_text(f), frames=len(f))
                                          for e, f in zip(entries, batch, strict=True)])
    print(f"load average before: {os.getloadavg()}")
    started = time.perf_counter()
    built = bank_index_build(signal_type="vpdq")
    seconds = time.perf_counter() - started
    print(f"vpdq snapshot: {built['entries']:,} videos, {built['hashes']:,} frames; "
          f"read {built['read_seconds']:.2f} s, total {seconds:.2f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
