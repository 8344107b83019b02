"""Partner API benchmark: gunicorn serving the hash bank, load from separate processes on loopback.

    .venv/bin/python bench/partner_api.py            # the real bank: PostgreSQL with 1,000,000 PDQ hashes
    .venv/bin/python bench/partner_api.py --bank synthetic --size 100000 --duration 10   # no PostgreSQL needed

By default (``--bank real``) the server is the production stack: ``takedown.wsgi`` with production settings
(DEBUG off, secrets from the environment), DATABASE_URL naming a PostgreSQL database holding the bank (default
``takedown_loadbank``, created as a copy of ``takedown_bench``, which bench/bank_build.py fills with 1,000,000
random PDQ hashes, when it does not exist), BANK_INDEX_DIR a temporary directory whose snapshot
``manage.py bank_index_build`` writes before gunicorn starts, and lookups served by
``takedown.partners.bank_detection`` -> ``detection.bank.bank_search`` (the shared memory-mapped snapshot plus
the per-process delta, refreshed from the database every BANK_REFRESH_SECONDS). ``--bank synthetic`` serves
bench/partner_bank.py instead (random hashes in an in-memory index, SQLite for the keys).

Prints p50/p95/p99 latency and errors at fixed rates (open loop, bench/loadgen.py), the maximum throughput
(wrk if installed, else bench/loadgen.py in closed loop), batch lookup throughput in hashes/s, the memory of
the server, the machine's load average before and after, and (real bank) how many database transactions the
server ran during each fixed-rate run: the bank's refresh and the key cache, not the lookups, are what query
the database. Queries: half near-duplicates of banked hashes (0-31 bits flipped), half random. Rate limits are
counted in Redis as in production (REDIS_URL, default redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def to_hex(row: np.ndarray) -> str:
    return "".join(f"{int(w):016x}" for w in row)


def flip(row: np.ndarray, bits: int, rnd: random.Random) -> str:
    return flip_hex(to_hex(row), bits, rnd)


def flip_hex(value: str, bits: int, rnd: random.Random) -> str:
    number = int(value, 16)
    for bit in rnd.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/takedown_loadbank"


def database_ready(url: str, template: str) -> None:
    """The bank's database exists (created as a copy of ``template``, createdb -T, when it does not) and is
    analyzed."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not exists:
        subprocess.run(["createdb", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
                        "-U", parts.username or "postgres", "-T", template, name], check=True)
    # A copy (like a restore) starts without planner statistics, and this server runs no autovacuum: without
    # them the bank's refresh query (updated_at >= watermark) is planned as a scan of all 1,000,000 rows
    # (~0.7 s every 2 s in every process) instead of an index scan (~1 ms). Operators ANALYZE after a restore.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE detection_bankentry")
        conn.execute("ANALYZE detection_banksource")


def bank_sample(url: str, count: int, rnd: random.Random) -> tuple[int, list[tuple[int, str]]]:
    """(how many live PDQ entries the bank holds, ``count`` of them at random as (entry id, value))."""
    import psycopg

    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT count(*) FROM detection_bankentry WHERE signal_type = 'pdq' "
                            "AND status = 'Active'").fetchone()[0]
        low, high = conn.execute("SELECT min(id), max(id) FROM detection_bankentry").fetchone()
        ids = rnd.sample(range(low, high + 1), min(count * 2, high - low + 1))
        rows = conn.execute("SELECT id, value FROM detection_bankentry WHERE id = ANY(%s) AND signal_type = 'pdq' "
                            "AND status = 'Active' ORDER BY id", (ids,)).fetchall()
    return int(size), [(int(i), v) for i, v in rows[:count]]


def db_transactions(url: str) -> int:
    """Transactions the database has run (committed and rolled back), less the one that asks."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", default="real", choices=["real", "synthetic"])
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
                        help="real bank: the PostgreSQL database that holds it")
    parser.add_argument("--template", default="takedown_bench",
                        help="real bank: the database copied when --database does not exist")
    parser.add_argument("--size", type=int, default=1_000_000, help="synthetic bank: how many random hashes")
    parser.add_argument("--rates", default="50,100,200,400")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--index-dir", default="",
                        help="BANK_INDEX_DIR for the server (default: a temporary directory); e.g. a tmpfs mounted "
                             "with huge=within_size, as docker/compose.yml sets up")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--index", default="mih", choices=["mih", "numpy"], help="synthetic bank's index")
    parser.add_argument("--batch-seconds", type=float, default=15)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()
    real = args.bank == "real"

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="partner-bench-"))
    (work / "static").mkdir()  # STATIC_ROOT under VAR_DIR: nothing static is asked for here
    rng = np.random.default_rng(7)
    rnd = random.Random(7)
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH", "")])]),
        "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "EVIDENCE_KEYS": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "REDIS_URL": args.redis,
        "CACHE_KEY_PREFIX": f"partner-bench-{os.getpid()}",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(work),
    })
    for name in ("DEBUG", "TAKEDOWN_TESTING", "CELERY_BROKER_URL", "BANK_REFRESH_SECONDS"):
        env.pop(name, None)
    manage = [PY, str(ROOT / "manage.py")]
    results: dict[str, object] = {"bank": args.bank, "workers": args.workers, "threads": args.threads,
                                  "nproc": os.cpu_count(), "load_before": load_before}
    if real:
        database_ready(args.database, args.template)
        size, sample = bank_sample(args.database, 500, rnd)
        env.update({"DJANGO_SETTINGS_MODULE": "takedown.settings", "DATABASE_URL": args.database,
                    "BANK_INDEX_DIR": args.index_dir or str(work / "bank-index")})
        app = "takedown.wsgi:application"
        queries = [flip_hex(value, rnd.randint(0, 31), rnd) for _, value in sample]
        exact = sample[:20]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        built = subprocess.run([*manage, "bank_index_build", "--signal-type", "pdq"], env=env, check=True,
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        print("snapshot:", built, flush=True)
        results["snapshot"] = built
    else:
        size = args.size
        words = rng.integers(0, np.iinfo(np.uint64).max, size=(size, 4), dtype=np.uint64, endpoint=True)
        np.save(work / "bank.npy", words)
        picks = [(int(i), rnd.randint(0, 31)) for i in rng.integers(0, size, size=500)]
        queries = [flip(words[i], d, rnd) for i, d in picks]
        exact = [(i + 1, to_hex(words[i])) for i, _ in picks[:20]]
        env.update({"DJANGO_SETTINGS_MODULE": "bench.settings_partner_api",
                    "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
                    "PARTNER_BENCH_BANK": str(work / "bank.npy"), "PARTNER_BENCH_INDEX": args.index})
        app = "bench.wsgi_partner_api:application"
        results["index"] = (os.environ.get("PARTNER_BENCH_INDEX_MODULE", "detection.index")
                            if args.index == "mih" else "numpy")
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    results["size"] = size
    queries += [f"{rnd.getrandbits(256):064x}" for _ in range(500)]
    rnd.shuffle(queries)
    paths = work / "paths.txt"
    paths.write_text("".join(f"/api/v1/lookup?signal_type=pdq&hash={q}\n" for q in queries))

    created = subprocess.run([*manage, "partner_create", f"Bench Platform {os.getpid()}", "--json",
                              "--rate-limit", "100000000"],
                             env=env, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    key = json.loads(created.strip().splitlines()[-1])["api_key"]

    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), app, "--preload",
         "-w", str(args.workers), "--threads", str(args.threads), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "--backlog", "2048"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        def get(path: str) -> dict:
            req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
            with urllib.request.urlopen(req, timeout=10) as response:
                return json.loads(response.read())

        for _ in range(600):
            try:
                get("/api/v1/me")
                break
            except OSError:
                time.sleep(0.5)
        results["startup_s"] = round(time.perf_counter() - started, 1)
        # The answer is right: banked hashes come back as their own entry at distance 0.
        for entry_id, value in exact:
            got = get(f"/api/v1/lookup?signal_type=pdq&hash={value}&max_distance=0")
            assert got["matches"] and got["matches"][0]["entry_id"] == entry_id, got
        server_pids = [server.pid, *children(server.pid)]
        loadgen = [PY, str(ROOT / "bench/loadgen.py"), "--url", base, "--paths", str(paths), "--header",
                   f"Authorization: Bearer {key}"]
        # Warm every worker (key cache, connections, the snapshot's pages).
        subprocess.run([*loadgen, "--rate", "100", "--duration", "3"], check=True, capture_output=True)
        fixed = []
        for rate in [float(r) for r in args.rates.split(",")]:
            xacts = db_transactions(args.database) if real else 0
            out = subprocess.run([*loadgen, "--rate", str(rate), "--duration", str(args.duration)],
                                 check=True, capture_output=True, text=True).stdout
            fixed.append(json.loads(out))
            if real:
                time.sleep(2.5)  # backends report their counters within a second of going idle
                fixed[-1]["db_xacts"] = db_transactions(args.database) - xacts - 1
                fixed[-1]["db_xacts_per_lookup"] = round(fixed[-1]["db_xacts"] / max(1, fixed[-1]["ok"]), 4)
            fixed[-1]["load"] = [round(x, 2) for x in os.getloadavg()]
            print(fixed[-1], flush=True)
        results["fixed"] = fixed
        wrk = shutil.which("wrk")
        if wrk:
            out = subprocess.run(
                [wrk, "-t2", "-c32", f"-d{int(args.duration)}s", "--latency", "-s", str(ROOT / "bench/wrk_paths.lua"),
                 base], env={**env, "WRK_PATHS": str(paths), "WRK_KEY": key}, capture_output=True, text=True).stdout
            rps = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec"))
            non2xx = [line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
            latency = {line.split()[0]: line.split()[1] for line in out.splitlines()
                       if line.strip().startswith(("50%", "99%"))}
            results["max"] = {"tool": "wrk -t2 -c32", "rps": rps, "errors": non2xx, "latency": latency}
        else:
            out = subprocess.run([*loadgen, "--closed", "--connections", "32", "--rate", "0", "--duration",
                                  str(args.duration)], check=True, capture_output=True, text=True).stdout
            results["max"] = {"tool": "loadgen --closed, 32 connections", **json.loads(out)}
        results["max"]["load"] = [round(x, 2) for x in os.getloadavg()]  # type: ignore[index]
        print(results["max"], flush=True)
        results["pss_mb"] = pss_mb(server_pids)
        # Batch lookups: 1,000 hashes a call, two clients at once.
        body = json.dumps({"signal_type": "pdq", "hashes": queries[:1000]}).encode()
        done = [0]
        errors = [0]
        timings: list[float] = []
        stop = time.perf_counter() + args.batch_seconds

        def batch_client() -> None:
            while time.perf_counter() < stop:
                req = urllib.request.Request(base + "/api/v1/lookup/batch", data=body, method="POST", headers={
                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(req, timeout=60) as response:
                        reply = json.loads(response.read())
                except OSError:
                    errors[0] += 1
                    continue
                timings.append(time.perf_counter() - t0)
                done[0] += len(reply["results"])

        t0 = time.perf_counter()
        threads = [threading.Thread(target=batch_client) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        timings.sort()
        results["batch"] = {"hashes_per_s": round(done[0] / elapsed), "calls": len(timings), "errors": errors[0],
                            "p50_ms": round(timings[len(timings) // 2] * 1000, 1) if timings else None,
                            "load": [round(x, 2) for x in os.getloadavg()]}
        print(results["batch"], flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        results["load_after"] = os.getloadavg()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
