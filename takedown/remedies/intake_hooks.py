"""Adapters that plug moderation and remedies into the intake's hooks (settings.CASE_*_HOOKS / PROVIDERS)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.moderation.models import ItemKind
from takedown.moderation.services import moderation_close_for_case, moderation_item_open
from takedown.remedies.selectors import remedies_status_for_case
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


def remedy_rows(*, case: Case) -> list[dict[str, Any]]:
    rows = []
    for status in remedies_status_for_case(case):
        events = [(label, at) for label, at in ((_("sent"), status.sent_at), (_("deadline"), status.deadline_at),
                                                  (_("done"), status.done_at)) if at]
        rows.append({
            "kind": status.kind, "kind_label": status.kind_label, "state": status.state,
            "state_label": status.state_label, "platform": status.platform or None, "events": events,
        })
    return rows
