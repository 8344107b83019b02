"""Reads about partners for other parts: what each platform reported on a case (moderators, status page)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from takedown.partners.models import PartnerFeedback


@dataclass(frozen=True)
class CaseFeedback:
    partner_name: str
    value: str
    created_at: datetime
    channel: str
    removal_request_id: uuid.UUID | None
    bank_entry_id: int | None
    note: str


def feedback_for_case(*, case_id: uuid.UUID, include_notes: bool = False) -> list[CaseFeedback]:
    """Every partner report on a case, newest first. Notes are for moderators only (`include_notes`):
    a partner may describe its own users in them, which the victim's status page has no need to show."""
    rows = (
        PartnerFeedback.objects.filter(case_links__case_id=case_id)
        .select_related("partner")
        .order_by("-created_at")
    )
    return [
        CaseFeedback(
            partner_name=row.partner.name, value=row.value, created_at=row.created_at, channel=row.channel,
            removal_request_id=row.removal_request_id, bank_entry_id=row.bank_entry_id,
            note=row.note if include_notes else "",
        )
        for row in rows
    ]


def feedback_for_removal_request(*, removal_request_id: uuid.UUID) -> list[CaseFeedback]:
    rows = PartnerFeedback.objects.filter(removal_request_id=removal_request_id).select_related("partner")
    return [
        CaseFeedback(
            partner_name=row.partner.name, value=row.value, created_at=row.created_at, channel=row.channel,
            removal_request_id=row.removal_request_id, bank_entry_id=row.bank_entry_id, note=row.note,
        )
        for row in rows.order_by("-created_at")
    ]
