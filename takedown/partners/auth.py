"""Checking a presented partner credential, without a database query on the hot path.

Each process keeps what it learnt about a key (including "no such key") for settings.PARTNER_KEY_CACHE_SECONDS,
so a busy lookup endpoint reads the key row once per key per process per interval. Revocation and rotation clear
the entry in the process that made them at once; other processes follow within that interval.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from takedown.partners.keys import key_lookup_id, key_matches

_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a valid credential allows: the partner it speaks for, its scopes and its rate limit."""

    key_id: uuid.UUID
    lookup_id: str
    digest: str
    partner_id: uuid.UUID
    partner_name: str
    partner_active: bool
    kind: str
    function: str
    scopes: frozenset[str]
    rate_limit_per_minute: int
    expires_at: datetime | None
    revoked: bool


class KeyRejected(Exception):
    """The credential does not open anything; `code` says why, for the API's error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_cache: OrderedDict[str, tuple[float, KeyGrant | None]] = OrderedDict()
_lock = threading.Lock()


def _grant_load(lookup_id: str) -> KeyGrant | None:
    from takedown.partners.models import PartnerKey

    key = PartnerKey.objects.select_related("partner").filter(lookup_id=lookup_id).first()
    if key is None:
        return None
    limit = key.rate_limit_per_minute or key.partner.rate_limit_per_minute or settings.PARTNER_RATE_LIMIT_PER_MINUTE
    return KeyGrant(
        key_id=key.id, lookup_id=key.lookup_id, digest=key.digest, partner_id=key.partner_id,
        partner_name=key.partner.name, partner_active=key.partner.active, kind=key.kind, function=key.function,
        scopes=frozenset(key.scopes), rate_limit_per_minute=int(limit), expires_at=key.expires_at,
        revoked=key.revoked_at is not None,
    )


def _grant_for(lookup_id: str) -> KeyGrant | None:
    now = time.monotonic()
    ttl = settings.PARTNER_KEY_CACHE_SECONDS
    with _lock:
        cached = _cache.get(lookup_id)
        if cached is not None and now - cached[0] < ttl:
            return cached[1]
    grant = _grant_load(lookup_id)
    with _lock:
        _cache[lookup_id] = (now, grant)
        _cache.move_to_end(lookup_id)
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)
    return grant


def key_is_cached(plaintext: str) -> bool:
    """Whether this process holds a fresh answer for the key's id (so checking it costs no database query)."""
    lookup_id = key_lookup_id(plaintext)
    if lookup_id is None:
        return True  # malformed: refused without a query
    with _lock:
        cached = _cache.get(lookup_id)
    return cached is not None and time.monotonic() - cached[0] < settings.PARTNER_KEY_CACHE_SECONDS


def key_cache_forget(lookup_id: str | None = None) -> None:
    with _lock:
        if lookup_id is None:
            _cache.clear()
        else:
            _cache.pop(lookup_id, None)


def key_authenticate(plaintext: str, *, kind: str, function: str = "") -> KeyGrant:
    """The grant of a presented credential of the given kind, or KeyRejected."""
    lookup_id = key_lookup_id(plaintext)
    grant = _grant_for(lookup_id) if lookup_id else None
    # One answer for "no such key", "wrong secret" and "a key of another kind": nothing to probe with.
    if grant is None or not key_matches(plaintext, grant.digest) or grant.kind != kind:
        raise KeyRejected("invalid_key", "the key is not valid")
    if function and grant.function != function:
        raise KeyRejected("invalid_function_key", "this function key belongs to another endpoint")
    if grant.revoked:
        raise KeyRejected("key_revoked", "the key has been revoked")
    if grant.expires_at is not None and grant.expires_at <= timezone.now():
        raise KeyRejected("key_expired", "the key has expired (it was rotated)")
    if not grant.partner_active:
        raise KeyRejected("partner_inactive", "the partner account is suspended")
    return grant
