"""The partner API's view of the real hash bank (detection.bank): `HashBank` over detection's services.

One adapter per process; the bank's index is per process already (detection.bank keeps it), so this class
holds no state of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from detection import bank as detection_services
from detection import vpdqbank
from detection.models import BankEntry, SourceKind
from detection.videomatch import VpdqFeature
from takedown.partners.bank import BankChange, BankEntryRef, BankMatch, HashBank, SignalType, VideoMatch


class DetectionBank:
    def lookup(self, *, signal_type: str, values: Sequence[str], max_distance: int,
               statuses: Collection[str]) -> list[list[BankMatch]]:
        found = detection_services.bank_search(signal_type=signal_type, values=[v.lower() for v in values],
                                               max_distance=max_distance, statuses=statuses)
        return [[BankMatch(entry_id=m.entry_id, distance=m.distance, status=m.status, first_seen=m.first_seen,
                           quality=m.quality) for m in matches] for matches in found]

    def changes(self, *, since: datetime, after: tuple[datetime, int] | None, limit: int,
                signal_types: Collection[str], statuses: Collection[str]) -> list[BankChange]:
        rows = detection_services.bank_changes(since=since, after=after, limit=limit, signal_types=signal_types,
                                               statuses=statuses)
        frames = vpdqbank.bank_vpdq_features(entry_ids=[row.id for row in rows if row.signal_type == SignalType.VPDQ])
        return [BankChange(entry_id=row.id, signal_type=row.signal_type, value=row.value, status=row.status,
                           first_seen=row.first_seen, updated_at=row.updated_at, quality=row.quality,
                           vpdq=tuple(f.text() for f in frames.get(row.id, ())))
                for row in rows]

    def vpdq_lookup(self, *, videos: Sequence[Sequence[VpdqFeature]], max_distance: int,
                    statuses: Collection[str], query_threshold: float,
                    compared_threshold: float) -> list[list[VideoMatch]]:
        out: list[list[VideoMatch]] = []
        for features in videos:
            found = vpdqbank.bank_vpdq_search(features=features, statuses=statuses, max_distance=max_distance,
                                              query_threshold=query_threshold, compared_threshold=compared_threshold)
            out.append([VideoMatch(entry_id=m.entry_id, query_match_percent=m.query_match_percent,
                                   compared_match_percent=m.compared_match_percent, distance=m.distance,
                                   status=m.status, first_seen=m.first_seen, frames=m.frames) for m in found])
        return out

    def entries_find(self, *, signal_type: str, values: Sequence[str]) -> dict[str, BankEntryRef]:
        rows = list(BankEntry.objects.filter(signal_type=signal_type, value__in={v.lower() for v in values}))
        cases = detection_services.bank_source_ids(entry_ids=[row.id for row in rows], source_kind=SourceKind.CASE)
        return {row.value: BankEntryRef(entry_id=row.id, signal_type=row.signal_type, status=row.status,
                                        case_ids=tuple(uuid.UUID(c) for c in cases.get(row.id, ())))
                for row in rows}

    def entry_submit(self, *, signal_type: str, value: str, partner_id: uuid.UUID,
                     quality: int | None) -> BankEntryRef:
        entry = detection_services.bank_entry_submit(signal_type=signal_type, value=value.lower(),
                                                     partner_id=str(partner_id), quality=quality)
        return BankEntryRef(entry_id=entry.id, signal_type=entry.signal_type, status=entry.status)


_bank = DetectionBank()


def detection_bank() -> HashBank:
    return _bank
