"""Writes on the record of what was sent: each outgoing message exactly as it left, and what came back.

A message is recorded by the sender in the same transaction that marks the request, with the bytes handed to
the SMTP connection (or posted to a partner's webhook), so the record and the request's state commit together.
Outcomes (SMTP acceptance, a bounce, a partner's acknowledgement) are recorded on the message as they arrive.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from takedown.core.audit import Actor, audit_record
from takedown.remedies.models import DeliveryState, RemedyRequest, SentMessage

# An outcome that came later may replace an earlier one only in this order: an acceptance can be followed by a
# bounce (a DSN arrives after SMTP said 250) or by an acknowledgement, never the other way round.
_DELIVERY_RANK = {
    DeliveryState.PENDING: 0,
    DeliveryState.ACCEPTED: 1,
    DeliveryState.ACKNOWLEDGED: 2,
    DeliveryState.BOUNCED: 3,
    DeliveryState.REFUSED: 3,
}


def sent_message_record(
    *,
    request: RemedyRequest,
    channel: str,
    recipient: str,
    recipient_guessed: bool,
    message_id: str,
    body: bytes,
    content_type: str,
    actor: Actor,
    sent_at: datetime | None = None,
    delivery: str = DeliveryState.PENDING,
    delivery_detail: str = "",
    id: uuid.UUID | None = None,
) -> SentMessage:
    """Store one outgoing message: its exact bytes (encrypted), their SHA-256, and the first delivery outcome."""
    with transaction.atomic():
        now = sent_at or timezone.now()
        message = SentMessage(
            id=id or uuid.uuid4(), request=request, channel=channel, recipient=recipient[:320],
            recipient_guessed=recipient_guessed, message_id=message_id[:255], content_type=content_type,
            sent_at=now, delivery=delivery, delivery_detail=delivery_detail[:500],
            delivery_at=None if delivery == DeliveryState.PENDING else now,
        )
        message.set_body(body)
        message.save(force_insert=True)
        audit_record(actor=actor, action="remedies.message_recorded", case_id=request.case_id,
                     object_type="sent_message", object_id=message.id,
                     detail={"request": str(request.id), "channel": channel, "guessed": recipient_guessed,
                             "size": message.size, "delivery": delivery})
        return message


def sent_message_delivery_set(*, message: SentMessage, delivery: str, detail: str, actor: Actor,
                              at: datetime | None = None) -> bool:
    """Record a later outcome on a message. False when it says nothing new (same or weaker than what we know)."""
    with transaction.atomic():
        message = SentMessage.objects.select_for_update().get(pk=message.pk)
        if _DELIVERY_RANK[DeliveryState(delivery)] <= _DELIVERY_RANK[DeliveryState(message.delivery)]:
            return False
        message.delivery = delivery
        message.delivery_at = at or timezone.now()
        message.delivery_detail = detail[:500]
        message.save(update_fields=["delivery", "delivery_at", "delivery_detail"])
        audit_record(actor=actor, action="remedies.message_delivery", case_id=message.request.case_id,
                     object_type="sent_message", object_id=message.id, detail={"delivery": delivery})
        return True
