"""The hash bank's services: every write to the bank, and every match against it.

Writes (``bank_add``, ``bank_set_status``, ``bank_activate_source``, ``bank_withdraw_source``,
``bank_delete_source``, ``bank_entry_submit``) change rows and bump ``updated_at``; that timestamp is what
partners sync by and what every process's index refreshes from.

Matching is served from memory: each process holds a :class:`detection.holder.BankView` per signal type
(PDQ, pHash, dHash), a snapshot shared by every process on the host through a memory-mapped file under
``BANK_INDEX_DIR`` (or built in memory when that is empty: the embedded default and tests), plus the changes
since, read from the database at most every ``BANK_REFRESH_SECONDS``. A process sees its own writes at once,
other processes' within that interval, with no restart. MD5 and SHA-256 match exactly through the database's
unique index.

Callers outside ``detection`` (intake, remedies, the partner API) use only the functions here.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from detection.holder import (
    NO_QUALITY,
    STATUS_CODES,
    STATUS_NAMES,
    VARIANTS,
    BankView,
    EntryRow,
    SnapshotArrays,
    snapshot_age_seconds,
    snapshot_current,
    snapshot_open,
    snapshot_write,
)
from detection.index import Hash64Index, HashIndex, PdqIndex, VpdqFrameIndex
from detection.models import (
    BankEntry,
    BankSource,
    EntryStatus,
    SourceKind,
)
from detection.signals import DISTANCE_SIGNAL_TYPES, hash_value_clean

logger = logging.getLogger(__name__)

# vPDQ's frames share the PDQ index code, one row per frame (detection.vpdqbank matches videos on top of it).
INDEX_CLASSES: dict[str, type[HashIndex]] = {"pdq": PdqIndex, "phash": Hash64Index, "dhash": Hash64Index,
                                             "vpdq": VpdqFrameIndex}
DEFAULT_MAX_DISTANCE = {"pdq": 31, "phash": 10, "dhash": 10, "md5": 0, "sha256": 0, "video_md5": 0}


class BankValueError(ValueError):
    """A hash that is not a well-formed value of its signal type."""


@dataclass(frozen=True, slots=True)
class BankMatchRow:
    """A match against the bank: the entry, how far, its status, quality and when it was first seen."""

    entry_id: int
    distance: int
    status: str
    quality: int | None
    first_seen: datetime


# --- values --------------------------------------------------------------------------------------------------


def bank_value_clean(*, signal_type: str, value: str) -> str:
    """The value in the bank's spelling (lower-case hex of the right length), or BankValueError."""
    try:
        return hash_value_clean(signal_type, value)
    except ValueError as exc:
        raise BankValueError(str(exc)) from None


def _variants_clean(signal_type: str, value: str, variants: Sequence[str]) -> bytes:
    """The variants as the bank stores them: up to 7 hashes of 32 bytes, end to end."""
    if signal_type != "pdq" or not variants:
        return b""
    cleaned = [bank_value_clean(signal_type="pdq", value=v) for v in variants]
    if cleaned and cleaned[0] == value:
        cleaned = cleaned[1:]  # hash_image lists the original first
    return bytes.fromhex("".join(cleaned[: VARIANTS - 1]))


# --- writes --------------------------------------------------------------------------------------------------


def bank_add(
    *,
    signal_type: str,
    value: str,
    quality: int | None,
    source_kind: str,
    source_id: str,
    variants: Sequence[str] = (),
    status: str = EntryStatus.RECEIVED,
    updated_at: datetime | None = None,
) -> BankEntry:
    """Enter a hash from a source (idempotent). A new entry takes ``status``; an existing one keeps an Active
    status, and comes back as ``status`` if it had been withdrawn or deleted, since someone reports it again."""
    value = bank_value_clean(signal_type=signal_type, value=value)
    if source_kind not in SourceKind.values:
        raise BankValueError(f"unknown source kind {source_kind!r}")
    now = updated_at or timezone.now()
    variant_bytes = _variants_clean(signal_type, value, variants)
    with transaction.atomic():
        entry, created = BankEntry.objects.select_for_update().get_or_create(
            signal_type=signal_type, value=value,
            defaults={"status": status, "quality": quality, "variants": variant_bytes, "first_seen": now,
                      "updated_at": now},
        )
        if not created:
            changed: list[str] = []
            if entry.status in (EntryStatus.WITHDRAWN, EntryStatus.DELETED) and status != entry.status:
                entry.status = status
                changed.append("status")
            elif status == EntryStatus.ACTIVE and entry.status != EntryStatus.ACTIVE:
                entry.status = status
                changed.append("status")
            if variant_bytes and not entry.variants:
                entry.variants = variant_bytes
                changed.append("variants")
            if quality is not None and (entry.quality is None or quality > entry.quality):
                entry.quality = quality
                changed.append("quality")
            if changed:
                entry.updated_at = max(now, entry.updated_at)
                entry.save(update_fields=[*changed, "updated_at"])
        source, source_created = BankSource.objects.get_or_create(
            entry=entry, kind=source_kind, source_id=str(source_id))
        if not source_created and not source.active:
            source.active = True
            source.save(update_fields=["active"])
    _touched(signal_type, [entry.id])
    return entry


def bank_set_status(*, entry_ids: Iterable[int], status: str) -> int:
    """Set the status of entries (a moderator's decision on a partner submission, an import); returns how
    many changed."""
    if status not in EntryStatus.values:
        raise BankValueError(f"unknown status {status!r}")
    ids = list(entry_ids)
    with transaction.atomic():
        rows = list(BankEntry.objects.select_for_update().filter(id__in=ids).exclude(status=status)
                    .values_list("id", "signal_type", "updated_at"))
        for entry_id, _, previous in rows:
            _bump(entry_id, previous, status=status)
        _video_frames_drop(rows, status)
    for entry_id, signal_type, _ in rows:
        _touched(signal_type, [entry_id])
    return len(rows)


def bank_activate_source(*, source_kind: str, source_id: str) -> int:
    """A confirmed case: every hash it brought (and has not withdrawn) becomes Active. Returns how many
    entries changed."""
    with transaction.atomic():
        held = BankSource.objects.filter(kind=source_kind, source_id=str(source_id), active=True).values("entry_id")
        rows = list(BankEntry.objects.select_for_update().filter(id__in=held).exclude(status=EntryStatus.ACTIVE)
                    .values_list("id", "signal_type", "updated_at"))
        for entry_id, _, previous in rows:
            _bump(entry_id, previous, status=EntryStatus.ACTIVE)
    for entry_id, signal_type, _ in rows:
        _touched(signal_type, [entry_id])
    return len(rows)


def bank_withdraw_source(*, source_kind: str, source_id: str) -> int:
    """The source withdraws its hashes. An entry that no other source still holds becomes Withdrawn (partners
    drop it on their next sync); one another victim or partner also reported stays. Returns how many entries
    became Withdrawn."""
    return _source_release(source_kind=source_kind, source_id=source_id, status=EntryStatus.WITHDRAWN, drop=False)


def bank_delete_source(*, source_kind: str, source_id: str) -> int:
    """Retention purge: the source's links are deleted; entries no source holds any more become Deleted
    tombstones (value kept so partners can delete their copy; nothing links them to the source)."""
    return _source_release(source_kind=source_kind, source_id=source_id, status=EntryStatus.DELETED, drop=True)


def _source_release(*, source_kind: str, source_id: str, status: str, drop: bool) -> int:
    with transaction.atomic():
        sources = BankSource.objects.filter(kind=source_kind, source_id=str(source_id))
        entry_ids = list(sources.values_list("entry_id", flat=True).distinct())
        if drop:
            sources.delete()
        else:
            sources.update(active=False)
        still_held = set(BankSource.objects.filter(entry_id__in=entry_ids, active=True)
                         .values_list("entry_id", flat=True))
        orphaned = [entry_id for entry_id in entry_ids if entry_id not in still_held]
        rows = list(BankEntry.objects.select_for_update().filter(id__in=orphaned).exclude(status=status)
                    .exclude(status=EntryStatus.DELETED).values_list("id", "signal_type", "updated_at"))
        for entry_id, _, previous in rows:
            _bump(entry_id, previous, status=status)
        _video_frames_drop(rows, status)
    for entry_id, signal_type, _ in rows:
        _touched(signal_type, [entry_id])
    return len(rows)


def _video_frames_drop(rows: Sequence[tuple[int, str, datetime]], status: str) -> None:
    from detection.vpdqbank import vpdq_frames_drop

    vpdq_frames_drop([entry_id for entry_id, signal_type, _ in rows if signal_type == "vpdq"], status)


def _bump(entry_id: int, previous: datetime, *, status: str) -> None:
    # updated_at moves strictly forward, so a sync cursor (updated_at, id) never skips a change.
    now = max(timezone.now(), previous + _MICROSECOND)
    # A Deleted tombstone keeps only its value (for partners to delete their copy), not the image's variants;
    # reported again, bank_add stores them anew.
    cleared = {"variants": b""} if status == EntryStatus.DELETED else {}
    BankEntry.objects.filter(id=entry_id).update(status=status, updated_at=now, **cleared)


_MICROSECOND = timedelta(microseconds=1)


def bank_entry_submit(*, signal_type: str, value: str, partner_id: str, quality: int | None) -> BankEntry:
    """A partner's hash, for review: Received when new, the existing entry when the bank holds it."""
    value = bank_value_clean(signal_type=signal_type, value=value)
    existing = BankEntry.objects.filter(signal_type=signal_type, value=value).first()
    if existing is not None and existing.status in (EntryStatus.RECEIVED, EntryStatus.ACTIVE):
        BankSource.objects.get_or_create(entry=existing, kind=SourceKind.PARTNER, source_id=str(partner_id))
        return existing
    return bank_add(signal_type=signal_type, value=value, quality=quality, source_kind=SourceKind.PARTNER,
                    source_id=str(partner_id))


# --- reads ---------------------------------------------------------------------------------------------------


def bank_search(
    *, signal_type: str, values: Sequence[str], max_distance: int | None = None,
    statuses: Collection[str] = (EntryStatus.ACTIVE,),
) -> list[list[BankMatchRow]]:
    """For each (already cleaned) value, the entries within ``max_distance`` whose status is in
    ``statuses``, nearest first. PDQ compares against every dihedral variant an entry has. Served from the
    in-memory index for PDQ, pHash and dHash; MD5 and SHA-256 by the database's unique index."""
    if max_distance is None:
        max_distance = DEFAULT_MAX_DISTANCE.get(signal_type, 0)
    if signal_type not in DISTANCE_SIGNAL_TYPES:
        return _exact_search(signal_type, values, statuses)
    codes = [STATUS_CODES[s] for s in statuses if s in STATUS_CODES]
    hits = _view(signal_type).search(values, max_distance, codes)  # no lock: the view is immutable
    return [[BankMatchRow(entry_id=hit.entry_id, distance=hit.distance, status=STATUS_NAMES[hit.status],
                          quality=None if hit.quality == NO_QUALITY else hit.quality,
                          first_seen=_from_us(hit.first_seen_us)) for hit in found] for found in hits]


def _exact_search(signal_type: str, values: Sequence[str], statuses: Collection[str]) -> list[list[BankMatchRow]]:
    rows = {row.value: row for row in BankEntry.objects.filter(signal_type=signal_type, value__in=set(values),
                                                                status__in=list(statuses))}
    out: list[list[BankMatchRow]] = []
    for value in values:
        row = rows.get(value)
        out.append([] if row is None else [BankMatchRow(entry_id=row.id, distance=0, status=row.status,
                                                        quality=row.quality, first_seen=row.first_seen)])
    return out


def bank_lookup(
    *, signal_type: str, value: str, exclude_source_id: str | None = None, max_distance: int | None = None,
    statuses: Collection[str] = (EntryStatus.RECEIVED, EntryStatus.ACTIVE),
) -> list[BankMatchRow]:
    """Intake's question: which entries, other than those only this source brought, match this hash?"""
    value = bank_value_clean(signal_type=signal_type, value=value)
    [matches] = bank_search(signal_type=signal_type, values=[value], max_distance=max_distance, statuses=statuses)
    if exclude_source_id is None or not matches:
        return matches
    others = set(BankSource.objects.filter(entry_id__in=[m.entry_id for m in matches])
                 .exclude(source_id=str(exclude_source_id)).values_list("entry_id", flat=True))
    return [match for match in matches if match.entry_id in others]


def bank_source_ids(*, entry_ids: Iterable[int], source_kind: str) -> dict[int, list[str]]:
    """For each entry, the ids of its sources of one kind (for staff and the partner API's case links)."""
    out: dict[int, list[str]] = {}
    for entry_id, source_id in (BankSource.objects.filter(entry_id__in=list(entry_ids), kind=source_kind)
                                .order_by("entry_id", "created_at").values_list("entry_id", "source_id")):
        out.setdefault(entry_id, []).append(source_id)
    return out


def bank_changes(
    *, since: datetime, after: tuple[datetime, int] | None, limit: int, signal_types: Collection[str],
    statuses: Collection[str],
) -> list[BankEntry]:
    """Entries updated at or after ``since`` and strictly after the cursor (updated_at, id), in that order."""
    rows = BankEntry.objects.filter(updated_at__gte=since, signal_type__in=list(signal_types),
                                    status__in=list(statuses))
    if after is not None:
        at, entry_id = after
        rows = rows.filter(Q(updated_at__gt=at) | Q(updated_at=at, id__gt=entry_id))
    return list(rows.order_by("updated_at", "id")[:limit])


# --- the per-process index -----------------------------------------------------------------------------------
#
# Lookups take no lock. Each signal type's current view is one immutable BankView (detection.holder), replaced
# whole by reference assignment, which is atomic under the interpreter: a lookup reads ``state.view`` once and
# searches that object, the C search releasing the GIL, so threads of one process search in parallel. New views
# are made by this process's refresher thread (one per signal type, started by the first lookup): it opens the
# current snapshot, reads the changes since from the database, starts a rebuild when the delta grows, and swaps
# the view in. A lookup never reads the database, opens or builds a snapshot: it reads what is there. Before the
# first view exists it waits up to BANK_READY_SECONDS for the refresher, then raises BankIndexUnavailable.
# How fresh a view is, and whether refreshing fails, is reported by bank_index_status.
#
# BANK_REFRESH_IN_BACKGROUND = False (the tests' default) refreshes on the calling thread instead, when due:
# a test's writes live in a transaction no other thread's connection can read.


class BankIndexUnavailable(RuntimeError):
    """The process has no view of the bank yet (first load still running, or failing): retry shortly."""


@dataclass
class _State:
    view: BankView | None = None  # replaced whole, never modified: readers take no lock
    checked: float = 0.0  # monotonic time of the last successful refresh
    pending: set[int] | None = None  # entry ids this process changed, read again at the next refresh
    error: str = ""  # the last refresh's failure, until one succeeds
    failures: int = 0
    stopped: bool = False
    producing: threading.Lock = field(default_factory=threading.Lock)  # one maker of new views at a time
    ready: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


_states_lock = threading.Lock()  # guards the dict below (creating states and threads), never a lookup's search
_states: dict[str, _State] = {}
_rebuilding: set[str] = set()


def bank_views_reset() -> None:
    """Forget this process's views and stop their refreshers (tests, after the database was rolled back)."""
    with _states_lock:
        for state in _states.values():
            state.stopped = True
            state.wake.set()
        _states.clear()


def _after_fork_in_child() -> None:
    # Threads do not survive fork: their states go too (the child's first lookup starts its own refresher), and
    # the lock is new in case a parent's thread held it at the moment of the fork.
    global _states_lock
    _states_lock = threading.Lock()
    _states.clear()
    _rebuilding.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _background() -> bool:
    return bool(getattr(settings, "BANK_REFRESH_IN_BACKGROUND", True))


def _refresh_seconds() -> float:
    return float(getattr(settings, "BANK_REFRESH_SECONDS", 2.0))


def _state(signal_type: str) -> _State:
    state = _states.get(signal_type)
    if state is not None and (state.thread is not None or not _background()):
        return state
    with _states_lock:
        state = _states.setdefault(signal_type, _State())
        if _background() and state.thread is None:
            state.thread = threading.Thread(target=_refresher, args=(signal_type, state), daemon=True,
                                            name=f"bank-refresh-{signal_type}")
            state.thread.start()
    return state


def _touched(signal_type: str, entry_ids: Iterable[int]) -> None:
    # This process's own writes are read again at its next refresh, whatever their timestamps. Inline (tests):
    # noted now (a lookup later in the same transaction sees the row) and again after commit. In the background:
    # after commit, with the refresher woken at once, so the write shows within milliseconds. An entry whose
    # transaction rolls back after an inline lookup stays in that process's delta until the next snapshot; its id
    # then names no row, and the API reports no row for it.
    ids = list(entry_ids)

    def note() -> None:
        state = _states.get(signal_type)
        if state is not None:
            with state.producing:
                state.pending = (state.pending or set()) | set(ids)
            state.wake.set()

    if signal_type in INDEX_CLASSES:
        if not _background():
            note()
        transaction.on_commit(note)


def _index_dir() -> Path | None:
    directory = getattr(settings, "BANK_INDEX_DIR", "")
    return Path(directory) if directory else None


def _view(signal_type: str) -> BankView:
    """The view a lookup searches: what is there now. Reads no database and builds nothing in the background
    mode; inline, refreshes first when due."""
    state = _state(signal_type)
    if not _background():
        view = state.view
        if view is None or state.pending or time.monotonic() - state.checked >= _refresh_seconds():
            with state.producing:
                _refresh(signal_type, state)
        assert state.view is not None
        return state.view
    view = state.view
    if view is not None:
        return view
    state.ready.wait(float(getattr(settings, "BANK_READY_SECONDS", 10.0)))
    view = state.view
    if view is None:
        raise BankIndexUnavailable(f"the {signal_type} index is still loading in this process"
                                   + (f" (last attempt failed: {state.error})" if state.error else ""))
    return view


def _refresher(signal_type: str, state: _State) -> None:
    """One process's background maker of views for one signal type."""
    try:
        while not state.stopped:
            state.wake.clear()  # before reading: a wake-up during this refresh makes the next one immediate
            try:
                with state.producing:
                    if state.stopped:
                        break
                    _refresh(signal_type, state)
                state.error, state.failures = "", 0
            except Exception as exc:  # the view in place stays; the failure is logged and reported
                state.failures += 1
                state.error = f"{type(exc).__name__}: {exc}"[:300]
                logger.exception("refreshing this process's %s index failed (%d in a row); lookups keep the "
                                 "view of %s", signal_type, state.failures, _as_of(state))
                connection.close()  # a broken connection is not reused
            state.wake.wait(max(_refresh_seconds(), 0.05) if not state.error else min(5.0, 0.5 * state.failures))
    finally:
        connection.close()


def _refresh(signal_type: str, state: _State) -> None:
    """Make the next view (snapshot moved on, changes since) and swap it in. Caller holds state.producing."""
    view = state.view
    index_cls = INDEX_CLASSES[signal_type]
    directory = _index_dir()
    if directory is not None:
        generation = snapshot_current(directory, signal_type)
        if generation is None:
            generation = bank_index_build(signal_type=signal_type)["generation"]
        if view is None or view.generation != generation:
            try:
                view = snapshot_open(directory, generation, index_cls)
            except FileNotFoundError:  # pruned between reading the pointer and opening it: build afresh
                generation = bank_index_build(signal_type=signal_type)["generation"]
                view = snapshot_open(directory, generation, index_cls)
    elif view is None:
        view = BankView.in_memory(index_cls, _snapshot_arrays(signal_type))
    pending, state.pending = state.pending or set(), None
    overlap_us = int(float(getattr(settings, "BANK_REFRESH_OVERLAP_SECONDS", 30.0)) * 1_000_000)
    try:
        view = view.apply(_changed_rows(signal_type, since_us=view.watermark_us - overlap_us, ids=pending))
    except BaseException:
        state.pending = (state.pending or set()) | pending
        raise
    state.view = view  # the swap: lookups from now on search the new view
    state.checked = time.monotonic()
    state.ready.set()
    if directory is not None and signal_type not in _rebuilding and (
        view.delta_size > int(getattr(settings, "BANK_DELTA_MAX", 50_000))
        or snapshot_age_seconds(directory, view.generation) > float(getattr(settings, "BANK_SNAPSHOT_MAX_AGE", 3600))
    ):
        _rebuilding.add(signal_type)
        threading.Thread(target=_rebuild_in_background, args=(signal_type, view.generation), daemon=True).start()


def _as_of(state: _State) -> str:
    view = state.view
    return "nothing (none loaded)" if view is None else _from_us(view.watermark_us).isoformat()


def bank_index_status(*, signal_type: str) -> dict[str, Any]:
    """How current this process's view of one signal type is, for health checks and operators: ``state`` is
    "absent" (no lookup yet), "loading", "ready", "stale" (no successful refresh for 3 intervals and
    BANK_STALE_SECONDS), or
    "failing" (the last refresh failed; the view in place is still served). ``as_of``: the newest change the view
    holds (changes committed later are not in it)."""
    state = _states.get(signal_type)
    if state is None:
        return {"state": "absent"}
    view = state.view
    if view is None:
        return {"state": "failing" if state.error else "loading", "error": state.error}
    age = time.monotonic() - state.checked
    stale = age > max(3 * _refresh_seconds(), float(getattr(settings, "BANK_STALE_SECONDS", 10.0)))
    return {"state": "failing" if state.error else ("stale" if stale else "ready"), "error": state.error,
            "generation": view.generation, "as_of": _from_us(view.watermark_us), "refreshed_seconds_ago": age,
            "delta_entries": view.delta_size, "background": state.thread is not None}


def _rebuild_in_background(signal_type: str, stale: str) -> None:
    try:
        bank_index_build(signal_type=signal_type, wait=False, replacing=stale)
    except Exception:
        logger.exception("rebuilding the %s snapshot failed; this process keeps its delta", signal_type)
    finally:
        connection.close()
        _rebuilding.discard(signal_type)
        state = _states.get(signal_type)
        if state is not None:
            state.wake.set()  # move to the new snapshot now rather than at the next interval


def bank_index_build(*, signal_type: str, wait: bool = True, replacing: str | None = None) -> dict[str, Any]:
    """Write a fresh snapshot of one signal type for this host and make it current. One builder at a time per
    host (a file lock); with ``wait=False`` a process that finds another building leaves it to that one.
    ``replacing``: the snapshot the caller found stale; if another process has replaced it meanwhile, nothing is
    built (the caller moves to the new one at its next refresh)."""
    directory = _index_dir()
    if directory is None:
        raise RuntimeError("BANK_INDEX_DIR is not set: the index is built in memory by each process")
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(directory / f"{signal_type}.lock", "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return {"generation": snapshot_current(directory, signal_type), "built": False}
        try:
            current = snapshot_current(directory, signal_type)
            if replacing is not None and current is not None and current != replacing:
                return {"generation": current, "built": False}
            if wait and current is not None and snapshot_age_seconds(directory, current) < 1.0:
                return {"generation": current, "built": False}  # another process just built it
            arrays = _snapshot_arrays(signal_type)
            read = time.perf_counter() - started
            generation = snapshot_write(directory, signal_type, INDEX_CLASSES[signal_type], arrays)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    return {"generation": generation, "built": True, "entries": len(arrays.entry_ids),
            "hashes": len(arrays.index_ids), "read_seconds": read,
            "total_seconds": time.perf_counter() - started}


def _to_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(microsecond=micros % 1_000_000)


def _split_variants(stored: bytes | memoryview) -> list[str]:
    data = bytes(stored)
    return [data[i:i + 32].hex() for i in range(0, len(data), 32)]


def _changed_rows(signal_type: str, *, since_us: int, ids: set[int]) -> list[EntryRow]:
    if signal_type == "vpdq":
        from detection.vpdqbank import vpdq_changed_rows

        return vpdq_changed_rows(since=_from_us(max(since_us, 0)), ids=ids)
    condition = Q(updated_at__gte=_from_us(max(since_us, 0)))
    if ids:
        condition |= Q(id__in=list(ids))
    rows = (BankEntry.objects.filter(condition, signal_type=signal_type)
            .values_list("id", "status", "quality", "first_seen", "updated_at", "value", "variants"))
    return [EntryRow(entry_id=entry_id, status=STATUS_CODES[status],
                     quality=NO_QUALITY if quality is None else quality, first_seen_us=_to_us(first_seen),
                     updated_us=_to_us(updated), hashes=(value, *_split_variants(variants)))
            for entry_id, status, quality, first_seen, updated, value, variants in rows]


def _snapshot_arrays(signal_type: str) -> SnapshotArrays:
    """Every live entry of a signal type, read in one pass (PostgreSQL: binary COPY straight into arrays)."""
    if signal_type == "vpdq":
        from detection.vpdqbank import vpdq_snapshot_arrays

        return vpdq_snapshot_arrays()
    watermark = _to_us(timezone.now())
    index_cls = INDEX_CLASSES[signal_type]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        (ids, status, quality, first, words), (variant_ids, variant_words) = _read_in_parallel(signal_type)
    elif connection.vendor == "postgresql":
        ids, status, quality, first, words = _read_copy(signal_type, index_cls.WORDS)
        if signal_type == "pdq":
            variant_ids, variant_words = _read_variants_copy()
    else:
        ids, status, quality, first, words = _read_orm(signal_type, index_cls)
        if signal_type == "pdq":
            variant_ids, variant_words = _read_variants_orm()
    index_ids = [ids * VARIANTS]
    index_hashes = [words]
    if signal_type == "pdq":
        index_ids.append(variant_ids)
        index_hashes.append(variant_words)
    return SnapshotArrays(entry_ids=ids, status=status, quality=quality, first_seen_us=first,
                          index_ids=np.concatenate(index_ids), index_hashes=np.concatenate(index_hashes),
                          watermark_us=watermark)


_ArrayRead = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any],
                   np.ndarray[Any, Any]]


_Variants = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


def _read_in_parallel(signal_type: str) -> tuple[_ArrayRead, _Variants]:
    """Every live entry of a fixed-width signal type (and for PDQ its variants), read by two connections at once,
    each taking half of the id range, that see one snapshot of the database (as ``pg_dump -j`` does: the first
    exports its snapshot, the second adopts it). So the read is as consistent as one query (no entry without its
    variants, or the reverse), and the two halves overlap: each binary COPY is bound by its own backend."""
    from django.db import connections

    words = INDEX_CLASSES[signal_type].WORDS
    table = BankEntry._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute(f"SELECT min(id), max(id) FROM {table}")  # noqa: S608 (the model's table name)
            low, high = cursor.fetchone()
        if low is None:
            low = high = 0
        middle = (low + high) // 2
        halves: dict[int, tuple[_ArrayRead, _Variants]] = {}
        failure: list[BaseException] = []

        def read(half: int, first: int, last: int) -> None:
            entries = _read_copy(signal_type, words, ids=(first, last))
            variants = _read_variants_copy(ids=(first, last)) if signal_type == "pdq" else _NO_VARIANTS
            halves[half] = (entries, variants)

        def read_upper_half() -> None:
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:  # this thread's own connection
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                    read(1, middle + 1, high)
            except BaseException as exc:  # re-raised on the calling thread
                failure.append(exc)
            finally:
                connections.close_all()

        helper = threading.Thread(target=read_upper_half, name="bank-snapshot-read")
        helper.start()
        try:
            read(0, low, middle)
        finally:
            helper.join()  # the exported snapshot lives only as long as this transaction
    if failure:
        raise failure[0]
    (lower, lower_variants), (upper, upper_variants) = halves[0], halves[1]
    entries = tuple(np.concatenate([a, b]) for a, b in zip(lower, upper, strict=True))
    variants = tuple(np.concatenate([a, b]) for a, b in zip(lower_variants, upper_variants, strict=True))
    return entries, variants  # type: ignore[return-value]


_NO_VARIANTS: _Variants = (np.empty(0, dtype=np.int64), np.empty((0, 4), dtype=np.uint64))


def _read_orm(signal_type: str, index_cls: type[HashIndex]) -> _ArrayRead:
    rows = (BankEntry.objects.filter(signal_type=signal_type).exclude(status=EntryStatus.DELETED).order_by("id")
            .values_list("id", "status", "quality", "first_seen", "value"))
    ids: list[int] = []
    status: list[int] = []
    quality: list[int] = []
    first: list[int] = []
    values: list[str] = []
    for entry_id, entry_status, entry_quality, first_seen, value in rows.iterator(chunk_size=5000):
        ids.append(entry_id)
        status.append(STATUS_CODES[entry_status])
        quality.append(NO_QUALITY if entry_quality is None else entry_quality)
        first.append(_to_us(first_seen))
        values.append(value)
    return (np.asarray(ids, dtype=np.int64), np.asarray(status, dtype=np.uint8), np.asarray(quality, dtype=np.int16),
            np.asarray(first, dtype=np.int64), index_cls.parse(values))


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _read_copy(signal_type: str, words: int, *, ids: tuple[int, int] | None = None) -> _ArrayRead:
    # Binary COPY of fixed-width columns: every row has the same layout, so numpy reads the stream as one
    # structured array (about 1 s for a million rows, where the ORM takes tens of seconds).
    if signal_type not in INDEX_CLASSES:  # a fixed word, inlined into the SQL below
        raise ValueError(signal_type)
    table = BankEntry._meta.db_table
    # No outside input reaches this SQL: the table name and a signal type checked above. Columns travel in
    # PostgreSQL's binary forms (a timestamptz is int8 microseconds since 2000-01-01); rows are sorted here,
    # not by the server.
    statement = (
        "COPY (SELECT id, CASE status WHEN 'Received' THEN 0 WHEN 'Active' THEN 1 WHEN 'Withdrawn' THEN 2 "
        "ELSE 3 END::int2, COALESCE(quality, -1)::int2, first_seen, decode(value, 'hex') "
        "FROM " + table + " WHERE signal_type = '" + signal_type + "' AND status <> 'Deleted'" + _id_range(ids) + ") "
        "TO STDOUT (FORMAT BINARY)"
    )
    body = _copy_body(statement)
    row = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("st", ">i2"), ("l3", ">i4"),
                    ("q", ">i2"), ("l4", ">i4"), ("fs", ">i8"), ("l5", ">i4"), ("h", ">u8", (words,))])
    if len(body) % row.itemsize:
        raise RuntimeError("a bank row has an unexpected width (a malformed value in the database?)")
    table_rows = np.frombuffer(body, dtype=row)
    if len(table_rows) and (np.any(table_rows["n"] != 5) or np.any(table_rows["l5"] != words * 8)):
        raise RuntimeError("a bank row has an unexpected layout")
    order = np.argsort(table_rows["id"], kind="stable")
    table_rows = table_rows[order]
    return (table_rows["id"].astype(np.int64), table_rows["st"].astype(np.uint8), table_rows["q"].astype(np.int16),
            table_rows["fs"].astype(np.int64) + _PG_EPOCH_US, np.ascontiguousarray(table_rows["h"].astype(np.uint64)))


_PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds


def _copy_body(statement: str) -> memoryview:
    """The rows of a binary COPY ... TO STDOUT, without its header and trailer."""
    connection.ensure_connection()
    buffer = bytearray()
    with connection.cursor() as wrapper:
        raw: Any = wrapper.cursor
        with raw.copy(statement) as copy:
            for data in copy:
                buffer += data
    if not buffer.startswith(_COPY_SIGNATURE):
        raise RuntimeError("unexpected COPY stream")
    extension = int.from_bytes(buffer[15:19], "big")
    return memoryview(buffer)[19 + extension: len(buffer) - 2]  # header, trailer (-1)


def _read_variants_orm() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    variant_ids: list[int] = []
    variant_values: list[str] = []
    for entry_id, stored in (BankEntry.objects.filter(signal_type="pdq").exclude(status=EntryStatus.DELETED)
                             .exclude(variants=b"").values_list("id", "variants").iterator(chunk_size=5000)):
        for k, value in enumerate(_split_variants(stored)[: VARIANTS - 1], start=1):
            variant_ids.append(entry_id * VARIANTS + k)
            variant_values.append(value)
    return np.asarray(variant_ids, dtype=np.int64), PdqIndex.parse(variant_values)


def _id_range(ids: tuple[int, int] | None) -> str:
    return "" if ids is None else f" AND id BETWEEN {int(ids[0])} AND {int(ids[1])}"


def _read_variants_copy(*, ids: tuple[int, int] | None = None) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Every live PDQ entry's dihedral variants as (index ids, hashes), by one binary COPY: the variants column
    (up to 7 x 32 bytes) padded to its full width, so every row has one fixed layout and numpy reads the stream
    as a single structured array; the count column says how many are real. Nothing is decoded on either side."""
    table = BankEntry._meta.db_table
    width = (VARIANTS - 1) * 32
    # No outside input: the model's table name and constants. Rows already at full width (every image hashed
    # here has all 8 variants) are sent as stored; shorter ones are padded with zero bytes.
    padded = f"substring(variants || decode(repeat('00', {width}), 'hex') from 1 for {width})"
    statement = (
        f"COPY (SELECT id, (length(variants) / 32)::int2, "  # noqa: S608 (constants only, see above)
        f"CASE WHEN length(variants) = {width} THEN variants ELSE {padded} END "
        f"FROM {table} WHERE signal_type = 'pdq' AND status <> 'Deleted' AND length(variants) > 0{_id_range(ids)}) "
        "TO STDOUT (FORMAT BINARY)"
    )
    body = _copy_body(statement)
    row = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("count", ">i2"), ("l3", ">i4"),
                    ("h", ">u8", (VARIANTS - 1, 4))])
    if len(body) % row.itemsize:
        raise RuntimeError("a bank row's variants have an unexpected width (a malformed value in the database?)")
    rows = np.frombuffer(body, dtype=row)
    if len(rows) and (np.any(rows["n"] != 3) or np.any(rows["l3"] != width)):
        raise RuntimeError("a bank row's variants have an unexpected layout")
    present = np.arange(1, VARIANTS)[None, :] <= np.minimum(rows["count"].astype(np.int64), VARIANTS - 1)[:, None]
    index_ids = rows["id"].astype(np.int64)[:, None] * VARIANTS + np.arange(1, VARIANTS, dtype=np.int64)[None, :]
    return index_ids[present], np.ascontiguousarray(rows["h"][present].astype(np.uint64))


def bank_entries_iter(*, signal_types: Collection[str] | None = None) -> Iterator[BankEntry]:
    """Every entry, in id order, streamed (exports)."""
    rows = BankEntry.objects.order_by("id")
    if signal_types:
        rows = rows.filter(signal_type__in=list(signal_types))
    yield from rows.iterator(chunk_size=5000)


def bank_import_batch(*, rows: Sequence[tuple[str, str, str | None, int | None]], source_id: str,
                      default_status: str = EntryStatus.ACTIVE) -> tuple[int, int]:
    """Enter a batch of (signal_type, value, status, quality), values already cleaned, with the import batch as
    their source. Idempotent: a hash the bank holds is left as it is (it only gains this source). Returns
    (entries created, entries already there)."""
    now = timezone.now()
    unique: dict[tuple[str, str], tuple[str | None, int | None]] = {}
    for signal_type, value, status, quality in rows:
        unique.setdefault((signal_type, value), (status, quality))
    with transaction.atomic():
        by_type: dict[str, list[str]] = {}
        for signal_type, value in unique:
            by_type.setdefault(signal_type, []).append(value)
        before = sum(BankEntry.objects.filter(signal_type=t, value__in=v).count() for t, v in by_type.items())
        BankEntry.objects.bulk_create(
            [BankEntry(signal_type=t, value=v, status=s or default_status, quality=q, first_seen=now, updated_at=now)
             for (t, v), (s, q) in unique.items()],
            ignore_conflicts=True, batch_size=2000)
        ids: list[tuple[int, str]] = []
        for signal_type, values in by_type.items():
            ids.extend(BankEntry.objects.filter(signal_type=signal_type, value__in=values)
                       .values_list("id", "signal_type"))
        BankSource.objects.bulk_create(
            [BankSource(entry_id=entry_id, kind=SourceKind.IMPORT, source_id=source_id, created_at=now)
             for entry_id, _ in ids], ignore_conflicts=True, batch_size=2000)
    for entry_id, signal_type in ids:
        _touched(signal_type, [entry_id])
    return len(unique) - before, before
