"""vPDQ in the hash bank: banking a video's frames, and matching a video against the bank by HMA's rule.

A vPDQ entry is a :class:`~detection.models.BankEntry` of signal type ``vpdq`` whose value is the SHA-256 of the
video's frames in HMA's text form (:func:`detection.videomatch.vpdq_key`); the frames live beside it in
:class:`~detection.models.BankVpdq`. Matching goes through the same exact PDQ index as images
(:class:`detection.index.VpdqFrameIndex`, one row per frame: ``entry_id * 65536 + frame``), in the same shared
snapshot plus per-process delta (``detection.holder``), refreshed by ``detection.bank``. On top of the frame
search sits HMA's rule (:mod:`detection.videomatch`): only frames of quality >= 50 are indexed or searched,
each distinct hash once; a video matches when at least ``query_threshold`` percent of the query's frames are
within the distance of one of its frames, and at least ``compared_threshold`` percent of its frames are within
the distance of one of the query's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils import timezone

from detection import bank
from detection.holder import NO_QUALITY, STATUS_CODES, STATUS_NAMES, EntryRow, SnapshotArrays
from detection.index import VpdqFrameIndex
from detection.models import BankEntry, BankVpdq, EntryStatus, SignalType
from detection.videomatch import (
    COMPARED_MATCH_PERCENT,
    DISTANCE_THRESHOLD,
    QUALITY_THRESHOLD,
    QUERY_MATCH_PERCENT,
    VpdqFeature,
    features_clean,
    features_parse,
    features_text,
    prepared,
    vpdq_key,
)

VPDQ = SignalType.VPDQ.value


@dataclass(frozen=True, slots=True)
class VpdqMatchRow:
    """A banked video that matches a query video by HMA's rule."""

    entry_id: int
    query_match_percent: float  # of the query's frames (quality >= 50, distinct), those near one of the entry's
    compared_match_percent: float  # of the entry's frames, those near one of the query's
    distance: int  # the nearest pair of frames
    status: str
    frames: int  # the entry's frames that count
    first_seen: datetime


def bank_vpdq_add(*, features: Sequence[object], source_kind: str, source_id: str,
                  status: str = EntryStatus.RECEIVED) -> BankEntry:
    """Bank a video's vPDQ from a source (idempotent, as ``bank_add``); ``features`` as
    :func:`detection.videomatch.features_clean` takes them. ValueError (BankValueError) for a malformed hash."""
    try:
        clean = features_clean(features)
    except ValueError as exc:
        raise bank.BankValueError(str(exc)) from None
    with transaction.atomic():
        entry = bank.bank_add(signal_type=VPDQ, value=vpdq_key(clean), quality=None, source_kind=source_kind,
                              source_id=source_id, status=status)
        if entry.status in (EntryStatus.RECEIVED, EntryStatus.ACTIVE):
            BankVpdq.objects.get_or_create(entry=entry, defaults={"features": features_text(clean),
                                                                  "frames": len(prepared(clean))})
    return entry


def bank_vpdq_features(*, entry_ids: Iterable[int]) -> dict[int, list[VpdqFeature]]:
    """The frames of vPDQ entries that still hold them (Received or Active), by entry id."""
    return {entry_id: features_parse(text) for entry_id, text in
            BankVpdq.objects.filter(entry_id__in=list(entry_ids)).values_list("entry_id", "features")}


def bank_vpdq_search(
    *,
    features: Sequence[VpdqFeature],
    statuses: Collection[str] = (EntryStatus.ACTIVE,),
    max_distance: int = DISTANCE_THRESHOLD,
    query_threshold: float = QUERY_MATCH_PERCENT,
    compared_threshold: float = COMPARED_MATCH_PERCENT,
) -> list[VpdqMatchRow]:
    """The banked videos that match ``features`` by HMA's rule, best first. Served from the in-memory index."""
    query = prepared(features, QUALITY_THRESHOLD)
    if not query:
        return []
    codes = [STATUS_CODES[s] for s in statuses if s in STATUS_CODES]
    query_hits: dict[int, set[int]] = {}
    entry_hits: dict[int, set[int]] = {}
    nearest: dict[int, int] = {}
    with bank._lock:
        view = bank._view(VPDQ)
        for position, found in enumerate(view.search_rows(query, max_distance, codes)):
            for entry_id, row, distance in found:
                query_hits.setdefault(entry_id, set()).add(position)
                entry_hits.setdefault(entry_id, set()).add(row)
                nearest[entry_id] = min(distance, nearest.get(entry_id, distance))
        facts = {entry_id: (view.meta(entry_id), view.frames_of(entry_id)) for entry_id in query_hits}
    out: list[VpdqMatchRow] = []
    for entry_id, positions in query_hits.items():
        meta, frames = facts[entry_id]
        if meta is None or frames <= 0:
            continue
        query_percent = len(positions) * 100 / len(query)
        compared_percent = len(entry_hits[entry_id]) * 100 / frames
        if query_percent < query_threshold or compared_percent < compared_threshold:
            continue
        out.append(VpdqMatchRow(entry_id=entry_id, query_match_percent=query_percent,
                                compared_match_percent=compared_percent, distance=nearest[entry_id],
                                status=STATUS_NAMES[meta[0]], frames=frames,
                                first_seen=bank._from_us(meta[2])))
    out.sort(key=lambda m: (-m.query_match_percent, -m.compared_match_percent, m.distance, m.entry_id))
    return out


def vpdq_frames_drop(entry_ids: Iterable[int], status: str) -> None:
    """A withdrawn or deleted video keeps no frames (the least kept): only its key stays, for partners."""
    if status in (EntryStatus.WITHDRAWN, EntryStatus.DELETED):
        BankVpdq.objects.filter(entry_id__in=list(entry_ids)).delete()


# --- the index's rows, for detection.bank's refresh and snapshots ---------------------------------------------


def _counted(text: str) -> list[str]:
    """``prepared`` of stored frames, read fast: the text was checked when it was stored (a snapshot reads
    every video's frames; parsing each frame through ``features_clean`` took most of the build's time)."""
    seen: set[str] = set()
    out: list[str] = []
    for line in text.split("\n"):
        pdq, quality, _ = line.split(",", 2)
        if int(quality) >= QUALITY_THRESHOLD and pdq not in seen:
            seen.add(pdq)
            out.append(pdq)
    return out


def vpdq_changed_rows(*, since: datetime, ids: set[int]) -> list[EntryRow]:
    from django.db.models import Q

    condition = Q(updated_at__gte=since)
    if ids:
        condition |= Q(id__in=list(ids))
    rows = list(BankEntry.objects.filter(condition, signal_type=VPDQ)
                .values_list("id", "status", "quality", "first_seen", "updated_at"))
    texts = dict(BankVpdq.objects.filter(entry_id__in=[row[0] for row in rows]).values_list("entry_id", "features"))
    out: list[EntryRow] = []
    for entry_id, status, quality, first_seen, updated in rows:
        hashes = tuple(_counted(texts[entry_id])) if entry_id in texts else ()
        out.append(EntryRow(entry_id=entry_id, status=STATUS_CODES[status],
                            quality=NO_QUALITY if quality is None else quality,
                            first_seen_us=bank._to_us(first_seen), updated_us=bank._to_us(updated),
                            hashes=hashes, frames=len(hashes)))
    return out


def vpdq_snapshot_arrays() -> SnapshotArrays:
    """Every live vPDQ entry and one index row per frame that counts, read in one pass."""
    watermark = bank._to_us(timezone.now())
    stride = VpdqFrameIndex.ENTRY_STRIDE
    ids: list[int] = []
    status: list[int] = []
    quality: list[int] = []
    first: list[int] = []
    frames: list[int] = []
    index_ids: list[int] = []
    index_values: list[str] = []
    rows = (BankEntry.objects.filter(signal_type=VPDQ).exclude(status=EntryStatus.DELETED).order_by("id")
            .values_list("id", "status", "quality", "first_seen", "vpdq__features"))
    for entry_id, entry_status, entry_quality, first_seen, text in rows.iterator(chunk_size=2000):
        hashes = _counted(text) if text else []
        ids.append(entry_id)
        status.append(STATUS_CODES[entry_status])
        quality.append(NO_QUALITY if entry_quality is None else entry_quality)
        first.append(bank._to_us(first_seen))
        frames.append(len(hashes))
        index_ids.extend(entry_id * stride + k for k in range(len(hashes)))
        index_values.extend(hashes)
    return SnapshotArrays(entry_ids=np.asarray(ids, dtype=np.int64), status=np.asarray(status, dtype=np.uint8),
                          quality=np.asarray(quality, dtype=np.int16), first_seen_us=np.asarray(first, dtype=np.int64),
                          index_ids=np.asarray(index_ids, dtype=np.int64),
                          index_hashes=VpdqFrameIndex.parse(index_values), watermark_us=watermark,
                          frames=np.asarray(frames, dtype=np.int32))
