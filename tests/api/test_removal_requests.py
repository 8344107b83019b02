"""Partners receive full requests: the webhook carries the request and where to fetch it, a 2xx or the first fetch
is the receipt that starts the 48 hours, the bytes served or posted are stored, and the partner answers
received / removed / refused on the API (the existing feedback keeps working)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from takedown.core.audit import Actor
from takedown.moderation.models import ItemKind, ReviewItem
from takedown.moderation.services import moderation_queue_sync
from takedown.partners.models import ALL_SCOPES
from takedown.partners.services import NewPartner, webhook_endpoint_register
from takedown.remedies.intake_hooks import remedy_rows
from takedown.remedies.models import DeliveryState, RemedyRequest, RequestKind, RequestState
from takedown.remedies.services import remedies_generate_for_case
from tests.partners.fixtures import key_client
from tests.partners.test_webhooks import Receiver
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _directory() -> None:
    from takedown.remedies.directory import host_directory_seed

    host_directory_seed()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def _request_for(made: NewPartner, *, domain: str = "social.example") -> RemedyRequest:
    host_make(domain, partner_id=str(made.partner.id), email="")
    case = confirm(case_make(urls=[(f"https://{domain}/p/1", domain), (f"https://{domain}/p/2", domain)]))
    with transaction.atomic():
        remedies_generate_for_case(case=case, actor=Actor.system())
    return RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)


def removal_document_signature(removal: RemedyRequest) -> object:
    from takedown.remedies.documents import request_facts

    return request_facts(removal)["take_it_down"]["signature"]


def _list(made: NewPartner, **query: str) -> Any:
    return key_client(made.api_key.plaintext).get("/api/v1/removal-requests", query)


def test_without_a_webhook_the_request_is_not_sent_until_the_partner_fetches_it(
        make_partner: Callable[..., NewPartner]) -> None:
    made = make_partner(name="Social")
    removal = _request_for(made)
    assert removal.state == RequestState.SENDING and removal.received_at is None and removal.deadline_at is None
    assert next(r for r in remedy_rows(case=removal.case) if r["kind"] == "removal")["state"] == "sending"
    response = _list(made)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    (item,) = body["results"]
    removal.refresh_from_db()
    # The fetch is the receipt: the partner reads its own deadline, counted from now.
    assert removal.state == RequestState.SENT and removal.received_at is not None
    assert removal.deadline_at == removal.received_at + timedelta(hours=48)
    assert item["id"] == str(removal.id) and item["state"] == "sent"
    assert item["received_at"] and item["deadline_at"] and item["urls"] == removal.urls
    assert item["url"].endswith(f"/api/v1/removal-requests?id={removal.id}")
    elements = item["elements"]
    assert set(elements) == {"signature", "identification_and_location", "good_faith_statement", "contact"}
    assert all(elements.values()), elements
    assert elements["identification_and_location"]["urls"] == removal.urls
    assert "good-faith belief" in elements["good_faith_statement"] and item["statute"].startswith("47 U.S.C. 223a")
    # The request is signed as the statute expects (issue 14's authority work): the same signature as the e-mail.
    assert elements["signature"] == removal_document_signature(removal)
    (message,) = removal.messages.all()
    assert message.delivery == DeliveryState.ACCEPTED and message.recipient == f"partner:{made.partner.id}"
    assert message.raw_bytes() in response.content  # the very bytes served
    assert json.loads(message.raw_bytes()) == item
    # A second fetch is no second receipt.
    assert _list(made, id=str(removal.id)).json()["results"][0]["received_at"] == item["received_at"]
    assert removal.messages.count() == 1


def test_the_webhook_carries_the_request_and_its_2xx_is_the_receipt(
        make_partner: Callable[..., NewPartner], receiver: Receiver) -> None:
    made = make_partner(name="Social")
    webhook_endpoint_register(partner=made.partner, url=receiver.url, actor=Actor.system())
    removal = _request_for(made)
    (posted,) = receiver.requests
    payload = json.loads(posted["body"])
    data = payload["data"]
    assert data["removal_request_id"] == str(removal.id) and data["fetch_url"].endswith(f"?id={removal.id}")
    assert data["removal_request"]["elements"]["good_faith_statement"]
    assert data["removal_request"]["urls"] == removal.urls
    removal.refresh_from_db()
    (message,) = removal.messages.all()
    assert message.raw_bytes() == posted["body"] and message.message_id == payload["id"]
    assert message.delivery == DeliveryState.ACCEPTED and "HTTP 200" in message.delivery_detail
    assert removal.state == RequestState.SENT and removal.received_at == message.delivery_at


def test_a_webhook_refused_for_good_takes_sent_away_until_the_partner_fetches_it(
        make_partner: Callable[..., NewPartner], receiver: Receiver, settings: Any) -> None:
    settings.PARTNER_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.statuses = [410]
    made = make_partner(name="Social")
    webhook_endpoint_register(partner=made.partner, url=receiver.url, actor=Actor.system())
    removal = _request_for(made)
    (message,) = removal.messages.all()
    assert message.delivery == DeliveryState.REFUSED and "410" in message.delivery_detail
    assert removal.state == RequestState.UNDELIVERED and removal.received_at is None
    assert next(r for r in remedy_rows(case=removal.case) if r["kind"] == "removal")["state"] == "refused_delivery"
    moderation_queue_sync()
    item = ReviewItem.objects.get(case=removal.case, kind=ItemKind.DEADLINE_RISK, state="open")
    assert "refused the webhook" in item.note
    _list(made)
    removal.refresh_from_db()
    assert removal.state == RequestState.SENT and removal.received_at is not None
    moderation_queue_sync()
    item.refresh_from_db()
    assert item.state == "done"


def test_the_partner_acknowledges_removes_or_refuses_with_a_reason(
        make_partner: Callable[..., NewPartner]) -> None:
    made = make_partner(name="Social")
    other = make_partner(name="Other", scopes=ALL_SCOPES)
    removal = _request_for(made)
    client = key_client(made.api_key.plaintext)

    def ack(who: Any, **body: Any) -> Any:
        return who.post("/api/v1/removal-requests/acknowledge", {"removal_request_id": str(removal.id), **body},
                        format="json")

    assert ack(key_client(other.api_key.plaintext), status="received").status_code == 404
    assert _list(other).json()["results"] == []
    refused = ack(client, status="refused")
    assert refused.status_code == 400 and refused.json()["error"]["fields"]
    answered = ack(client, status="received")
    assert answered.status_code == 200 and answered.json()["state"] == "acknowledged"
    removal.refresh_from_db()
    # An acknowledgement is a receipt too: the 48 hours count from it when nothing came first.
    assert removal.state == RequestState.ACKNOWLEDGED and removal.received_at == removal.acknowledged_at
    assert removal.deadline_at == removal.received_at + timedelta(hours=48)
    assert ack(client, status="received").json()["state"] == "acknowledged"  # again: nothing new
    done = ack(client, status="removed")
    assert done.status_code == 200 and done.json()["state"] == "complied"
    removal.refresh_from_db()
    assert removal.complied_at is not None
    assert ack(client, status="refused", reason="too late").status_code == 409
    row = next(r for r in remedy_rows(case=removal.case) if r["kind"] == "removal")
    assert row["state"] == "done" and row["clock"] == ""


def test_a_refusal_with_its_reason_and_the_existing_feedback_still_works(
        make_partner: Callable[..., NewPartner]) -> None:
    made = make_partner(name="Social")
    first, second = _request_for(made), _request_for(made, domain="social2.example")
    client = key_client(made.api_key.plaintext)
    assert len(_list(made).json()["results"]) == 2
    response = client.post("/api/v1/removal-requests/acknowledge", {
        "removal_request_id": str(first.id), "status": "refused", "reason": "signed model release on file"},
        format="json")
    assert response.status_code == 200 and response.json()["state"] == "refused"
    first.refresh_from_db()
    assert first.refused_at and "signed model release on file" in first.outcome_note
    assert first.messages.get().delivery == DeliveryState.REFUSED
    feedback = client.post("/api/v1/feedback", {"removal_request_id": str(second.id), "feedback": "Removed"},
                           format="json")
    assert feedback.status_code == 201
    second.refresh_from_db()
    assert second.state == RequestState.COMPLIED and second.received_at is not None
