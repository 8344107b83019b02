"""The one way into a case from the victim's side: reference + secret, or the grant a correct secret earned.

`case_open` checks a typed reference and secret. It costs the same time whether the reference exists or not
(argon2 against a decoy hash), answers "not found" the same way for a missing case and a wrong secret, and
counts tries: after `SECRET_FAILURES_LIMIT` wrong secrets for one reference, or `CLIENT_TRIES_LIMIT` tries of
any kind from one client address, it refuses with `CaseAccessLimited` (the view answers 429) until the window
passes. A correct secret earns a grant: an HMAC of the case id and its secret hash, kept in the session, that
`case_from_grant` checks in constant time on later pages, so the secret itself is never stored anywhere.

Both write an audit event for every access, granted or refused, in the same transaction as the read, and count
tries: they are services (writes), not selectors, which only read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from takedown.cases.models import Case
from takedown.core.audit import Actor, audit_record
from takedown.core.ratelimit import ratelimit_hit, ratelimit_peek
from victims.credentials import reference_parse, secret_verify

SECRET_FAILURES_LIMIT = 5
SECRET_FAILURES_WINDOW = 3600
CLIENT_TRIES_LIMIT = 30
CLIENT_TRIES_WINDOW = 900
# A page opened with a grant keeps the case open this long after the last page viewed.
GRANT_IDLE_SECONDS = 30 * 60
SESSION_KEY = "victim_case"


class CaseNotFound(Exception):
    """No case for this reference and secret (which of the two was wrong is never said)."""


class CaseAccessLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many tries")
        self.retry_after = retry_after


@dataclass(frozen=True)
class CaseGrant:
    reference: str
    token: str
    at: float

    def as_session(self) -> dict[str, object]:
        return {"reference": self.reference, "token": self.token, "at": self.at}


def _grant_token(case: Case) -> str:
    # Bound to the secret hash, so a grant dies with the secret (and a leaked session row names no secret).
    return salted_hmac("victims.case-grant", f"{case.id}:{case.secret_hash}", algorithm="sha256").hexdigest()


def case_grant(case: Case) -> CaseGrant:
    return CaseGrant(reference=case.reference, token=_grant_token(case), at=time.time())


def case_open(*, reference: str, secret: str, address: str, purpose: str) -> Case:
    """The case for this reference and secret, or CaseNotFound / CaseAccessLimited."""
    client = ratelimit_hit(scope="victims.case-open.client", subject=address, limit=CLIENT_TRIES_LIMIT,
                           window=CLIENT_TRIES_WINDOW)
    canonical = reference_parse(reference)
    if not client.allowed:
        raise CaseAccessLimited(client.retry_after)
    if canonical is not None:
        failures = ratelimit_peek(scope="victims.case-open.secret", subject=canonical, limit=SECRET_FAILURES_LIMIT,
                                  window=SECRET_FAILURES_WINDOW)
        if not failures.allowed:
            locked = Case.objects.filter(reference=canonical).values_list("id", flat=True).first()
            if locked is not None:
                audit_record(actor=Actor.victim(), action="case.access_limited", case_id=locked,
                             object_type="case", object_id=locked, detail={"purpose": purpose})
            raise CaseAccessLimited(failures.retry_after)
    case = Case.objects.filter(reference=canonical).first() if canonical else None
    matched = secret_verify(stored_hash=case.secret_hash if case else None, secret=secret)
    if not matched or case is None:
        if canonical is not None:
            ratelimit_hit(scope="victims.case-open.secret", subject=canonical, limit=SECRET_FAILURES_LIMIT,
                          window=SECRET_FAILURES_WINDOW)
        if case is not None:
            audit_record(actor=Actor.victim(), action="case.access_denied", case_id=case.id, object_type="case",
                         object_id=case.id, detail={"purpose": purpose})
        raise CaseNotFound
    with transaction.atomic():
        audit_record(actor=Actor.victim(), action="case.opened", case_id=case.id, object_type="case",
                     object_id=case.id, detail={"via": "secret", "purpose": purpose})
    return case


def case_from_grant(*, grant: object, purpose: str, now: float | None = None) -> Case:
    """The case a session grant opens, or CaseNotFound (expired, forged, or the case's secret changed)."""
    if not isinstance(grant, dict):
        raise CaseNotFound
    reference = grant.get("reference")
    token = grant.get("token")
    at = grant.get("at")
    if not isinstance(reference, str) or not isinstance(token, str) or not isinstance(at, int | float):
        raise CaseNotFound
    if (now or time.time()) - at > GRANT_IDLE_SECONDS:
        raise CaseNotFound
    case = Case.objects.filter(reference=reference).first()
    expected = _grant_token(case) if case else "0" * 64
    if not constant_time_compare(expected, token) or case is None:
        raise CaseNotFound
    with transaction.atomic():
        audit_record(actor=Actor.victim(), action="case.opened", case_id=case.id, object_type="case",
                     object_id=case.id, detail={"via": "session", "purpose": purpose})
    return case
