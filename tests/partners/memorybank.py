"""An in-memory HashBank for the partner API's tests (the interface-plus-fake pattern HMA uses for storage).

Brute force and obviously right: every lookup compares against every entry and its dihedral variants. The
real bank (detection.bank) is tested against the same interface in tests/partners/test_bank_contract.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from detection.videomatch import VpdqFeature, prepared, vpdq_compare, vpdq_key
from takedown.partners.bank import (
    DISTANCE_SIGNAL_TYPES,
    BankChange,
    BankEntryRef,
    BankMatch,
    EntryStatus,
    VideoMatch,
)


@dataclass
class Entry:
    id: int
    signal_type: str
    value: str
    status: str
    first_seen: datetime
    updated_at: datetime
    quality: int | None = None
    case_ids: tuple[uuid.UUID, ...] = ()
    variants: tuple[str, ...] = ()
    submitted_by: uuid.UUID | None = None
    frames: tuple[VpdqFeature, ...] = ()  # vpdq entries


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass
class MemoryBank:
    entries: dict[int, Entry] = field(default_factory=dict)
    lookups: int = 0

    def add(self, *, signal_type: str, value: str, status: str = EntryStatus.ACTIVE,
            case_ids: Sequence[uuid.UUID] = (), quality: int | None = None,
            variants: Sequence[str] = (), updated_at: datetime | None = None,
            frames: Sequence[VpdqFeature] = ()) -> Entry:
        now = updated_at or timezone.now()
        if frames:
            value = vpdq_key(frames)
        entry = Entry(id=len(self.entries) + 1, signal_type=signal_type, value=value.lower(), status=status,
                      first_seen=now, updated_at=now, quality=quality,
                      case_ids=tuple(case_ids), variants=tuple(v.lower() for v in variants), frames=tuple(frames))
        self.entries[entry.id] = entry
        return entry

    def set_status(self, entry_id: int, status: str, at: datetime | None = None) -> Entry:
        entry = self.entries[entry_id]
        entry.status = status
        # Strictly later than before, as a database's clock would move on.
        entry.updated_at = max(at or timezone.now(), entry.updated_at + timedelta(microseconds=1))
        return entry

    # --- HashBank ---------------------------------------------------------------------------------------------
    def lookup(self, *, signal_type: str, values: Sequence[str], max_distance: int,
               statuses: Collection[str]) -> list[list[BankMatch]]:
        self.lookups += 1
        out: list[list[BankMatch]] = []
        for value in values:
            matches: list[BankMatch] = []
            for entry in self.entries.values():
                if entry.signal_type != signal_type or entry.status not in statuses:
                    continue
                if signal_type in DISTANCE_SIGNAL_TYPES:
                    distance = min(hamming(value, v) for v in (entry.value, *entry.variants))
                else:
                    distance = 0 if value == entry.value else 999
                if distance <= max_distance:
                    matches.append(BankMatch(entry_id=entry.id, distance=distance, status=entry.status,
                                             first_seen=entry.first_seen, quality=entry.quality))
            matches.sort(key=lambda m: (m.distance, m.entry_id))
            out.append(matches)
        return out

    def changes(self, *, since: datetime, after: tuple[datetime, int] | None, limit: int,
                signal_types: Collection[str], statuses: Collection[str]) -> list[BankChange]:
        rows = sorted(
            (e for e in self.entries.values()
             if e.updated_at >= since and e.signal_type in signal_types and e.status in statuses
             and (after is None or (e.updated_at, e.id) > after)),
            key=lambda e: (e.updated_at, e.id),
        )[:limit]
        return [BankChange(entry_id=e.id, signal_type=e.signal_type, value=e.value, status=e.status,
                           first_seen=e.first_seen, updated_at=e.updated_at, quality=e.quality,
                           vpdq=tuple(f.text() for f in e.frames)
                           if e.status in (EntryStatus.RECEIVED, EntryStatus.ACTIVE) else ())
                for e in rows]

    def vpdq_lookup(self, *, videos: Sequence[Sequence[VpdqFeature]], max_distance: int,
                    statuses: Collection[str], query_threshold: float,
                    compared_threshold: float) -> list[list[VideoMatch]]:
        self.lookups += 1
        out: list[list[VideoMatch]] = []
        for query in videos:
            matches: list[VideoMatch] = []
            for entry in self.entries.values():
                if entry.signal_type != "vpdq" or entry.status not in statuses or not entry.frames:
                    continue
                result = vpdq_compare(query, entry.frames, max_distance=max_distance)
                if result.query_match_percent == 0 or not result.is_match(query_threshold, compared_threshold):
                    continue
                distance = min(hamming(a, b) for a in prepared(query) for b in prepared(entry.frames))
                matches.append(VideoMatch(entry_id=entry.id, query_match_percent=result.query_match_percent,
                                          compared_match_percent=result.compared_match_percent, distance=distance,
                                          status=entry.status, first_seen=entry.first_seen,
                                          frames=len(prepared(entry.frames))))
            matches.sort(key=lambda m: (-m.query_match_percent, -m.compared_match_percent, m.distance, m.entry_id))
            out.append(matches)
        return out

    def entries_find(self, *, signal_type: str, values: Sequence[str]) -> dict[str, BankEntryRef]:
        wanted = set(values)
        return {e.value: BankEntryRef(entry_id=e.id, signal_type=e.signal_type, status=e.status,
                                      case_ids=e.case_ids)
                for e in self.entries.values() if e.signal_type == signal_type and e.value in wanted}

    def entry_submit(self, *, signal_type: str, value: str, partner_id: uuid.UUID,
                     quality: int | None) -> BankEntryRef:
        existing = self.entries_find(signal_type=signal_type, values=[value]).get(value)
        if existing is not None:
            return existing
        entry = self.add(signal_type=signal_type, value=value, status=EntryStatus.RECEIVED, quality=quality)
        entry.submitted_by = partner_id
        return BankEntryRef(entry_id=entry.id, signal_type=signal_type, status=entry.status)


_current = MemoryBank()


def current() -> MemoryBank:
    return _current


def reset() -> MemoryBank:
    global _current
    _current = MemoryBank()
    return _current
