"""Partner API benchmark: gunicorn serving a bank of N PDQ hashes, load from separate processes on loopback.

    .venv/bin/python bench/partner_api.py                  # 1,000,000 hashes, 4 workers, 50/100/200/400 rps, max, batch
    .venv/bin/python bench/partner_api.py --size 100000 --duration 10   # quicker

Prints p50/p95/p99 latency and errors at fixed rates (open loop, bench/loadgen.py), the maximum throughput
(wrk, closed loop), batch lookup throughput in hashes/s, the memory of the server, and the machine's load
average before and after. Queries: half near-duplicates of banked hashes (0-31 bits flipped), half random.
Rate limits are counted in Redis as in production (REDIS_URL, default redis://127.0.0.1:6379/14).
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
    number = int(to_hex(row), 16)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rates", default="50,100,200,400")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--index", default="mih", choices=["mih", "numpy"])
    parser.add_argument("--batch-seconds", type=float, default=15)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="partner-bench-"))
    rng = np.random.default_rng(7)
    words = rng.integers(0, np.iinfo(np.uint64).max, size=(args.size, 4), dtype=np.uint64, endpoint=True)
    np.save(work / "bank.npy", words)
    rnd = random.Random(7)
    planted = [(int(i), rnd.randint(0, 31)) for i in rng.integers(0, args.size, size=500)]
    queries = [flip(words[i], d, rnd) for i, d in planted] + [f"{rnd.getrandbits(256):064x}" for _ in range(500)]
    rnd.shuffle(queries)
    paths = work / "paths.txt"
    paths.write_text("".join(f"/api/v1/lookup?signal_type=pdq&hash={q}\n" for q in queries))

    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.settings_partner_api",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH", "")])]),
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "EVIDENCE_KEYS": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "REDIS_URL": args.redis,
        "CACHE_KEY_PREFIX": f"partner-bench-{os.getpid()}",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(work),
        "PARTNER_BENCH_BANK": str(work / "bank.npy"),
        "PARTNER_BENCH_INDEX": args.index,
    })
    env.pop("DEBUG", None)
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    created = subprocess.run([*manage, "partner_create", "Bench Platform", "--json", "--rate-limit", "100000000"],
                             env=env, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    key = json.loads(created.strip().splitlines()[-1])["api_key"]

    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "bench.wsgi_partner_api:application", "--preload",
         "-w", str(args.workers), "--threads", str(args.threads), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "--backlog", "2048"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {"size": args.size, "workers": args.workers, "threads": args.threads,
                                  "index": os.environ.get("PARTNER_BENCH_INDEX_MODULE", "detection.index")
                                  if args.index == "mih" else "numpy", "nproc": os.cpu_count(),
                                  "load_before": load_before}
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
        # The answer is right: planted near-duplicates come back at their distance.
        for i, d in planted[:20]:
            got = get(f"/api/v1/lookup?signal_type=pdq&hash={flip(words[i], 0, rnd)}&max_distance=0")
            assert got["matches"] and got["matches"][0]["entry_id"] == i + 1, got
        server_pids = [server.pid, *children(server.pid)]
        # Warm every worker (key cache, connections).
        subprocess.run([PY, str(ROOT / "bench/loadgen.py"), "--url", base, "--paths", str(paths), "--header",
                        f"Authorization: Bearer {key}", "--rate", "100", "--duration", "3"],
                       check=True, capture_output=True)
        fixed = []
        for rate in [float(r) for r in args.rates.split(",")]:
            out = subprocess.run(
                [PY, str(ROOT / "bench/loadgen.py"), "--url", base, "--paths", str(paths), "--header",
                 f"Authorization: Bearer {key}", "--rate", str(rate), "--duration", str(args.duration)],
                check=True, capture_output=True, text=True).stdout
            fixed.append(json.loads(out))
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
            results["max"] = {"rps": rps, "errors": non2xx, "latency": latency}
            print(results["max"], flush=True)
        results["pss_mb"] = pss_mb(server_pids)
        # Batch lookups: 1,000 hashes a call, two clients at once.
        batch_queries = queries * 1
        body = json.dumps({"signal_type": "pdq", "hashes": batch_queries[:1000]}).encode()
        done = [0]
        timings: list[float] = []
        stop = time.perf_counter() + args.batch_seconds

        def batch_client() -> None:
            while time.perf_counter() < stop:
                req = urllib.request.Request(base + "/api/v1/lookup/batch", data=body, method="POST", headers={
                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                t0 = time.perf_counter()
                with urllib.request.urlopen(req, timeout=60) as response:
                    reply = json.loads(response.read())
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
        results["batch"] = {"hashes_per_s": round(done[0] / elapsed), "calls": len(timings),
                            "p50_ms": round(timings[len(timings) // 2] * 1000, 1)}
        print(results["batch"], flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        results["load_after"] = os.getloadavg()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
