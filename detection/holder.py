"""A process's view of one signal type of the hash bank: a shared, memory-mapped snapshot plus a small delta.

Pure library code: no Django (``detection.bank`` feeds it rows from the database).

A *snapshot* is a directory holding the exact index of every live hash (``detection.index``) and the entries'
metadata (status, quality, first seen) in flat arrays sorted by entry id. It is written once, atomically, and
every web and worker process on the host maps the same files read-only, so the operating system keeps one copy
in memory however many processes there are. A pointer file names the current snapshot; a newer snapshot
replaces the pointer and each process moves to it at its next refresh (old mappings stay valid until dropped).

Changes since the snapshot (new, withdrawn, deleted hashes) come in as :class:`EntryRow` and live in the
process's delta: index additions and removals, and a dict of metadata overrides. The delta is bounded: the
owner rebuilds the snapshot once it grows past a limit, and every process then drops its delta.

Index ids are ``entry_id * 8 + variant``: variant 0 is the entry's own hash, 1..7 its other dihedral PDQ
variants (rotations and flips), so a rotated copy of a banked image matches its entry. An index class may set
``ENTRY_STRIDE`` to give each entry more rows: vPDQ (``detection.vpdqbank``) gives every frame of a video its
own row, ``entry_id * ENTRY_STRIDE + frame``, and keeps each video's frame count beside its status.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detection.index import HashIndex
from detection.signals import STATUSES

STATUS_CODES = {name: code for code, name in enumerate(STATUSES)}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}
DELETED = STATUS_CODES["Deleted"]
VARIANTS = 8
NO_QUALITY = -1


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One entry as the database holds it now: hashes[0] is its value, the rest its dihedral variants."""

    entry_id: int
    status: int
    quality: int
    first_seen_us: int
    updated_us: int
    hashes: tuple[str, ...]
    frames: int = 0  # vPDQ: the video's frames that count when matching (its rows in the index)


@dataclass(frozen=True, slots=True)
class Hit:
    entry_id: int
    distance: int
    status: int
    quality: int
    first_seen_us: int


@dataclass
class SnapshotArrays:
    """Everything a snapshot holds, as arrays (what the database read produces)."""

    entry_ids: NDArray[np.int64]  # sorted
    status: NDArray[np.uint8]
    quality: NDArray[np.int16]
    first_seen_us: NDArray[np.int64]
    index_ids: NDArray[np.int64]
    index_hashes: NDArray[np.uint64]
    watermark_us: int
    frames: NDArray[np.int32] | None = None  # vPDQ only: per entry, its frames in the index


def entry_stride(index: HashIndex) -> int:
    """Index rows reserved per entry: the dihedral variants, or an index class's own ``ENTRY_STRIDE``."""
    return int(getattr(type(index), "ENTRY_STRIDE", VARIANTS))


class BankView:
    """Exact search over one signal type with entry metadata; not thread-safe for writers (callers lock)."""

    def __init__(self, index: HashIndex, arrays: SnapshotArrays, *, generation: str = "") -> None:
        self.index = index
        self.generation = generation
        self.watermark_us = arrays.watermark_us
        self._snapshot_watermark_us = arrays.watermark_us
        self._ids = arrays.entry_ids
        self._status = arrays.status
        self._quality = arrays.quality
        self._first = arrays.first_seen_us
        self._frames = arrays.frames
        self.stride = entry_stride(index)
        self._frame_overrides: dict[int, int] = {}  # entry id -> frames, for entries changed since the snapshot
        self._overrides: dict[int, tuple[int, int, int]] = {}  # entry id -> (status, quality, first seen)
        self._applied: dict[int, int] = {}  # entry id -> updated_us of the change already applied

    @classmethod
    def in_memory(cls, index_cls: type[HashIndex], arrays: SnapshotArrays) -> BankView:
        return cls(index_cls.build(arrays.index_ids, arrays.index_hashes), arrays)

    # --- changes -----------------------------------------------------------------------------------------------

    def apply(self, rows: Iterable[EntryRow]) -> int:
        """Bring changed entries up to date; a row already applied at the same version is skipped."""
        fresh = [row for row in rows if self._applied.get(row.entry_id) != row.updated_us
                 and not self._in_snapshot(row)]
        if not fresh:
            return 0
        stride = self.stride
        gone = np.asarray([row.entry_id * stride + k for row in fresh for k in range(self._rows_of(row))],
                          dtype=np.int64)
        self.index.remove(gone)
        add_ids: list[int] = []
        add_hashes: list[str] = []
        for row in fresh:
            self._applied[row.entry_id] = row.updated_us
            self._overrides[row.entry_id] = (row.status, row.quality, row.first_seen_us)
            if stride != VARIANTS:
                self._frame_overrides[row.entry_id] = row.frames
            if row.status == DELETED:
                continue
            for k, value in enumerate(row.hashes[:stride]):
                add_ids.append(row.entry_id * stride + k)
                add_hashes.append(value)
        for row in fresh:
            self.watermark_us = max(self.watermark_us, row.updated_us)
        if add_ids:
            self.index.add(add_ids, add_hashes)
        return len(fresh)

    def _rows_of(self, row: EntryRow) -> int:
        # Rows an entry may hold now: all its variants, or as many frames as it had or has.
        if self.stride == VARIANTS:
            return VARIANTS
        return min(self.stride, max(len(row.hashes), self.frames_of(row.entry_id)))

    def frames_of(self, entry_id: int) -> int:
        """vPDQ: the entry's frames in the index (0 when unknown or for other signal types)."""
        if entry_id in self._frame_overrides:
            return self._frame_overrides[entry_id]
        if self._frames is None:
            return 0
        position = int(np.searchsorted(self._ids, entry_id))
        if position < len(self._ids) and int(self._ids[position]) == entry_id:
            return int(self._frames[position])
        return 0

    def _in_snapshot(self, row: EntryRow) -> bool:
        # A change read again through the refresh overlap that the snapshot already holds, exactly: skipping it
        # keeps a fresh snapshot's delta empty (and a burst of changes from triggering rebuild after rebuild).
        if row.updated_us > self._snapshot_watermark_us or row.entry_id in self._overrides:
            return False
        held = self._snapshot_meta(row.entry_id)
        if held is None:
            return row.status == DELETED
        return held == (row.status, row.quality, row.first_seen_us)

    @property
    def delta_size(self) -> int:
        return len(self._overrides)

    # --- reading -----------------------------------------------------------------------------------------------

    def meta(self, entry_id: int) -> tuple[int, int, int] | None:
        """(status, quality, first seen) of an entry: the delta's if it changed, else the snapshot's."""
        override = self._overrides.get(entry_id)
        return override if override is not None else self._snapshot_meta(entry_id)

    def _snapshot_meta(self, entry_id: int) -> tuple[int, int, int] | None:
        position = int(np.searchsorted(self._ids, entry_id))
        if position < len(self._ids) and int(self._ids[position]) == entry_id:
            return int(self._status[position]), int(self._quality[position]), int(self._first[position])
        return None

    def search(self, values: Sequence[str], max_distance: int, statuses: Iterable[int]) -> list[list[Hit]]:
        """For each value, the entries within ``max_distance`` (nearest of their variants) whose status is
        wanted, nearest first, then by entry id."""
        wanted = set(statuses)
        out: list[list[Hit]] = []
        for found in self.index.search(list(values), max_distance):
            hits: list[Hit] = []
            seen: set[int] = set()
            for index_id, distance in found:  # sorted by distance, then index id
                entry_id = index_id // self.stride
                if entry_id in seen:
                    continue
                seen.add(entry_id)
                meta = self.meta(entry_id)
                if meta is None or meta[0] not in wanted:
                    continue
                hits.append(Hit(entry_id, distance, meta[0], meta[1], meta[2]))
            hits.sort(key=lambda hit: (hit.distance, hit.entry_id))
            out.append(hits)
        return out

    def search_rows(self, values: Sequence[str], max_distance: int,
                    statuses: Iterable[int]) -> list[list[tuple[int, int, int]]]:
        """For each value, every (entry id, row within the entry, distance) within ``max_distance`` whose entry's
        status is wanted: all of an entry's rows, not only its nearest (vPDQ counts matched frames)."""
        wanted = set(statuses)
        stride = self.stride
        status_of: dict[int, bool] = {}
        out: list[list[tuple[int, int, int]]] = []
        for found in self.index.search(list(values), max_distance):
            rows: list[tuple[int, int, int]] = []
            for index_id, distance in found:
                entry_id, row = divmod(index_id, stride)
                keep = status_of.get(entry_id)
                if keep is None:
                    meta = self.meta(entry_id)
                    keep = status_of[entry_id] = meta is not None and meta[0] in wanted
                if keep:
                    rows.append((entry_id, row, distance))
            out.append(rows)
        return out


# --- snapshots on disk ---------------------------------------------------------------------------------------

_ARRAYS = ("entry_ids", "status", "quality", "first_seen_us")


def snapshot_write(directory: Path, name: str, index_cls: type[HashIndex], arrays: SnapshotArrays) -> str:
    """Write a snapshot and make it current; returns its generation. Readers of older ones are unaffected."""
    directory.mkdir(parents=True, exist_ok=True)
    generation = f"{name}.{time.time_ns():020d}.{uuid.uuid4().hex[:8]}"
    target = directory / generation
    staging = directory / (generation + ".tmp")
    staging.mkdir()
    try:
        index_cls.write(staging / "index.mih", arrays.index_ids, arrays.index_hashes)
        for field in _ARRAYS:
            np.save(staging / f"{field}.npy", getattr(arrays, field), allow_pickle=False)
        if arrays.frames is not None:
            np.save(staging / "frames.npy", arrays.frames, allow_pickle=False)
        (staging / "built.json").write_text(json.dumps({"watermark_us": arrays.watermark_us,
                                                        "entries": len(arrays.entry_ids),
                                                        "hashes": len(arrays.index_ids)}))
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer_tmp = directory / f".{name}.current.{uuid.uuid4().hex[:8]}"
    pointer_tmp.write_text(generation)
    os.replace(pointer_tmp, directory / f"{name}.current")
    _prune(directory, name, keep=generation)
    return generation


def snapshot_current(directory: Path, name: str) -> str | None:
    try:
        return (directory / f"{name}.current").read_text().strip() or None
    except FileNotFoundError:
        return None


def snapshot_open(directory: Path, generation: str, index_cls: type[HashIndex]) -> BankView:
    """Map a snapshot read-only (shared pages); raises FileNotFoundError if it was pruned meanwhile."""
    folder = directory / generation
    built = json.loads((folder / "built.json").read_text())
    loaded = {field: np.load(folder / f"{field}.npy", mmap_mode="r", allow_pickle=False) for field in _ARRAYS}
    frames = np.load(folder / "frames.npy", mmap_mode="r") if (folder / "frames.npy").exists() else None
    arrays = SnapshotArrays(index_ids=np.empty(0, np.int64), index_hashes=np.empty((0, index_cls.WORDS), np.uint64),
                            watermark_us=int(built["watermark_us"]), frames=frames, **loaded)
    return BankView(index_cls.open(folder / "index.mih"), arrays, generation=generation)


def snapshot_age_seconds(directory: Path, generation: str) -> float:
    try:
        return time.time() - (directory / generation / "built.json").stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _prune(directory: Path, name: str, *, keep: str, grace_seconds: float = 600.0) -> None:
    # Older snapshots go once no process can still be opening them (a process maps within seconds of the
    # pointer changing; mappings made earlier survive the unlink).
    now = time.time()
    for folder in directory.glob(f"{name}.*"):
        if folder.name == keep or not folder.is_dir():
            continue
        try:
            if now - folder.stat().st_mtime > grace_seconds:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue
