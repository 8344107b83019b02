"""Reads on remedies. Callers that show a case's requests audit the access themselves (views, commands)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case as Case_
from django.db.models import IntegerField, QuerySet, Value, When
from django.utils import timezone

from takedown.cases.models import Case
from takedown.remedies.models import RemedyRequest, RequestKind, RequestState


def remedies_for_case(case: Case) -> QuerySet[RemedyRequest]:
    """Removal first (it has the statutory clock), then blocking, then de-linking."""
    rank = Case_(*(When(kind=kind, then=Value(i)) for i, kind in enumerate(RequestKind.values)),
                 output_field=IntegerField())
    return (RemedyRequest.objects.filter(case=case).select_related("host", "court_order")
            .prefetch_related("events")
            .annotate(kind_rank=rank).order_by("kind_rank", "created_at"))


@dataclass(frozen=True)
class RemedyStatus:
    """What the person sees per platform: no addresses, no moderator names."""

    platform: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    sent_at: datetime | None
    deadline_at: datetime | None
    done_at: datetime | None
    overdue: bool
    hours_left: float | None


def remedies_status_for_case(case: Case, *, now: datetime | None = None) -> list[RemedyStatus]:
    """For the victim's status page (intake calls this): each request's platform, state and 48-hour clock."""
    now = now or timezone.now()
    out = []
    for request in remedies_for_case(case).exclude(state=RequestState.CANCELLED):
        out.append(RemedyStatus(
            platform=request.recipient_label,
            kind=request.kind,
            kind_label=str(RequestKind(request.kind).label),
            state=request.state,
            state_label=str(RequestState(request.state).label),
            sent_at=request.sent_at,
            deadline_at=request.deadline_at,
            done_at=request.complied_at or request.refused_at,
            overdue=request.overdue_at is not None and request.is_open,
            hours_left=request.hours_left(now),
        ))
    return out


def remedies_for_partner(partner_id: uuid.UUID | str) -> QuerySet[RemedyRequest]:
    """Removal requests addressed to a partner platform, for its API (URLs and deadline only; no case data)."""
    return (RemedyRequest.objects.filter(kind=RequestKind.REMOVAL, host__partner_id=str(partner_id))
            .exclude(state__in=[RequestState.DRAFT, RequestState.CANCELLED]).order_by("sent_at"))
