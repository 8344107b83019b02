"""The StopNCII-compatible API, driven by the unmodified python-threatexchange client against a live server."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
    StopNCIISignalType,
)

from takedown.cases.models import Case
from takedown.core.models import AuditEvent
from takedown.partners.selectors import feedback_for_case
from tests.hashes import HashMaker
from tests.partners.fixtures import stopncii_client

rand_hex = HashMaker(11).hex


def client_for(made, base_url: str) -> StopNCIIAPI:
    keys = made.stopncii.function_keys
    return StopNCIIAPI(
        made.stopncii.subscription_key,
        keys["FetchHashes"],
        {StopNCIIEndpoint.SubmitFeedback: keys["SubmitFeedback"], StopNCIIEndpoint.SubmitHashes: keys["SubmitHashes"]},
        base_url_override=f"{base_url}/api/stopncii/v1",
    )


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_unmodified_client_pages_sees_withdrawals_and_its_feedback_lands_on_the_case(
    live_server, make_partner, memory_bank, caplog
) -> None:
    case = Case.objects.create(reference="TD-TEST-0001", secret_hash="x", pseudonym="Jane Doe")
    other_case = Case.objects.create(reference="TD-TEST-0002", secret_hash="x", pseudonym="Jane Roe")
    start = timezone.now() - timedelta(hours=2)
    hashes = []
    for i in range(10_000):
        signal_type = "video_md5" if i % 10 == 0 else "pdq"
        value = rand_hex(128 if signal_type == "video_md5" else 256)
        # Several entries share each second, so pages must split within a second without losing any.
        memory_bank.add(signal_type=signal_type, value=value, updated_at=start + timedelta(milliseconds=250 * i))
        hashes.append(value)
    # Entries of other signal types exist in the bank but have no StopNCII name: they are not served.
    memory_bank.add(signal_type="sha256", value=rand_hex(256), updated_at=start)
    memory_bank.add(signal_type="phash", value=rand_hex(64), updated_at=start)
    ours = memory_bank.add(signal_type="pdq", value=rand_hex(256), case_ids=[case.id],
                           updated_at=start + timedelta(seconds=1))
    withdrawn = memory_bank.add(signal_type="pdq", value=rand_hex(256), case_ids=[other_case.id],
                                updated_at=start)
    memory_bank.set_status(withdrawn.id, "Withdrawn", at=start + timedelta(minutes=30))
    partner = make_partner(name="Example Social")
    client = client_for(partner, live_server.url)

    with caplog.at_level(logging.ERROR):
        pages = list(client.fetch_hashes_iter())
    # The client drops (and logs) any record it cannot parse: none may be dropped.
    assert not [r for r in caplog.records if "Convert response" in r.getMessage()]
    records = [r for page in pages for r in page.hashRecords]
    assert len(pages) >= 13
    assert sum(p.count for p in pages) == len(records) == 10_002
    assert all(p.hasMoreRecords for p in pages[:-1]) and not pages[-1].hasMoreRecords
    assert pages[-1].nextPageToken == "" and all(p.nextPageToken for p in pages[:-1])
    by_value = {r.hashValue: r for r in records}
    assert set(hashes) | {ours.value, withdrawn.value} == set(by_value)
    assert by_value[withdrawn.value].hashStatus == StopNCIICaseStatus.Withdrawn
    assert by_value[ours.value].hashStatus == StopNCIICaseStatus.Active
    assert by_value[hashes[0]].signalType == StopNCIISignalType.VideoMD5
    assert by_value[hashes[1]].signalType == StopNCIISignalType.ImagePDQ
    assert all(r.caseNumbers == {} for r in records)
    assert all(isinstance(r.lastModtimestamp, int) for r in records)
    # Checkpoints never go backwards and the last one resumes without skipping anything.
    checkpoints = [p.nextSetTimestamp for p in pages]
    assert checkpoints == sorted(checkpoints)

    client.submit_feedback(StopNCIISignalType.ImagePDQ, ours.value, StopNCIICSPFeedbackValue.Blocked, {"upload"})
    seen = feedback_for_case(case_id=case.id)
    assert [(f.partner_name, f.value, f.channel) for f in seen] == [("Example Social", "Blocked", "stopncii")]
    assert feedback_for_case(case_id=other_case.id) == []
    assert AuditEvent.objects.filter(case_id=case.id, action="partner.feedback", actor_kind="partner").count() == 1

    # The partner sees its own feedback on the record; another partner sees none of it.
    since = int((start + timedelta(seconds=1)).timestamp())
    mine = {r.hashValue: r for r in client.fetch_hashes(start_timestamp=since, page_size=5).hashRecords}
    assert [(f.source, f.feedbackValue, f.tags) for f in mine[ours.value].CSPFeedbacks] == [
        ("Example Social", StopNCIICSPFeedbackValue.Blocked, {"upload"})]
    stranger = client_for(make_partner(name="Other Platform"), live_server.url)
    theirs = {r.hashValue: r for r in stranger.fetch_hashes(start_timestamp=since, page_size=5).hashRecords}
    assert theirs[ours.value].CSPFeedbacks == []

    # SubmitHashes as the client sends it ("StopNCIISignalType.ImagePDQ", no hashStatus): Received, for review.
    found = rand_hex(256)
    client.submit_hash(StopNCIISignalType.ImagePDQ, found, {"own-detection"})
    entry = next(e for e in memory_bank.entries.values() if e.value == found)
    assert entry.status == "Received" and entry.submitted_by == partner.partner.id
    # Not yet reviewed, so not shared: the next sync from the last checkpoint does not carry it.
    later = client.fetch_hashes(start_timestamp=pages[-1].nextSetTimestamp)
    assert found not in {r.hashValue for r in later.hashRecords}


@pytest.mark.django_db
def test_fetch_hashes_shape_and_bad_parameters(partner, memory_bank) -> None:
    memory_bank.add(signal_type="pdq", value=rand_hex(256), updated_at=timezone.now() - timedelta(hours=1))
    client = stopncii_client(partner.stopncii.subscription_key, partner.stopncii.function_keys["FetchHashes"])
    body = client.get("/api/stopncii/v1/FetchHashes", {"startTimestamp": 10, "pageSize": 5000}).json()
    assert set(body) == {"count", "nextPageToken", "nextSetTimestamp", "hasMoreRecords", "hashRecords"}
    assert body["count"] == 1 and body["nextPageToken"] == "" and body["hasMoreRecords"] is False
    record = body["hashRecords"][0]
    assert set(record) == {"lastModtimestamp", "signalType", "hashValue", "hashStatus", "caseNumbers",
                           "CSPFeedbacks"}
    for params, code in [({"startTimestamp": "yesterday"}, "invalid_request"),
                         ({"pageSize": 0}, "invalid_request"),
                         ({"nextPageToken": "garbage"}, "invalid_cursor"),
                         ({"nextPageToken": "v1.999999999999999999999.1"}, "invalid_cursor")]:
        response = client.get("/api/stopncii/v1/FetchHashes", params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == code


@pytest.mark.django_db
def test_submit_feedback_and_hashes_validate_strictly(partner, memory_bank) -> None:
    value = rand_hex(256)
    memory_bank.add(signal_type="pdq", value=value)
    feedback = stopncii_client(partner.stopncii.subscription_key, partner.stopncii.function_keys["SubmitFeedback"])
    url = "/api/stopncii/v1/SubmitFeedback"
    ok = feedback.post(url, {"count": 2, "hashFeedbacks": [
        {"hashValue": value, "feedbackValue": "NotBlocked", "tags": []},
        {"hashValue": "ab" * 16, "feedbackValue": "Blocked", "tags": []}]}, format="json")
    assert ok.status_code == 200 and ok.json() == {"count": 2, "accepted": 1, "unknownHashes": ["ab" * 16]}
    for body, code in [
        ({"count": 2, "hashFeedbacks": [{"hashValue": value, "feedbackValue": "Blocked"}]}, "count_mismatch"),
        ({"count": 1, "hashFeedbacks": [{"hashValue": value, "feedbackValue": "Liked"}]}, "unknown_feedback_value"),
        ({"count": 1, "hashFeedbacks": [{"hashValue": "xyz", "feedbackValue": "Blocked"}]}, "invalid_hash"),
        ({"count": 1}, "missing_field"),
    ]:
        response = feedback.post(url, body, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == code, body
    submit = stopncii_client(partner.stopncii.subscription_key, partner.stopncii.function_keys["SubmitHashes"])
    url = "/api/stopncii/v1/SubmitHashes"
    for body, code in [
        ({"count": 1, "hashRecords": [{"signalType": "StopNCIISignalType.VideoTMK", "hashValue": value}]},
         "unsupported_signal_type"),
        ({"count": 1, "hashRecords": [{"signalType": "ImagePDQ", "hashValue": "ab" * 16}]}, "invalid_hash"),
        ({"count": 1, "hashRecords": [{"signalType": "VideoMD5", "hashValue": value}]}, "invalid_hash"),
    ]:
        response = submit.post(url, body, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == code, body
    response = submit.post(url, {"count": 1, "hashRecords": [{"signalType": "VideoMD5", "hashValue": "cd" * 16}]},
                           format="json")
    assert response.status_code == 200 and response.json() == {"count": 1, "accepted": 1}
    response = submit.post(url, "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
