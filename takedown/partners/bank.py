"""What the partner API needs from the hash bank, as one small interface.

The bank (models, index, refresh) belongs to `detection`; the API only reads it through `HashBank`, so the two
can change independently and tests can run the whole API against an in-memory bank. `bank()` returns the
implementation named by settings.PARTNER_API_BANK.

Hot-path rule: `lookup` is served from memory (the bank's index and its in-memory entry metadata) and must not
query the database. `changes`, `entries_find` and `entry_submit` may.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

# Hex digits per signal type, and those matched by Hamming distance: the bank's own vocabulary, re-exported.
from detection.signals import DISTANCE_SIGNAL_TYPES, SIGNAL_HEX_LENGTH, VIDEO_SIGNAL_TYPES  # noqa: F401
from detection.videomatch import VpdqFeature


class SignalType:
    PDQ = "pdq"
    MD5 = "md5"
    SHA256 = "sha256"
    PHASH = "phash"
    DHASH = "dhash"
    VIDEO_MD5 = "video_md5"  # MD5 of a video file (StopNCII's VideoMD5)
    VPDQ = "vpdq"  # a video's frame hashes; the value is their SHA-256, lookups send the frames




class EntryStatus:
    RECEIVED = "Received"
    ACTIVE = "Active"
    WITHDRAWN = "Withdrawn"
    DELETED = "Deleted"

    ALL: tuple[str, ...] = ("Received", "Active", "Withdrawn", "Deleted")


@dataclass(frozen=True, slots=True)
class BankMatch:
    entry_id: int
    distance: int
    status: str
    first_seen: datetime
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class BankChange:
    entry_id: int
    signal_type: str
    value: str
    status: str
    first_seen: datetime
    updated_at: datetime
    quality: int | None = None
    # vPDQ entries still Received or Active: the frames, as HMA writes them ("pdq,quality,second").
    vpdq: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """A banked video matching a vPDQ query by HMA's rule."""

    entry_id: int
    query_match_percent: float
    compared_match_percent: float
    distance: int  # the nearest pair of frames
    status: str
    first_seen: datetime
    frames: int  # the banked video's frames that count (quality >= 50, distinct)


@dataclass(frozen=True)
class BankEntryRef:
    entry_id: int
    signal_type: str
    status: str
    case_ids: tuple[uuid.UUID, ...] = field(default=())


class HashBank(Protocol):
    def lookup(
        self, *, signal_type: str, values: Sequence[str], max_distance: int, statuses: Collection[str]
    ) -> list[list[BankMatch]]:
        """For each value (lower-case hex), the entries within `max_distance` whose status is in `statuses`,
        nearest first. PDQ also matches an entry's dihedral variants (rotations and flips of its image)."""
        ...

    def changes(
        self,
        *,
        since: datetime,
        after: tuple[datetime, int] | None,
        limit: int,
        signal_types: Collection[str],
        statuses: Collection[str],
    ) -> list[BankChange]:
        """Entries updated at or after `since` and strictly after the cursor `after` = (updated_at, entry_id),
        ordered by (updated_at, entry_id); every status, Withdrawn and Deleted included."""
        ...

    def entries_find(self, *, signal_type: str, values: Sequence[str]) -> dict[str, BankEntryRef]:
        """The bank entries for exact values, keyed by value; values not in the bank are absent."""
        ...

    def vpdq_lookup(
        self, *, videos: Sequence[Sequence[VpdqFeature]], max_distance: int, statuses: Collection[str],
        query_threshold: float, compared_threshold: float,
    ) -> list[list[VideoMatch]]:
        """For each query video (its frames), the banked videos that match it by HMA's rule (frames of quality
        >= 50, each distinct hash once, PDQ distance <= `max_distance`; at least `query_threshold` percent of
        the query's frames and `compared_threshold` percent of the banked video's), best first."""
        ...

    def entry_submit(self, *, signal_type: str, value: str, partner_id: uuid.UUID, quality: int | None) -> BankEntryRef:
        """Add a partner-submitted hash as Received (for review), or return the entry that already holds it."""
        ...


@lru_cache(maxsize=4)
def _factory(dotted: str) -> Callable[[], HashBank]:
    factory: Callable[[], HashBank] = import_string(dotted)
    return factory


def bank() -> HashBank:
    """The configured bank; the factory decides whether it is a per-process singleton (the index is)."""
    return _factory(settings.PARTNER_API_BANK)()
