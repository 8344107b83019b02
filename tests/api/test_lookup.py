from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.hashes import HashMaker
from tests.partners.fixtures import key_client

hashes = HashMaker(6)
rand_hex = hashes.hex
flip = hashes.flip


@pytest.fixture
def client(partner):
    return key_client(partner.api_key.plaintext)


def lookup(client, **params):
    return client.get("/api/v1/lookup", params)


@pytest.mark.django_db
def test_pdq_lookup_returns_matches_within_distance_nearest_first(client, memory_bank) -> None:
    query = rand_hex(256)
    near = memory_bank.add(signal_type="pdq", value=flip(query, 5), quality=90)
    nearer = memory_bank.add(signal_type="pdq", value=flip(query, 2))
    far = memory_bank.add(signal_type="pdq", value=flip(query, 32))
    body = lookup(client, signal_type="pdq", hash=query.upper()).json()
    assert body["hash"] == query
    assert [(m["entry_id"], m["distance"]) for m in body["matches"]] == [(nearer.id, 2), (near.id, 5)]
    first = body["matches"][1]
    assert first["status"] == "Active" and first["quality"] == 90
    assert first["first_seen"].endswith("Z")
    assert set(first) == {"entry_id", "distance", "status", "first_seen", "quality"}
    assert far.id not in {m["entry_id"] for m in body["matches"]}
    narrower = lookup(client, signal_type="pdq", hash=query, max_distance=3).json()
    assert [m["entry_id"] for m in narrower["matches"]] == [nearer.id]


@pytest.mark.django_db
def test_pdq_matches_dihedral_variants_of_banked_images(client, memory_bank) -> None:
    original, rotated = rand_hex(256), rand_hex(256)
    entry = memory_bank.add(signal_type="pdq", value=original, variants=[rotated])
    body = lookup(client, signal_type="pdq", hash=flip(rotated, 3)).json()
    assert [(m["entry_id"], m["distance"]) for m in body["matches"]] == [(entry.id, 3)]


@pytest.mark.django_db
@pytest.mark.parametrize(("signal_type", "bits"), [("md5", 128), ("sha256", 256)])
def test_exact_types_match_only_exactly(client, memory_bank, signal_type: str, bits: int) -> None:
    value = rand_hex(bits)
    entry = memory_bank.add(signal_type=signal_type, value=value)
    assert [m["entry_id"] for m in lookup(client, signal_type=signal_type, hash=value).json()["matches"]] == [entry.id]
    assert lookup(client, signal_type=signal_type, hash=flip(value, 1)).json()["matches"] == []
    response = lookup(client, signal_type=signal_type, hash=value, max_distance=3)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_max_distance"


@pytest.mark.django_db
@pytest.mark.parametrize("signal_type", ["phash", "dhash"])
def test_64_bit_hashes_match_by_distance(client, memory_bank, signal_type: str) -> None:
    value = rand_hex(64)
    entry = memory_bank.add(signal_type=signal_type, value=value)
    memory_bank.add(signal_type=signal_type, value=flip(value, 9))
    body = lookup(client, signal_type=signal_type, hash=flip(value, 4)).json()
    assert [(m["entry_id"], m["distance"]) for m in body["matches"]] == [(entry.id, 4)]
    assert len(lookup(client, signal_type=signal_type, hash=value, max_distance=10).json()["matches"]) == 2
    assert lookup(client, signal_type=signal_type, hash=value, max_distance=11).status_code == 400


@pytest.mark.django_db
def test_only_entries_to_block_are_matched(client, memory_bank, settings) -> None:
    value = rand_hex(256)
    statuses = ["Received", "Active", "Withdrawn", "Deleted"]
    entries = {s: memory_bank.add(signal_type="pdq", value=flip(value, i), status=s) for i, s in enumerate(statuses)}
    ids = [m["entry_id"] for m in lookup(client, signal_type="pdq", hash=value).json()["matches"]]
    assert ids == [entries["Active"].id]
    settings.PARTNER_SHARE_RECEIVED = True
    ids = [m["entry_id"] for m in lookup(client, signal_type="pdq", hash=value).json()["matches"]]
    assert ids == [entries["Received"].id, entries["Active"].id]


@pytest.mark.django_db
def test_batch_answers_in_order(client, memory_bank) -> None:
    values = [rand_hex(256) for _ in range(1000)]
    hit = memory_bank.add(signal_type="pdq", value=flip(values[500], 7))
    response = client.post("/api/v1/lookup/batch", {"signal_type": "pdq", "hashes": values, "max_distance": 10},
                           format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["hash"] for r in results] == values
    assert [i for i, r in enumerate(results) if r["matches"]] == [500]
    assert results[500]["matches"][0]["entry_id"] == hit.id
    assert memory_bank.lookups == 1  # one call to the bank for the whole batch


@pytest.mark.django_db
def test_lookup_makes_no_database_query_once_the_key_is_known(client, memory_bank) -> None:
    value = rand_hex(256)
    memory_bank.add(signal_type="pdq", value=value)
    assert lookup(client, signal_type="pdq", hash=value).status_code == 200  # warms the key cache
    with CaptureQueriesContext(connection) as queries:
        assert lookup(client, signal_type="pdq", hash=value).json()["matches"]
        assert client.post("/api/v1/lookup/batch", {"signal_type": "pdq", "hashes": [value]},
                           format="json").status_code == 200
        assert client.get("/m/lookup", {"signal_type": "pdq", "signal": value}).status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []


@pytest.mark.django_db
def test_hma_lookup_shape(client, memory_bank, settings) -> None:
    value = rand_hex(256)
    entry = memory_bank.add(signal_type="pdq", value=flip(value, 4))
    body = client.get("/m/lookup", {"signal_type": "pdq", "signal": value}).json()
    assert body == {settings.PARTNER_HMA_BANK_NAME: [{"bank_content_id": entry.id, "distance": "4"}]}
    assert client.get("/m/lookup", {"signal_type": "pdq", "signal": rand_hex(256)}).json() == {}
    md5 = rand_hex(128)
    memory_bank.add(signal_type="video_md5", value=md5)
    body = client.get("/m/lookup", {"signal_type": "video_md5", "signal": md5}).json()
    assert list(body) == [settings.PARTNER_HMA_BANK_NAME]
    assert client.get("/m/lookup", {"signal_type": "md5", "signal": md5}).json() == {}  # an image's MD5 is not it
    response = client.get("/m/lookup", {"signal_type": "tmk", "signal": md5})
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_signal_type"


BAD_SINGLE = [
    ({"signal_type": "pdq", "hash": "zz" * 32}, "invalid_hash"),
    ({"signal_type": "pdq", "hash": "ab" * 31}, "invalid_hash"),
    ({"signal_type": "pdq", "hash": "ab" * 33}, "invalid_hash"),
    ({"signal_type": "pdq", "hash": "ab" * 16 + " " + "ab" * 15 + "a"}, "invalid_hash"),
    ({"signal_type": "pdq", "hash": "0x" + "ab" * 31}, "invalid_hash"),
    ({"signal_type": "md5", "hash": "ab" * 32}, "invalid_hash"),
    ({"signal_type": "tmk", "hash": "ab" * 32}, "unknown_signal_type"),
    ({"signal_type": "pdq", "hash": "ab" * 32, "max_distance": 32}, "invalid_max_distance"),
    ({"signal_type": "pdq", "hash": "ab" * 32, "max_distance": -1}, "invalid_max_distance"),
    ({"signal_type": "pdq", "hash": "ab" * 32, "max_distance": "many"}, "invalid_request"),
    ({"signal_type": "pdq"}, "missing_field"),
    ({"hash": "ab" * 32}, "missing_field"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "code"), BAD_SINGLE)
def test_bad_single_lookups_get_a_400_with_a_code(client, params, code) -> None:
    response = lookup(client, **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


@pytest.mark.django_db
def test_bad_batches(client, settings) -> None:
    def post(body, **kwargs):
        return client.post("/api/v1/lookup/batch", body, **kwargs)

    response = post({"signal_type": "pdq", "hashes": ["ab" * 32] * (settings.PARTNER_BATCH_MAX + 1)}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "batch_too_large"
    response = post({"signal_type": "pdq", "hashes": ["ab" * 32, "nope", "ab" * 32]}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_hash"
    assert "hashes[1]" in response.json()["error"]["fields"]
    response = post({"signal_type": "pdq", "hashes": []}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "empty_batch"
    response = post({"signal_type": "pdq", "hashes": ["ab" * 32] * 40_000}, format="json")  # over 2 MB
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    response = post({"signal_type": "bmp", "hashes": ["ab" * 32]}, format="json")
    assert response.json()["error"]["code"] == "unknown_signal_type"
    response = post('{"signal_type": "pdq", "hashes": [', content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
    response = post("signal_type=pdq", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    response = post('["not", "an", "object"]', content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
    response = client.put("/api/v1/lookup/batch", {}, format="json")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_rate_limit_gives_429_with_retry_after(make_partner) -> None:
    limited = make_partner(name="Limited", rate_limit_per_minute=3)
    client = key_client(limited.api_key.plaintext)
    codes = [client.get("/api/v1/me").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    response = client.get("/api/v1/me")
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Limits are per key: another partner is unaffected.
    other = make_partner(name="Other")
    assert key_client(other.api_key.plaintext).get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_lookup_reads_the_real_bank_end_to_end(client, settings) -> None:
    from detection.bank import bank_add

    settings.PARTNER_API_BANK = "takedown.partners.bank_detection.detection_bank"
    value = "ab" * 32
    near = "ab" * 31 + "a8"  # two bits apart
    entry = bank_add(signal_type="pdq", value=value, quality=88, source_kind="import", source_id="t", status="Active")
    response = lookup(client, signal_type="pdq", hash=near)
    assert response.status_code == 200
    body = response.json()
    assert [(m["entry_id"], m["distance"], m["quality"]) for m in body["matches"]] == [(entry.id, 2, 88)]


@pytest.mark.django_db
def test_large_limits_are_claimed_in_chunks_and_still_enforced(make_partner) -> None:
    from takedown.api.access import _chunk

    assert _chunk(3) == 1 and _chunk(399) == 1 and _chunk(1000) == 5 and _chunk(6000) == 20
    limited = make_partner(name="Chunked", rate_limit_per_minute=1000)
    client = key_client(limited.api_key.plaintext)
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, 5, tzinfo=UTC), tick=False):
        codes = [client.get("/api/v1/me").status_code for _ in range(1010)]
    # 1,000 a minute: exactly that many pass in this one process, then 429.
    assert codes == [200] * 1000 + [429] * 10


@pytest.mark.django_db
def test_real_bank_lookups_read_the_database_only_when_the_refresh_is_due(client, settings, tmp_path) -> None:
    # Production's shape: a shared snapshot under BANK_INDEX_DIR plus the delta refreshed every
    # BANK_REFRESH_SECONDS. Between refreshes a lookup is answered from memory alone.
    from django.utils import timezone

    from detection.bank import bank_add, bank_index_build, bank_views_reset
    from detection.models import BankEntry

    settings.PARTNER_API_BANK = "takedown.partners.bank_detection.detection_bank"
    settings.BANK_INDEX_DIR = str(tmp_path)
    settings.BANK_REFRESH_SECONDS = 3600
    value = rand_hex(256)
    entry = bank_add(signal_type="pdq", value=value, quality=70, source_kind="import", source_id="t",
                     status="Active")
    bank_index_build(signal_type="pdq")
    bank_views_reset()
    assert lookup(client, signal_type="pdq", hash=value).status_code == 200  # maps the snapshot, warms the key
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert [m["entry_id"] for m in lookup(client, signal_type="pdq", hash=flip(value, 3)).json()["matches"]
                    ] == [entry.id]
        assert client.post("/api/v1/lookup/batch", {"signal_type": "pdq", "hashes": [value, rand_hex(256)]},
                           format="json").status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []
    # Another process banks a hash: this one sees it at its next refresh, with one read of the changes.
    now = timezone.now()
    other = BankEntry.objects.create(signal_type="pdq", value=flip(value, 20), status="Active", first_seen=now,
                                     updated_at=now)
    assert [m["entry_id"] for m in lookup(client, signal_type="pdq", hash=value).json()["matches"]] == [entry.id]
    settings.BANK_REFRESH_SECONDS = 0
    with CaptureQueriesContext(connection) as queries:
        body = lookup(client, signal_type="pdq", hash=value).json()
    assert [m["entry_id"] for m in body["matches"]] == [entry.id, other.id]
    assert len(queries.captured_queries) == 1 and "detection_bankentry" in queries.captured_queries[0]["sql"]
