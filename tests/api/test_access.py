"""Every endpoint as anonymous, with a wrong-scope key, a revoked key, the right key and another partner's key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from takedown.core.audit import Actor
from takedown.partners.models import ALL_SCOPES, PartnerKey
from takedown.partners.services import partner_key_revoke
from tests.partners.fixtures import key_client, stopncii_client

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str
    body: dict[str, Any] | None = None
    ok: int = 200
    function: str = ""

    def call(self, client: Any) -> Any:
        if self.method == "get":
            return client.get(self.path)
        return client.post(self.path, self.body, format="json")


NATIVE = [
    Endpoint("get", f"/api/v1/lookup?signal_type=pdq&hash={PDQ}", "lookup"),
    Endpoint("post", "/api/v1/lookup/batch", "lookup", {"signal_type": "pdq", "hashes": [PDQ]}),
    Endpoint("get", "/api/v1/hashes?since=0", "fetch"),
    Endpoint("post", "/api/v1/feedback", "feedback", {"signal_type": "pdq", "hash": PDQ, "feedback": "Blocked"},
             ok=201),
    Endpoint("get", f"/m/lookup?signal_type=pdq&signal={PDQ}", "lookup"),
]
STOPNCII = [
    Endpoint("get", "/api/stopncii/v1/FetchHashes?startTimestamp=10&pageSize=10", "fetch",
             function="FetchHashes"),
    Endpoint("post", "/api/stopncii/v1/SubmitFeedback", "feedback",
             {"count": 1, "hashFeedbacks": [{"hashValue": PDQ, "feedbackValue": "Blocked", "tags": []}]},
             function="SubmitFeedback"),
    Endpoint("post", "/api/stopncii/v1/SubmitHashes", "submit",
             {"count": 1, "hashRecords": [{"signalType": "StopNCIISignalType.ImagePDQ", "hashValue": PDQ,
                                           "CSPFeedbacks": []}]},
             function="SubmitHashes"),
]


@pytest.fixture
def banked(memory_bank):
    return memory_bank.add(signal_type="pdq", value=PDQ, status="Active")


def _error_code(response: Any) -> str:
    return response.json()["error"]["code"]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", NATIVE + STOPNCII, ids=lambda e: f"{e.method} {e.path.split('?')[0]}")
def test_anonymous_gets_401(endpoint: Endpoint, banked) -> None:
    response = endpoint.call(key_client(None))
    assert response.status_code == 401
    assert _error_code(response) == "not_authenticated"
    assert response.headers["WWW-Authenticate"]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", NATIVE, ids=lambda e: f"{e.method} {e.path.split('?')[0]}")
def test_native_endpoints_by_key(endpoint: Endpoint, make_partner, banked) -> None:
    others = tuple(s for s in ALL_SCOPES if s != endpoint.scope)
    wrong = make_partner(name="Wrong scope", scopes=others)
    right = make_partner(name="Right scope", scopes=(endpoint.scope,))
    revoked = make_partner(name="Revoked", scopes=ALL_SCOPES)
    partner_key_revoke(key=PartnerKey.objects.get(id=revoked.api_key.key_id), actor=Actor.system())

    response = endpoint.call(key_client(wrong.api_key.plaintext))
    assert response.status_code == 403 and _error_code(response) == "insufficient_scope"
    response = endpoint.call(key_client(revoked.api_key.plaintext))
    assert response.status_code == 401 and _error_code(response) == "key_revoked"
    response = endpoint.call(key_client("tdk_0123456789ab_" + "x" * 43))
    assert response.status_code == 401 and _error_code(response) == "invalid_key"
    # A StopNCII key is not an API key, even of the right partner.
    response = endpoint.call(key_client(right.stopncii.subscription_key))
    assert response.status_code == 401 and _error_code(response) == "invalid_key"
    response = endpoint.call(key_client(right.api_key.plaintext))
    assert response.status_code == endpoint.ok, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", STOPNCII, ids=lambda e: e.function)
def test_stopncii_endpoints_by_key(endpoint: Endpoint, make_partner, banked) -> None:
    others = tuple(s for s in ALL_SCOPES if s != endpoint.scope)
    wrong = make_partner(name="Wrong scope", scopes=others)
    right = make_partner(name="Right scope", scopes=(endpoint.scope,))
    other = make_partner(name="Another partner")
    revoked = make_partner(name="Revoked")
    sub = PartnerKey.objects.get(partner=revoked.partner, kind="stopncii_subscription")
    partner_key_revoke(key=sub, actor=Actor.system())

    def call(made: Any, subscription: str | None = None, function_key: str | None = None) -> Any:
        return endpoint.call(stopncii_client(subscription or made.stopncii.subscription_key,
                                             function_key or made.stopncii.function_keys[endpoint.function]))

    response = call(wrong)
    assert response.status_code == 403 and _error_code(response) == "insufficient_scope"
    response = call(revoked)
    assert response.status_code == 401 and _error_code(response) == "key_revoked"
    # Another partner's function key with my subscription key.
    response = call(right, function_key=other.stopncii.function_keys[endpoint.function])
    assert response.status_code == 401 and _error_code(response) == "invalid_function_key"
    # The function key of another endpoint.
    another_function = next(f for f in right.stopncii.function_keys if f != endpoint.function)
    response = call(right, function_key=right.stopncii.function_keys[another_function])
    assert response.status_code == 401 and _error_code(response) == "invalid_function_key"
    # Only one of the two headers.
    response = endpoint.call(stopncii_client(right.stopncii.subscription_key, None))
    assert response.status_code == 401 and _error_code(response) == "missing_key"
    # The native API key is not a StopNCII key.
    response = call(right, subscription=right.api_key.plaintext)
    assert response.status_code == 401 and _error_code(response) == "invalid_key"
    response = call(right)
    assert response.status_code == endpoint.ok, response.content


@pytest.mark.django_db
def test_me_describes_only_the_calling_key(make_partner) -> None:
    first = make_partner(name="First", scopes=("lookup",))
    make_partner(name="Second")
    body = key_client(first.api_key.plaintext).get("/api/v1/me").json()
    assert body["partner"] == "First" and body["scopes"] == ["lookup"]
    assert key_client(None).get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_bearer_header_must_be_well_formed(partner) -> None:
    client = key_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {partner.api_key.plaintext}")
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and _error_code(response) == "invalid_key"
    client.credentials(HTTP_X_API_KEY=partner.api_key.plaintext)
    assert client.get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_guessing_keys_is_throttled_per_address_but_known_keys_are_not(partner, settings) -> None:
    settings.PARTNER_AUTH_FAILURES_PER_MINUTE = 5
    good = key_client(partner.api_key.plaintext)
    assert good.get("/api/v1/me").status_code == 200  # now cached in this process
    codes = [key_client(f"tdk_{i:012x}_" + "x" * 43).get("/api/v1/me").status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    response = key_client("tdk_ffffffffffff_" + "x" * 43).get("/api/v1/me")
    assert response.json()["error"]["code"] == "rate_limited" and response.headers["Retry-After"]
    assert good.get("/api/v1/me").status_code == 200
