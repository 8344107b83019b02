"""Run each atheris harness in fuzz/ for a fixed time and print executions, coverage and crashes.

    python bench/hostile_fuzz.py [seconds per harness, default 300]

Needs atheris (dev extra). Crash inputs are kept under /tmp/hostile-fuzz-<harness>-crash-*; see fuzz/README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESSES = ("fuzz_hash_image", "fuzz_provenance", "fuzz_urls")


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for harness in HARNESSES:
        corpus_dir = tempfile.mkdtemp(prefix=f"hostile-fuzz-corpus-{harness}-")
        prefix = f"/tmp/hostile-fuzz-{harness}-"
        before = set(Path("/tmp").glob(f"hostile-fuzz-{harness}-crash-*"))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(ROOT / "fuzz" / f"{harness}.py"), f"-max_total_time={seconds}", "-timeout=20",
             "-rss_limit_mb=4096", f"-artifact_prefix={prefix}", "-print_final_stats=1", corpus_dir],
            cwd=ROOT, capture_output=True, text=True,
        )
        output = result.stdout + result.stderr
        runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
        coverage = re.findall(r"cov: (\d+) ft: (\d+)", output)
        crashes = sorted(set(Path("/tmp").glob(f"hostile-fuzz-{harness}-crash-*")) - before)
        print(f"{harness}: {time.monotonic() - started:.0f} s, {runs.group(1) if runs else '?'} executions, "
              f"coverage {coverage[-1] if coverage else '?'} (edges, features), exit {result.returncode}, "
              f"crashes {len(crashes)} {[c.name for c in crashes]}, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
