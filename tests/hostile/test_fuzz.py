"""A bounded run of each atheris harness in fuzz/ (a few seconds each); the long run is documented in
fuzz/README.md. Skipped where atheris is not installed (it is in the dev extra)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

ROOT = Path(__file__).resolve().parent.parent.parent
HARNESSES = ("fuzz_hash_image", "fuzz_provenance", "fuzz_urls")
SECONDS = int(os.environ.get("FUZZ_SECONDS", "4"))


@pytest.mark.parametrize("harness", HARNESSES)
def test_harness_runs_for_a_bounded_time_without_a_crash(harness: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / f"{harness}.py"), f"-max_total_time={SECONDS}",
         "-rss_limit_mb=3072", "-timeout=20", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=SECONDS * 10 + 60,
    )
    output = result.stdout + result.stderr
    crashes = sorted(path.name for path in tmp_path.glob("*-*"))
    assert result.returncode == 0 and not crashes, f"{harness} found {crashes}:\n{output[-3000:]}"
    runs = re.search(r"Done (\d+) runs", output)
    assert runs and int(runs.group(1)) > 100, output[-2000:]
