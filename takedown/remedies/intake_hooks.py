"""The remedies' side of the intake's status page (settings.CASE_REMEDY_PROVIDERS): each request in the person's
words. Queueing and withdrawal hooks, which need moderation too, live in takedown.moderation.intake_hooks."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from takedown.cases.models import Case
from takedown.remedies.selectors import RemedyStatus, remedies_status_for_case


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
