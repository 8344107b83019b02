"""The wiring between partner feedback (takedown.partners, issue 6) and removal requests.

The partner app exposes two hooks (takedown/partners/hooks.py): a resolver that says whether a removal request
was addressed to a given partner, and a signal sent inside its feedback transaction. Remedies registers both when
the partner app is installed; the functions here are plain so they can be tested without it.
"""

from __future__ import annotations

import uuid
from typing import Any

from takedown.remedies.services import remedy_partner_feedback, remedy_request_for_partner, remedy_webhook_settled


def removal_request_resolver(*, partner_id: uuid.UUID, removal_request_id: uuid.UUID) -> Any:
    """A `RemovalRequestRef` when the request went to this partner, else None."""
    from takedown.partners.hooks import RemovalRequestRef

    request = remedy_request_for_partner(partner_id=partner_id, removal_request_id=removal_request_id)
    if request is None:
        return None
    return RemovalRequestRef(removal_request_id=request.id, case_id=request.case_id)


def on_partner_feedback(sender: object, notice: Any, **kwargs: Any) -> None:
    """Receiver of `partner_feedback_received`: runs in the feedback transaction and does no I/O itself."""
    remedy_partner_feedback(partner_id=notice.partner_id, value=notice.value, at=notice.created_at,
                            removal_request_id=notice.removal_request_id, case_ids=tuple(notice.case_ids))


def on_webhook_settled(sender: object, notice: Any, **kwargs: Any) -> None:
    """Receiver of `webhook_delivery_settled`: a 2xx is the partner's receipt, giving up is a refused delivery."""
    remedy_webhook_settled(delivery_id=notice.delivery_id, delivered=notice.delivered,
                           status_code=notice.status_code, error=notice.error, attempts=notice.attempts, at=notice.at)


def partner_hooks_connect() -> bool:
    try:
        from takedown.partners import hooks
    except ImportError:
        return False  # the partner app is not installed in this build
    hooks.removal_request_resolver_register(removal_request_resolver)
    hooks.partner_feedback_received.connect(on_partner_feedback, dispatch_uid="remedies.partner_feedback")
    hooks.webhook_delivery_settled.connect(on_webhook_settled, dispatch_uid="remedies.webhook_settled")
    return True
