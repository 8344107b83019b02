"""Adapters that plug moderation and remedies into the intake's hooks (settings.CASE_*_HOOKS / PROVIDERS)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.moderation.models import ItemKind
from takedown.moderation.services import moderation_close_for_case, moderation_item_open
from takedown.remedies.selectors import RemedyStatus, remedies_status_for_case
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


def _clock(status: RemedyStatus) -> str:
    """The 48-hour clock in the person's words: hours left, or that the platform is late (and we keep at it)."""
    if status.overdue:
        return _("The 48 hours have passed without removal: we keep pressing this platform.")
    if status.hours_left is None:
        return ""
    if status.hours_left <= 0:
        return _("The 48 hours have just passed.")
    hours = max(1, int(status.hours_left))
    return ngettext("%(hours)d hour left of the 48 the law gives.", "%(hours)d hours left of the 48 the law gives.",
                    hours) % {"hours": hours}


def remedy_rows(*, case: Case) -> list[dict[str, Any]]:
    rows = []
    for status in remedies_status_for_case(case):
        events = [(label, at) for label, at in ((_("sent"), status.sent_at), (_("deadline"), status.deadline_at),
                                                  (_("done"), status.done_at)) if at]
        rows.append({
            "kind": status.kind, "kind_label": status.kind_label, "state": status.state,
            "state_label": status.state_label, "platform": status.platform or None, "events": events,
            "clock": _clock(status), "overdue": status.overdue,
        })
    return rows
