"""Writes about partners: their creation, keys, feedback and webhook endpoints.

Every change is audited in its own transaction; feedback that concerns a case writes one audit event per case.
Secrets are returned once to the caller and never stored in the clear (webhook secrets are encrypted, since we
must sign with them).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from takedown.core.audit import Actor, audit_record
from takedown.core.outbox import outbox_enqueue
from takedown.partners import hooks
from takedown.partners.auth import key_cache_forget
from takedown.partners.bank import SIGNAL_HEX_LENGTH, BankChange, BankEntryRef, EntryStatus, HashBank, bank
from takedown.partners.keys import key_generate, webhook_secret_generate
from takedown.partners.models import (
    ALL_SCOPES,
    STOPNCII_FUNCTION_SCOPES,
    BankWatermark,
    FeedbackValue,
    Partner,
    PartnerFeedback,
    PartnerFeedbackCase,
    PartnerKey,
    StopNCIIFunction,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from takedown.partners.webhooks import SendResult, webhook_body, webhook_send, webhook_url_check


class PartnerError(ValueError):
    """A request the service refuses; `code` is the machine-readable reason the API returns."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IssuedKey:
    key_id: uuid.UUID
    plaintext: str


@dataclass(frozen=True)
class StopNCIICredentials:
    subscription_key: str
    function_keys: dict[str, str]


@dataclass(frozen=True)
class NewPartner:
    partner: Partner
    api_key: IssuedKey
    stopncii: StopNCIICredentials


def _scopes_clean(scopes: Collection[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise PartnerError("unknown_scope", f"unknown scopes {unknown}; known: {list(ALL_SCOPES)}")
    return [s for s in ALL_SCOPES if s in scopes]


def _key_create(
    *, partner: Partner, kind: str, scopes: Sequence[str], function: str = "", label: str = "",
    rate_limit_per_minute: int | None = None,
) -> IssuedKey:
    new = key_generate()
    key = PartnerKey.objects.create(
        partner=partner, kind=kind, function=function, lookup_id=new.lookup_id, digest=new.digest,
        scopes=list(scopes), label=label, rate_limit_per_minute=rate_limit_per_minute,
    )
    return IssuedKey(key_id=key.id, plaintext=new.plaintext)


def _stopncii_issue(*, partner: Partner, scopes: Sequence[str]) -> StopNCIICredentials:
    subscription = _key_create(partner=partner, kind=PartnerKey.Kind.STOPNCII_SUBSCRIPTION, scopes=scopes,
                               label="StopNCII subscription")
    functions: dict[str, str] = {}
    for function in StopNCIIFunction.values:
        needed = STOPNCII_FUNCTION_SCOPES[function]
        # A function key exists for every endpoint (clients expect all three); it opens only what was granted.
        issued = _key_create(partner=partner, kind=PartnerKey.Kind.STOPNCII_FUNCTION, function=function,
                             scopes=[needed] if needed in scopes else [], label=f"StopNCII {function}")
        functions[function] = issued.plaintext
    return StopNCIICredentials(subscription_key=subscription.plaintext, function_keys=functions)


def partner_create(
    *, name: str, actor: Actor, scopes: Collection[str] = ALL_SCOPES, rate_limit_per_minute: int | None = None
) -> NewPartner:
    """A partner with one API key and a set of StopNCII-compatible credentials, all shown once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise PartnerError("invalid_name", "a partner name is 1 to 100 characters")
    clean = _scopes_clean(scopes)
    with transaction.atomic():
        if Partner.objects.filter(name=name).exists():
            raise PartnerError("partner_exists", f"a partner named {name!r} already exists")
        partner = Partner.objects.create(name=name, rate_limit_per_minute=rate_limit_per_minute)
        api_key = _key_create(partner=partner, kind=PartnerKey.Kind.API, scopes=clean, label="API key")
        stopncii = _stopncii_issue(partner=partner, scopes=clean)
        audit_record(actor=actor, action="partner.create", object_type="partner", object_id=partner.id,
                     detail={"scopes": clean})
    return NewPartner(partner=partner, api_key=api_key, stopncii=stopncii)


def partner_key_issue(
    *, partner: Partner, actor: Actor, scopes: Collection[str], label: str = "",
    rate_limit_per_minute: int | None = None,
) -> IssuedKey:
    clean = _scopes_clean(scopes)
    with transaction.atomic():
        issued = _key_create(partner=partner, kind=PartnerKey.Kind.API, scopes=clean, label=label,
                             rate_limit_per_minute=rate_limit_per_minute)
        audit_record(actor=actor, action="partner.key_issue", object_type="partner_key", object_id=issued.key_id,
                     detail={"partner": str(partner.id), "scopes": clean})
    return issued


def partner_key_revoke(*, key: PartnerKey, actor: Actor) -> PartnerKey:
    with transaction.atomic():
        key = PartnerKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="partner.key_revoke", object_type="partner_key", object_id=key.id,
                         detail={"partner": str(key.partner_id)})
    key_cache_forget(key.lookup_id)
    return key


def partner_key_rotate(*, key: PartnerKey, actor: Actor, grace_seconds: int = 0) -> IssuedKey:
    """A new key with the same partner, kind, function and scopes; the old one stops after the grace period."""
    if grace_seconds < 0:
        raise PartnerError("invalid_grace", "the grace period cannot be negative")
    with transaction.atomic():
        old = PartnerKey.objects.select_for_update().select_related("partner").get(pk=key.pk)
        if old.revoked_at is not None:
            raise PartnerError("key_revoked", "a revoked key cannot be rotated; issue a new one")
        issued = _key_create(partner=old.partner, kind=old.kind, function=old.function, scopes=old.scopes,
                             label=old.label, rate_limit_per_minute=old.rate_limit_per_minute)
        now = timezone.now()
        if grace_seconds == 0:
            old.revoked_at = now
        else:
            old.expires_at = now + timedelta(seconds=grace_seconds)
        old.replaced_by_id = issued.key_id
        old.save(update_fields=["revoked_at", "expires_at", "replaced_by"])
        audit_record(actor=actor, action="partner.key_rotate", object_type="partner_key", object_id=old.id,
                     detail={"partner": str(old.partner_id), "new_key": str(issued.key_id),
                             "grace_seconds": grace_seconds})
    key_cache_forget(old.lookup_id)
    return issued


def partner_stopncii_rotate(*, partner: Partner, actor: Actor) -> StopNCIICredentials:
    """Revoke every StopNCII credential of the partner and issue a fresh set with the API key's scopes."""
    with transaction.atomic():
        now = timezone.now()
        old = list(PartnerKey.objects.select_for_update().filter(
            partner=partner, revoked_at__isnull=True,
            kind__in=[PartnerKey.Kind.STOPNCII_SUBSCRIPTION, PartnerKey.Kind.STOPNCII_FUNCTION]))
        PartnerKey.objects.filter(pk__in=[k.pk for k in old]).update(revoked_at=now)
        granted: set[str] = set()
        for key in old:
            granted.update(key.scopes)
        creds = _stopncii_issue(partner=partner, scopes=_scopes_clean(granted or ALL_SCOPES))
        audit_record(actor=actor, action="partner.stopncii_rotate", object_type="partner", object_id=partner.id)
    for key in old:
        key_cache_forget(key.lookup_id)
    return creds


# --- Feedback -------------------------------------------------------------------------------------------------

def _feedback_store(
    *, partner: Partner, value: str, note: str, tags: Sequence[str], entry: BankEntryRef | None,
    removal_request_id: uuid.UUID | None, extra_case_ids: Sequence[uuid.UUID], channel: str,
) -> PartnerFeedback:
    feedback = PartnerFeedback.objects.create(
        partner=partner, value=value, note=note, tags=list(tags),
        bank_entry_id=entry.entry_id if entry else None, removal_request_id=removal_request_id, channel=channel,
    )
    case_ids: list[uuid.UUID] = []
    for case_id in [*(entry.case_ids if entry else ()), *extra_case_ids]:
        if case_id not in case_ids:
            case_ids.append(case_id)
    PartnerFeedbackCase.objects.bulk_create([PartnerFeedbackCase(feedback=feedback, case_id=c) for c in case_ids])
    actor = Actor.partner(partner.id)
    detail: dict[str, Any] = {"value": value, "channel": channel, "partner": partner.name}
    if removal_request_id:
        detail["removal_request"] = str(removal_request_id)
    if entry:
        detail["bank_entry"] = entry.entry_id
    for case_id in case_ids:
        audit_record(actor=actor, action="partner.feedback", case_id=case_id, object_type="partner_feedback",
                     object_id=feedback.id, detail=detail)
    if not case_ids:
        audit_record(actor=actor, action="partner.feedback", object_type="partner_feedback", object_id=feedback.id,
                     detail=detail)
    hooks.partner_feedback_received.send(
        sender=PartnerFeedback,
        notice=hooks.FeedbackNotice(
            feedback_id=feedback.id, partner_id=partner.id, value=value, created_at=feedback.created_at,
            bank_entry_id=feedback.bank_entry_id, removal_request_id=removal_request_id, case_ids=tuple(case_ids),
        ),
    )
    return feedback


def feedback_record(
    *, partner: Partner, value: str, note: str = "", tags: Sequence[str] = (), entry: BankEntryRef | None = None,
    removal_request_id: uuid.UUID | None = None, channel: str = PartnerFeedback.Channel.API,
) -> PartnerFeedback:
    """Store what a partner did about a bank entry, a removal request, or both.

    `entry` is resolved by the caller from the hash (the API never stores the hash value with the feedback).
    A removal request must be one that remedies sent to this very partner.
    """
    if value not in FeedbackValue.values:
        raise PartnerError("unknown_feedback_value", f"feedback must be one of {FeedbackValue.values}")
    if entry is None and removal_request_id is None:
        raise PartnerError("nothing_to_report_on", "feedback needs a hash or a removal request id")
    if len(note) > settings.PARTNER_FEEDBACK_NOTE_MAX:
        raise PartnerError("note_too_long", f"a note is at most {settings.PARTNER_FEEDBACK_NOTE_MAX} characters")
    extra: list[uuid.UUID] = []
    if removal_request_id is not None:
        ref = hooks.removal_request_resolve(partner_id=partner.id, removal_request_id=removal_request_id)
        if ref is None:
            raise PartnerError("unknown_removal_request", "no removal request with this id was sent to you")
        extra.append(ref.case_id)
    with transaction.atomic():
        return _feedback_store(partner=partner, value=value, note=note, tags=tags, entry=entry,
                               removal_request_id=removal_request_id, extra_case_ids=extra, channel=channel)


def feedback_record_many(
    *, partner: Partner, items: Sequence[tuple[BankEntryRef, str, Sequence[str]]], channel: str
) -> list[PartnerFeedback]:
    """Several hash feedbacks in one transaction (StopNCII's SubmitFeedback): all land or none."""
    with transaction.atomic():
        return [
            _feedback_store(partner=partner, value=value, note="", tags=tags, entry=entry, removal_request_id=None,
                            extra_case_ids=(), channel=channel)
            for entry, value, tags in items
        ]


# --- Webhooks -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewWebhook:
    endpoint: WebhookEndpoint
    secret: str


def webhook_endpoint_register(
    *, partner: Partner, url: str, actor: Actor, events: Collection[str] | None = None
) -> NewWebhook:
    chosen = list(events) if events else list(WebhookEvent.values)
    unknown = sorted(set(chosen) - set(WebhookEvent.values))
    if unknown:
        raise PartnerError("unknown_event", f"unknown events {unknown}; known: {WebhookEvent.values}")
    problem = webhook_url_check(url, resolve=False)
    if problem:
        raise PartnerError("invalid_url", problem)
    secret = webhook_secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(partner=partner, url=url, secret=secret, events=chosen)
        audit_record(actor=actor, action="partner.webhook_register", object_type="webhook_endpoint",
                     object_id=endpoint.id, detail={"partner": str(partner.id), "events": chosen})
    return NewWebhook(endpoint=endpoint, secret=secret)


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    with transaction.atomic():
        endpoint.active = False
        endpoint.disabled_at = timezone.now()
        endpoint.save(update_fields=["active", "disabled_at"])
        audit_record(actor=actor, action="partner.webhook_disable", object_type="webhook_endpoint",
                     object_id=endpoint.id)
    return endpoint


def webhook_event_publish(
    *, event: str, data: dict[str, Any], partner_id: uuid.UUID | None = None, occurred_at: datetime | None = None
) -> list[WebhookDelivery]:
    """Queue one delivery per active endpoint subscribed to `event` (of one partner, or of all partners).

    Call it inside the transaction that makes the change: the deliveries and their outbox rows commit with it.
    """
    if event not in WebhookEvent.values:
        raise PartnerError("unknown_event", f"unknown event {event!r}")
    endpoints = WebhookEndpoint.objects.filter(active=True, partner__active=True)
    if partner_id is not None:
        endpoints = endpoints.filter(partner_id=partner_id)
    deliveries: list[WebhookDelivery] = []
    when = occurred_at or timezone.now()
    with transaction.atomic():
        for endpoint in endpoints:
            if event not in endpoint.events:
                continue
            delivery_id = uuid.uuid4()
            payload = {"id": str(delivery_id), "type": event, "created": int(when.timestamp()), "data": data}
            delivery = WebhookDelivery.objects.create(id=delivery_id, endpoint=endpoint, event=event, payload=payload,
                                                      next_attempt_at=timezone.now())
            outbox_enqueue(task="partners.webhook_deliver", kwargs={"delivery_id": str(delivery.id)})
            deliveries.append(delivery)
    return deliveries


def _backoff_seconds(attempts: int) -> int:
    base = settings.PARTNER_WEBHOOK_BACKOFF_SECONDS
    delay = min(base * 2 ** max(0, attempts - 1), settings.PARTNER_WEBHOOK_BACKOFF_MAX_SECONDS)
    # Jitter spreads retries of many endpoints that failed together (an outage) over time.
    return max(1, int(delay * random.uniform(0.9, 1.1)))


def webhook_delivery_attempt(*, delivery_id: uuid.UUID) -> str:
    """Send one delivery if it is due; record the attempt; schedule a retry with backoff or give up.

    Idempotent: a delivered or abandoned delivery, or one whose next attempt is not due yet (a duplicate relay),
    is left alone. Delivery is at least once: receivers de-duplicate on the Takedown-Delivery header.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(id=delivery_id).first()
    if delivery is None or delivery.status in (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED):
        return "done"
    now = timezone.now()
    if delivery.next_attempt_at and delivery.next_attempt_at > now + timedelta(seconds=2):
        return "not due"
    endpoint = delivery.endpoint
    if not endpoint.active:
        result = SendResult(None, "the endpoint is disabled", 0)
    else:
        body = webhook_body(delivery.payload)
        result = webhook_send(url=endpoint.url, secret=endpoint.secret, body=body, event=delivery.event,
                              delivery_id=str(delivery.id))
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status in (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED):
            return "done"
        WebhookAttempt.objects.create(delivery=delivery, status_code=result.status_code, error=result.error,
                                      duration_ms=result.duration_ms)
        delivery.attempts += 1
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        if result.ok:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= settings.PARTNER_WEBHOOK_MAX_ATTEMPTS or not endpoint.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delay = _backoff_seconds(delivery.attempts)
            delivery.status = WebhookDelivery.Status.RETRYING
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            outbox_enqueue(task="partners.webhook_deliver", kwargs={"delivery_id": str(delivery.id)},
                           delay_seconds=delay)
        delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at",
                                     "next_attempt_at"])
        if delivery.status in (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED):
            hooks.webhook_delivery_settled.send(sender=WebhookDelivery, notice=hooks.DeliveryNotice(
                delivery_id=delivery.id, partner_id=endpoint.partner_id, event=delivery.event,
                delivered=delivery.status == WebhookDelivery.Status.DELIVERED, status_code=result.status_code,
                error=result.error, attempts=delivery.attempts, at=timezone.now()))
    return delivery.status


_STATUS_EVENTS = {
    EntryStatus.RECEIVED: WebhookEvent.HASH_ADDED,
    EntryStatus.ACTIVE: WebhookEvent.HASH_ADDED,
    EntryStatus.WITHDRAWN: WebhookEvent.HASH_WITHDRAWN,
    EntryStatus.DELETED: WebhookEvent.HASH_DELETED,
}


def shared_statuses() -> tuple[str, ...]:
    """The entry statuses partners see in sync, FetchHashes and webhooks (Received only when configured)."""
    if settings.PARTNER_SHARE_RECEIVED:
        return EntryStatus.ALL
    return (EntryStatus.ACTIVE, EntryStatus.WITHDRAWN, EntryStatus.DELETED)


def matchable_statuses() -> tuple[str, ...]:
    """The entry statuses a lookup matches: what a partner should block."""
    if settings.PARTNER_SHARE_RECEIVED:
        return (EntryStatus.RECEIVED, EntryStatus.ACTIVE)
    return (EntryStatus.ACTIVE,)


def change_as_json(change: BankChange) -> dict[str, Any]:
    return {
        "entry_id": change.entry_id,
        "signal_type": change.signal_type,
        "hash": change.value,
        "status": change.status,
        "updated_at": change.updated_at.isoformat(),
        "first_seen": change.first_seen.isoformat(),
        "quality": change.quality,
        # A video's vPDQ frames ("pdq,quality,second", as HMA writes them), while it is Received or Active; a
        # withdrawn or deleted video keeps none (its hash, the SHA-256 of the frames, names what to drop).
        **({"vpdq": list(change.vpdq)} if change.signal_type == "vpdq" else {}),
    }


def webhook_bank_changes_publish(*, batch: int = 500, max_batches: int = 20) -> int:
    """Turn the bank's recent changes into hash.added / hash.withdrawn / hash.deleted deliveries.

    Reads the bank's change feed from a watermark, leaving out the last PARTNER_SYNC_SAFETY_SECONDS so a change
    whose transaction commits late is still seen. On the very first run it starts from now: partners get the
    existing bank by syncing, not as a flood of webhooks.
    """
    published = 0
    for _ in range(max_batches):
        cutoff = timezone.now() - timedelta(seconds=settings.PARTNER_SYNC_SAFETY_SECONDS)
        with transaction.atomic():
            mark, created = BankWatermark.objects.select_for_update().get_or_create(name="webhooks")
            if created or mark.updated_at is None:
                mark.updated_at = cutoff
                mark.entry_id = 0
                mark.save()
                return 0
            changes = bank().changes(
                since=mark.updated_at, after=(mark.updated_at, mark.entry_id), limit=batch,
                signal_types=tuple(SIGNAL_HEX_LENGTH), statuses=shared_statuses(),
            )
            changes = [c for c in changes if c.updated_at <= cutoff]
            if not changes:
                return published
            grouped: dict[str, list[dict[str, Any]]] = {}
            for change in changes:
                grouped.setdefault(_STATUS_EVENTS[change.status], []).append(change_as_json(change))
            for event, items in grouped.items():
                webhook_event_publish(event=event, data={"hashes": items})
            mark.updated_at = changes[-1].updated_at
            mark.entry_id = changes[-1].entry_id
            mark.save(update_fields=["updated_at", "entry_id"])
            published += len(changes)
        if len(changes) < batch:
            break
    return published


def entry_submit_by_partner(
    *, partner: Partner, store: HashBank, items: Sequence[tuple[str, str, Sequence[tuple[str, Sequence[str]]]]]
) -> list[BankEntryRef]:
    """Hashes a partner found itself (StopNCII SubmitHashes): each enters the bank as Received, for review,
    with the partner's own feedback on it. All land or none."""
    refs: list[BankEntryRef] = []
    with transaction.atomic():
        for signal_type, value, feedbacks in items:
            ref = store.entry_submit(signal_type=signal_type, value=value, partner_id=partner.id, quality=None)
            refs.append(ref)
            for feedback_value, tags in feedbacks:
                _feedback_store(partner=partner, value=feedback_value, note="", tags=tags, entry=ref,
                                removal_request_id=None, extra_case_ids=(), channel=PartnerFeedback.Channel.STOPNCII)
        audit_record(actor=Actor.partner(partner.id), action="partner.submit_hashes", object_type="partner",
                     object_id=partner.id, detail={"count": len(items)})
    return refs
