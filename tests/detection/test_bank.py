"""The hash bank: entries and sources, status changes, matching (with dihedral variants), the shared snapshot
with its delta refresh, import and export."""

from __future__ import annotations

import io
import json
import threading
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections

from detection import bank as services
from detection.bank import (
    BankValueError,
    bank_activate_source,
    bank_add,
    bank_delete_source,
    bank_entry_submit,
    bank_index_build,
    bank_lookup,
    bank_search,
    bank_set_status,
    bank_views_reset,
    bank_withdraw_source,
)
from detection.hashing import hash_image
from detection.models import BankEntry, BankSource
from tests.conftest import draw_image
from tests.hashes import HashMaker

pytestmark = pytest.mark.django_db
hashes = HashMaker(11)
rand_pdq = hashes.pdq
flip = hashes.flip


def case_source() -> str:
    return str(uuid.uuid4())


def test_a_hash_is_one_entry_however_many_sources_bring_it() -> None:
    value = rand_pdq()
    first = bank_add(signal_type="pdq", value=value.upper(), quality=80, source_kind="case", source_id=case_source())
    again = bank_add(signal_type="pdq", value=value, quality=95, source_kind="case", source_id=case_source())
    assert first.id == again.id and first.value == value
    entry = BankEntry.objects.get()
    assert entry.status == "Received" and entry.quality == 95
    assert BankSource.objects.filter(entry=entry).count() == 2


@pytest.mark.parametrize("signal_type,value", [("pdq", "ab" * 31), ("pdq", "zz" * 32), ("md5", "ab" * 32),
                                               ("sha512", "ab" * 32), ("phash", "")])
def test_malformed_hashes_are_refused_with_a_reason(signal_type: str, value: str) -> None:
    with pytest.raises(BankValueError):
        bank_add(signal_type=signal_type, value=value, quality=None, source_kind="case", source_id="x")
    assert not BankEntry.objects.exists()


def test_lookup_returns_every_entry_within_the_distance_nearest_first() -> None:
    query = rand_pdq()
    planted = {d: bank_add(signal_type="pdq", value=flip(query, d), quality=None, source_kind="import",
                           source_id="t", status="Active").id for d in (0, 3, 17, 31, 32, 45)}
    [matches] = bank_search(signal_type="pdq", values=[query], max_distance=31)
    assert [(m.entry_id, m.distance) for m in matches] == [(planted[d], d) for d in (0, 3, 17, 31)]
    [narrow] = bank_search(signal_type="pdq", values=[query], max_distance=10)
    assert [m.distance for m in narrow] == [0, 3]


def test_a_rotated_or_mirrored_copy_matches_through_the_dihedral_variants() -> None:
    from PIL import Image

    data = draw_image(seed=4, size=(300, 200))
    hashes = hash_image(data)
    entry = bank_add(signal_type="pdq", value=hashes.pdq, quality=hashes.pdq_quality, source_kind="case",
                     source_id=case_source(), variants=hashes.pdq_dihedral, status="Active")
    image = Image.open(io.BytesIO(data))
    for turned in (image.rotate(90, expand=True), image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):
        buffer = io.BytesIO()
        turned.save(buffer, "PNG")
        copy = hash_image(buffer.getvalue()).pdq
        [matches] = bank_search(signal_type="pdq", values=[copy])
        assert [m.entry_id for m in matches] == [entry.id]
        assert matches[0].distance <= 8


def test_withdrawal_drops_a_hash_only_when_no_other_source_holds_it() -> None:
    alone, shared = rand_pdq(), rand_pdq()
    case_a, case_b = case_source(), case_source()
    for value in (alone, shared):
        bank_add(signal_type="pdq", value=value, quality=None, source_kind="case", source_id=case_a)
    bank_add(signal_type="pdq", value=shared, quality=None, source_kind="case", source_id=case_b)
    assert bank_activate_source(source_kind="case", source_id=case_a) == 2
    assert bank_withdraw_source(source_kind="case", source_id=case_a) == 1
    assert BankEntry.objects.get(value=alone).status == "Withdrawn"
    assert BankEntry.objects.get(value=shared).status == "Active"
    assert bank_search(signal_type="pdq", values=[alone], statuses=("Active",)) == [[]]
    [[match]] = bank_search(signal_type="pdq", values=[alone], statuses=("Withdrawn",))
    assert match.status == "Withdrawn"
    # A later report of the same image brings it back for review.
    bank_add(signal_type="pdq", value=alone, quality=None, source_kind="case", source_id=case_b)
    assert BankEntry.objects.get(value=alone).status == "Received"


def test_purge_leaves_a_tombstone_with_no_link_to_the_case() -> None:
    value, case = rand_pdq(), case_source()
    variants = [value, *(rand_pdq() for _ in range(7))]
    entry = bank_add(signal_type="pdq", value=value, quality=None, source_kind="case", source_id=case,
                     variants=variants)
    assert bytes(entry.variants) == bytes.fromhex("".join(variants[1:]))  # 7 x 32 raw bytes
    assert bank_delete_source(source_kind="case", source_id=case) == 1
    entry.refresh_from_db()
    assert entry.status == "Deleted" and not BankSource.objects.filter(source_id=case).exists()
    assert bytes(entry.variants) == b""  # the tombstone keeps its value only
    assert bank_search(signal_type="pdq", values=[value], statuses=("Received", "Active", "Withdrawn", "Deleted")) \
        == [[]]
    bank_add(signal_type="pdq", value=value, quality=None, source_kind="case", source_id=case_source(),
             variants=variants)  # reported again: the variants come back with it
    entry.refresh_from_db()
    assert entry.status == "Received" and bytes(entry.variants) == bytes.fromhex("".join(variants[1:]))


def test_intake_lookup_ignores_what_only_the_same_case_brought() -> None:
    value, mine, theirs = rand_pdq(), case_source(), case_source()
    bank_add(signal_type="pdq", value=value, quality=None, source_kind="case", source_id=mine)
    assert bank_lookup(signal_type="pdq", value=value, exclude_source_id=mine) == []
    other = bank_add(signal_type="pdq", value=flip(value, 4), quality=None, source_kind="case", source_id=theirs)
    assert [(m.entry_id, m.distance) for m in bank_lookup(signal_type="pdq", value=value,
                                                          exclude_source_id=mine)] == [(other.id, 4)]


def test_exact_signal_types_match_exactly_and_64_bit_ones_by_distance() -> None:
    md5 = "0" * 31 + "1"
    entry = bank_add(signal_type="md5", value=md5, quality=None, source_kind="import", source_id="t", status="Active")
    assert [m.entry_id for m in bank_search(signal_type="md5", values=[md5])[0]] == [entry.id]
    assert bank_search(signal_type="md5", values=["0" * 32]) == [[]]
    phash = bank_add(signal_type="phash", value="f0f0f0f0f0f0f0f0", quality=None, source_kind="import",
                     source_id="t", status="Active")
    [[match]] = bank_search(signal_type="phash", values=["f0f0f0f0f0f0f0f3"], max_distance=8)
    assert (match.entry_id, match.distance) == (phash.id, 2)


def test_status_changes_and_submissions() -> None:
    value = rand_pdq()
    submitted = bank_entry_submit(signal_type="pdq", value=value, partner_id=str(uuid.uuid4()), quality=70)
    assert submitted.status == "Received"
    assert bank_set_status(entry_ids=[submitted.id], status="Active") == 1
    assert bank_set_status(entry_ids=[submitted.id], status="Active") == 0
    again = bank_entry_submit(signal_type="pdq", value=value, partner_id=str(uuid.uuid4()), quality=None)
    assert again.id == submitted.id and again.status == "Active"


def test_a_process_sees_other_processes_changes_without_restarting(settings) -> None:
    settings.BANK_REFRESH_SECONDS = 0
    value = rand_pdq()
    assert bank_search(signal_type="pdq", values=[value], statuses=("Active",)) == [[]]  # view built, empty
    # Another process writes: nothing of it passes through this process's services.
    now = services.timezone.now()
    row = BankEntry.objects.create(signal_type="pdq", value=value, status="Active", first_seen=now, updated_at=now)
    [[match]] = bank_search(signal_type="pdq", values=[value], statuses=("Active",))
    assert match.entry_id == row.id
    BankEntry.objects.filter(id=row.id).update(status="Withdrawn", updated_at=services.timezone.now())
    assert bank_search(signal_type="pdq", values=[value], statuses=("Active",)) == [[]]


def test_the_shared_snapshot_is_built_once_and_every_process_maps_it(settings, tmp_path: Path) -> None:
    settings.BANK_INDEX_DIR = str(tmp_path)
    values = [rand_pdq() for _ in range(300)]
    ids = [bank_add(signal_type="pdq", value=v, quality=50 + i % 50, source_kind="import", source_id="t",
                    status="Active").id for i, v in enumerate(values)]
    data = draw_image(seed=9)
    hashes = hash_image(data)
    rotated_entry = bank_add(signal_type="pdq", value=hashes.pdq, quality=hashes.pdq_quality, source_kind="case",
                             source_id=case_source(), variants=hashes.pdq_dihedral, status="Active")
    built = bank_index_build(signal_type="pdq")
    assert built["built"] and built["entries"] == 301 and built["hashes"] == 301 + 7
    generation = built["generation"]
    assert (tmp_path / "pdq.current").read_text() == generation
    # A "new process" (no view yet) maps the snapshot rather than reading the table again.
    bank_views_reset()
    [[hit]] = bank_search(signal_type="pdq", values=[values[7]])
    assert (hit.entry_id, hit.distance, hit.quality) == (ids[7], 0, 57)
    [[variant_hit]] = bank_search(signal_type="pdq", values=[hashes.pdq_dihedral[3]])
    assert variant_hit.entry_id == rotated_entry.id and variant_hit.distance == 0
    assert services._states["pdq"].view.generation == generation
    # Changes after the snapshot arrive as the delta: new, withdrawn, deleted.
    late = bank_add(signal_type="pdq", value=rand_pdq(), quality=None, source_kind="import", source_id="u",
                    status="Active")
    bank_set_status(entry_ids=[ids[7]], status="Deleted")
    assert [m.entry_id for m in bank_search(signal_type="pdq", values=[late.value])[0]] == [late.id]
    assert bank_search(signal_type="pdq", values=[values[7]], statuses=("Active", "Deleted")) == [[]]
    # A newer snapshot replaces the old one in every process at its next refresh, and the delta empties.
    settings.BANK_REFRESH_SECONDS = 0
    rebuilt = bank_index_build(signal_type="pdq", wait=False)
    assert rebuilt["built"] and rebuilt["entries"] == 301  # one added, one deleted
    bank_search(signal_type="pdq", values=[late.value])
    view = services._states["pdq"].view
    assert view.generation == rebuilt["generation"]
    assert [m.entry_id for m in bank_search(signal_type="pdq", values=[late.value])[0]] == [late.id]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the binary COPY reader is PostgreSQL's")
def test_the_postgresql_bulk_reader_agrees_with_the_orm() -> None:
    from detection.index import PdqIndex

    for i in range(50):
        bank_add(signal_type="pdq", value=rand_pdq(), quality=i if i % 3 else None, source_kind="import",
                 source_id="t", status=("Received", "Active", "Withdrawn")[i % 3])
    fast = services._read_copy("pdq", 4)
    slow = services._read_orm("pdq", PdqIndex)
    for a, b in zip(fast, slow, strict=True):
        assert a.tolist() == b.tolist()


def test_csv_import_keeps_good_rows_reports_bad_ones_and_is_idempotent(tmp_path: Path, capsys) -> None:
    good = [rand_pdq() for _ in range(5)]
    lines = ["signal_type,value,status,quality", *[f"pdq,{v},Active,90" for v in good[:3]],
             "pdq,nothex,Active,90", "sha512,abcd,,", f"pdq,{good[3]},Bogus,", f"pdq,{good[3]},,101",
             f"md5,{'a' * 32},Withdrawn,", f"pdq,{good[4]},,"]
    path = tmp_path / "bank.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        call_command("bank_import", str(path))
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert "imported 5 new, 0 already in the bank, 4 rejected" in out
    assert [line.split(":")[0] for line in err.splitlines() if line.startswith("line ")] == [
        "line 5", "line 6", "line 7", "line 8"]
    assert BankEntry.objects.count() == 5
    assert BankEntry.objects.get(value=good[4]).status == "Active"  # the default for rows that name none
    assert BankEntry.objects.get(signal_type="md5").status == "Withdrawn"
    with pytest.raises(SystemExit):
        call_command("bank_import", str(path))
    assert "imported 0 new, 5 already in the bank" in capsys.readouterr().out
    assert BankEntry.objects.count() == 5


def test_stopncii_export_round_trips_through_import(tmp_path: Path, capsys) -> None:
    for i in range(7):
        bank_add(signal_type="pdq", value=rand_pdq(), quality=None, source_kind="import", source_id="t",
                 status=("Active", "Withdrawn")[i % 2])
    bank_add(signal_type="video_md5", value="b" * 32, quality=None, source_kind="import", source_id="t",
             status="Active")
    bank_add(signal_type="md5", value="c" * 32, quality=None, source_kind="import", source_id="t", status="Active")
    bank_add(signal_type="phash", value="a" * 16, quality=None, source_kind="import", source_id="t")
    out = tmp_path / "records.json"
    call_command("bank_export", str(out), "--format", "stopncii")
    document = json.loads(out.read_text())  # one record per line, and still one JSON document
    assert document["count"] == 8 and len(document["hashRecords"]) == 8
    assert {r["signalType"] for r in document["hashRecords"]} == {"ImagePDQ", "VideoMD5"}
    # An image's MD5 has no StopNCII type; a video's MD5 is VideoMD5.
    before = {(e.signal_type, e.value, e.status) for e in BankEntry.objects.exclude(signal_type__in=["phash", "md5"])}
    BankEntry.objects.all().delete()
    call_command("bank_import", str(out))
    assert "imported 8 new" in capsys.readouterr().out
    assert {(e.signal_type, e.value, e.status) for e in BankEntry.objects.all()} == before


def test_csv_export_is_what_import_reads(tmp_path: Path, capsys) -> None:
    for _ in range(4):
        bank_add(signal_type="pdq", value=rand_pdq(), quality=77, source_kind="import", source_id="t", status="Active")
    out = tmp_path / "bank.csv"
    call_command("bank_export", str(out))
    rows = out.read_text().splitlines()
    assert rows[0] == "signal_type,value,status,quality" and len(rows) == 5 and rows[1].endswith(",Active,77")
    call_command("bank_import", str(out))
    assert "imported 0 new, 4 already in the bank, 0 rejected" in capsys.readouterr().out


def test_hash_image_command_prints_one_json_object_per_file(tmp_path: Path, capsys) -> None:
    picture = tmp_path / "drawn.png"
    picture.write_bytes(draw_image(seed=2))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(SystemExit) as exit_info:
        call_command("hash_image", str(picture), str(broken), "--json")
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    first, second = (json.loads(line) for line in captured.out.splitlines())
    assert set(first) == {"path", "pdq", "pdq_quality", "pdq_dihedral", "phash", "dhash", "sha256", "md5"}
    assert first["pdq"] == hash_image(picture.read_bytes()).pdq and len(first["pdq_dihedral"]) == 8
    assert set(second) == {"path", "error"} and second["error"]
    assert "Traceback" not in captured.err


@pytest.mark.django_db(transaction=True)
def test_a_growing_delta_rebuilds_the_snapshot_in_the_background(settings, tmp_path: Path) -> None:
    import time

    settings.BANK_INDEX_DIR = str(tmp_path)
    settings.BANK_REFRESH_SECONDS = 0
    settings.BANK_DELTA_MAX = 3
    first = bank_index_build(signal_type="pdq")["generation"]
    values = [rand_pdq() for _ in range(5)]
    for value in values:
        bank_add(signal_type="pdq", value=value, quality=None, source_kind="import", source_id="t", status="Active")
    bank_search(signal_type="pdq", values=values[:1])  # applies 5 changes > 3: a rebuild starts
    deadline = time.monotonic() + 20
    while (services._rebuilding or (tmp_path / "pdq.current").read_text() == first) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = (tmp_path / "pdq.current").read_text()
    assert second != first
    found = bank_search(signal_type="pdq", values=values)
    assert services._states["pdq"].view.generation == second
    assert services._states["pdq"].view.delta_size == 0  # what the new snapshot holds is not read again
    assert all(len(matches) == 1 for matches in found)


# --- threads: lookups take no lock, and never read the database or build --------------------------------------


def _committed_entries(count: int) -> list[tuple[int, str]]:
    out = []
    for _ in range(count):
        entry = bank_add(signal_type="pdq", value=rand_pdq(), quality=None, source_kind="import", source_id="t",
                         status="Active")
        out.append((entry.id, entry.value))
    return out


@pytest.mark.django_db(transaction=True)
def test_a_lookup_never_reads_the_database_or_builds_a_snapshot(settings, tmp_path: Path, monkeypatch) -> None:
    import threading

    from django.test.utils import CaptureQueriesContext

    settings.BANK_REFRESH_IN_BACKGROUND = True
    settings.BANK_INDEX_DIR = str(tmp_path)  # no snapshot yet: the first load must build one
    settings.BANK_REFRESH_SECONDS = 0.05
    entries = _committed_entries(5)
    threads: list[str] = []
    real_build, real_changes = services.bank_index_build, services._changed_rows

    def build(**kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real_build(**kwargs)

    def changes(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real_changes(*args, **kwargs)

    monkeypatch.setattr(services, "bank_index_build", build)
    monkeypatch.setattr(services, "_changed_rows", changes)
    with CaptureQueriesContext(connection) as queries:
        found = bank_search(signal_type="pdq", values=[value for _, value in entries])
        for _ in range(20):
            bank_search(signal_type="pdq", values=[entries[0][1]])
    assert [[m.entry_id for m in matches] for matches in found] == [[entry_id] for entry_id, _ in entries]
    assert queries.captured_queries == []  # this thread's connection ran nothing
    assert threads and set(threads) == {"bank-refresh-pdq"}  # built and refreshed on the refresher thread only
    assert (tmp_path / "pdq.current").exists()
    # A write by this process shows at its next lookup after commit, read by the refresher, not the lookup.
    late = bank_add(signal_type="pdq", value=rand_pdq(), quality=None, source_kind="import", source_id="u",
                    status="Active")
    deadline = services.time.monotonic() + 10
    while not bank_search(signal_type="pdq", values=[late.value])[0] and services.time.monotonic() < deadline:
        services.time.sleep(0.01)
    assert [m.entry_id for m in bank_search(signal_type="pdq", values=[late.value])[0]] == [late.id]
    assert services.bank_index_status(signal_type="pdq")["state"] == "ready"


@pytest.mark.django_db(transaction=True)
def test_lookups_are_answered_while_a_refresh_is_stuck_and_staleness_is_reported(settings, monkeypatch) -> None:
    import threading

    settings.BANK_REFRESH_IN_BACKGROUND = True
    settings.BANK_REFRESH_SECONDS = 0.05
    settings.BANK_STALE_SECONDS = 0.2
    [(entry_id, value)] = _committed_entries(1)
    assert [m.entry_id for m in bank_search(signal_type="pdq", values=[value])[0]] == [entry_id]
    stuck, release = threading.Event(), threading.Event()
    real_changes = services._changed_rows

    def slow_changes(*args, **kwargs):  # type: ignore[no-untyped-def]
        stuck.set()
        release.wait(30)
        return real_changes(*args, **kwargs)

    monkeypatch.setattr(services, "_changed_rows", slow_changes)
    assert stuck.wait(10)  # the refresher is now inside a refresh, holding the producers' lock
    assert services._states["pdq"].producing.locked()
    answers: list[list[int]] = []
    worker = threading.Thread(target=lambda: answers.extend(
        [m.entry_id for m in bank_search(signal_type="pdq", values=[value])[0]] for _ in range(50)))
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and answers == [[entry_id]] * 50  # no lookup waited for the refresh
    services.time.sleep(0.3)
    status = services.bank_index_status(signal_type="pdq")
    assert status["state"] == "stale" and status["refreshed_seconds_ago"] > 0.2
    release.set()
    deadline = services.time.monotonic() + 10
    while services.bank_index_status(signal_type="pdq")["state"] != "ready" and services.time.monotonic() < deadline:
        services.time.sleep(0.02)
    assert services.bank_index_status(signal_type="pdq")["state"] == "ready"


@pytest.mark.django_db(transaction=True)
def test_a_process_whose_first_load_fails_answers_unavailable_with_the_reason(settings, monkeypatch) -> None:
    settings.BANK_REFRESH_IN_BACKGROUND = True
    settings.BANK_READY_SECONDS = 0.5

    def broken(signal_type: str):  # type: ignore[no-untyped-def]
        raise OSError("disk on fire")

    monkeypatch.setattr(services, "_snapshot_arrays", broken)
    with pytest.raises(services.BankIndexUnavailable, match="disk on fire"):
        bank_search(signal_type="pdq", values=[rand_pdq()])
    assert services.bank_index_status(signal_type="pdq")["state"] == "failing"


def test_threads_search_views_while_others_are_made_and_swapped_in() -> None:
    import threading

    import numpy as np

    from detection.holder import STATUS_CODES, BankView, EntryRow, SnapshotArrays
    from detection.index import PdqIndex

    stable = [rand_pdq() for _ in range(200)]
    arrays = SnapshotArrays(
        entry_ids=np.arange(1, 201, dtype=np.int64), status=np.full(200, STATUS_CODES["Active"], np.uint8),
        quality=np.full(200, -1, np.int16), first_seen_us=np.zeros(200, np.int64),
        index_ids=np.arange(1, 201, dtype=np.int64) * 8, index_hashes=PdqIndex.parse(stable), watermark_us=0)
    holder = {"view": BankView.in_memory(PdqIndex, arrays)}
    flicker = [rand_pdq() for _ in range(50)]
    active, deleted = STATUS_CODES["Active"], STATUS_CODES["Deleted"]
    failures: list[str] = []
    done = threading.Event()

    def writer() -> None:
        for version in range(1, 301):
            rows = [EntryRow(entry_id=1000 + i, status=active if version % 2 else deleted, quality=-1,
                             first_seen_us=0, updated_us=version, hashes=(value,)) for i, value in enumerate(flicker)]
            holder["view"] = holder["view"].apply(rows)
        done.set()

    def reader(seed: int) -> None:
        rnd = __import__("random").Random(seed)
        while not done.is_set():
            view = holder["view"]
            i = rnd.randrange(200)
            j = rnd.randrange(50)
            try:
                [mine, other] = view.search([stable[i], flicker[j]], 0, [active])
            except Exception as exc:  # any failure under concurrency is the finding
                failures.append(repr(exc))
                return
            if [(h.entry_id, h.distance) for h in mine] != [(i + 1, 0)]:
                failures.append(f"stable entry {i + 1}: {mine}")
            if other and [(h.entry_id, h.distance) for h in other] != [(1000 + j, 0)]:
                failures.append(f"flicker entry {1000 + j}: {other}")

    readers = [threading.Thread(target=reader, args=(seed,)) for seed in range(6)]
    for thread in readers:
        thread.start()
    writer()
    for thread in readers:
        thread.join(30)
    assert failures == []
    final = holder["view"].search(flicker, 0, [active])
    assert all(found == [] for found in final)  # version 300 deleted them all


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the binary COPY reader is PostgreSQL's")
def test_the_variants_copy_reader_agrees_with_the_orm() -> None:
    for i in range(30):
        variants = [rand_pdq() for _ in range(8 if i % 5 else 3)]  # some entries hold fewer than 7 variants
        entry = bank_add(signal_type="pdq", value=variants[0], quality=None, source_kind="case",
                         source_id=case_source(), variants=variants, status=("Received", "Active")[i % 2])
        if i % 7 == 0:
            bank_set_status(entry_ids=[entry.id], status="Deleted")
    bank_add(signal_type="pdq", value=rand_pdq(), quality=None, source_kind="import", source_id="t")  # none
    fast_ids, fast_words = services._read_variants_copy()
    slow_ids, slow_words = services._read_variants_orm()
    assert len(fast_ids) and sorted(zip(fast_ids.tolist(), map(tuple, fast_words.tolist()), strict=True)) == sorted(
        zip(slow_ids.tolist(), map(tuple, slow_words.tolist()), strict=True))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the parallel COPY read is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_build_reads_over_two_connections_from_one_snapshot(monkeypatch) -> None:
    """What bank_index_build reads (committed rows, outside any transaction): the same arrays as the ORM path,
    and a row committed while the entries are being read is in neither read, never in one of the two."""
    for i in range(20):
        variants = [rand_pdq() for _ in range(8 if i % 4 else 2)]
        bank_add(signal_type="pdq", value=variants[0], quality=50, source_kind="case", source_id=case_source(),
                 variants=variants, status="Active")
    assert not connection.in_atomic_block
    late = [rand_pdq() for _ in range(8)]
    original = services._read_copy

    def add_late() -> None:  # on a third connection, committed while the build's snapshot is open
        try:
            bank_add(signal_type="pdq", value=late[0], quality=50, source_kind="case", source_id="late",
                     variants=late, status="Active")
        finally:
            connections.close_all()

    def read_copy_then_add_one(signal_type: str, words: int, **kwargs):  # each half is read on its own thread
        result = original(signal_type, words, **kwargs)
        writer = threading.Thread(target=add_late)
        writer.start()
        writer.join(30)
        return result

    monkeypatch.setattr(services, "_read_copy", read_copy_then_add_one)
    (ids, *_), (variant_ids, variant_words) = services._read_in_parallel("pdq")
    monkeypatch.setattr(services, "_read_copy", original)
    assert len(ids) == 20 and set((variant_ids // 8).tolist()) <= set(ids.tolist())
    orm_ids, *_ = services._read_orm("pdq", services.PdqIndex)
    assert len(orm_ids) == 21  # the late row was committed; the snapshot read did not see it
    slow_ids, slow_words = services._read_variants_orm()
    keep = [k for k, i in enumerate(slow_ids.tolist()) if i // 8 in set(ids.tolist())]
    assert sorted(zip(variant_ids.tolist(), map(tuple, variant_words.tolist()), strict=True)) == sorted(
        (slow_ids.tolist()[k], tuple(slow_words.tolist()[k])) for k in keep)
    assert ids.tolist() == sorted(ids.tolist())  # the two halves come back in id order
    # A 64-bit type the same way: the same arrays as the ORM reads, and no variants.
    for _ in range(9):
        bank_add(signal_type="phash", value=f"{uuid.uuid4().int >> 64:016x}", quality=None, source_kind="import",
                 source_id="t", status="Active")
    parallel, (no_ids, _) = services._read_in_parallel("phash")
    orm = services._read_orm("phash", services.Hash64Index)
    assert len(no_ids) == 0 and len(parallel[0]) == 9
    assert all((a == b).all() for a, b in zip(parallel, orm, strict=True))
