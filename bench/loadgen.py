"""Open-loop HTTP load at a fixed rate, from its own process: latency percentiles without coordinated omission.

Requests are scheduled at fixed intervals whatever the server does; each latency runs from the scheduled send
time to the end of the response, so a server that falls behind shows it in the tail instead of slowing the
generator down (the mistake closed-loop tools make at fixed rates). Keep-alive connections, HTTP/1.1, stdlib only.

    python bench/loadgen.py --url http://127.0.0.1:8000 --paths paths.txt --header "Authorization: Bearer ..." \
        --rate 200 --duration 20
prints one JSON line: {"rate", "sent", "ok", "errors", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "max_ms"}.

With --closed it measures the maximum instead (where wrk is not installed): each of --connections connections
sends its next request as soon as the previous answer arrives, for --duration seconds (--rate is ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Connection:
    def __init__(self, host: str, port: int, headers: list[str]) -> None:
        self.host, self.port, self.headers = host, port, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}", *self.headers, "", ""]
        self.writer.write("\r\n".join(head).encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status


async def run(url: str, paths: list[str], headers: list[str], rate: float, duration: float,
              connections: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port, headers))
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration)
    rnd = random.Random(1)
    start = time.perf_counter() + 0.2

    async def one(scheduled: float, path: str) -> None:
        nonlocal errors
        conn = await idle.get()
        try:
            status = await conn.request(path)
            if status != 200:
                errors += 1
            else:
                latencies.append(time.perf_counter() - scheduled)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors += 1
            conn.writer = None
        finally:
            idle.put_nowait(conn)

    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, rnd.choice(paths))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": rate, "sent": total, "ok": len(latencies), "errors": errors,
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else float("nan"),
    }


async def run_closed(url: str, paths: list[str], headers: list[str], duration: float,
                     connections: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors = 0
    rnd = random.Random(1)
    start = time.perf_counter()
    stop = start + duration

    async def loop() -> None:
        nonlocal errors
        conn = Connection(host, port, headers)
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            try:
                status = await conn.request(rnd.choice(paths))
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                errors += 1
                conn.writer = None
                continue
            if status == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors += 1

    await asyncio.gather(*(loop() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": 0, "connections": connections, "sent": len(latencies) + errors, "ok": len(latencies),
        "errors": errors, "achieved_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--paths", required=True, help="file with one request path per line")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--closed", action="store_true", help="closed loop: the maximum throughput")
    args = parser.parse_args()
    with open(args.paths) as handle:
        paths = [line.strip() for line in handle if line.strip()]
    if args.closed:
        result = asyncio.run(run_closed(args.url, paths, args.header, args.duration, args.connections))
    else:
        result = asyncio.run(run(args.url, paths, args.header, args.rate, args.duration, args.connections))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
