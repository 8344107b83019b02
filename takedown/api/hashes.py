"""Validating what partners send: signal types, hash values, distances, timestamps and cursors.

Each check raises a DRF ValidationError carrying one of our error codes, so the API answers with a 400 and a code
a client can branch on (see takedown.api.errors).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from rest_framework import serializers

from takedown.partners.bank import DISTANCE_SIGNAL_TYPES, SIGNAL_HEX_LENGTH, SignalType

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_CURSOR = re.compile(r"^v1\.(\d{1,17})\.(\d{1,19})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def signal_type_clean(value: str) -> str:
    name = value.strip().lower()
    if name not in SIGNAL_HEX_LENGTH:
        raise serializers.ValidationError(
            f"unknown signal type {value[:40]!r}; use one of {', '.join(SIGNAL_HEX_LENGTH)}",
            code="unknown_signal_type")
    return name


def lookup_signal_type_clean(value: str) -> str:
    """A signal type looked up by one hash value: every type but vpdq, which is looked up by its frames."""
    name = signal_type_clean(value)
    if name == SignalType.VPDQ:
        raise serializers.ValidationError(
            "a vpdq hash is looked up by its frames: POST /api/v1/lookup/vpdq", code="unsupported_signal_type")
    return name


def hash_clean(signal_type: str, value: str) -> str:
    length = SIGNAL_HEX_LENGTH[signal_type]
    if len(value) != length or not _HEX.match(value):
        raise serializers.ValidationError(
            f"a {signal_type} hash is {length} hexadecimal characters", code="invalid_hash")
    return value.lower()


def max_distance_clean(signal_type: str, value: int | None) -> int:
    """The distance a lookup uses: the partner's choice within the cap, or the default; exact types use 0."""
    if signal_type not in DISTANCE_SIGNAL_TYPES:
        if value not in (None, 0):
            raise serializers.ValidationError(f"{signal_type} matches exactly: max_distance must be 0 or left out",
                                              code="invalid_max_distance")
        return 0
    if signal_type == SignalType.PDQ:
        cap, default = settings.PARTNER_PDQ_DISTANCE_CAP, settings.PARTNER_PDQ_MAX_DISTANCE
    else:
        cap, default = settings.PARTNER_HASH64_DISTANCE_CAP, settings.PARTNER_HASH64_MAX_DISTANCE
    if value is None:
        return int(default)
    if not 0 <= value <= cap:
        raise serializers.ValidationError(f"max_distance for {signal_type} is between 0 and {cap}",
                                          code="invalid_max_distance")
    return value


def timestamp_clean(value: str) -> datetime:
    """Unix seconds, or an ISO 8601 date-time with a time zone."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{1,12}(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise serializers.ValidationError("a timestamp is Unix seconds or ISO 8601 with a time zone",
                                          code="invalid_timestamp")
    return parsed


def cursor_encode(updated_at: datetime, entry_id: int) -> str:
    # Integer arithmetic: a float timestamp could round a microsecond away and skip or repeat a row.
    micros = (updated_at - _EPOCH) // timedelta(microseconds=1)
    return f"v1.{micros}.{entry_id}"


def cursor_decode(token: str) -> tuple[datetime, int]:
    match = _CURSOR.match(token.strip())
    if match:
        try:
            return _EPOCH + timedelta(microseconds=int(match.group(1))), int(match.group(2))
        except (ValueError, OverflowError, OSError):
            pass
    raise serializers.ValidationError("the cursor is not one this API gave out", code="invalid_cursor")
