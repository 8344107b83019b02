"""Adapters that plug moderation and remedies into the intake's hooks (settings.CASE_QUEUED_HOOKS and
CASE_WITHDRAW_HOOKS). They live in moderation because moderation depends on remedies, never the reverse."""

from __future__ import annotations

from django.utils.translation import gettext as _

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.moderation.models import ItemKind
from takedown.moderation.services import moderation_close_for_case, moderation_item_open
from takedown.remedies.services import remedies_cancel_for_case


def case_queued(*, case: Case, actor: Actor) -> None:
    moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)


def case_withdrawn(*, case: Case, actor: Actor) -> list[str]:
    cancelled = remedies_cancel_for_case(case=case, actor=actor)
    closed = moderation_close_for_case(case=case, actor=actor)
    return [
        _("%(n)d pending requests to platforms cancelled") % {"n": cancelled},
        _("%(n)d review items closed") % {"n": closed},
    ]
