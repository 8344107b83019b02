"""vPDQ in the bank: a video's frames searched through the PDQ index, HMA's rule on top, statuses, withdrawal that
drops the frames, and the shared snapshot with its delta."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection import bank as services
from detection.bank import (
    BankValueError,
    bank_activate_source,
    bank_index_build,
    bank_search,
    bank_views_reset,
    bank_withdraw_source,
)
from detection.models import BankEntry, BankVpdq
from detection.videomatch import VpdqFeature, vpdq_compare, vpdq_key
from detection.vpdqbank import bank_vpdq_add, bank_vpdq_features, bank_vpdq_search
from tests.hashes import HashMaker

pytestmark = pytest.mark.django_db
maker = HashMaker(18)


def video(frames: int = 20, quality: int = 90) -> list[VpdqFeature]:
    return [VpdqFeature(maker.pdq(), quality, float(i)) for i in range(frames)]


def noisy(features: list[VpdqFeature], bits: int = 12) -> list[VpdqFeature]:
    """A re-encoded copy: every frame a few bits away."""
    return [VpdqFeature(maker.flip(f.pdq, bits), f.quality, f.second) for f in features]


def add(features: list[VpdqFeature], source: str = "case-1", status: str = "Active") -> BankEntry:
    return bank_vpdq_add(features=features, source_kind="case", source_id=source, status=status)


def test_a_video_matches_itself_its_copies_and_its_parts_by_hmas_rule() -> None:
    original, other = video(20), video(20)
    entry = add(original)
    add(other, "case-2")
    assert entry.signal_type == "vpdq" and entry.value == vpdq_key(original)
    assert BankVpdq.objects.get(entry=entry).frames == 20

    [same] = bank_vpdq_search(features=original)
    assert (same.entry_id, same.query_match_percent, same.compared_match_percent, same.distance) == (
        entry.id, 100.0, 100.0, 0)

    copy = noisy(original)
    [found] = bank_vpdq_search(features=copy)
    assert found.entry_id == entry.id and found.distance == 12

    part = copy[5:10]  # a quarter of the video, re-encoded
    [found] = bank_vpdq_search(features=part)
    assert (found.query_match_percent, found.compared_match_percent) == (100.0, 25.0)
    # The percentages are exactly those of the pairwise rule (python-threatexchange's, see test_video.py).
    brute = vpdq_compare(part, original)
    assert (found.query_match_percent, found.compared_match_percent) == (
        brute.query_match_percent, brute.compared_match_percent)
    assert bank_vpdq_search(features=part, compared_threshold=30) == []

    # Under 80% of the query's frames in the video: no match (half the frames come from elsewhere).
    mixed = part + video(5)
    assert bank_vpdq_search(features=mixed) == []
    [loose] = bank_vpdq_search(features=mixed, query_threshold=50)
    assert loose.query_match_percent == 50.0
    assert bank_vpdq_search(features=noisy(original, 32)) == []  # beyond PDQ distance 31
    assert bank_vpdq_search(features=video(10)) == []


def test_low_quality_and_repeated_frames_do_not_count() -> None:
    good = video(8)
    dark = [VpdqFeature(maker.pdq(), 20, 8.0 + i) for i in range(8)]  # quality < 50: HMA ignores them
    repeated = [VpdqFeature(good[0].pdq, 90, 16.0 + i) for i in range(4)]
    entry = add(good + dark + repeated)
    assert BankVpdq.objects.get(entry=entry).frames == 8
    [found] = bank_vpdq_search(features=good[:4] + dark)
    assert (found.query_match_percent, found.compared_match_percent) == (100.0, 50.0)
    assert bank_vpdq_search(features=dark) == []  # nothing left to match with


def test_status_withdrawal_and_the_frames_kept() -> None:
    features = video(10)
    entry = add(features, source="case-9", status="Received")
    assert bank_vpdq_search(features=features) == []  # partners see Active only
    assert [m.entry_id for m in bank_vpdq_search(features=features, statuses=("Received", "Active"))] == [entry.id]
    bank_activate_source(source_kind="case", source_id="case-9")
    assert [m.status for m in bank_vpdq_search(features=features)] == ["Active"]
    assert bank_vpdq_features(entry_ids=[entry.id]) == {entry.id: features}
    bank_withdraw_source(source_kind="case", source_id="case-9")
    assert bank_vpdq_search(features=features, statuses=("Received", "Active", "Withdrawn")) == []
    # Withdrawn: the frames are gone; the key stays so partners can drop their copy.
    assert not BankVpdq.objects.filter(entry_id=entry.id).exists()
    assert BankEntry.objects.get(id=entry.id).status == "Withdrawn"
    again = add(features, source="case-10")
    assert again.id == entry.id and BankVpdq.objects.filter(entry_id=entry.id).exists()
    assert [m.entry_id for m in bank_vpdq_search(features=features, statuses=("Received", "Active"))] == [entry.id]


def test_malformed_frames_are_refused() -> None:
    for bad in ([], ["00"], [{"pdq": "ab" * 32, "quality": 200}]):
        with pytest.raises(BankValueError):
            bank_vpdq_add(features=bad, source_kind="case", source_id="x")
    assert not BankEntry.objects.exists()


def test_the_vpdq_snapshot_is_shared_and_refreshed(settings, tmp_path: Path) -> None:
    settings.BANK_INDEX_DIR = str(tmp_path)
    videos = [video(12) for _ in range(30)]
    entries = [add(v, source=f"case-{i}") for i, v in enumerate(videos)]
    built = bank_index_build(signal_type="vpdq")
    assert built["built"] and built["entries"] == 30 and built["hashes"] == 30 * 12
    bank_views_reset()  # a new process maps the snapshot
    [found] = bank_vpdq_search(features=noisy(videos[7])[:6])
    assert (found.entry_id, found.query_match_percent, found.compared_match_percent) == (entries[7].id, 100.0, 50.0)
    assert services._states["vpdq"].view.generation == built["generation"]
    # Changes since the snapshot come as the delta: a new video, a withdrawn one.
    late_video = video(12)
    late = add(late_video, source="late")
    bank_withdraw_source(source_kind="case", source_id="case-7")
    assert [m.entry_id for m in bank_vpdq_search(features=late_video)] == [late.id]
    assert bank_vpdq_search(features=videos[7]) == []
    settings.BANK_REFRESH_SECONDS = 0
    rebuilt = bank_index_build(signal_type="vpdq", wait=False)
    assert rebuilt["entries"] == 31 and rebuilt["hashes"] == 30 * 12  # the withdrawn video keeps no frames
    assert [m.entry_id for m in bank_vpdq_search(features=late_video)] == [late.id]
    assert services._states["vpdq"].view.generation == rebuilt["generation"]


def test_video_md5_is_its_own_exact_signal_type() -> None:
    value = maker.hex(128)
    entry = services.bank_add(signal_type="video_md5", value=value.upper(), quality=None, source_kind="case",
                              source_id="v", status="Active")
    assert entry.signal_type == "video_md5" and entry.value == value
    assert [m.entry_id for m in bank_search(signal_type="video_md5", values=[value])[0]] == [entry.id]
    assert bank_search(signal_type="md5", values=[value]) == [[]]  # an image's MD5 is another vocabulary


def test_csv_and_stopncii_exports_carry_video_signals(tmp_path: Path, capsys) -> None:
    import json

    from django.core.management import call_command

    kept, withdrawn = video(6), video(6)
    add(kept, source="a")
    add(withdrawn, source="b")
    bank_withdraw_source(source_kind="case", source_id="b")
    services.bank_add(signal_type="video_md5", value="d" * 32, quality=None, source_kind="import", source_id="t",
                      status="Active")
    services.bank_add(signal_type="pdq", value=maker.pdq(), quality=80, source_kind="import", source_id="t",
                      status="Active")
    csv_path = tmp_path / "bank.csv"
    call_command("bank_export", str(csv_path))
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "signal_type,value,status,quality,vpdq"
    records = tmp_path / "records.json"
    call_command("bank_export", str(records), "--format", "stopncii")
    document = json.loads(records.read_text())
    assert [(r["signalType"], r["hashValue"]) for r in document["hashRecords"] if r["signalType"] == "VideoMD5"] == [
        ("VideoMD5", "d" * 32)]
    assert document["count"] == 2  # the PDQ and the video MD5; vPDQ has no StopNCII type
    before = {(e.signal_type, e.value, e.status) for e in BankEntry.objects.all()}
    BankEntry.objects.all().delete()
    bank_views_reset()
    capsys.readouterr()
    call_command("bank_import", str(csv_path))
    assert "imported 4 new, 0 already in the bank, 0 rejected" in capsys.readouterr().out
    assert {(e.signal_type, e.value, e.status) for e in BankEntry.objects.all()} == before
    [entry] = BankEntry.objects.filter(signal_type="vpdq", status="Active")
    assert bank_vpdq_features(entry_ids=[entry.id]) == {entry.id: kept}
    assert [m.entry_id for m in bank_vpdq_search(features=kept)] == [entry.id]
    # A row whose value is not the SHA-256 of its frames is refused, with its line.
    bad = tmp_path / "bad.csv"
    frames = json.dumps([f"{f.pdq},{f.quality},{f.second:.3f}" for f in video(3)])
    quoted = frames.replace('"', '""')
    bad.write_text(f'signal_type,value,status,quality,vpdq\nvpdq,{"0" * 64},Active,,"{quoted}"\n')
    with pytest.raises(SystemExit):
        call_command("bank_import", str(bad))
    assert "line 2: a vpdq value is the SHA-256 of its frames" in capsys.readouterr().err
