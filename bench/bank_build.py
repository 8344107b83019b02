"""The bank's index from PostgreSQL, on banks shaped as production builds them: build time and memory per host.

Run:  .venv/bin/python bench/bank_build.py --bank cases   [--images 1000000] [--processes 4] [--builds 3]
      .venv/bin/python bench/bank_build.py --bank imports [--size 10000000]  [--processes 4] [--builds 3]

- ``--bank cases``: --images case images, each entered as production enters a hashed image (``bank_add`` with
  ``variants``): its PDQ hash in ``value`` and its 7 other dihedral variants in ``variants``, so the index holds
  8 rows per image (1,000,000 images: 8,000,000 rows). Hashes from bench/banks.py (PDQ-style, every bit used).
- ``--bank imports``: --size imported hashes (uniformly random 256 bits), one index row each, as
  ``bank_import`` enters them.

Each bank has its own database (--database-url; default ``takedown_bench_cases`` / ``takedown_bench_imports`` on
127.0.0.1), migrated and filled by COPY if it holds fewer entries, and a temporary BANK_INDEX_DIR. Prints:
- the binary COPY reads (entries, then variants, then both as the build reads them: two connections sharing
  one exported snapshot, each reading half of the ids) and, with --orm, the same entries through the ORM;
- ``detection.bank.bank_index_build`` (read + build + write the shared snapshot) --builds times: every run and
  the median;
- for --processes separate Django processes that each open the bank and answer 200 lookups: each one's
  proportional set size (PSS) of the snapshot's mapped files and its private memory growth; their sum is what the
  index costs the host, however many processes share it; with --private, the same for processes that each
  build a private in-memory index (BANK_INDEX_DIR empty), the alternative;
- the load average before and after.
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

DEFAULT_DB = {"cases": "postgres://postgres@127.0.0.1:5432/takedown_bench_cases",
              "imports": "postgres://postgres@127.0.0.1:5432/takedown_bench_imports"}


def setup_django(database_url: str, index_dir: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["BANK_INDEX_DIR"] = index_dir
    os.environ["BANK_READY_SECONDS"] = "600"  # a process building a private index of millions waits for it
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


def fill(bank: str, count: int) -> None:
    """Fill the bench database up to ``count`` entries (case images or imported hashes) by COPY."""
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from banks import case_images, hex_rows, random_words

    call_command("migrate", verbosity=0)
    from detection.models import BankEntry

    have = BankEntry.objects.filter(signal_type="pdq").count()
    if have >= count:
        return
    print(f"filling the bench database with {count - have:,} {bank} entries ...", flush=True)
    rng = np.random.default_rng(7 + have)
    table = BankEntry._meta.db_table
    moment = "2026-11-23 00:00:00+00"
    with connection.cursor() as wrapper:
        raw = wrapper.cursor
        done = 0
        while done < count - have:
            n = min(100_000, count - have - done)
            buffer = io.StringIO()
            if bank == "cases":
                images = case_images(rng, n)
                values = hex_rows(images[:, 0])
                variants = hex_rows(images[:, 1:].reshape(-1, 4))
                for i, value in enumerate(values):
                    buffer.write(f"pdq\t{value}\t\\\\x{''.join(variants[7 * i: 7 * i + 7])}\tActive\t100\t{moment}\t"
                                 f"{moment}\n")
            else:
                for value in hex_rows(random_words(rng, n)):
                    buffer.write(f"pdq\t{value}\t\tActive\t\\N\t{moment}\t{moment}\n")
            with raw.copy(f"COPY {table} (signal_type, value, variants, status, quality, first_seen, updated_at) "
                          f"FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            done += n
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", choices=("cases", "imports"), default="cases")
    parser.add_argument("--images", type=int, default=1_000_000, help="case images (--bank cases)")
    parser.add_argument("--size", type=int, default=10_000_000, help="imported hashes (--bank imports)")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--orm", action="store_true", help="also time reading the entries through the ORM")
    parser.add_argument("--private", action="store_true",
                        help="also measure private in-memory indexes per process (memory-hungry)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--index-dir", default=None)
    parser.add_argument("--fill-only", action="store_true", help="fill the database and stop")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    args.database_url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DB[args.bank]
    index_dir = args.index_dir or tempfile.mkdtemp(prefix="bank-index-")
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    f"CREATE DATABASE {args.database_url.rsplit('/', 1)[1]}"], capture_output=True, check=False)
    setup_django(args.database_url, index_dir)
    fill(args.bank, args.images if args.bank == "cases" else args.size)
    if args.fill_only:
        return
    import statistics

    from detection import bank
    from detection.index import PdqIndex

    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; uptime: {uptime()}; cores {os.cpu_count()}")
    start = time.perf_counter()
    entries = bank._read_copy("pdq", 4)
    read_entries = time.perf_counter() - start
    start = time.perf_counter()
    variant_ids, _ = bank._read_variants_copy()
    read_variants = time.perf_counter() - start
    print(f"entries: {len(entries[0]):,}; variant rows: {len(variant_ids):,}; index rows: "
          f"{len(entries[0]) + len(variant_ids):,}")
    print(f"binary COPY into arrays, one after the other: entries {read_entries:.2f} s, variants "
          f"{read_variants:.2f} s")
    del entries, variant_ids
    start = time.perf_counter()
    bank._read_in_parallel("pdq")
    print(f"the same over two connections sharing one snapshot, each reading half of the ids (what "
          f"bank_index_build does): {time.perf_counter() - start:.2f} s")
    if args.orm:
        start = time.perf_counter()
        bank._read_orm("pdq", PdqIndex)
        print(f"the entries through the ORM instead: {time.perf_counter() - start:.2f} s")
    runs = []
    for _ in range(args.builds):
        for name in os.listdir(index_dir):  # a fresh build each time (bank_index_build skips one under 1 s old)
            subprocess.run(["rm", "-rf", os.path.join(index_dir, name)], check=True)
        result = bank.bank_index_build(signal_type="pdq")
        runs.append(result)
        print(f"  bank_index_build: {result['total_seconds']:.2f} s (read {result['read_seconds']:.2f} s), "
              f"{result['hashes']:,} index rows", flush=True)
    totals = [r["total_seconds"] for r in runs]
    print(f"bank_index_build (read + build + write the shared snapshot), median of {len(runs)}: "
          f"{statistics.median(totals):.2f} s; runs: {', '.join(f'{t:.2f}' for t in totals)}")
    size_mb = sum(os.path.getsize(os.path.join(root, f))
                  for root, _, files in os.walk(index_dir) for f in files) / 2**20
    print(f"snapshot on disk: {size_mb:.0f} MB")
    from django.db import connection

    connection.close()
    setups = [("shared snapshot (BANK_INDEX_DIR set)", index_dir)]
    if args.private:
        setups.append(("private in-memory index per process (BANK_INDEX_DIR empty)", ""))
    for label, directory in setups:
        reports = run_processes(args, directory)
        mapped = sum(r["mapped_pss_mb"] for r in reports)
        anon = sum(max(r["anon_growth_mb"], 0) for r in reports)
        print(f"{label}, {args.processes} processes:")
        for i, r in enumerate(reports):
            print(f"  process {i}: snapshot PSS {r['mapped_pss_mb']:.0f} MB, private growth "
                  f"{r['anon_growth_mb']:.0f} MB, {r['lookup_ms']:.2f} ms a lookup")
        print(f"  index memory across all {args.processes}: {mapped + anon:.0f} MB "
              f"(shared snapshot {mapped:.0f} MB + private {anon:.0f} MB)")
    print(f"uptime after: {uptime()}")
    if not args.index_dir:  # the temporary snapshots (up to a GB) go; a directory named by the caller stays
        subprocess.run(["rm", "-rf", index_dir], check=False)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    main()
