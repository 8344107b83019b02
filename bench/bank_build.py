"""The bank's index from PostgreSQL: build time for a million hashes, and memory across processes.

Run:  .venv/bin/python bench/bank_build.py [--size 1000000] [--processes 4]

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/takedown_bench; migrated
and filled with --size random PDQ hashes by COPY if it holds fewer) and a temporary BANK_INDEX_DIR.
Prints:
- the time to read every hash from the database (binary COPY into arrays) and to write the shared snapshot
  (`detection.bank.bank_index_build`), and, for comparison, reading the same rows through the ORM;
- for --processes separate Django processes that each open the bank and answer 200 lookups: each one's
  proportional set size (PSS) of the snapshot's mapped files and its private (anonymous) memory growth from
  loading the bank. Their sum is what the index costs the host, whatever the number of processes: the
  mapped pages are shared, so each process is charged its share of one copy;
- the same for processes that build a private in-memory index each (BANK_INDEX_DIR empty), the alternative.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/takedown_bench"


def setup_django(database_url: str, index_dir: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["BANK_INDEX_DIR"] = index_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
    os.environ.setdefault("DEBUG", "true")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()


def memory(pid: int, prefix: str | None) -> tuple[float, float]:
    """(MB of PSS in mappings of files under prefix, MB of private anonymous memory) of a process."""
    mapped = anon = 0
    current = ""
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            first = line.split(maxsplit=1)[0]
            if not first.endswith(":") or "-" in first:
                parts = line.split()
                current = parts[5] if len(parts) >= 6 else ""
                continue
            if first == "Pss:" and prefix and current.startswith(prefix):
                mapped += int(line.split()[1])
            if first == "Anonymous:":
                anon += int(line.split()[1])
    return mapped / 1024, anon / 1024


def child(args: argparse.Namespace) -> None:
    setup_django(args.database_url, args.index_dir)
    import numpy as np

    from detection.bank import bank_search

    _, anon_before = memory(os.getpid(), None)
    rng = np.random.default_rng(os.getpid())
    queries = [f"{int.from_bytes(rng.bytes(32), 'big'):064x}" for _ in range(200)]
    start = time.perf_counter()
    for query in queries:
        bank_search(signal_type="pdq", values=[query], max_distance=31)
    elapsed = time.perf_counter() - start
    mapped, anon_after = memory(os.getpid(), args.index_dir or None)
    print(json.dumps({"mapped_pss_mb": mapped, "anon_growth_mb": anon_after - anon_before,
                      "lookup_ms": elapsed * 1000 / len(queries)}))
    sys.stdout.flush()
    sys.stdin.read()  # stay alive until the parent has measured every process together


def fill(size: int) -> None:
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from detection.models import BankEntry

    have = BankEntry.objects.filter(signal_type="pdq").count()
    if have >= size:
        return
    print(f"filling the bench database with {size - have} random PDQ hashes ...", flush=True)
    rng = np.random.default_rng(7)
    table = BankEntry._meta.db_table
    with connection.cursor() as wrapper:
        raw = wrapper.cursor
        done = 0
        while done < size - have:
            n = min(200_000, size - have - done)
            words = rng.integers(0, 2**63, size=(n, 4), dtype=np.int64)
            buffer = io.StringIO()
            for row in words:
                buffer.write(f"pdq\t{int(row[0]):016x}{int(row[1]):016x}{int(row[2]):016x}{int(row[3]):016x}\t"
                             f"\tActive\t\\N\tnow()\tnow()\n".replace("now()", "2026-11-23 00:00:00+00"))
            with raw.copy(f"COPY {table} (signal_type, value, variants, status, quality, first_seen, updated_at) "
                          f"FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            done += n


def run_processes(args: argparse.Namespace, index_dir: str) -> list[dict[str, float]]:
    command = [sys.executable, __file__, "--child", "--database-url", args.database_url, "--index-dir", index_dir]
    procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(args.processes)]
    reports = []
    for proc in procs:
        assert proc.stdout is not None
        reports.append(json.loads(proc.stdout.readline()))
    # Measured while all are alive: shared pages are split between them.
    for proc, report in zip(procs, reports, strict=True):
        mapped, _ = memory(proc.pid, index_dir or None)
        report["mapped_pss_mb"] = mapped
    for proc in procs:
        proc.communicate("")
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--index-dir", default=None)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    index_dir = args.index_dir or tempfile.mkdtemp(prefix="bank-index-")
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    f"CREATE DATABASE {args.database_url.rsplit('/', 1)[1]}"], capture_output=True, check=False)
    setup_django(args.database_url, index_dir)
    fill(args.size)
    from detection import bank
    from detection.index import PdqIndex

    print(f"load average {os.getloadavg()[0]:.2f}; cores {os.cpu_count()}")
    start = time.perf_counter()
    arrays = bank._snapshot_arrays("pdq")
    read_copy = time.perf_counter() - start
    start = time.perf_counter()
    bank._read_orm("pdq", PdqIndex)
    read_orm = time.perf_counter() - start
    del arrays
    result = bank.bank_index_build(signal_type="pdq")
    print(f"entries: {result['entries']:,}")
    print(f"read from PostgreSQL (binary COPY into arrays): {read_copy:.2f} s; through the ORM: {read_orm:.2f} s")
    print(f"bank_index_build (read + build + write the shared snapshot): {result['total_seconds']:.2f} s "
          f"(read {result['read_seconds']:.2f} s)")
    size_mb = sum(os.path.getsize(os.path.join(root, f))
                  for root, _, files in os.walk(index_dir) for f in files) / 2**20
    print(f"snapshot on disk: {size_mb:.0f} MB")
    from django.db import connection

    connection.close()
    for label, directory in (("shared snapshot (BANK_INDEX_DIR set)", index_dir),
                             ("private in-memory index per process (BANK_INDEX_DIR empty)", "")):
        reports = run_processes(args, directory)
        mapped = sum(r["mapped_pss_mb"] for r in reports)
        anon = sum(max(r["anon_growth_mb"], 0) for r in reports)
        print(f"{label}, {args.processes} processes:")
        for i, r in enumerate(reports):
            print(f"  process {i}: snapshot PSS {r['mapped_pss_mb']:.0f} MB, private growth "
                  f"{r['anon_growth_mb']:.0f} MB, {r['lookup_ms']:.2f} ms a lookup")
        print(f"  index memory across all {args.processes}: {mapped + anon:.0f} MB "
              f"(shared snapshot {mapped:.0f} MB + private {anon:.0f} MB)")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
