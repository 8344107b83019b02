"""Single PDQ lookups served over HTTP, ours beside Meta's HMA: the same bank, the same queries, the same machine,
open-loop load at rising rates up to saturation, the two servers taking turns.

    .venv/bin/python bench/lookup_side_by_side.py --hma /work/hma [--images 125000] [--rates 50,100,200,...]

--hma names a folder OUTSIDE this project holding the public repository facebook/ThreatExchange's folders
``hasher-matcher-actioner`` and ``python-threatexchange`` (at a pinned commit; a file COMMIT in it records which)
and a virtual environment ``venv`` where both are installed (``pip install ./python-threatexchange
'./hasher-matcher-actioner[prod]'``). Nothing of HMA is part of this project.

The bank: --images case images (bench/banks.py), each with its 8 dihedral PDQ hashes, so 8 x --images hashes.
- Ours: PostgreSQL database --ours-db, one bank entry per image with its 7 other variants (as ``bank_add`` enters
  a hashed image), the shared snapshot built by ``manage.py bank_index_build``, ``takedown.wsgi`` under gunicorn
  with production settings; requests to our HMA-compatible ``GET /m/lookup`` with an API key.
- HMA: served as its README deploys it: its own PostgreSQL database --hma-db migrated by its
  ``flask db upgrade``, one bank holding one bank content item per hash (HMA stores one PDQ signal per content
  item, so each variant is its own item: the same 8 x --images hashes), its index built by its ``flask
  build_indices``, ``gunicorn "OpenMediaMatch.app:create_app()"`` with a matcher config (PRODUCTION, ROLE_MATCHER,
  TASK_INDEX_CACHE); requests to its ``GET /m/lookup``.
Both servers run --workers sync workers. Before loading, both must find the same images for --check queries.

Load: bench/loadgen.py, open loop (latency from each request's scheduled send time), --duration seconds per
rate. In each of --rounds rounds the rates rise in turn for each server, ours and HMA alternating (the order
swapped every round); a server stops rising in a round once it saturates: fewer than 95% of the offered
requests answered within the run, any error, or p99 over 1 s. Its saturation point in that round is the last rate
it sustained. Every run is printed as a JSON line, then the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from banks import VARIANTS, case_images, hex_rows
from partner_api import children, flip_hex, free_port, pss_mb

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
MOMENT = "2026-11-23 00:00:00+00"
_started: list[subprocess.Popen[bytes]] = []  # every server, stopped at the end whatever happened


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def database_fresh(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def copy_rows(url: str, statement: str, lines: list[str]) -> None:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for start in range(0, len(lines), 50_000):
                copy.write("".join(lines[start:start + 50_000]))
        conn.commit()
        cursor.execute("SELECT 1")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def wait_http(url: str, headers: dict[str, str], seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def ours_start(args: argparse.Namespace, work: Path, images: np.ndarray) -> tuple[subprocess.Popen[bytes], str,
                                                                                   dict[str, str], dict[str, str]]:
    database_fresh(args.ours_db)
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "takedown.settings", "DATABASE_URL": args.ours_db,
        "BANK_INDEX_DIR": str(work / "bank-index"), "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "EVIDENCE_KEYS": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=", "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0", "REDIS_URL": args.redis,
        "CACHE_KEY_PREFIX": f"side-bench-{os.getpid()}", "LOG_LEVEL": "WARNING", "VAR_DIR": str(work),
    })
    for name in ("DEBUG", "TAKEDOWN_TESTING", "CELERY_BROKER_URL", "BANK_REFRESH_SECONDS"):
        env.pop(name, None)
    (work / "static").mkdir(exist_ok=True)
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    values = hex_rows(images[:, 0])
    variants = hex_rows(images[:, 1:].reshape(-1, 4))
    lines = [f"pdq\t{v}\t\\\\x{''.join(variants[7 * i: 7 * i + 7])}\tActive\t100\t{MOMENT}\t{MOMENT}\n"
             for i, v in enumerate(values)]
    copy_rows(args.ours_db, "COPY detection_bankentry (signal_type, value, variants, status, quality, first_seen, "
              "updated_at) FROM STDIN", lines)
    started = time.perf_counter()
    built = subprocess.run([*manage, "bank_index_build", "--signal-type", "pdq"], env=env, check=True, cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    print(f"ours: bank_index_build {time.perf_counter() - started:.1f} s (process included): {built}", flush=True)
    created = subprocess.run([*manage, "partner_create", f"Side Bench {os.getpid()}", "--json", "--rate-limit",
                              "100000000"], env=env, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    key = json.loads(created.strip().splitlines()[-1])["api_key"]
    port = free_port()
    server = subprocess.Popen([str(Path(PY).parent / "gunicorn"), "takedown.wsgi:application", "--preload", "-w",
                               str(args.workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                               "--backlog", "2048"], env=env, cwd=ROOT)
    _started.append(server)
    headers = {"Authorization": f"Bearer {key}"}
    wait_http(f"http://127.0.0.1:{port}/api/v1/me", headers, 120)
    return server, f"http://127.0.0.1:{port}", headers, {"workers": str(args.workers), "preload": "yes"}


HMA_CONFIG = '''
from OpenMediaMatch.storage.postgres.impl import DefaultOMMStore
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.content_type.photo import PhotoContent
from threatexchange.content_type.video import VideoContent
from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI

DATABASE_URI = {uri!r}
PRODUCTION = True
ROLE_HASHER = False
ROLE_MATCHER = True
ROLE_CURATOR = False
UI_ENABLED = False
TASK_FETCHER = False
TASK_INDEXER = False
TASK_INDEX_CACHE = True
STORAGE_IFACE_INSTANCE = DefaultOMMStore(
    signal_types=[PdqSignal, VideoMD5Signal],
    content_types=[PhotoContent, VideoContent],
    exchange_types=[StaticSampleSignalExchangeAPI],
)
'''


def hma_start(args: argparse.Namespace, work: Path, images: np.ndarray) -> tuple[subprocess.Popen[bytes], str,
                                                                                  dict[str, str]]:
    hma = Path(args.hma).resolve()
    src = hma / "hasher-matcher-actioner" / "src"
    python = hma / "venv" / "bin" / "python"
    database_fresh(args.hma_db)
    parts = urlsplit(args.hma_db)
    uri = f"postgresql+psycopg2://{parts.username or 'postgres'}@{parts.hostname}:{parts.port or 5432}" \
          f"{parts.path}"
    config = work / "hma_config.py"
    config.write_text(HMA_CONFIG.format(uri=uri))
    env = {**os.environ, "OMM_CONFIG": str(config), "PYTHONPATH": str(src)}
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL"):
        env.pop(name, None)
    flask = [str(python), "-m", "flask", "--app", "OpenMediaMatch.app"]
    subprocess.run([*flask, "db", "upgrade", "--directory", str(src / "OpenMediaMatch" / "migrations")],
                   env={**env, "MIGRATION_COMMAND": "1"}, cwd=src, check=True, capture_output=True)
    hashes = hex_rows(images.reshape(-1, 4))  # content id k + 1 holds hash k: image k // 8, variant k % 8
    import psycopg

    with psycopg.connect(args.hma_db, autocommit=True) as conn:
        conn.execute("INSERT INTO bank (id, name, enabled_ratio) VALUES (1, 'BENCH', 1.0)")
    copy_rows(args.hma_db, "COPY bank_content (id, bank_id, disable_until_ts) FROM STDIN",
              [f"{k + 1}\t1\t1\n" for k in range(len(hashes))])
    copy_rows(args.hma_db, "COPY content_signal (content_id, signal_type, signal_val, create_time) FROM STDIN",
              [f"{k + 1}\tpdq\t{h}\t{MOMENT}\n" for k, h in enumerate(hashes)])
    with psycopg.connect(args.hma_db, autocommit=True) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('bank_content', 'id'), %s)", (len(hashes),))
    started = time.perf_counter()
    subprocess.run([*flask, "build_indices"], env=env, cwd=src, check=True, capture_output=True)
    print(f"HMA: flask build_indices {time.perf_counter() - started:.1f} s (process included) for "
          f"{len(hashes):,} signals", flush=True)
    port = free_port()
    server = subprocess.Popen([str(python), "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "-w", str(args.workers),
                               "--log-level", "warning", "--backlog", "2048", "OpenMediaMatch.app:create_app()"],
                              env=env, cwd=src)
    _started.append(server)
    base = f"http://127.0.0.1:{port}"
    probe = f"{base}/m/lookup?signal_type=pdq&signal={hashes[0]}"
    deadline = time.monotonic() + 600
    while True:  # every worker loads the index in the background; until then lookups fail or find nothing
        try:
            if json.loads(wait_http(probe, {}, 600)):
                break
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("HMA never answered a lookup with a match")
        time.sleep(2)
    return server, base, {"workers": str(args.workers), "config": "matcher: PRODUCTION, ROLE_MATCHER, "
                          "TASK_INDEX_CACHE; no fetcher/indexer tasks (the index is built by build_indices)"}


def images_found_ours(body: dict[str, object]) -> set[int]:
    return {int(m["bank_content_id"]) - 1 for matches in body.values() for m in matches}  # type: ignore[attr-defined]


def images_found_hma(body: dict[str, object]) -> set[int]:
    return {(int(m["bank_content_id"]) - 1) // VARIANTS for matches in body.values()
            for m in matches}  # type: ignore[attr-defined]


def loadgen(base: str, paths: Path, headers: dict[str, str], rate: float, duration: float) -> dict[str, object]:
    command = [PY, str(ROOT / "bench/loadgen.py"), "--url", base, "--paths", str(paths), "--rate", str(rate),
               "--duration", str(duration), "--connections", "256"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


def sustained(run: dict[str, object], rate: float) -> bool:
    return (int(run["errors"]) == 0 and int(run["ok"]) >= 0.95 * int(run["sent"])  # type: ignore[call-overload]
            and float(run["achieved_rps"]) >= 0.95 * rate and float(run["p99_ms"]) <= 1000)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hma", required=True, help="folder with HMA's sources and its venv, outside the project")
    parser.add_argument("--images", type=int, default=125_000)
    parser.add_argument("--ours-db", default="postgres://postgres@127.0.0.1:5432/takedown_e19_side")
    parser.add_argument("--hma-db", default="postgres://postgres@127.0.0.1:5432/takedown_e19_hma")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--rates", default="10,25,50,100,200,400,800,1600")
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--check", type=int, default=50)
    args = parser.parse_args()
    hma = Path(args.hma).resolve()
    commit = (hma / "COMMIT").read_text().strip() if (hma / "COMMIT").exists() else "unknown"
    version = (hma / "hasher-matcher-actioner" / "version.txt").read_text().strip()
    pytx = (hma / "python-threatexchange" / "version.txt").read_text().strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; HMA {version} (python-threatexchange {pytx}) at "
          f"facebook/ThreatExchange commit {commit}; cores {os.cpu_count()}; uptime: {uptime()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="side-bench-"))
    rng = np.random.default_rng(11)
    rnd = random.Random(11)
    images = case_images(rng, args.images)
    # Queries: half a banked image's hash, one of its 8, with 0-31 bits flipped (a copy, maybe rotated); half
    # fresh images.
    banked = [hex_rows(images[i, k][None])[0] for i, k in
              zip(rng.integers(0, args.images, 500), rng.integers(0, VARIANTS, 500), strict=True)]
    queries = [flip_hex(h, rnd.randint(0, 31), rnd) for h in banked]
    queries += hex_rows(case_images(rng, 500)[:, 0])
    rnd.shuffle(queries)
    paths = work / "paths.txt"
    paths.write_text("".join(f"/m/lookup?signal_type=pdq&signal={q}\n" for q in queries))
    servers: dict[str, tuple[subprocess.Popen[bytes], str, dict[str, str], dict[str, str]]] = {}
    try:
        servers["ours"] = ours_start(args, work, images)
        hma_server, hma_base, hma_settings = hma_start(args, work, images)
        servers["HMA"] = (hma_server, hma_base, {}, hma_settings)
        print(f"settings: ours {servers['ours'][3]}; HMA {hma_settings}", flush=True)
        # Same answers: the images each finds for the first --check queries.
        agree = 0
        for q in queries[: args.check]:
            got_ours = images_found_ours(json.loads(wait_http(
                f"{servers['ours'][1]}/m/lookup?signal_type=pdq&signal={q}", servers["ours"][2], 30)))
            got_hma = images_found_hma(json.loads(wait_http(f"{hma_base}/m/lookup?signal_type=pdq&signal={q}", {}, 30)))
            agree += got_ours == got_hma
        print(f"same images found for {agree} of {args.check} queries", flush=True)
        for name, (_, base, headers, _) in servers.items():  # warm every worker
            loadgen(base, paths, headers, 50, 4)
        rates = [float(r) for r in args.rates.split(",")]
        saturation: dict[str, list[float]] = {name: [] for name in servers}
        runs: dict[tuple[str, float], list[dict[str, object]]] = {}
        for round_number in range(args.rounds):
            order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
            alive = dict.fromkeys(order, True)
            best = dict.fromkeys(order, 0.0)
            for rate in rates:
                for name in order:
                    if not alive[name]:
                        continue
                    _, base, headers, _ = servers[name]
                    run = loadgen(base, paths, headers, rate, args.duration)
                    run.update({"server": name, "round": round_number + 1,
                                "load": uptime().split("load average:")[1].strip()})
                    runs.setdefault((name, rate), []).append(run)
                    print(json.dumps(run), flush=True)
                    if sustained(run, rate):
                        best[name] = rate
                    else:
                        alive[name] = False
            for name in order:
                saturation[name].append(best[name])
        print("\nmedians per server and offered rate (runs that were made):")
        for (name, rate), made in sorted(runs.items(), key=lambda item: (item[0][0], item[0][1])):
            p99 = statistics.median(float(r["p99_ms"]) for r in made)  # type: ignore[arg-type]
            p50 = statistics.median(float(r["p50_ms"]) for r in made)  # type: ignore[arg-type]
            achieved = statistics.median(float(r["achieved_rps"]) for r in made)  # type: ignore[arg-type]
            print(f"  {name:<5} {rate:7.0f} rps offered: achieved {achieved:8.1f}, p50 {p50:8.1f} ms, p99 "
                  f"{p99:8.1f} ms ({len(made)} runs)")
        for name, points in saturation.items():
            print(f"saturation point {name}: every round {points}, median {statistics.median(points):.0f} rps")
        if statistics.median(saturation["HMA"]) > 0:
            ratio = statistics.median(saturation["ours"]) / statistics.median(saturation["HMA"])
            print(f"ours / HMA saturation: {ratio:.1f}x")
        else:
            print("HMA sustained none of the offered rates: no ratio")
        for name, (server, *_rest) in servers.items():
            print(f"memory (PSS) of {name}'s server processes: {pss_mb([server.pid, *children(server.pid)])} MB")
    finally:
        for server in _started:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)
        print(f"uptime at the end: {uptime()}")


if __name__ == "__main__":
    main()
