from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone

from takedown.core.audit import Actor
from takedown.core.models import OutboxMessage
from takedown.partners.models import WebhookDelivery
from takedown.partners.services import (
    PartnerError,
    webhook_bank_changes_publish,
    webhook_delivery_attempt,
    webhook_endpoint_register,
    webhook_event_publish,
)
from takedown.partners.webhooks import webhook_signature, webhook_signature_verify, webhook_url_check


class Receiver:
    """A local HTTP endpoint that records what it is sent and answers with the statuses it is told to."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/takedown?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"a":1}'
    header = webhook_signature("tdw_secret", 1_700_000_000, body)
    assert webhook_signature_verify("tdw_secret", header, body, now=1_700_000_100)
    assert not webhook_signature_verify("tdw_secret", header, b'{"a":2}', now=1_700_000_100)
    assert not webhook_signature_verify("tdw_other", header, body, now=1_700_000_100)
    assert not webhook_signature_verify("tdw_secret", header, body, now=1_700_001_000)  # replayed too late
    assert not webhook_signature_verify("tdw_secret", "v1=abc", body)


def test_url_rules(settings) -> None:
    settings.PARTNER_WEBHOOK_ALLOW_HTTP = False
    settings.PARTNER_WEBHOOK_ALLOW_PRIVATE = False
    assert webhook_url_check("http://hooks.example.com/x", resolve=False)
    assert webhook_url_check("https://user:pw@hooks.example.com/x", resolve=False)
    assert webhook_url_check("https://10.1.2.3/x", resolve=False)
    assert webhook_url_check("https://[::1]/x", resolve=False)
    assert webhook_url_check("https://hooks.example.com/x", resolve=False) is None


@pytest.mark.django_db
def test_registration_returns_the_secret_once_and_refuses_bad_events(partner) -> None:
    new = webhook_endpoint_register(partner=partner.partner, url="https://hooks.example.com/t", actor=Actor.system())
    assert new.secret.startswith("tdw_")
    assert new.endpoint.events == ["hash.added", "hash.withdrawn", "hash.deleted", "removal_request.created"]
    with pytest.raises(PartnerError):
        webhook_endpoint_register(partner=partner.partner, url="https://x.example.com", actor=Actor.system(),
                                  events=["everything"])


@pytest.mark.django_db
def test_delivery_is_signed_logged_and_reaches_only_the_addressee(
    make_partner, receiver, django_capture_on_commit_callbacks
) -> None:
    host_a, host_b = make_partner(name="Host A"), make_partner(name="Host B")
    hook_a = webhook_endpoint_register(partner=host_a.partner, url=receiver.url, actor=Actor.system())
    webhook_endpoint_register(partner=host_b.partner, url=receiver.url, actor=Actor.system())
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_event_publish(event="removal_request.created", partner_id=host_a.partner.id,
                                           data={"removal_request_id": "r-1", "urls": ["https://a.example/x"]})
    assert len(receiver.requests) == 1
    sent = receiver.requests[0]
    assert sent["path"] == "/hooks/takedown?x=1"
    assert sent["headers"]["Takedown-Event"] == "removal_request.created"
    assert sent["headers"]["Takedown-Delivery"] == str(delivery.id)
    assert webhook_signature_verify(hook_a.secret, sent["headers"]["Takedown-Signature"], sent["body"])
    payload = json.loads(sent["body"])
    assert payload["type"] == "removal_request.created" and payload["data"]["removal_request_id"] == "r-1"
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.last_status_code == 200
    assert [a.status_code for a in delivery.attempt_log.all()] == [200]


@pytest.mark.django_db
def test_failures_retry_with_backoff_through_the_outbox_then_give_up(
    partner, receiver, settings, django_capture_on_commit_callbacks
) -> None:
    settings.PARTNER_WEBHOOK_MAX_ATTEMPTS = 3
    settings.PARTNER_WEBHOOK_BACKOFF_SECONDS = 60
    webhook_endpoint_register(partner=partner.partner, url=receiver.url, actor=Actor.system())
    receiver.statuses = [500, 503, 500]
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_event_publish(event="hash.added", data={"hashes": []})
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and delivery.attempts == 1
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < first_wait < timedelta(seconds=70)
    retry = OutboxMessage.objects.filter(task="partners.webhook_deliver", dispatched_at__isnull=True).get()
    assert retry.available_at > timezone.now() + timedelta(seconds=50)
    # A duplicate relay before it is due does nothing.
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "not due"
    with time_machine.travel(timezone.now() + timedelta(seconds=70)):
        assert webhook_delivery_attempt(delivery_id=delivery.id) == "retrying"
    delivery.refresh_from_db()
    second_wait = delivery.next_attempt_at - (timezone.now() + timedelta(seconds=70))
    assert second_wait > timedelta(seconds=100)  # doubled
    with time_machine.travel(timezone.now() + timedelta(seconds=400)):
        assert webhook_delivery_attempt(delivery_id=delivery.id) == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 500]
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "done"
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_private_addresses_are_refused_when_not_allowed(partner, receiver, settings) -> None:
    webhook_endpoint_register(partner=partner.partner, url=receiver.url, actor=Actor.system())
    settings.PARTNER_WEBHOOK_ALLOW_PRIVATE = False
    [delivery] = webhook_event_publish(event="hash.added", data={"hashes": []})
    webhook_delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and "private" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_bank_changes_become_grouped_events(make_partner, memory_bank, receiver, settings,
                                            django_capture_on_commit_callbacks) -> None:
    settings.PARTNER_SYNC_SAFETY_SECONDS = 30
    everything = make_partner(name="Everything")
    deletions = make_partner(name="Deletions only")
    webhook_endpoint_register(partner=everything.partner, url=receiver.url, actor=Actor.system())
    webhook_endpoint_register(partner=deletions.partner, url=receiver.url, actor=Actor.system(),
                              events=["hash.withdrawn", "hash.deleted"])
    old = memory_bank.add(signal_type="pdq", value="1" * 64, updated_at=timezone.now() - timedelta(hours=1))
    assert webhook_bank_changes_publish() == 0  # the first run only sets the watermark
    a = memory_bank.add(signal_type="pdq", value="2" * 64)
    b = memory_bank.add(signal_type="md5", value="3" * 32)
    memory_bank.add(signal_type="pdq", value="4" * 64, status="Received")  # not shared
    memory_bank.set_status(old.id, "Withdrawn")
    assert webhook_bank_changes_publish() == 0  # too recent: inside the safety margin
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        memory_bank.set_status(b.id, "Deleted", at=timezone.now() - timedelta(seconds=45))
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_bank_changes_publish() == 3
        assert webhook_bank_changes_publish() == 0
    got = sorted((r["headers"]["Takedown-Event"], tuple(h["entry_id"] for h in json.loads(r["body"])["data"]["hashes"]))
                 for r in receiver.requests)
    assert got == [("hash.added", (a.id,)), ("hash.deleted", (b.id,)), ("hash.deleted", (b.id,)),
                   ("hash.withdrawn", (old.id,)), ("hash.withdrawn", (old.id,))]
    assert WebhookDelivery.objects.filter(status="delivered").count() == 5
