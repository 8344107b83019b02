from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.partners.fixtures import key_client

rnd = random.Random(3)


def rand_pdq() -> str:
    return f"{rnd.getrandbits(256):064x}"


@pytest.fixture
def client(partner):
    return key_client(partner.api_key.plaintext)


def sync_all(client, since=None, limit=100):
    params = {"limit": limit}
    if since is not None:
        params["since"] = since
    pages = []
    while True:
        response = client.get("/api/v1/hashes", params)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
        if not body["has_more"]:
            return pages
        params["cursor"] = body["next_cursor"]


@pytest.mark.django_db
def test_sync_pages_through_every_change_once_in_order(client, memory_bank) -> None:
    start = timezone.now() - timedelta(hours=1)
    entries = [memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=start + timedelta(milliseconds=100 * i))
               for i in range(1050)]
    pages = sync_all(client, limit=100)
    ids = [c["entry_id"] for p in pages for c in p["changes"]]
    assert ids == [e.id for e in entries]
    assert len(pages) == 11 and pages[-1]["next_cursor"] == ""
    change = pages[0]["changes"][0]
    assert set(change) == {"entry_id", "signal_type", "hash", "status", "updated_at", "first_seen", "quality"}
    checkpoints = [p["checkpoint"] for p in pages]
    assert checkpoints == sorted(checkpoints)


@pytest.mark.django_db
def test_withdrawn_and_deleted_entries_come_through_so_partners_delete(client, memory_bank) -> None:
    past = timezone.now() - timedelta(hours=2)
    keep = memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=past)
    gone = memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=past)
    erased = memory_bank.add(signal_type="md5", value=f"{rnd.getrandbits(128):032x}", updated_at=past)
    memory_bank.add(signal_type="pdq", value=rand_pdq(), status="Received", updated_at=past)  # not yet reviewed
    first = sync_all(client)
    checkpoint = first[-1]["checkpoint"]
    assert {c["entry_id"] for p in first for c in p["changes"]} == {keep.id, gone.id, erased.id}
    memory_bank.set_status(gone.id, "Withdrawn")
    memory_bank.set_status(erased.id, "Deleted")
    second = sync_all(client, since=checkpoint)
    assert [(c["entry_id"], c["status"]) for p in second for c in p["changes"]] == [
        (gone.id, "Withdrawn"), (erased.id, "Deleted")]


@pytest.mark.django_db
def test_checkpoint_trails_now_so_late_commits_are_not_skipped(client, memory_bank, settings) -> None:
    settings.PARTNER_SYNC_SAFETY_SECONDS = 30
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC), tick=False):
        memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=timezone.now() - timedelta(seconds=5))
        page = sync_all(client)[-1]
        assert page["checkpoint"] == int(datetime(2026, 6, 1, 11, 59, 30, tzinfo=UTC).timestamp())
        # A change written 10 s ago whose transaction commits only now is still ahead of the checkpoint.
        late = memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=timezone.now() - timedelta(seconds=10))
        again = sync_all(client, since=page["checkpoint"])
        assert late.id in {c["entry_id"] for p in again for c in p["changes"]}


@pytest.mark.django_db
def test_since_accepts_unix_seconds_and_iso(client, memory_bank) -> None:
    old = memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    new = memory_bank.add(signal_type="pdq", value=rand_pdq(), updated_at=datetime(2026, 3, 1, tzinfo=UTC))
    for since in ["2026-02-01T00:00:00Z", str(int(datetime(2026, 2, 1, tzinfo=UTC).timestamp()))]:
        ids = [c["entry_id"] for p in sync_all(client, since=since) for c in p["changes"]]
        assert ids == [new.id], since
    assert old.id in [c["entry_id"] for p in sync_all(client) for c in p["changes"]]
    only_md5 = client.get("/api/v1/hashes", {"signal_type": "md5"}).json()
    assert only_md5["changes"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "code"), [
    ({"since": "last tuesday"}, "invalid_timestamp"),
    ({"since": "2026-02-01T00:00:00"}, "invalid_timestamp"),
    ({"cursor": "v2.1.1"}, "invalid_cursor"),
    ({"limit": 0}, "invalid_limit"),
    ({"limit": 5001}, "invalid_limit"),
    ({"signal_type": "tmk"}, "unknown_signal_type"),
])
def test_bad_sync_parameters(client, params, code) -> None:
    response = client.get("/api/v1/hashes", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
