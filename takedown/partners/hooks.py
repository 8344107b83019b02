"""The seam between partner feedback and removal requests (takedown.remedies, issue 7).

Remedies owns removal requests; partners report on them. Two hooks keep the apps apart:

- `removal_request_resolver_register(fn)`: remedies tells us which removal requests exist and whose they are.
  `fn(partner_id=, removal_request_id=)` returns a `RemovalRequestRef` when that request was sent to that
  partner, else None (a partner can then never attach feedback to someone else's request).
- `partner_feedback_received`: a Django signal sent inside the feedback transaction with `notice=FeedbackNotice`.
  A receiver that updates a removal request does so atomically with the feedback; it must not do I/O itself
  (side effects go through the outbox).

- `webhook_delivery_settled`: a Django signal sent inside the delivery's transaction with
  `notice=DeliveryNotice` when a delivery ends: answered 2xx (delivered) or given up on (failed). Remedies records
  it on the message it sent, and a removal request counts as received by the partner on its first 2xx.

To tell partners about a new removal request, remedies calls
`takedown.partners.services.webhook_event_publish(partner_id=, event="removal_request.created", data=...)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal


@dataclass(frozen=True)
class RemovalRequestRef:
    removal_request_id: uuid.UUID
    case_id: uuid.UUID


@dataclass(frozen=True)
class FeedbackNotice:
    feedback_id: uuid.UUID
    partner_id: uuid.UUID
    value: str
    created_at: datetime
    bank_entry_id: int | None = None
    removal_request_id: uuid.UUID | None = None
    case_ids: tuple[uuid.UUID, ...] = field(default=())


@dataclass(frozen=True)
class DeliveryNotice:
    delivery_id: uuid.UUID
    partner_id: uuid.UUID
    event: str
    delivered: bool
    status_code: int | None
    error: str
    attempts: int
    at: datetime


RemovalRequestResolver = Callable[..., RemovalRequestRef | None]

partner_feedback_received = Signal()
webhook_delivery_settled = Signal()

_resolvers: list[RemovalRequestResolver] = []


def removal_request_resolver_register(resolver: RemovalRequestResolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def removal_request_resolver_unregister(resolver: RemovalRequestResolver) -> None:
    if resolver in _resolvers:
        _resolvers.remove(resolver)


def removal_request_resolve(*, partner_id: uuid.UUID, removal_request_id: uuid.UUID) -> RemovalRequestRef | None:
    for resolver in _resolvers:
        ref = resolver(partner_id=partner_id, removal_request_id=removal_request_id)
        if ref is not None:
            return ref
    return None
