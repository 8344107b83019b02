"""Fixed-window counters in the cache: atomic in Redis (INCR), per-process in the embedded default."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after: int


def _key(scope: str, subject: str, window: int) -> tuple[str, int]:
    # The subject may be a client address or a case reference: store only a digest of it.
    digest = hashlib.sha256(f"{scope}:{subject}".encode()).hexdigest()[:32]
    bucket = int(time.time()) // window
    return f"rl:{scope}:{digest}:{bucket}", window - int(time.time()) % window


def ratelimit_hit(*, scope: str, subject: str, limit: int, window: int) -> RateDecision:
    """Count one attempt; allowed while the count stays within `limit` for the current window."""
    key, remaining = _key(scope, subject, window)
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add and incr: start the window again.
        cache.set(key, 1, timeout=window + 1)
        count = 1
    return RateDecision(allowed=count <= limit, count=count, retry_after=max(1, remaining))


def ratelimit_peek(*, scope: str, subject: str, limit: int, window: int) -> RateDecision:
    key, remaining = _key(scope, subject, window)
    count = int(cache.get(key, 0))
    return RateDecision(allowed=count < limit, count=count, retry_after=max(1, remaining))


def ratelimit_reset(*, scope: str, subject: str, window: int) -> None:
    key, _ = _key(scope, subject, window)
    cache.delete(key)
