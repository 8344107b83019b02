"""The partner app's feedback signal and resolver reach the remedies services (duck-typed notice, no partner app)."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from django.utils import timezone

from takedown.core.audit import Actor
from takedown.remedies.models import RemedyRequest, RequestKind, RequestState
from takedown.remedies.partner_feedback import on_partner_feedback
from takedown.remedies.services import remedies_generate_for_case, remedy_request_send
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Notice:  # the fields of takedown.partners.hooks.FeedbackNotice
    feedback_id: uuid.UUID
    partner_id: uuid.UUID
    value: str
    created_at: datetime
    bank_entry_id: int | None = None
    removal_request_id: uuid.UUID | None = None
    case_ids: tuple[uuid.UUID, ...] = field(default=())


def test_feedback_signal_updates_the_removal_request_and_blocking() -> None:
    partner = uuid.uuid4()
    host_make("partner.example", partner_id=str(partner), email="")
    case = confirm(case_make(urls=[("https://partner.example/v/1", "partner.example")]))
    remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    remedy_request_send(request=removal, actor=Actor.system())
    at = timezone.now()
    on_partner_feedback(None, Notice(uuid.uuid4(), partner, "Removed", at, removal_request_id=removal.id))
    on_partner_feedback(None, Notice(uuid.uuid4(), partner, "Blocked", at, bank_entry_id=7, case_ids=(case.id,)))
    removal.refresh_from_db()
    assert removal.state == RequestState.COMPLIED and removal.complied_at == at
    assert RemedyRequest.objects.get(case=case, kind=RequestKind.BLOCKING).state == RequestState.COMPLIED
