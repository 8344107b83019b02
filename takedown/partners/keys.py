"""Partner credentials: how they look, how they are stored, how they are checked.

A credential is `tdk_<lookup id>_<secret>`: the lookup id (12 hex characters) finds the row, the whole string
is stored only as HMAC-SHA256 under a server-side pepper and compared in constant time. The keys carry 256 bits
of randomness, so a slow password hash would add latency to every request without adding security; the pepper
means a stolen database alone cannot be used to check guesses. Webhook signing secrets use the prefix `tdw_`
and, since we must sign with them, are kept encrypted rather than hashed (see models.WebhookEndpoint).
The prefixes let the log filter (takedown.core.logredact) recognise and redact them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

KEY_PREFIX = "tdk_"
WEBHOOK_SECRET_PREFIX = "tdw_"  # noqa: S105 (a prefix, not a secret)
_KEY_RE = re.compile(r"^tdk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    """A freshly minted credential: `plaintext` is shown once and never stored."""

    plaintext: str
    lookup_id: str
    digest: str


@lru_cache(maxsize=4)
def _pepper(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    # Without a dedicated pepper, derive one from the signing key (rotating SECRET_KEY then voids every key).
    return hmac.new(secret_key.encode(), b"takedown-partner-key-pepper", hashlib.sha256).digest()


def key_digest(plaintext: str) -> str:
    pepper = _pepper(getattr(settings, "PARTNER_KEY_PEPPER", ""), settings.SECRET_KEY)
    return hmac.new(pepper, plaintext.encode(), hashlib.sha256).hexdigest()


def key_generate() -> NewKey:
    lookup_id = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}{lookup_id}_{secrets.token_urlsafe(32)}"
    return NewKey(plaintext=plaintext, lookup_id=lookup_id, digest=key_digest(plaintext))


def key_lookup_id(plaintext: str) -> str | None:
    """The row id inside a well-formed key, or None for anything that is not one of ours."""
    match = _KEY_RE.match(plaintext)
    return match.group(1) if match else None


def key_matches(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(key_digest(plaintext), digest)


def webhook_secret_generate() -> str:
    return f"{WEBHOOK_SECRET_PREFIX}{secrets.token_urlsafe(32)}"
