"""Delivery you can prove: the bytes given to the mail server are the bytes stored, "sent" is the server's
acceptance, a refusal or a later DSN is a bounce that takes "sent" away and puts the request in the moderators'
queue with the reason, and a re-send that gets through starts a fresh clock."""

from __future__ import annotations

import email
import hashlib
import io
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.moderation.models import ItemKind, ReviewItem
from takedown.moderation.services import moderation_queue_sync
from takedown.remedies.intake_hooks import remedy_rows
from takedown.remedies.models import DeliveryState, Host, RemedyRequest, RequestKind, RequestState
from takedown.remedies.services import remedies_generate_for_case, remedy_request_deliver, remedy_request_send
from takedown.remedies.smtp import SmtpTemporaryFailure
from tests.remedies.factory import case_make, confirm, host_make
from tests.remedies.smtpserver import FakeSMTP, smtp_serving

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings: Any) -> Iterator[FakeSMTP]:
    settings.DEFAULT_FROM_EMAIL = "requests@operator.example"
    settings.REMEDIES_BOUNCE_ADDRESS = "bounces@operator.example"
    with smtp_serving(settings) as server:
        yield server


def _removal(capture: Any, *, guessed: bool = False) -> RemedyRequest:
    host = host_make("pics.example")
    if guessed:
        Host.objects.filter(id=host.id).update(contact_source=Host.ContactSource.RFC2142)
    case = confirm(case_make())
    with capture(execute=True):
        remedies_generate_for_case(case=case, actor=Actor.system())
    return RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)


def _row(request: RemedyRequest) -> dict[str, Any]:
    return next(r for r in remedy_rows(case=request.case) if r["kind"] == "removal")


def test_the_bytes_the_mail_server_took_are_the_bytes_stored_and_sent_means_its_acceptance(
        smtp: FakeSMTP, django_capture_on_commit_callbacks: Any) -> None:
    removal = _removal(django_capture_on_commit_callbacks, guessed=True)
    (message,) = removal.messages.all()
    (got,) = smtp.received
    assert got.data == message.raw_bytes()
    assert hashlib.sha256(got.data).hexdigest() == message.sha256 and message.size == len(got.data)
    # The envelope sender names the message (VERP), so a bounce names it too.
    assert got.mail_from == f"bounces+{message.id.hex}@operator.example"
    assert got.recipients == ["abuse@pics.example"] and message.recipient == "abuse@pics.example"
    parsed = email.message_from_bytes(got.data)
    assert parsed["Message-ID"] == message.message_id and parsed["X-Takedown-Reference"] == str(removal.id)
    assert message.recipient_guessed and message.channel == "email" and message.content_type == "message/rfc822"
    assert message.delivery == DeliveryState.ACCEPTED
    assert message.delivery_detail == "mail server accepted it: 250 2.0.0 Ok: queued as 7F3A1"
    assert removal.state == RequestState.SENT and removal.received_at == message.sent_at
    assert removal.deadline_at == removal.received_at + timedelta(hours=48)
    row = _row(removal)
    assert row["state"] == "sent" and "a guess" in row["channel_label"]


def test_a_refused_recipient_is_a_bounce_never_sent_and_goes_to_the_moderators(
        smtp: FakeSMTP, django_capture_on_commit_callbacks: Any) -> None:
    smtp.rcpt_replies["abuse@pics.example"] = "550 5.1.1 <abuse@pics.example>: Recipient address rejected"
    removal = _removal(django_capture_on_commit_callbacks)
    assert smtp.received == []
    (message,) = removal.messages.all()
    assert message.delivery == DeliveryState.BOUNCED
    assert "550 5.1.1" in message.delivery_detail and message.raw_bytes()  # what we tried to send is kept
    assert removal.state == RequestState.UNDELIVERED and removal.received_at is None
    assert removal.deadline_at is None and removal.hours_left(removal.sent_at) is None
    assert "550 5.1.1" in removal.delivery_problem
    row = _row(removal)
    assert row["state"] == "bounced" and row["clock"].startswith("The 48 hours the law gives start when")
    moderation_queue_sync()
    item = ReviewItem.objects.get(case=removal.case, kind=ItemKind.DEADLINE_RISK)
    assert item.state == "open" and item.note.startswith("not delivered: refused by the mail server: 550 5.1.1")


def test_a_temporary_failure_records_nothing_and_the_outbox_tries_again(
        smtp: FakeSMTP, django_capture_on_commit_callbacks: Any) -> None:
    smtp.rcpt_replies["abuse@pics.example"] = "451 4.3.0 Try again later"
    removal = _removal(django_capture_on_commit_callbacks)
    assert removal.state == RequestState.DRAFT and removal.send_count == 0 and not removal.messages.exists()
    with pytest.raises(SmtpTemporaryFailure):
        remedy_request_deliver(request_id=removal.id, attempt=1)
    del smtp.rcpt_replies["abuse@pics.example"]
    assert remedy_request_deliver(request_id=removal.id, attempt=1)
    removal.refresh_from_db()
    assert removal.state == RequestState.SENT and removal.send_count == 1 and len(smtp.received) == 1


def _dsn(*, to: str, original_message_id: str, recipient: str = "abuse@pics.example", action: str = "failed",
         status: str = "5.1.1") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.pics.example\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.pics.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} mailbox unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_message_id}\r\nSubject: Removal request\r\n\r\n"
        "--B--\r\n"
    ).encode()


def test_a_dsn_read_by_the_command_bounces_the_message_it_names(
        smtp: FakeSMTP, django_capture_on_commit_callbacks: Any, tmp_path: Any, monkeypatch: Any) -> None:
    removal = _removal(django_capture_on_commit_callbacks)
    (message,) = removal.messages.all()
    assert removal.state == RequestState.SENT
    # A DSN about a message we never sent changes nothing.
    stray = tmp_path / "stray.eml"
    stray.write_bytes(_dsn(to="bounces+" + "0" * 32 + "@operator.example", original_message_id="<nope@x>"))
    out = io.StringIO()
    call_command("remedies_bounce", str(stray), stdout=out)
    assert "names no message" in out.getvalue()
    # "delayed" is not a bounce.
    delayed = tmp_path / "delayed.eml"
    delayed.write_bytes(_dsn(to=f"bounces+{message.id.hex}@operator.example", original_message_id="<x@y>",
                             action="delayed", status="4.4.1"))
    call_command("remedies_bounce", str(delayed), stdout=io.StringIO())
    removal.refresh_from_db()
    assert removal.state == RequestState.SENT
    # The real one, on stdin as an MTA pipes it, found by its VERP address.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        _dsn(to=f"bounces+{message.id.hex}@operator.example", original_message_id="<other@x>"))))
    out = io.StringIO()
    call_command("remedies_bounce", "--json", stdout=out)
    assert f'"bounced": ["{message.id}"]' in out.getvalue()
    message.refresh_from_db()
    removal.refresh_from_db()
    assert message.delivery == DeliveryState.BOUNCED
    assert message.delivery_detail.startswith("bounced: 5.1.1 smtp; 550 5.1.1 mailbox unknown")
    assert removal.state == RequestState.UNDELIVERED and "5.1.1" in removal.delivery_problem
    assert AuditEvent.objects.filter(action="remedies.request_undelivered", object_id=str(removal.id)).exists()
    assert _row(removal)["state"] == "bounced"
    not_a_dsn = tmp_path / "plain.eml"
    not_a_dsn.write_bytes(b"Subject: hello\r\n\r\nI could not deliver it\r\n")
    with pytest.raises(CommandError, match="not a delivery status notification"):
        call_command("remedies_bounce", str(not_a_dsn))


def test_a_bounce_found_by_message_id_and_a_resend_that_gets_through_starts_a_new_clock(
        smtp: FakeSMTP, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.REMEDIES_BOUNCE_ADDRESS = ""  # no VERP: the DSN's quoted Message-ID names the message
    removal = _removal(django_capture_on_commit_callbacks)
    (first,) = removal.messages.all()
    assert smtp.received[0].mail_from == "requests@operator.example"
    from takedown.remedies.services import remedies_bounce_record

    result = remedies_bounce_record(raw=_dsn(to="requests@operator.example", original_message_id=first.message_id),
                                    actor=Actor.system())
    assert result.bounced == [first.id]
    moderation_queue_sync()
    assert ReviewItem.objects.filter(case=removal.case, kind=ItemKind.DEADLINE_RISK, state="open").count() == 1
    Host.objects.filter(domain="pics.example").update(abuse_email="legal@pics.example")
    with django_capture_on_commit_callbacks(execute=True):
        remedy_request_send(request=removal, actor=Actor.system())
    removal.refresh_from_db()
    second = removal.messages.exclude(id=first.id).get()
    assert second.recipient == "legal@pics.example" and second.delivery == DeliveryState.ACCEPTED
    assert removal.state == RequestState.SENT and removal.received_at == second.sent_at
    assert removal.deadline_at == second.sent_at + timedelta(hours=48) and removal.delivery_problem == ""
    moderation_queue_sync()
    assert not ReviewItem.objects.filter(case=removal.case, kind=ItemKind.DEADLINE_RISK, state="open").exists()


def test_the_bounce_webhook_needs_its_token_and_a_dsn(
        smtp: FakeSMTP, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    removal = _removal(django_capture_on_commit_callbacks)
    (message,) = removal.messages.all()
    dsn = _dsn(to=f"bounces+{message.id.hex}@operator.example", original_message_id=message.message_id)
    client = Client()
    assert client.post("/hooks/remedies/bounce", dsn, content_type="message/rfc822").status_code == 404
    settings.REMEDIES_BOUNCE_WEBHOOK_TOKEN = "tok-" + "a" * 40
    assert client.post("/hooks/remedies/bounce", dsn, content_type="message/rfc822",
                       HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    bad = client.post("/hooks/remedies/bounce", b"hello", content_type="message/rfc822",
                      HTTP_AUTHORIZATION=f"Bearer {settings.REMEDIES_BOUNCE_WEBHOOK_TOKEN}")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "not_a_dsn"
    message.refresh_from_db()
    assert message.delivery == DeliveryState.ACCEPTED
    ok = client.post("/hooks/remedies/bounce", dsn, content_type="message/rfc822",
                     HTTP_AUTHORIZATION=f"Bearer {settings.REMEDIES_BOUNCE_WEBHOOK_TOKEN}")
    assert ok.status_code == 200 and ok.json()["bounced"] == [str(message.id)]
    removal.refresh_from_db()
    assert removal.state == RequestState.UNDELIVERED


def test_a_host_with_no_channel_is_never_sent(django_capture_on_commit_callbacks: Any, settings: Any) -> None:
    settings.REMEDIES_FALLBACK_ABUSE_MAILBOX = False
    case = confirm(case_make(urls=[("https://nowhere.example/1", "nowhere.example")]))
    with django_capture_on_commit_callbacks(execute=True):
        remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    assert removal.state == RequestState.DRAFT and removal.sent_at is None and not removal.messages.exists()
    assert _row(removal)["state"] == "not_sent"


def test_a_moderator_downloads_the_exact_bytes_and_it_is_audited(
        smtp: FakeSMTP, moderator_client: Client, django_capture_on_commit_callbacks: Any) -> None:
    removal = _removal(django_capture_on_commit_callbacks, guessed=True)
    (message,) = removal.messages.all()
    page = moderator_client.get(f"/staff/remedies/cases/{removal.case_id}/").content.decode()
    assert "abuse@pics.example" in page and "guessed address (RFC 2142)" in page
    assert "mail server accepted it: 250 2.0.0" in page and f"/staff/remedies/messages/{message.id}/raw" in page
    response = moderator_client.get(f"/staff/remedies/messages/{message.id}/raw")
    assert response.status_code == 200 and response["Content-Type"] == "message/rfc822"
    assert response.content == smtp.received[0].data and response["X-Content-SHA256"] == message.sha256
    assert AuditEvent.objects.filter(action="remedies.message_download", object_id=str(message.id),
                                     case_id=removal.case_id).exists()
