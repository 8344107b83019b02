"""Load and soak: the production stack on this machine under a locust mix of victims and partners.

    .venv/bin/python bench/load_soak.py                    # 60 s of load
    .venv/bin/python bench/load_soak.py --duration 600     # the 10-minute soak (memory sampled every 30 s)

Starts, with production settings (DEBUG off, secrets from the environment, SMTP replaced by a dummy backend):
- PostgreSQL database ``takedown_loadsoak``, recreated each run as a copy of ``takedown_bench`` (1,000,000 PDQ
  hashes, filled by bench/bank_build.py), migrated;
- the bank's snapshot under a temporary BANK_INDEX_DIR (``manage.py bank_index_build``), static files collected
  as at deploy (kept in /tmp/takedown-load-static-* between runs while the static sources are unchanged);
- gunicorn serving ``takedown.wsgi`` (``--preload``, 4 sync workers, no request-count recycling, so a leak would
  show), one Celery worker (queue ``default``, concurrency 2) and Celery beat, on Redis (broker: database 5,
  flushed at start; cache and rate limits: database 15);
then runs locust headless in its own process (bench/locustfile.py: victims reporting with images then signing
in with their reference and secret and viewing their status page; partners looking PDQ hashes up) and prints:
- per request kind: requests, failures, throughput, p50/p95/p99 (locust's statistics), and the total errors;
- that nothing was lost: every report locust saw accepted is a case in the database, processed by the worker
  (hashed, entered in the bank, queued for review) once the queue drains;
- RSS and PSS of the web processes (gunicorn master + workers), the worker (main + pool) and beat, every
  --sample-every seconds, and whether memory stayed flat: the lowest of the last three samples against the
  lowest of the first three taken after the warm-up (--warmup seconds), within --flat-tolerance (a fraction);
- error lines in the servers' logs, and the machine's load average before, during and after.

The stack is reached as behind a TLS-terminating proxy (SECURE_PROXY_SSL_HEADER and TRUST_X_FORWARDED_FOR on:
locust sends X-Forwarded-Proto and a per-victim X-Forwarded-For), so the production cookie, CSRF and rate-limit
settings apply unchanged. Exits 1 if any request failed, any report was lost, or memory grew.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
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
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/takedown_loadsoak"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def static_root() -> Path:
    """Where collected static files are kept between runs: collecting and compressing them takes minutes on
    this machine, so a directory is reused while the project's static sources are unchanged."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/**/static/**/*")):
        if path.is_file() and ".venv" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return Path(tempfile.gettempdir()) / f"takedown-load-static-{digest.hexdigest()[:16]}"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def database_fresh(url: str, template: str) -> None:
    """Drop and recreate the database as a copy of the template (retried: a copy needs the template idle)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    subprocess.run(["dropdb", *conn, "--if-exists", "--force", name], check=True)
    for attempt in range(10):
        made = subprocess.run(["createdb", *conn, "-T", template, name], capture_output=True, text=True)
        if made.returncode == 0:
            return
        if "being accessed by other users" not in made.stderr or attempt == 9:
            raise SystemExit(f"createdb failed: {made.stderr.strip()}")
        time.sleep(3)


def sql(url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(statement, params).fetchall())


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    out = [pid]
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        out.extend(tree(int(child)))
    return out


def memory_mb(pids: list[int]) -> tuple[float, float, float]:
    """(RSS, PSS, anonymous) in MB summed over processes. PSS charges each shared page (code after fork, the
    bank's memory-mapped snapshot) to its sharers by their share; anonymous memory is the heap, where a leak
    would show."""
    totals = {"Rss:": 0, "Pss:": 0, "Anonymous:": 0}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                field = line.split(maxsplit=1)[0] if line else ""
                if field in totals:
                    totals[field] += int(line.split()[1])
        except OSError:
            pass
    return round(totals["Rss:"] / 1024, 1), round(totals["Pss:"] / 1024, 1), round(totals["Anonymous:"] / 1024, 1)


def percentile_row(row: dict[str, str]) -> dict[str, object]:
    def num(key: str) -> float:
        value = row.get(key, "") or "nan"
        return float(value) if value != "N/A" else float("nan")

    return {"name": row["Name"], "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "rps": round(num("Requests/s"), 2), "p50_ms": num("50%"), "p95_ms": num("95%"), "p99_ms": num("99%"),
            "max_ms": num("100%")}


KINDS = {
    "submission": ["report form", "submit report", "receipt page"],
    "status check": ["sign-in form", "sign-in", "status page"],
    "partner lookup": ["lookup"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (600: the soak)")
    parser.add_argument("--victims", type=int, default=4, help="simulated victims, each journey after another")
    parser.add_argument("--partners", type=int, default=5, help="partner clients")
    parser.add_argument("--lookup-rps", type=float, default=10, help="lookups a second per partner client")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--web-threads", type=int, default=1,
                        help="threads per web worker (more than 1: gunicorn's gthread workers)")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--sample-every", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=30, help="seconds before the first memory sample compared")
    parser.add_argument("--flat-tolerance", type=float, default=0.05)
    parser.add_argument("--database", default=os.environ.get("LOAD_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--template", default="takedown_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, locust CSV)")
    args = parser.parse_args()

    print(f"load average before: {load()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="load-soak-"))
    for name in ("storage", "bank-index"):
        (work / name).mkdir()
    static = static_root()
    env = dict(os.environ)
    for name in ("DEBUG", "TAKEDOWN_TESTING", "BANK_REFRESH_SECONDS", "REDIS_URL"):
        env.pop(name, None)
    env.update({
        "DJANGO_SETTINGS_MODULE": "takedown.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH", "")])]),
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.broker,
        "REDIS_URL": args.cache,
        "CACHE_KEY_PREFIX": f"load-soak-{os.getpid()}",
        "DJANGO_SECRET_KEY": "load-soak-" + "k" * 50,
        "EVIDENCE_KEYS": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER": "true",
        "TRUST_X_FORWARDED_FOR": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(work),
        "STORAGE_ROOT": str(work / "storage"),
        "STATIC_ROOT": str(static),
        "BANK_INDEX_DIR": str(work / "bank-index"),
    })
    manage = [PY, str(ROOT / "manage.py")]

    def run(*command: str) -> str:
        t = time.perf_counter()
        out = subprocess.run(list(command), env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        print(f"  {' '.join(command[1:3])}: {time.perf_counter() - t:.0f} s", flush=True)
        return out

    started = time.perf_counter()
    database_fresh(args.database, args.template)
    run(*manage, "migrate", "--noinput", "-v0")
    # A copy starts without planner statistics (and this server runs no autovacuum): without them the bank's
    # refresh query scans every row every 2 s in every process. Operators ANALYZE after a restore; so do we.
    import psycopg

    with psycopg.connect(args.database, autocommit=True) as conn:
        conn.execute("ANALYZE")
    if not (static / "staticfiles.json").exists():
        run(*manage, "collectstatic", "--noinput", "-v0")
    print("snapshot:", run(*manage, "bank_index_build").strip().replace("\n", "; "), flush=True)
    import redis

    redis.Redis.from_url(args.broker).flushdb()
    total_rps = args.partners * args.lookup_rps
    created = json.loads(run(*manage, "partner_create", "Load Platform", "--scopes", "lookup", "--json",
                             "--rate-limit", str(max(6000, int(total_rps * 120)))).strip().splitlines()[-1])
    sample = work / "bank-sample.txt"
    low, high = sql(args.database, "SELECT min(id), max(id) FROM detection_bankentry")[0]
    step = max(1, (int(high) - int(low)) // 500)
    rows = sql(args.database, "SELECT value FROM detection_bankentry WHERE signal_type = 'pdq' AND status = 'Active' "
                              "AND (id - %s) %% %s = 0 LIMIT 500", (low, step))
    sample.write_text("".join(f"{value}\n" for (value,) in rows))
    bank_size = sql(args.database, "SELECT count(*) FROM detection_bankentry WHERE signal_type = 'pdq'")[0][0]
    print(f"stack ready in {time.perf_counter() - started:.0f} s: bank of {bank_size} PDQ hashes", flush=True)

    port = free_port()
    logs = {name: open(work / f"{name}.log", "w") for name in ("web", "worker", "beat", "locust")}
    procs: dict[str, subprocess.Popen[bytes]] = {
        "web": subprocess.Popen([str(BIN / "gunicorn"), "takedown.wsgi:application", "--preload",
                                 "-w", str(args.web_workers), "--threads", str(args.web_threads),
                                 "-b", f"127.0.0.1:{port}", "--timeout", "60",
                                 "--backlog", "2048", "--log-level", "warning"],
                                env=env, cwd=ROOT, stdout=logs["web"], stderr=subprocess.STDOUT),
        "worker": subprocess.Popen([str(BIN / "celery"), "-A", "takedown", "worker", "-Q", "default",
                                    "--concurrency", str(args.worker_concurrency), "-l", "WARNING"],
                                   env=env, cwd=ROOT, stdout=logs["worker"], stderr=subprocess.STDOUT),
        "beat": subprocess.Popen([str(BIN / "celery"), "-A", "takedown", "beat", "-l", "WARNING",
                                  "--schedule", str(work / "beat-schedule")],
                                 env=env, cwd=ROOT, stdout=logs["beat"], stderr=subprocess.STDOUT),
    }
    base = f"http://127.0.0.1:{port}"
    failed = False
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(urllib.request.Request(
                        base + "/healthz", headers={"X-Forwarded-Proto": "https"}), timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(f"the stack did not become healthy; logs in {work}")

        samples: list[dict[str, object]] = []
        stop = threading.Event()
        t0 = time.perf_counter()

        def sampler() -> None:
            stopping = False
            while True:
                row: dict[str, object] = {"t": round(time.perf_counter() - t0), "load": load()[0]}
                for name, proc in procs.items():
                    row[name] = memory_mb(tree(proc.pid))
                samples.append(row)
                if stopping:
                    return
                stopping = stop.wait(args.sample_every)  # one last sample when the load stops

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        record = work / "references.txt"
        record.touch()
        locust_env = {**env, "LOAD_PARTNER_KEY": created["api_key"], "LOAD_BANK_SAMPLE": str(sample),
                      "LOAD_LOOKUP_RPS": str(args.lookup_rps), "LOAD_RECORD": str(record),
                      "LOAD_VICTIMS": str(args.victims), "LOAD_PARTNERS": str(args.partners)}
        users = args.victims + args.partners
        locust = subprocess.run(
            [str(BIN / "locust"), "-f", str(ROOT / "bench/locustfile.py"), "--headless", "-u", str(users),
             "-r", str(users), "-t", f"{args.duration}s", "--host", base, "--csv", str(work / "locust"),
             "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "30"],
            env=locust_env, cwd=ROOT, stdout=logs["locust"], stderr=subprocess.STDOUT)
        load_during = load()
        stop.set()
        thread.join()

        with open(work / "locust_stats.csv") as handle:
            stats = {row["Name"]: percentile_row(row) for row in csv.DictReader(handle)}
        print(f"\nlocust ({users} users: {args.victims} victims, {args.partners} partners at {args.lookup_rps:g} "
              f"lookups/s each) for {args.duration} s, exit {locust.returncode}; load average at the end "
              f"{load_during}")
        print(f"{'request':<16}{'requests':>9}{'failures':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
              f"{'max ms':>8}")
        for name, row in stats.items():
            print(f"{name:<16}{row['requests']:>9}{row['failures']:>9}{row['rps']:>8}{row['p50_ms']:>8g}"
                  f"{row['p95_ms']:>8g}{row['p99_ms']:>8g}{row['max_ms']:>8g}")
        errors = stats.get("Aggregated", {}).get("failures", 0)
        kinds = {kind: {"requests": sum(stats[n]["requests"] for n in names if n in stats),
                        "failures": sum(stats[n]["failures"] for n in names if n in stats)}
                 for kind, names in KINDS.items()}
        journeys = stats.get("submit report", {}).get("requests", 0)
        print(f"per kind: {json.dumps(kinds)}; journeys completed: see 'submit report'; errors: {errors}")
        failures_file = work / "locust_failures.csv"
        if errors and failures_file.exists():
            print(failures_file.read_text()[:3000])

        # Nothing lost: every accepted report is a case, and the worker processed it once the queue drained.
        references = [line.strip() for line in record.read_text().splitlines() if line.strip()]
        drained_at = None
        processed = found = 0
        for _ in range(240):
            found, processed = sql(args.database,
                                   "SELECT count(*), count(*) FILTER (WHERE status <> 'submitted') FROM cases_case "
                                   "WHERE reference = ANY(%s)", (references,))[0]
            if processed == len(references):
                drained_at = round(time.perf_counter() - t0 - args.duration, 1)
                break
            time.sleep(1)
        images = sql(args.database,
                     "SELECT count(*), count(*) FILTER (WHERE i.state = 'hashed') FROM cases_caseimage i "
                     "JOIN cases_case c ON c.id = i.case_id WHERE c.reference = ANY(%s)", (references,))[0]
        banked = sql(args.database,
                     "SELECT count(DISTINCT entry_id) FROM detection_banksource WHERE kind = 'case'")[0][0]
        lost = len(references) - int(found) + len(references) - int(processed)
        print(f"reports accepted {len(references)} (submit report requests {journeys}); cases in the database "
              f"{found}; processed by the worker {processed}"
              + (f" (queue drained {drained_at} s after the load stopped)" if drained_at is not None else "")
              + f"; images {images[0]}, hashed {images[1]}; bank entries from cases {banked}")

        # Memory.
        print(f"\nmemory every {args.sample_every:g} s (RSS / PSS / anonymous, MB):")
        print(f"{'t s':>5}{'load':>6}" + "".join(f"{name:>22}" for name in procs))
        for row in samples:
            print(f"{row['t']:>5}{row['load']:>6}" + "".join(
                f"{row[name][0]:>8.0f} /{row[name][1]:>5.0f} /{row[name][2]:>5.0f}" for name in procs))
        compared = [row for row in samples if float(row["t"]) >= args.warmup]
        flat = True
        if len(compared) >= 2:
            # Each end is the lowest of up to three samples: a worker caught mid-sign-in holds argon2id's 64 MiB
            # for that one request, which would make a single sample jump; a leak raises the floor itself.
            span = max(1, min(3, len(compared) // 2))
            head, tail = compared[:span], compared[-span:]
            for name in procs:
                parts = []
                for column, label in ((1, "PSS"), (2, "anonymous")):
                    before = min(row[name][column] for row in head)
                    after = min(row[name][column] for row in tail)
                    growth = (after - before) / before if before else 0.0
                    flat = flat and growth <= args.flat_tolerance
                    parts.append(f"{label} {before:.0f} -> {after:.0f} MB ({growth:+.1%})")
                print(f"{name}: lowest of the samples at {head[0]['t']}-{head[-1]['t']} s -> at "
                      f"{tail[0]['t']}-{tail[-1]['t']} s: {'; '.join(parts)}")
            print(f"memory {'stayed flat' if flat else 'grew'} (tolerance {args.flat_tolerance:.0%})")
        else:
            print("too short to compare memory samples (need two after the warm-up)")
        failed = bool(errors) or lost > 0 or not flat or locust.returncode not in (0, 1)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for handle in logs.values():
            handle.close()
        problems = {}
        for name in ("web", "worker", "beat"):
            text = (work / f"{name}.log").read_text(errors="replace")
            problems[name] = sum(1 for line in text.splitlines() if "ERROR" in line or "Traceback" in line)
        print(f"error lines in the logs: {problems}; load average after: {load()}")
        if args.keep or failed or any(problems.values()):
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
