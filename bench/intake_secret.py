"""Cost of the case secret check (argon2id, production parameters) and of inspecting + stripping an upload.

Run: .venv/bin/python bench/intake_secret.py   (prints one line per figure; median of N runs)
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from PIL import Image  # noqa: E402

from tests.conftest import draw_image  # noqa: E402
from victims.credentials import secret_hash, secret_new, secret_verify  # noqa: E402
from victims.images import image_inspect, image_strip_metadata  # noqa: E402


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


secret = secret_new()
stored = secret_hash(secret)
print(f"argon2id hash (t=3, m=64 MiB, p=4): {median_ms(lambda: secret_hash(secret), 7):.0f} ms")
right = median_ms(lambda: secret_verify(stored_hash=stored, secret=secret), 7)
unknown = median_ms(lambda: secret_verify(stored_hash=None, secret=secret), 7)
print(f"argon2id verify, right secret:      {right:.0f} ms")
print(f"argon2id verify, unknown reference: {unknown:.0f} ms")
image = Image.open(io.BytesIO(draw_image(1, (4000, 3000), "PNG"))).convert("RGB")
out = io.BytesIO()
image.save(out, "JPEG", quality=90)
jpeg = out.getvalue()
inspect = median_ms(lambda: image_inspect(jpeg, max_bytes=50 << 20), 5)
print(f"inspect 12 MP JPEG ({len(jpeg) // 1024} KiB): {inspect:.0f} ms")
print(f"strip metadata, same JPEG:          {median_ms(lambda: image_strip_metadata(jpeg, fmt='JPEG'), 5):.1f} ms")
