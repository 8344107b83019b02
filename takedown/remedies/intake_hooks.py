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
    if status.kind != "removal" or status.state in ("complied", "refused"):
        return ""
    if status.overdue:
        return _("The 48 hours have passed without removal: we keep pressing this platform.")
    if status.received_at is None or status.state == "undelivered":
        return _("The 48 hours the law gives start when the platform's system receives the request.")
    if status.hours_left is None:
        return ""
    if status.hours_left <= 0:
        return _("The 48 hours have just passed.")
    hours = max(1, int(status.hours_left))
    return ngettext("%(hours)d hour left of the 48 the law gives.", "%(hours)d hours left of the 48 the law gives.",
                    hours) % {"hours": hours}


def _done_label(kind: str) -> str:
    return {"removal": _("Removed"), "delinking": _("Removed from search results"),
            "blocking": _("Blocked by a partner platform")}.get(kind, _("Done"))


def _shown_state(status: RemedyStatus) -> tuple[str, str]:
    """(state key, words) as the person reads them; each is what the stored record shows, nothing more."""
    if status.state == "draft":
        if status.channel == "web_form":
            return "not_sent", _("Not sent yet: a moderator submits it through the platform's own form.")
        return "not_sent", _("Not sent yet.")
    if status.state == "sending":
        return "sending", _("Handed over; the platform's system has not taken it yet.")
    if status.state == "undelivered":
        if status.delivery_failure == "refused":
            return "refused_delivery", _("Not delivered: the platform's system refused it. A moderator is on it.")
        return "bounced", _("Bounced: it did not reach the platform. A moderator is on it.")
    if status.overdue:
        return "overdue", _("Overdue: not removed within the 48 hours.")
    if status.state == "sent":
        if status.kind == "blocking":
            return "sent", _("Shared: the fingerprints are in the list partner platforms check.")
        return "sent", _("Sent: the platform's system received it.")
    if status.state == "acknowledged":
        return "acknowledged", _("Acknowledged by the platform.")
    if status.state == "complied":
        return "done", _done_label(status.kind)
    if status.state == "refused":
        return "refused", _("Refused by the platform.")
    return status.state, status.state_label


def _channel_label(status: RemedyStatus) -> str:
    if status.channel == "email":
        if status.guessed_address:
            return _("By e-mail to the platform's standard abuse@ address (a guess: the platform has not "
                     "confirmed it)")
        return _("By e-mail to the platform's abuse contact")
    return {"partner": _("Through the platform's partner connection"),
            "web_form": _("Through the platform's own web form"),
            "hash_bank": _("Through the fingerprint list partner platforms check")}.get(status.channel, "")


def _events(status: RemedyStatus) -> list[tuple[str, Any]]:
    undelivered = _("Refused delivery") if status.delivery_failure == "refused" else _("Bounced")
    steps = (
        (_("Sent"), status.sent_at),
        # The hash bank is ours: "received" there says nothing more than "sent".
        (_("Received by the platform's system"), status.received_at if status.channel != "hash_bank" else None),
        (undelivered, status.undelivered_at),
        (_("Acknowledged"), status.acknowledged_at),
        (_done_label(status.kind), status.complied_at),
        (_("Refused"), status.refused_at),
        (_("Deadline (48 hours after receipt)"), status.deadline_at if status.kind == "removal" else None),
        (_("Overdue since"), status.overdue_at),
    )
    return [(label, at) for label, at in steps if at]


def remedy_rows(*, case: Case) -> list[dict[str, Any]]:
    """One row per request and URL (the status page shows each URL's own requests); blocking is case-wide."""
    rows = []
    for status in remedies_status_for_case(case):
        state, state_label = _shown_state(status)
        row = {
            "kind": status.kind, "kind_label": status.kind_label, "state": state, "state_label": state_label,
            # Blocking goes to every partner at once: shown for the case as a whole, not under one platform.
            "platform": (status.platform or None) if status.kind != "blocking" else None,
            "channel_label": _channel_label(status),
            "guessed_address": status.guessed_address, "events": _events(status), "clock": _clock(status),
            "overdue": status.overdue, "request_id": str(status.id),
        }
        if not status.urls:
            rows.append(row | {"url": None})
        for url in status.urls:
            rows.append(row | {"url": url})
    return rows
