"""The stored sent message: the exact bytes, their SHA-256, encrypted at rest, and the outcome's order."""

import hashlib

import pytest
from django.db import connection

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.remedies.delivery import sent_message_delivery_set, sent_message_record
from takedown.remedies.models import (
    Channel,
    DeliveryState,
    RemedyRequest,
    RequestKind,
    SentMessage,
    SentMessageTampered,
)
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db

BODY = b"From: takedown@operator.example\r\nTo: abuse@pics.example\r\nSubject: Removal\r\n\r\nUnique body 7f3a\r\n"


def _request() -> RemedyRequest:
    host = host_make("pics.example")
    case = confirm(case_make())
    return RemedyRequest.objects.create(case=case, kind=RequestKind.REMOVAL, host=host, channel=Channel.EMAIL,
                                        urls=["https://pics.example/a/1"])


def _record(request: RemedyRequest, body: bytes = BODY) -> SentMessage:
    return sent_message_record(request=request, channel=Channel.EMAIL, recipient="abuse@pics.example",
                               recipient_guessed=True, message_id="<m1@operator.example>", body=body,
                               content_type="message/rfc822", actor=Actor.system())


def test_the_exact_bytes_come_back_with_their_sha256_and_are_encrypted_at_rest() -> None:
    request = _request()
    message = _record(request)
    stored = SentMessage.objects.get(id=message.id)
    assert stored.raw_bytes() == BODY
    assert stored.sha256 == hashlib.sha256(BODY).hexdigest() and stored.size == len(BODY)
    assert stored.recipient_guessed and stored.delivery == DeliveryState.PENDING and stored.delivery_at is None
    assert list(request.messages.all()) == [stored]
    with connection.cursor() as cursor:
        cursor.execute("SELECT body_encrypted FROM remedies_sentmessage WHERE id = %s", [stored.id.hex])
        raw = bytes(cursor.fetchone()[0])
    assert b"Unique body 7f3a" not in raw
    event = AuditEvent.objects.get(action="remedies.message_recorded", object_id=str(stored.id))
    assert event.case_id == request.case_id and "abuse@pics.example" not in str(event.detail)


def test_a_blob_moved_to_another_row_or_a_changed_hash_is_detected() -> None:
    request = _request()
    first, second = _record(request), _record(request, b"other bytes")
    SentMessage.objects.filter(id=second.id).update(body_encrypted=first.body_encrypted)
    with pytest.raises(Exception):
        SentMessage.objects.get(id=second.id).raw_bytes()
    SentMessage.objects.filter(id=first.id).update(sha256="0" * 64)
    with pytest.raises(SentMessageTampered):
        SentMessage.objects.get(id=first.id).raw_bytes()


def test_outcomes_only_move_forward_acceptance_then_bounce_but_never_back() -> None:
    message = _record(_request())
    actor = Actor.system()
    assert sent_message_delivery_set(message=message, delivery=DeliveryState.ACCEPTED, detail="250 2.0.0 queued",
                                     actor=actor)
    assert sent_message_delivery_set(message=message, delivery=DeliveryState.BOUNCED, detail="550 5.1.1 unknown",
                                     actor=actor)
    assert not sent_message_delivery_set(message=message, delivery=DeliveryState.ACCEPTED, detail="250", actor=actor)
    message.refresh_from_db()
    assert message.delivery == DeliveryState.BOUNCED and message.delivery_detail == "550 5.1.1 unknown"
    assert message.delivery_at is not None


def test_key_rotation_reencrypts_sent_messages_and_keeps_their_bytes(settings, tmp_path) -> None:
    import base64
    import os

    from django.core.management import call_command

    from takedown.core import crypto

    settings.STORAGE_ROOT = tmp_path
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    settings.EVIDENCE_KEYS = [old]
    message = _record(_request())
    settings.EVIDENCE_KEYS = [new, old]
    call_command("evidence_rotate_keys", stdout=open(os.devnull, "w"))
    settings.EVIDENCE_KEYS = [new]
    stored = SentMessage.objects.get(id=message.id)
    assert not crypto.needs_reencryption(bytes(stored.body_encrypted))
    assert stored.raw_bytes() == BODY
