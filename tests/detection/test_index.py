"""detection.index: exact against brute force (hypothesis), planted near-duplicates at 0..40, files, deltas."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection import index as index_module
from detection.index import Hash64Index, HashIndex, PdqIndex


def flip(value: int, bits: int, width: int, rnd: random.Random) -> int:
    for bit in rnd.sample(range(width), bits):
        value ^= 1 << bit
    return value


def brute(bank: dict[int, int], query: int, radius: int) -> list[tuple[int, int]]:
    found = [(i, (h ^ query).bit_count()) for i, h in bank.items() if (h ^ query).bit_count() <= radius]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def hexes(values: list[int], width: int) -> list[str]:
    return [f"{v:0{width // 4}x}" for v in values]


class WidePdqIndex(PdqIndex):
    """The layout a bank of two million rows or more gets (12 substrings of 21-22 bits), on a small bank."""

    SUBSTRINGS = 12


class WidestPdqIndex(PdqIndex):
    SUBSTRINGS = 11  # 3 substrings of 24 bits, 8 of 23: the widest the format allows


@pytest.mark.parametrize(("cls", "width", "radius"), [(PdqIndex, 256, 31), (Hash64Index, 64, 10),
                                                      (WidePdqIndex, 256, 31), (WidestPdqIndex, 256, 31),
                                                      (WidePdqIndex, 256, 39)])
def test_planted_near_duplicates_at_every_distance(cls: type[HashIndex], width: int, radius: int) -> None:
    rnd = random.Random(7)
    bank = {i: rnd.getrandbits(width) for i in range(5000)}
    queries = [rnd.getrandbits(width) for _ in range(40)]
    next_id = len(bank)
    for query in queries:
        for distance in range(0, min(41, width)):
            bank[next_id] = flip(query, distance, width, rnd)
            next_id += 1
    index = cls.build(list(bank), hexes(list(bank.values()), width))
    results = index.search(hexes(queries, width), max_distance=radius)
    for query, got in zip(queries, results, strict=True):
        assert got == brute(bank, query, radius)
        assert [d for _, d in got if d == radius]  # the boundary itself is included...
    beyond = index.search(hexes(queries, width), max_distance=radius + 1)
    assert all(len(b) > len(r) for b, r in zip(beyond, results, strict=True))  # ...and radius + 1 is not


hash_values = st.integers(min_value=0, max_value=2**256 - 1)


@st.composite
def banks(draw: st.DrawFn) -> tuple[dict[int, int], list[int]]:
    """Random hashes, many of them deliberately close to the queries and to each other (clusters)."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    centres = draw(st.lists(hash_values, min_size=1, max_size=6))
    bank: dict[int, int] = {}
    for _ in range(draw(st.integers(0, 300))):
        if rnd.random() < 0.6:
            value = flip(rnd.choice(centres), rnd.randrange(0, 48), 256, rnd)
        else:
            value = rnd.getrandbits(256)
        bank[draw(st.integers(-(2**40), 2**40))] = value
    queries = [flip(rnd.choice(centres), rnd.randrange(0, 20), 256, rnd) for _ in range(5)]
    return bank, queries


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(banks(), st.integers(0, 70), st.sampled_from([PdqIndex, WidePdqIndex]))
def test_search_equals_brute_force(data: tuple[dict[int, int], list[int]], radius: int,
                                   cls: type[PdqIndex]) -> None:
    bank, queries = data
    index = cls.build(list(bank), hexes(list(bank.values()), 256))
    for query, got in zip(queries, index.search(hexes(queries, 256), max_distance=radius), strict=True):
        assert got == brute(bank, query, radius)


def test_the_substrings_grow_with_the_bank() -> None:
    """16 substrings of 16 bits below two million PDQ rows, 12 wider ones from there: their bucket offsets alone
    (2^21-2^22 + 1 per substring) take 128 MB, less 4 postings of 3 bytes a row: at two million rows the image
    is some 100 MB larger, which pays only on a large bank."""
    mih = index_module._require_mih()
    small = mih.image_size(1_999_999, 4, 4, 3)
    assert small == mih.image_size(1_999_999, 4, 4, 3, 16)
    assert mih.image_size(2_000_000, 4, 4, 3) == mih.image_size(2_000_000, 4, 4, 3, 12)
    assert mih.image_size(2_000_000, 4, 4, 3, 12) - mih.image_size(2_000_000, 4, 4, 3, 16) > 100 * 2**20
    assert mih.image_size(10_000_000, 1, 4, 3) == mih.image_size(10_000_000, 1, 4, 3, 4)  # 64-bit hashes stay
    with pytest.raises(ValueError):
        mih.image_size(100, 4, 4, 3, 10)  # substrings of 26 bits: too wide


def test_a_wide_index_file_round_trips_and_a_version_1_file_still_opens(tmp_path: Path) -> None:
    rnd = random.Random(5)
    bank = {i: rnd.getrandbits(256) for i in range(3000)}
    queries = [flip(v, 13, 256, rnd) for v in list(bank.values())[:25]]
    WidePdqIndex.write(tmp_path / "wide.idx", np.array(list(bank), dtype=np.int64), hexes(list(bank.values()), 256))
    PdqIndex.write(tmp_path / "old.idx", np.array(list(bank), dtype=np.int64), hexes(list(bank.values()), 256))
    old = bytearray((tmp_path / "old.idx").read_bytes())
    old[8:12] = (1).to_bytes(4, "little")  # what an image written before substrings were sized looked like
    (tmp_path / "old.idx").write_bytes(bytes(old))
    for name in ("wide.idx", "old.idx"):
        index = PdqIndex.open(tmp_path / name)
        for query, got in zip(queries, index.search(hexes(queries, 256)), strict=True):
            assert got == brute(bank, query, 31)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(banks(), st.data())
def test_add_and_remove_keep_it_exact(data: tuple[dict[int, int], list[int]], draw: st.DataObject) -> None:
    bank, queries = data
    items = list(bank.items())
    split = draw.draw(st.integers(0, len(items)))
    index = PdqIndex.build([i for i, _ in items[:split]], hexes([h for _, h in items[:split]], 256))
    index.add([i for i, _ in items[split:]], hexes([h for _, h in items[split:]], 256))
    removed = draw.draw(st.lists(st.sampled_from([i for i, _ in items]), max_size=20)) if items else []
    index.remove(removed)
    alive = {i: h for i, h in items if i not in set(removed)}
    assert len(index) == len(alive)
    for query, got in zip(queries, index.search(hexes(queries, 256), max_distance=31), strict=True):
        assert got == brute(alive, query, 31)
    index.compact()
    for query, got in zip(queries, index.search(hexes(queries, 256), max_distance=31), strict=True):
        assert got == brute(alive, query, 31)


def test_remove_then_add_same_id_with_new_hash() -> None:
    index = PdqIndex.build([1], ["0" * 64])
    index.remove([1])
    index.add([1], ["f" * 64])
    assert index.search(["0" * 64, "f" * 64], max_distance=0) == [[], [(1, 0)]]


def test_delta_is_folded_in_when_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "COMPACT_MIN_DELTA", 10)
    rnd = random.Random(1)
    values = [rnd.getrandbits(256) for _ in range(30)]
    index = PdqIndex.build([], [])
    for i, value in enumerate(values):
        index.add([i], hexes([value], 256))
    assert index.delta_size <= 10
    assert [r[0] for r in index.search(hexes(values, 256), max_distance=0)] == [(i, 0) for i in range(30)]


def test_file_index_is_shared_read_only_and_exact(tmp_path: Path) -> None:
    rnd = random.Random(2)
    bank = {i * 3 + 2**35: rnd.getrandbits(256) for i in range(2000)}  # ids beyond 32 bits: 8-byte ids
    path = tmp_path / "pdq.idx"
    PdqIndex.write(path, np.array(list(bank), dtype=np.int64), hexes(list(bank.values()), 256))
    index = PdqIndex.open(path)
    queries = [flip(v, 9, 256, rnd) for v in list(bank.values())[:20]]
    for query, got in zip(queries, index.search(hexes(queries, 256)), strict=True):
        assert got == brute(bank, query, 31)
    # Changes stay in the process's delta; the file is never written to.
    before = path.read_bytes()
    first = next(iter(bank))
    index.remove([first])
    index.add([7], hexes([bank[first]], 256))
    assert index.search(hexes([bank[first]], 256), max_distance=0) == [[(7, 0)]]
    assert path.read_bytes() == before
    ids, hashes = index.entries()
    assert len(ids) == len(hashes) == len(bank)


def test_corrupt_or_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pdq.idx"
    PdqIndex.write(path, np.arange(100, dtype=np.int64), hexes([random.getrandbits(256) for _ in range(100)], 256))
    data = path.read_bytes()
    (tmp_path / "short.idx").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.idx").write_bytes(b"x" * 4096)
    for name in ("short.idx", "garbage.idx"):
        with pytest.raises(ValueError):
            PdqIndex.open(tmp_path / name)


@pytest.mark.parametrize(
    "bad",
    [["abc"], ["g" * 64], ["0" * 63], [b"\x00" * 31], [123]],
)
def test_malformed_hashes_raise_value_error(bad: list[object]) -> None:
    with pytest.raises(ValueError):
        PdqIndex.build([1] * len(bad), bad)  # type: ignore[arg-type]


def test_queries_sorted_by_distance_then_id_and_empty_cases() -> None:
    index = PdqIndex.build([5, 3, 4], ["0" * 64, "0" * 63 + "1", "0" * 63 + "1"])
    assert index.search(["0" * 64], max_distance=1) == [[(5, 0), (3, 1), (4, 1)]]
    assert index.search([]) == []
    assert PdqIndex.build([], []).search(["0" * 64]) == [[]]
    with pytest.raises(ValueError):
        index.search(["0" * 64], max_distance=-1)
    # A radius beyond the probe table (and beyond 256) falls back to an exact scan.
    assert len(index.search(["f" * 64], max_distance=300)[0]) == 3


def test_numpy_fallback_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_mih", None)
    rnd = random.Random(4)
    bank = {i: rnd.getrandbits(64) for i in range(500)}
    index = Hash64Index.build(list(bank), hexes(list(bank.values()), 64))
    index.remove([0, 1])
    del bank[0], bank[1]
    queries = [flip(v, 3, 64, rnd) for v in list(bank.values())[:10]]
    for query, got in zip(queries, index.search(hexes(queries, 64), max_distance=12), strict=True):
        assert got == brute(bank, query, 12)


def test_changed_returns_a_new_index_and_leaves_the_searched_one_as_it_was() -> None:
    rnd = random.Random(5)
    bank = {i: rnd.getrandbits(256) for i in range(300)}
    index = PdqIndex.build(list(bank), hexes(list(bank.values()), 256))
    index.remove([7])
    before = index.search(hexes(list(bank.values())[:20], 256), max_distance=31)
    new_hash = rnd.getrandbits(256)
    successor = index.changed(remove=[3, 5], add_ids=[999], add_hashes=hexes([new_hash], 256))
    assert index.search(hexes(list(bank.values())[:20], 256), max_distance=31) == before
    assert index.search(hexes([new_hash], 256), max_distance=0) == [[]]
    assert successor.search(hexes([new_hash], 256), max_distance=0) == [[(999, 0)]]
    assert successor.search(hexes([bank[3], bank[7]], 256), max_distance=0) == [[], []]
    assert len(successor) == len(index) - 2 + 1
