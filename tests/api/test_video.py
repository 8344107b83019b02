"""Video signals in the partner API: vPDQ lookup (one video, a batch) by HMA's rule, video MD5 lookup, sync and
webhooks carrying a video's frames, against the in-memory bank and the real one."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from detection.videomatch import VpdqFeature
from takedown.core.audit import Actor
from takedown.partners.models import Scope
from takedown.partners.services import webhook_bank_changes_publish, webhook_endpoint_register
from tests.hashes import HashMaker
from tests.partners.fixtures import key_client
from tests.partners.test_webhooks import receiver  # noqa: F401

maker = HashMaker(1818)
pytestmark = pytest.mark.django_db


def video(frames: int = 10, quality: int = 90) -> list[VpdqFeature]:
    return [VpdqFeature(maker.pdq(), quality, float(i)) for i in range(frames)]


def as_strings(features: list[VpdqFeature], bits: int = 0) -> list[str]:
    return [f"{maker.flip(f.pdq, bits) if bits else f.pdq},{f.quality},{f.second:.3f}" for f in features]


@pytest.fixture
def client(partner):
    return key_client(partner.api_key.plaintext)


def test_vpdq_lookup_answers_with_hmas_percentages(client, memory_bank) -> None:
    original = video(10)
    entry = memory_bank.add(signal_type="vpdq", value="", frames=original)
    memory_bank.add(signal_type="vpdq", value="", frames=video(10))
    # A re-encoded copy of 4 of its 10 seconds, as HMA writes frames, one low-quality frame that does not count.
    query = [*as_strings(original[2:6], bits=9), f"{maker.pdq()},10,7.000"]
    response = client.post("/api/v1/lookup/vpdq", {"vpdq": query}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["frames"] == 4
    assert body["matches"] == [{
        "entry_id": entry.id, "query_match_percent": 100.0, "compared_match_percent": 40.0, "distance": 9,
        "status": "Active", "first_seen": entry.first_seen.isoformat().replace("+00:00", "Z"), "frames": 10}]
    stricter = client.post("/api/v1/lookup/vpdq", {"vpdq": query, "compared_match_percent": 50}, format="json")
    assert stricter.json()["matches"] == []
    closer = client.post("/api/v1/lookup/vpdq", {"vpdq": query, "max_distance": 8}, format="json")
    assert closer.json()["matches"] == []
    # Objects and bare hex are accepted too; an unrelated video matches nothing.
    objects = [{"pdq": f.pdq, "quality": f.quality, "second": f.second} for f in original]
    assert [m["entry_id"] for m in client.post("/api/v1/lookup/vpdq", {"vpdq": objects},
                                                format="json").json()["matches"]] == [entry.id]
    assert client.post("/api/v1/lookup/vpdq", {"vpdq": [f.pdq for f in video(5)]},
                       format="json").json() == {"frames": 5, "matches": []}


def test_vpdq_batch_keeps_the_order_and_refuses_bad_videos_whole(client, memory_bank, settings) -> None:
    first, second = video(6), video(6)
    a = memory_bank.add(signal_type="vpdq", value="", frames=first)
    b = memory_bank.add(signal_type="vpdq", value="", frames=second)
    body = client.post("/api/v1/lookup/vpdq/batch", {"videos": [as_strings(second), as_strings(video(3)),
                                                                  as_strings(first, bits=4)]}, format="json").json()
    assert [[m["entry_id"] for m in r["matches"]] for r in body["results"]] == [[b.id], [], [a.id]]
    bad = client.post("/api/v1/lookup/vpdq/batch", {"videos": [as_strings(first), ["nothex,50,0"]]}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_hash"
    assert list(bad.json()["error"]["fields"]) == ["videos[1]"]
    settings.PARTNER_VPDQ_BATCH_MAX = 2
    too_many = client.post("/api/v1/lookup/vpdq/batch", {"videos": [as_strings(first)] * 3}, format="json")
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "batch_too_large"


@pytest.mark.parametrize(("body", "code"), [
    ({"vpdq": []}, "invalid_hash"),
    ({"vpdq": "ab" * 32}, "invalid_request"),  # not a list
    ({"vpdq": ["ab" * 32 + ",101,0"]}, "invalid_hash"),
    ({"vpdq": [{"pdq": "ab" * 32, "second": -1}]}, "invalid_hash"),
    ({"vpdq": ["ab" * 32], "max_distance": 32}, "invalid_max_distance"),
    ({"vpdq": ["ab" * 32], "query_match_percent": 101}, "invalid_threshold"),
    ({}, "missing_field"),
])
def test_bad_vpdq_queries_get_a_400_with_a_code(client, body, code) -> None:
    response = client.post("/api/v1/lookup/vpdq", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_vpdq_lookup_needs_a_lookup_key(make_partner) -> None:
    frames = {"vpdq": [maker.pdq()]}
    assert key_client(None).post("/api/v1/lookup/vpdq", frames, format="json").status_code == 401
    fetch_only = make_partner(name="Fetcher", scopes=(Scope.FETCH,))
    assert key_client(fetch_only.api_key.plaintext).post("/api/v1/lookup/vpdq", frames,
                                                         format="json").status_code == 403


def test_video_md5_is_looked_up_like_any_exact_hash_and_vpdq_only_by_frames(client, memory_bank) -> None:
    md5 = maker.hex(128)
    entry = memory_bank.add(signal_type="video_md5", value=md5)
    body = client.get("/api/v1/lookup", {"signal_type": "video_md5", "hash": md5.upper()}).json()
    assert [m["entry_id"] for m in body["matches"]] == [entry.id]
    assert client.get("/api/v1/lookup", {"signal_type": "md5", "hash": md5}).json()["matches"] == []
    refused = client.get("/api/v1/lookup", {"signal_type": "vpdq", "hash": maker.pdq()})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "unsupported_signal_type"
    assert "/api/v1/lookup/vpdq" in refused.json()["error"]["message"]


def test_sync_carries_a_videos_frames_until_it_is_withdrawn(client, memory_bank) -> None:
    frames = video(4)
    kept = memory_bank.add(signal_type="vpdq", value="", frames=frames)
    gone = memory_bank.add(signal_type="vpdq", value="", frames=video(4))
    memory_bank.set_status(gone.id, "Withdrawn")
    md5 = memory_bank.add(signal_type="video_md5", value=maker.hex(128))
    changes = {c["entry_id"]: c for c in client.get("/api/v1/hashes").json()["changes"]}
    assert changes[kept.id]["signal_type"] == "vpdq" and changes[kept.id]["hash"] == kept.value
    assert changes[kept.id]["vpdq"] == [f.text() for f in frames]
    assert changes[gone.id]["status"] == "Withdrawn" and changes[gone.id]["vpdq"] == []
    assert changes[md5.id]["signal_type"] == "video_md5" and "vpdq" not in changes[md5.id]
    only = client.get("/api/v1/hashes", {"signal_type": "vpdq"}).json()["changes"]
    assert {c["entry_id"] for c in only} == {kept.id, gone.id}


def test_webhooks_carry_video_signals(make_partner, memory_bank, receiver,  # noqa: F811
                                      django_capture_on_commit_callbacks) -> None:
    partner = make_partner(name="Hooked")
    webhook_endpoint_register(partner=partner.partner, url=receiver.url, actor=Actor.system())
    assert webhook_bank_changes_publish() == 0  # sets the watermark
    frames = video(3)
    added = memory_bank.add(signal_type="vpdq", value="", frames=frames)
    md5 = memory_bank.add(signal_type="video_md5", value=maker.hex(128))
    with time_machine.travel(timezone.now() + timedelta(seconds=120)):
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_bank_changes_publish() == 2
    [request] = receiver.requests
    hashes = {h["entry_id"]: h for h in json.loads(request["body"])["data"]["hashes"]}
    assert hashes[added.id]["vpdq"] == [f.text() for f in frames]
    assert hashes[md5.id]["signal_type"] == "video_md5"


def test_the_real_bank_answers_vpdq_lookups(client, settings) -> None:
    from detection.bank import bank_views_reset
    from detection.vpdqbank import bank_vpdq_add

    settings.PARTNER_API_BANK = "takedown.partners.bank_detection.detection_bank"
    bank_views_reset()
    original = video(12)
    entry = bank_vpdq_add(features=original, source_kind="case", source_id="c1", status="Active")
    bank_vpdq_add(features=video(12), source_kind="case", source_id="c2", status="Active")
    body = client.post("/api/v1/lookup/vpdq", {"vpdq": as_strings(original[:3], bits=5)}, format="json").json()
    assert [(m["entry_id"], m["query_match_percent"], m["compared_match_percent"], m["distance"], m["frames"])
            for m in body["matches"]] == [(entry.id, 100.0, 25.0, 5, 12)]
    changes = {c["entry_id"]: c for c in client.get("/api/v1/hashes", {"signal_type": "vpdq"}).json()["changes"]}
    assert changes[entry.id]["vpdq"] == [f.text() for f in original]
    bank_views_reset()


def test_feedback_names_a_video_by_its_md5_or_its_vpdq_key(client, memory_bank) -> None:
    from takedown.cases.models import Case
    from takedown.partners.models import PartnerFeedback
    from takedown.partners.selectors import feedback_for_case

    case = Case.objects.create(reference="TD-VID-1", secret_hash="x", pseudonym="Jane Doe")
    md5 = memory_bank.add(signal_type="video_md5", value=maker.hex(128), case_ids=[case.id])
    clip = memory_bank.add(signal_type="vpdq", value="", frames=video(3), case_ids=[case.id])
    for signal_type, value in (("video_md5", md5.value), ("vpdq", clip.value)):
        response = client.post("/api/v1/feedback", {"feedback": "Removed", "signal_type": signal_type,
                                                    "hash": value}, format="json")
        assert response.status_code in (200, 201), response.content
    assert sorted(PartnerFeedback.objects.values_list("bank_entry_id", flat=True)) == sorted([md5.id, clip.id])
    assert [f.value for f in feedback_for_case(case_id=case.id)] == ["Removed", "Removed"]
