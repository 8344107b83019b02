"""Exact Hamming-radius indexes: :class:`PdqIndex` (256-bit) and :class:`Hash64Index` (pHash, dHash).

Pure library code: no Django. The search is multi-index hashing in C (``detection/_mih.c``, built by
``pip install -e .``): a hash is cut into 16-bit substrings, and two hashes within distance R share at least
one substring to within floor(R / substrings) bits, so a query only looks at the few buckets that can hold a
match and checks each candidate's full distance. Every entry within the distance is returned; nothing else.

An index is a *base* image (immutable: built in memory, or written to a file that every process on a host
memory-maps and shares) plus a small in-memory *delta*: entries added since, scanned linearly, and a bitmap
of base rows removed since. An in-memory index folds the delta into a new base when it grows; a file-backed
one leaves that to whoever rewrites the file (see ``detection.holder``).

    >>> index = PdqIndex.build([1, 2], ["f" * 64, "0" * 64])
    >>> index.search(["f" * 63 + "e"], max_distance=31)
    [[(1, 1)]]
"""

from __future__ import annotations

import logging
import mmap
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import ClassVar, Protocol, Self, TypeAlias

import numpy as np
from numpy.typing import NDArray

_mih: ModuleType | None
try:
    from detection import _mih
except ImportError:  # pragma: no cover - only where the C extension could not be built
    _mih = None

logger = logging.getLogger(__name__)

HashInput: TypeAlias = Sequence[str] | Sequence[bytes] | NDArray[np.uint64]
Match: TypeAlias = tuple[int, int]  # (id, distance)

#: The delta of an in-memory index is folded into its base beyond max(this, a 32nd of the base).
COMPACT_MIN_DELTA = 4096


class _Searchable(Protocol):
    n: int

    def search(self, queries: bytes, max_distance: int, deleted: NDArray[np.uint8] | None = None
               ) -> tuple[bytes, ...]: ...

    def ids(self, rows: bytes) -> bytes: ...


class HashIndex:
    """Exact index over fixed-width hashes; subclasses fix the width.

    Threads: any number may search one index at once (the C search releases the GIL and reads only). ``add``,
    ``remove`` and ``compact`` change the index in place and must not run while another thread searches it;
    ``changed`` returns a new index instead, which is how ``detection.holder`` updates a view that lookups are
    reading: build the new one, then swap the reference."""

    WORDS: ClassVar[int] = 4  # 64-bit words per hash
    DEFAULT_MAX_DISTANCE: ClassVar[int] = 31
    # Substrings per hash; 0 lets detection/_mih.c size them to the bank (16 of 16 bits, 12 of 21-22 bits from
    # two million PDQ rows). A subclass may fix them (tests do, to exercise the wide layout on small banks).
    SUBSTRINGS: ClassVar[int] = 0

    def __init__(self, base: _Searchable | None = None, *, keep_alive: object = None, auto_compact: bool = True):
        self._base = base
        self._keep_alive = keep_alive  # the mmap or bytearray the base image lives in
        self._auto_compact = auto_compact
        self._deleted: NDArray[np.uint8] | None = None  # bitmap over base rows, created on first removal
        self._delta_ids = np.empty(0, dtype=np.int64)
        self._delta_hashes = np.empty((0, self.WORDS), dtype=np.uint64)

    # --- construction ------------------------------------------------------------------------------------------

    @classmethod
    def build(cls, ids: Iterable[int], hashes: HashInput) -> Self:
        """An in-memory index of ``hashes`` (hex strings, raw bytes, or an (n, words) uint64 array)."""
        id_array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        words = cls.parse(hashes)
        if len(id_array) != len(words):
            raise ValueError(f"{len(id_array)} ids but {len(words)} hashes")
        base, buffer = _build_image(id_array, words, cls.WORDS, cls.SUBSTRINGS)
        return cls(base, keep_alive=buffer)

    @classmethod
    def write(cls, path: str | Path, ids: NDArray[np.int64], hashes: HashInput) -> None:
        """Write an index file at ``path`` atomically (readers of the old file keep their mapping)."""
        words = cls.parse(hashes)
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        if len(id_array) != len(words):
            raise ValueError(f"{len(id_array)} ids but {len(words)} hashes")
        path = Path(path)
        id_width, posting_width = _widths(id_array)
        size = _require_mih().image_size(len(words), cls.WORDS, id_width, posting_width, cls.SUBSTRINGS)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "r+b") as handle:
                handle.truncate(size)
                with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_WRITE) as out:
                    _require_mih().build(out, words, id_array, cls.WORDS, id_width, posting_width, cls.SUBSTRINGS)
                    out.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def open(cls, path: str | Path) -> Self:
        """Map an index file read-only: its pages are shared by every process that maps it."""
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        _advise_huge_pages(mapped)  # takes effect on a tmpfs mounted with huge pages (docs/hashing.md)
        return cls(_require_mih().MihIndex(mapped), keep_alive=mapped, auto_compact=False)

    @classmethod
    def parse(cls, hashes: HashInput) -> NDArray[np.uint64]:
        """Hashes as an (n, words) array of uint64, most significant word first; ValueError if malformed."""
        width = cls.WORDS * 8
        if isinstance(hashes, np.ndarray):
            array = np.ascontiguousarray(hashes, dtype=np.uint64)
            if array.ndim != 2 or array.shape[1] != cls.WORDS:
                raise ValueError(f"expected an (n, {cls.WORDS}) uint64 array")
            return array
        items = list(hashes)
        if not items:
            return np.empty((0, cls.WORDS), dtype=np.uint64)
        if isinstance(items[0], bytes | bytearray | memoryview):
            raw = b"".join(bytes(item) for item in items)  # type: ignore[arg-type]
            if len(raw) != width * len(items) or any(len(item) != width for item in items):
                raise ValueError(f"every hash must be {width} bytes")
        else:
            if any(not isinstance(item, str) or len(item) != 2 * width for item in items):
                raise ValueError(f"every hash must be {2 * width} hexadecimal characters")
            try:
                raw = bytes.fromhex("".join(items))  # type: ignore[arg-type]
            except ValueError:
                raise ValueError("hashes must be hexadecimal") from None
        return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(items), cls.WORDS)

    # --- changes -----------------------------------------------------------------------------------------------

    def add(self, ids: Iterable[int], hashes: HashInput) -> None:
        """Add entries. An id already present is not replaced: remove it first to change its hash."""
        id_array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        words = self.parse(hashes)
        if len(id_array) != len(words):
            raise ValueError(f"{len(id_array)} ids but {len(words)} hashes")
        self._delta_ids = np.concatenate([self._delta_ids, id_array])
        self._delta_hashes = np.concatenate([self._delta_hashes, words])
        base_size = self._base.n if self._base is not None else 0
        if self._auto_compact and len(self._delta_ids) > max(COMPACT_MIN_DELTA, base_size // 32):
            self.compact()

    def remove(self, ids: Iterable[int]) -> None:
        """Remove every entry with one of these ids (base and delta). Unknown ids are ignored."""
        gone = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64))
        if not len(gone):
            return
        if len(self._delta_ids):
            keep = ~np.isin(self._delta_ids, gone)
            self._delta_ids, self._delta_hashes = self._delta_ids[keep], self._delta_hashes[keep]
        if self._base is not None and self._base.n:
            rows = np.flatnonzero(np.isin(self._base_ids(), gone))
            if len(rows):
                if self._deleted is None:
                    self._deleted = np.zeros((self._base.n + 7) // 8, dtype=np.uint8)
                np.bitwise_or.at(self._deleted, rows >> 3, (1 << (rows & 7)).astype(np.uint8))

    def changed(self, *, remove: Iterable[int] = (), add_ids: Iterable[int] = (), add_hashes: HashInput = ()) -> Self:
        """A new index: this one with ``remove`` taken out, then ``add_ids``/``add_hashes`` added. This one is
        left untouched, so threads searching it meanwhile need no lock; the base image is shared, not copied."""
        other = type(self)(self._base, keep_alive=self._keep_alive, auto_compact=self._auto_compact)
        other._deleted = None if self._deleted is None else self._deleted.copy()
        other._delta_ids, other._delta_hashes = self._delta_ids, self._delta_hashes
        other.remove(remove)  # rebinds the delta arrays and writes only the copied bitmap
        other.add(add_ids, add_hashes)
        return other

    def compact(self) -> None:
        """Fold the delta and removals into a new in-memory base."""
        ids, hashes = self.entries()
        base, buffer = _build_image(ids, hashes, self.WORDS, self.SUBSTRINGS)
        self._base, self._keep_alive, self._deleted = base, buffer, None
        self._delta_ids = np.empty(0, dtype=np.int64)
        self._delta_hashes = np.empty((0, self.WORDS), dtype=np.uint64)

    # --- reading -----------------------------------------------------------------------------------------------

    def search(self, queries: HashInput, max_distance: int | None = None) -> list[list[Match]]:
        """For each query, every (id, distance) within ``max_distance``, sorted by distance then id."""
        radius = self.DEFAULT_MAX_DISTANCE if max_distance is None else int(max_distance)
        if radius < 0:
            raise ValueError("max_distance must not be negative")
        query_words = self.parse(queries)
        count = len(query_words)
        if not count:
            return []
        radius = min(radius, self.WORDS * 64)
        query_bytes = query_words.tobytes()
        found_q: list[NDArray[np.uint32]] = []
        found_id: list[NDArray[np.int64]] = []
        found_d: list[NDArray[np.uint16]] = []
        if self._base is not None and self._base.n:
            # The bitmap goes to C as a buffer, not a copy (1 MB per search at 8M rows otherwise).
            qi, rows, dist = self._base.search(query_bytes, radius, self._deleted)
            found_q.append(np.frombuffer(qi, dtype=np.uint32))
            found_id.append(np.frombuffer(self._base.ids(rows), dtype=np.int64))
            found_d.append(np.frombuffer(dist, dtype=np.uint16))
        if len(self._delta_ids):
            qi, rows, dist = _scan(self._delta_hashes, self.WORDS, query_bytes, radius)
            found_q.append(np.frombuffer(qi, dtype=np.uint32))
            found_id.append(self._delta_ids[np.frombuffer(rows, dtype=np.uint32)])
            found_d.append(np.frombuffer(dist, dtype=np.uint16))
        results: list[list[Match]] = [[] for _ in range(count)]
        if not found_q:
            return results
        q_all, id_all, d_all = np.concatenate(found_q), np.concatenate(found_id), np.concatenate(found_d)
        order = np.lexsort((id_all, d_all, q_all))
        q_sorted = q_all[order].tolist()
        pairs = zip(id_all[order].tolist(), d_all[order].tolist(), strict=True)
        for query, pair in zip(q_sorted, pairs, strict=True):
            results[query].append(pair)
        return results

    def entries(self) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """Every live (id, hash) pair: base rows not removed, then the delta."""
        id_parts, hash_parts = [], []
        if self._base is not None and self._base.n:
            alive = np.ones(self._base.n, dtype=bool)
            if self._deleted is not None:
                alive = ~np.unpackbits(self._deleted, bitorder="little")[: self._base.n].astype(bool)
            id_parts.append(self._base_ids()[alive])
            hash_parts.append(self._base_hashes()[alive])
        id_parts.append(self._delta_ids)
        hash_parts.append(self._delta_hashes)
        return np.concatenate(id_parts), np.concatenate(hash_parts).reshape(-1, self.WORDS)

    def __len__(self) -> int:
        base = self._base.n if self._base is not None else 0
        removed = int(np.unpackbits(self._deleted).sum()) if self._deleted is not None else 0
        return base - removed + len(self._delta_ids)

    @property
    def delta_size(self) -> int:
        return len(self._delta_ids)

    def _base_ids(self) -> NDArray[np.int64]:
        assert self._base is not None
        rows = np.arange(self._base.n, dtype=np.uint32)
        return np.frombuffer(self._base.ids(rows.tobytes()), dtype=np.int64)

    def _base_hashes(self) -> NDArray[np.uint64]:
        assert self._base is not None
        if isinstance(self._base, _NumpyImage):
            return self._base.hashes
        offset, length = self._base.section("hashes")  # type: ignore[attr-defined]
        view = np.frombuffer(self._keep_alive, dtype=np.uint8, count=length, offset=offset)  # type: ignore[call-overload]
        return view.view(np.uint64).reshape(-1, self.WORDS)


class PdqIndex(HashIndex):
    """Exact index of 256-bit PDQ hashes (64 hex characters). Default radius 31, the usual PDQ match."""

    WORDS = 4
    DEFAULT_MAX_DISTANCE = 31


class Hash64Index(HashIndex):
    """Exact index of 64-bit hashes (pHash, dHash: 16 hex characters). Default radius 10."""

    WORDS = 1
    DEFAULT_MAX_DISTANCE = 10


# --- helpers -----------------------------------------------------------------------------------------------------


def _widths(ids: NDArray[np.int64]) -> tuple[int, int]:
    fits_32 = not len(ids) or (int(ids.min()) >= -(2**31) and int(ids.max()) < 2**31)
    return (4 if fits_32 else 8), (3 if len(ids) < 2**24 else 4)


def _require_mih() -> ModuleType:
    if _mih is None:
        raise RuntimeError("detection._mih is not built: run `pip install -e .` (needs a C compiler)")
    return _mih


_warned_fallback = False


def _build_image(ids: NDArray[np.int64], hashes: NDArray[np.uint64], words: int,
                 substrings: int = 0) -> tuple[_Searchable, object]:
    global _warned_fallback
    if _mih is None:
        if not _warned_fallback:
            logger.warning("detection._mih is not built: hash index falls back to an exact numpy scan (slow)")
            _warned_fallback = True
        image = _NumpyImage(np.ascontiguousarray(ids), np.ascontiguousarray(hashes), words)
        return image, image
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    id_width, posting_width = _widths(ids)
    size = _mih.image_size(len(ids), words, id_width, posting_width, substrings)
    # Anonymous memory, page-aligned and zeroed, backed by huge pages where the kernel allows: a search touches
    # thousands of random rows, and with 4 KiB pages nearly each one is also a TLB miss.
    buffer = mmap.mmap(-1, max(size, 1))
    _advise_huge_pages(buffer)
    _mih.build(buffer, hashes, ids, words, id_width, posting_width, substrings)
    return _mih.MihIndex(buffer), buffer


def _advise_huge_pages(mapped: mmap.mmap) -> None:
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            mapped.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # not supported for this mapping or kernel: 4 KiB pages, same results
            pass


def _scan(hashes: NDArray[np.uint64], words: int, queries: bytes, radius: int) -> tuple[bytes, bytes, bytes]:
    if _mih is not None:
        result: tuple[bytes, bytes, bytes] = _mih.scan(np.ascontiguousarray(hashes), words, queries, radius)
        return result
    return _numpy_scan(hashes, words, np.frombuffer(queries, dtype=np.uint64).reshape(-1, words), radius, None)


def _numpy_scan(
    hashes: NDArray[np.uint64],
    words: int,
    queries: NDArray[np.uint64],
    radius: int,
    deleted: NDArray[np.bool_] | None,
) -> tuple[bytes, bytes, bytes]:
    q_parts, r_parts, d_parts = [], [], []
    for qi, query in enumerate(queries):
        distances = np.bitwise_count(hashes ^ query).sum(axis=1, dtype=np.int64)
        hit = distances <= radius
        if deleted is not None:
            hit &= ~deleted
        rows = np.flatnonzero(hit)
        q_parts.append(np.full(len(rows), qi, dtype=np.uint32))
        r_parts.append(rows.astype(np.uint32))
        d_parts.append(distances[rows].astype(np.uint16))
    if not q_parts:
        return b"", b"", b""
    return (np.concatenate(q_parts).tobytes(), np.concatenate(r_parts).tobytes(), np.concatenate(d_parts).tobytes())


class _NumpyImage:
    """Exact but linear stand-in for the C index, used only when the extension is missing."""

    def __init__(self, ids: NDArray[np.int64], hashes: NDArray[np.uint64], words: int) -> None:
        self.id_array, self.hashes, self.words, self.n = ids, hashes.reshape(-1, words), words, len(ids)

    def search(self, queries: bytes, max_distance: int, deleted: NDArray[np.uint8] | None = None
               ) -> tuple[bytes, ...]:
        mask = None
        if deleted is not None:
            mask = np.unpackbits(deleted, bitorder="little")[: self.n].astype(bool)
        query_words = np.frombuffer(queries, dtype=np.uint64).reshape(-1, self.words)
        return _numpy_scan(self.hashes, self.words, query_words, max_distance, mask)

    def ids(self, rows: bytes) -> bytes:
        return self.id_array[np.frombuffer(rows, dtype=np.uint32)].tobytes()


class VpdqFrameIndex(PdqIndex):
    """PDQ index whose rows are the frames of videos (vPDQ): row id ``entry_id * ENTRY_STRIDE + frame``, so a
    frame's hit names its video (see ``detection.holder`` and ``detection.vpdqbank``)."""

    ENTRY_STRIDE: ClassVar[int] = 1 << 16
