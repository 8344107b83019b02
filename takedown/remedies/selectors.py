"""Reads on remedies. Callers that show a case's requests audit the access themselves (views, commands)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case as Case_
from django.db.models import IntegerField, QuerySet, Value, When
from django.utils import timezone

from takedown.cases.models import Case
from takedown.remedies.models import Channel, DeliveryState, Host, RemedyRequest, RequestKind, RequestState


def remedies_for_case(case: Case) -> QuerySet[RemedyRequest]:
    """Removal first (it has the statutory clock), then blocking, then de-linking."""
    rank = Case_(*(When(kind=kind, then=Value(i)) for i, kind in enumerate(RequestKind.values)),
                 output_field=IntegerField())
    return (RemedyRequest.objects.filter(case=case).select_related("host", "court_order")
            .prefetch_related("events", "messages")
            .annotate(kind_rank=rank).order_by("kind_rank", "created_at"))


@dataclass(frozen=True)
class RemedyStatus:
    """What the person sees per request: no addresses, no moderator names, each step with its stored time."""

    id: uuid.UUID
    platform: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    channel: str
    # The address was guessed (abuse@ of RFC 2142), not taken from a curated directory.
    guessed_address: bool
    urls: tuple[str, ...]
    sent_at: datetime | None
    received_at: datetime | None
    undelivered_at: datetime | None
    # "bounced" or "refused" when the last delivery failed (state undelivered), else "".
    delivery_failure: str
    acknowledged_at: datetime | None
    complied_at: datetime | None
    refused_at: datetime | None
    deadline_at: datetime | None
    overdue_at: datetime | None
    done_at: datetime | None
    overdue: bool
    hours_left: float | None


def _delivery_failure(request: RemedyRequest) -> str:
    if request.state != RequestState.UNDELIVERED:
        return ""
    failed = [m.delivery for m in request.messages.all()
              if m.delivery in (DeliveryState.BOUNCED, DeliveryState.REFUSED)]
    return failed[-1] if failed else DeliveryState.BOUNCED


def remedies_status_for_case(case: Case, *, now: datetime | None = None) -> list[RemedyStatus]:
    """For the victim's status page (intake calls this): each request's platform, delivery, outcome and clock."""
    now = now or timezone.now()
    out = []
    for request in remedies_for_case(case).exclude(state=RequestState.CANCELLED).prefetch_related("messages"):
        out.append(RemedyStatus(
            id=request.id,
            platform=request.recipient_label,
            kind=request.kind,
            kind_label=str(RequestKind(request.kind).label),
            state=request.state,
            state_label=str(RequestState(request.state).label),
            channel=request.channel,
            guessed_address=bool(request.host and request.channel == Channel.EMAIL
                                 and request.host.contact_source == Host.ContactSource.RFC2142),
            urls=tuple(request.urls),
            sent_at=request.sent_at,
            received_at=request.received_at,
            undelivered_at=request.undelivered_at if request.state == RequestState.UNDELIVERED else None,
            delivery_failure=_delivery_failure(request),
            acknowledged_at=request.acknowledged_at,
            complied_at=request.complied_at,
            refused_at=request.refused_at,
            deadline_at=request.deadline_at if request.received_at else None,
            overdue_at=request.overdue_at,
            done_at=request.complied_at or request.refused_at,
            overdue=request.overdue_at is not None and request.clock_running,
            hours_left=request.hours_left(now),
        ))
    return out


def remedies_for_partner(partner_id: uuid.UUID | str) -> QuerySet[RemedyRequest]:
    """Removal requests addressed to a partner platform, for its API (URLs and deadline only; no case data)."""
    return (RemedyRequest.objects.filter(kind=RequestKind.REMOVAL, host__partner_id=str(partner_id))
            .exclude(state__in=[RequestState.DRAFT, RequestState.CANCELLED]).order_by("sent_at"))
