"""The hostile corpus against the partner API: native lookup, sync and feedback, the StopNCII-compatible paths and
HMA's lookup. Every answer is a 4xx in the API's one error shape (`{"error": {"code", "message"}}`) or, for a
query the API may legitimately ignore, a 200; never a 5xx. The bank and the feedback already recorded are the
same after the barrage as before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from takedown.partners.models import PartnerFeedback
from takedown.partners.services import NewPartner
from tests.hostile import corpus
from tests.partners.fixtures import key_client, stopncii_client
from tests.partners.memorybank import MemoryBank

pytestmark = pytest.mark.django_db

PDQ = "a" * 63 + "b"
NATIVE_POSTS = ("/api/v1/lookup/batch", "/api/v1/feedback")
STOPNCII_POSTS = {"/api/stopncii/v1/SubmitFeedback": "SubmitFeedback",
                  "/api/stopncii/v1/SubmitHashes": "SubmitHashes"}
NATIVE_GETS = ("/api/v1/lookup", "/api/v1/hashes", "/m/lookup", "/api/v1/me")
STOPNCII_GET = "/api/stopncii/v1/FetchHashes"


class Barrage:
    def __init__(self, made: NewPartner) -> None:
        self.made = made
        self.failures: list[str] = []

    def native(self) -> APIClient:
        client = key_client(self.made.api_key.plaintext)
        client.raise_request_exception = False
        return client

    def stopncii(self, function: str) -> APIClient:
        client = stopncii_client(self.made.stopncii.subscription_key, self.made.stopncii.function_keys[function])
        client.raise_request_exception = False
        return client

    def check(self, label: str, response: Any, *, allow_ok: bool = False) -> None:
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{label}: {status}")
            return
        if 200 <= status < 300:
            if not allow_ok:
                self.failures.append(f"{label}: accepted ({status})")
            return
        if not 400 <= status < 500:
            self.failures.append(f"{label}: unexpected {status}")
            return
        try:
            error = json.loads(response.content)["error"]
            assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)
        except (ValueError, KeyError, TypeError, AssertionError):
            self.failures.append(f"{label}: {status} without the API's error body: {response.content[:120]!r}")


@pytest.fixture
def seeded(memory_bank: MemoryBank, make_partner: Callable[..., NewPartner]) -> tuple[NewPartner, MemoryBank]:
    made = make_partner(name="Hostile Tester", rate_limit_per_minute=1_000_000)
    memory_bank.add(signal_type="pdq", value=PDQ)
    memory_bank.add(signal_type="md5", value="c" * 32)
    # Feedback recorded before the barrage: it must still be there, unchanged, after it.
    response = key_client(made.api_key.plaintext).post("/api/v1/feedback", {
        "signal_type": "pdq", "hash": PDQ, "feedback": "Blocked", "note": "before"}, format="json")
    assert response.status_code == 201, response.content
    return made, memory_bank


def _state(bank: MemoryBank) -> tuple[Any, ...]:
    entries = sorted((e.id, e.signal_type, e.value, e.status) for e in bank.entries.values())
    feedback = sorted(PartnerFeedback.objects.values_list("id", "value", "note"))
    return tuple(entries), tuple(feedback)


def test_hostile_json_bodies_get_a_4xx_with_the_error_body(seeded: tuple[NewPartner, MemoryBank]) -> None:
    made, bank = seeded
    before = _state(bank)
    barrage = Barrage(made)
    for item in corpus.json_bodies():
        for path in NATIVE_POSTS:
            response = barrage.native().generic("POST", path, item.data, content_type="application/json")
            barrage.check(f"{path} {item.name}", response)
        for path, function in STOPNCII_POSTS.items():
            response = barrage.stopncii(function).generic("POST", path, item.data, content_type="application/json")
            barrage.check(f"{path} {item.name}", response)
    assert not barrage.failures, "\n".join(barrage.failures)
    assert _state(bank) == before


CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/xml", "application/json; charset=utf-16", "")


def test_bodies_that_are_not_json_are_refused(seeded: tuple[NewPartner, MemoryBank]) -> None:
    made, bank = seeded
    before = _state(bank)
    barrage = Barrage(made)
    body = json.dumps({"signal_type": "pdq", "hashes": [PDQ], "feedback": "Blocked", "hash": PDQ}).encode()
    for content_type in CONTENT_TYPES:
        for path in NATIVE_POSTS:
            response = barrage.native().generic("POST", path, body, content_type=content_type)
            barrage.check(f"{path} {content_type!r}", response)
        for path, function in STOPNCII_POSTS.items():
            response = barrage.stopncii(function).generic("POST", path, body, content_type=content_type)
            barrage.check(f"{path} {content_type!r}", response)
    assert not barrage.failures, "\n".join(barrage.failures)
    assert _state(bank) == before


def test_hostile_query_strings_never_reach_a_server_error(seeded: tuple[NewPartner, MemoryBank]) -> None:
    made, bank = seeded
    before = _state(bank)
    barrage = Barrage(made)
    for name, params in corpus.HOSTILE_QUERIES:
        query = dict(params)
        for path in NATIVE_GETS:
            response = barrage.native().get(path, query)
            # /me ignores parameters; sync ignores lookup's: a 200 is a right answer there.
            barrage.check(f"{path} {name}", response, allow_ok=True)
        response = barrage.stopncii("FetchHashes").get(STOPNCII_GET, query)
        barrage.check(f"{STOPNCII_GET} {name}", response, allow_ok=True)
    # A parameter given twice, and methods the routes do not take.
    barrage.check("lookup twice", barrage.native().get(f"/api/v1/lookup?signal_type=pdq&hash={PDQ}&hash=zz"),
                  allow_ok=True)
    for path in (*NATIVE_GETS, *NATIVE_POSTS):
        for method in ("PUT", "PATCH", "DELETE", "TRACE"):
            barrage.check(f"{method} {path}", barrage.native().generic(method, path, b"{}",
                                                                        content_type="application/json"))
    assert not barrage.failures, "\n".join(barrage.failures)
    assert _state(bank) == before


HOSTILE_KEYS = (
    "x" * 10_000,
    "tdk_" + "A" * 5000,
    "tdk_\x00\x00",
    "tdk_' OR 1=1 --",
    "\u00e9\u00e8" * 50,
    "Bearer Bearer",
    "../../../../etc/passwd",
)


def test_hostile_credentials_are_refused_with_401_or_429(seeded: tuple[NewPartner, MemoryBank]) -> None:
    made, bank = seeded
    before = _state(bank)
    barrage = Barrage(made)
    for index, key in enumerate(HOSTILE_KEYS):
        for header in ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY"):
            client = APIClient(raise_request_exception=False)
            value = f"Bearer {key}" if header == "HTTP_AUTHORIZATION" else key
            client.credentials(**{header: value})
            for path in ("/api/v1/lookup?signal_type=pdq&hash=" + PDQ, "/api/v1/me"):
                response = client.get(path)
                barrage.check(f"{header} #{index} {path}", response)
                if response.status_code not in (401, 429):
                    barrage.failures.append(f"{header} #{index}: {response.status_code}")
        for subscription, function_key in ((key, key), (made.stopncii.subscription_key, key),
                                           (key, made.stopncii.function_keys["FetchHashes"])):
            client = stopncii_client(subscription, function_key)
            client.raise_request_exception = False
            response = client.get(STOPNCII_GET)
            barrage.check(f"stopncii #{index}", response)
            if response.status_code not in (401, 429):
                barrage.failures.append(f"stopncii #{index}: {response.status_code}")
    # Raw bytes that are not UTF-8 in the header itself.
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer tdk_\udcff\udcfe")
    barrage.check("surrogates in header", response)
    assert not barrage.failures, "\n".join(barrage.failures)
    assert _state(bank) == before


@pytest.mark.parametrize("note", ["\\ud800", "a\\ud800\\udfffb\\udc00", "\\u0000", "x\\u202e\\ufeff"])
def test_feedback_note_that_cannot_be_stored_is_refused_not_a_500(seeded: tuple[NewPartner, MemoryBank],
                                                                  note: str) -> None:
    """A note that JSON can carry but UTF-8 cannot (a lone surrogate) or PostgreSQL cannot (NUL) reaches the
    database only through the feedback write: it must be a 400, and the feedback already there must stay."""
    made, bank = seeded
    before = _state(bank)
    barrage = Barrage(made)
    body = ('{"signal_type": "pdq", "hash": "' + PDQ + '", "feedback": "NotBlocked", "note": "' + note + '"}').encode()
    response = barrage.native().generic("POST", "/api/v1/feedback", body, content_type="application/json")
    if note == "x\\u202e\\ufeff":  # odd but valid text: stored as sent
        assert response.status_code == 201, response.content
        assert PartnerFeedback.objects.order_by("-created_at")[0].note == "x\u202e\ufeff"
        return
    barrage.check(f"note {note}", response)
    assert response.status_code == 400
    assert not barrage.failures, "\n".join(barrage.failures)
    assert _state(bank) == before
