"""Writes on remedies: generate a confirmed case's requests, send them, record what hosts did, watch the clocks.

Every function runs in one transaction, records its audit event there and leaves side effects (email, partner
webhooks, hash-bank activation) to the outbox, so a rollback sends nothing and a crash after commit is retried.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from takedown.cases.models import Case, CaseStatus
from takedown.core.audit import Actor, audit_record
from takedown.core.outbox import outbox_enqueue
from takedown.remedies.delivery import sent_message_delivery_set, sent_message_record
from takedown.remedies.directory import channel_for, dsa_notice_due, host_for_url, is_search_results_page
from takedown.remedies.documents import document_json, document_pdf, document_text, request_document
from takedown.remedies.models import (
    ESCALATION_HOURS,
    OPEN_STATES,
    RECEIPT_FROM_ANSWER,
    RECEIVED_STATES,
    STATUTORY_HOURS,
    Channel,
    CourtOrder,
    DeliveryState,
    Host,
    HostKind,
    RemedyRequest,
    RequestEvent,
    RequestKind,
    RequestState,
    SentMessage,
)
from takedown.remedies.smtp import SmtpAnswer, rendered_bytes, smtp_hand_over

logger = logging.getLogger(__name__)

SEND_TASK = "remedies.request_send"


class RemedyError(ValueError):
    """A request cannot move the way it was asked to (shown to the moderator as a 4xx)."""


def _event(request: RemedyRequest, *, action: str, actor: Actor, note: str = "", at: datetime | None = None) -> None:
    RequestEvent.objects.create(request=request, at=at or timezone.now(), action=action, actor_kind=actor.kind,
                                note=note[:500])


def _urls_already_requested(case: Case, kind: str, court_order: CourtOrder | None = None
                            ) -> dict[uuid.UUID | None, set[str]]:
    covered: dict[uuid.UUID | None, set[str]] = defaultdict(set)
    requests = (case.remedy_requests.filter(kind=kind, court_order=court_order)
                .exclude(state=RequestState.CANCELLED))
    for request in requests:
        covered[request.host_id].update(request.urls)
    return covered


@dataclass
class _Targets:
    # Hosts that hold the imagery, each with the exact URLs to remove there (registrable domain = one platform).
    removal: dict[uuid.UUID, tuple[Host, list[str]]] = field(default_factory=dict)
    # URLs to de-list: every URL that is not itself a page of search results.
    delist: list[str] = field(default_factory=list)


def _targets(case: Case) -> _Targets:
    targets = _Targets()
    for case_url in case.urls.order_by("added_at"):
        host = host_for_url(case_url.url)
        if host.kind == HostKind.SEARCH_ENGINE:
            # A search engine does not host the image: never a removal request. A results page is de-listed by
            # naming the pages it links to (the de-linking request cites it as where they were seen); any other
            # page on the engine's domain is de-listed like any URL.
            if not is_search_results_page(case_url.url):
                targets.delist.append(case_url.url)
            continue
        targets.removal.setdefault(host.id, (host, []))[1].append(case_url.url)
        targets.delist.append(case_url.url)
    return targets


def _generate(case: Case, *, kinds: Iterable[str], court_order: CourtOrder | None = None) -> list[RemedyRequest]:
    kinds = set(kinds)
    targets = _targets(case)
    created: list[RemedyRequest] = []
    if RequestKind.REMOVAL in kinds:
        covered = _urls_already_requested(case, RequestKind.REMOVAL, court_order)
        for host, urls in targets.removal.values():
            new_urls = [url for url in urls if url not in covered[host.id]]
            if new_urls:
                created.append(RemedyRequest.objects.create(
                    case=case, kind=RequestKind.REMOVAL, host=host, channel=channel_for(host), urls=new_urls,
                    dsa_notice=dsa_notice_due(host), priority=case.severity, court_order=court_order,
                ))
    # Blocking is the bank's work on every hash the case brought: its images' and its videos' alike.
    if RequestKind.BLOCKING in kinds and (case.images.exists() or case.videos.exists()) \
            and not case.remedy_requests.filter(kind=RequestKind.BLOCKING, court_order=court_order).exists():
        created.append(RemedyRequest.objects.create(
            case=case, kind=RequestKind.BLOCKING, host=None, channel=Channel.HASH_BANK, priority=case.severity,
            court_order=court_order,
        ))
    if RequestKind.DELINKING in kinds:
        covered = _urls_already_requested(case, RequestKind.DELINKING, court_order)
        for engine in Host.objects.filter(kind=HostKind.SEARCH_ENGINE).order_by("domain"):
            new_urls = [url for url in targets.delist if url not in covered[engine.id]]
            if new_urls:
                created.append(RemedyRequest.objects.create(
                    case=case, kind=RequestKind.DELINKING, host=engine, channel=channel_for(engine), urls=new_urls,
                    priority=case.severity, court_order=court_order,
                ))
    return created


def remedies_generate_for_case(*, case: Case, actor: Actor) -> list[RemedyRequest]:
    """Create every request a confirmed case supports that does not exist yet, and queue the sendable ones.

    Idempotent: URLs already covered by a request of the same kind are skipped, so calling it again after new
    URLs were confirmed adds requests for those alone. Court orders on the case add their own requests
    (RemedyRequest.court_order), covered separately, with their own clocks.
    """
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.status != CaseStatus.CONFIRMED:
            raise RemedyError("requests are generated for confirmed cases only")
        created = _generate(case, kinds=RequestKind.values)
        for order in case.court_orders.order_by("recorded_at"):
            created += _generate(case, kinds=order.scope, court_order=order)
        _created_record(case, created, actor=actor)
        return created


def remedies_generate_for_court_order(*, order: CourtOrder, actor: Actor) -> list[RemedyRequest]:
    """Create the requests a court order directs (its scope), citing it; runs in the caller's transaction too.

    A court order does not wait for a moderator's confirmation: the court has decided. Only a withdrawn case gets
    nothing (the person took it back; nothing of it is left to act on).
    """
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=order.case_id)
        if case.status == CaseStatus.WITHDRAWN:
            raise RemedyError("the case was withdrawn")
        created = _generate(case, kinds=order.scope, court_order=order)
        _created_record(case, created, actor=actor)
        return created


def _created_record(case: Case, created: list[RemedyRequest], *, actor: Actor) -> None:
    for request in created:
        _event(request, action="created", actor=actor,
               note="court-ordered" if request.court_order_id else "")
        _queue_send_if_automatic(request)
    audit_record(actor=actor, action="remedies.generate", case_id=case.id, object_type="case",
                 object_id=case.id, detail={"created": [r.kind for r in created],
                                            "court_ordered": sum(1 for r in created if r.court_order_id)})


def _sendable(request: RemedyRequest) -> bool:
    from takedown.remedies.documents import delinking_elements_missing, removal_elements_missing

    if request.channel == Channel.NONE:
        return False  # needs a channel: nothing can be sent, so nothing is ever counted as sent
    if request.kind == RequestKind.REMOVAL:
        return not removal_elements_missing(case=request.case, urls=list(request.urls))
    if request.kind == RequestKind.DELINKING:
        return not delinking_elements_missing(case=request.case, urls=list(request.urls))
    return True


def _queue_send_if_automatic(request: RemedyRequest) -> None:
    if request.channel in (Channel.EMAIL, Channel.PARTNER, Channel.HASH_BANK) and _sendable(request):
        outbox_enqueue(task=SEND_TASK, kwargs={"request_id": str(request.id), "attempt": request.send_count + 1})


def _mark_handed_over(request: RemedyRequest, *, actor: Actor, now: datetime, note: str = "") -> bool:
    """Count a send attempt (the request went to its channel). True when it was the first."""
    first = request.sent_at is None
    request.send_count += 1
    request.last_sent_at = now
    if first:
        request.sent_at = now
    request.save(update_fields=["send_count", "last_sent_at", "sent_at"])
    _event(request, action="sent" if first else "resent", actor=actor, note=note, at=now)
    return first


def request_receipt_record(request: RemedyRequest, *, actor: Actor, at: datetime, how: str) -> bool:
    """The recipient's system took the request: it is "sent" from now and the Act's 48 hours count from here.

    The caller holds the row locked. A receipt after a failed delivery (a bounce, a refused webhook) starts a new
    clock: the earlier one counted from a receipt that turned out not to be one. Returns True when it changed.
    """
    if request.state not in OPEN_STATES:
        return False
    if request.received_at is not None and request.state != RequestState.UNDELIVERED:
        return False
    request.received_at = at
    if request.has_statutory_clock:
        request.deadline_at = at + timedelta(hours=STATUTORY_HOURS)
        request.escalation_level = 0
        request.overdue_at = None
    if request.state in (RequestState.DRAFT, RequestState.SENDING, RequestState.UNDELIVERED):
        request.state = RequestState.SENT
    request.delivery_problem = ""
    request.save(update_fields=["received_at", "deadline_at", "escalation_level", "overdue_at", "state",
                                "delivery_problem"])
    _event(request, action="received", actor=actor, note=how, at=at)
    audit_record(actor=actor, action="remedies.request_received", case_id=request.case_id,
                 object_type="remedy_request", object_id=request.id, detail={"how": how[:200]})
    return True


def request_undelivered_record(request: RemedyRequest, *, actor: Actor, at: datetime, reason: str) -> bool:
    """Nobody has the request (it bounced, the partner refused the delivery): back to the moderators.

    The caller holds the row locked. The request stops saying sent and its clock stops; it stays open, so a
    moderator can correct the address and send it again.
    """
    if request.state not in (RequestState.DRAFT, RequestState.SENDING, RequestState.SENT, RequestState.UNDELIVERED):
        return False  # the recipient answered already (acknowledged, complied, refused): it had the request
    request.state = RequestState.UNDELIVERED
    request.undelivered_at = at
    request.delivery_problem = reason[:500]
    # An acceptance that ended in a bounce was no receipt: the clock it started is void (the acceptance itself
    # stays on the message's record and the timeline).
    request.received_at = None
    request.deadline_at = None
    request.overdue_at = None
    request.escalation_level = 0
    request.save(update_fields=["state", "undelivered_at", "delivery_problem", "received_at", "deadline_at",
                                "overdue_at", "escalation_level"])
    _event(request, action="undelivered", actor=actor, note=reason, at=at)
    audit_record(actor=actor, action="remedies.request_undelivered", case_id=request.case_id,
                 object_type="remedy_request", object_id=request.id, detail={"kind": request.kind})
    return True


def remedy_request_deliver(*, request_id: uuid.UUID, attempt: int) -> bool:
    """Deliver one send attempt (the outbox task calls this). False when it was done already or is moot."""
    actor = Actor.system()
    with transaction.atomic():
        request = (RemedyRequest.objects.select_for_update(of=("self",)).select_related("case", "host")
                   .filter(id=request_id).first())
        if request is None or request.send_count >= attempt or request.state not in OPEN_STATES:
            return False
        now = timezone.now()
        if request.channel == Channel.EMAIL:
            handed = _email_send(request)
            _mark_handed_over(request, actor=actor, now=now, note=f"e-mail to {handed.recipient}")
            _email_outcome_record(request, handed=handed, actor=actor, at=timezone.now())
        elif request.channel == Channel.PARTNER:
            deliveries = _partner_notify(request)
            _mark_handed_over(request, actor=actor, now=now, note=(
                f"webhook to {len(deliveries)} partner endpoint(s)" if deliveries
                else "published on the partner API; waiting for the partner to fetch it"))
            _partner_messages_record(request, deliveries=deliveries, actor=actor, at=now)
            if request.state in (RequestState.DRAFT, RequestState.UNDELIVERED) and request.received_at is None:
                request.state = RequestState.SENDING
                request.save(update_fields=["state"])
        elif request.channel == Channel.HASH_BANK:
            from takedown.remedies.blocking import BankUnavailable

            try:
                _blocking_activate(request)
            except BankUnavailable as exc:
                logger.warning("blocking request %s not sent: %s", request.id, exc)
                return False
            _mark_handed_over(request, actor=actor, now=now, note="the case's hashes are Active in the hash bank")
            # The bank is ours: the hashes are served to every partner from this moment.
            request_receipt_record(request, actor=actor, at=now, how="the case's hashes are Active in the hash bank")
        else:
            return False  # web forms are submitted by a moderator, who then records it
        audit_record(actor=actor, action="remedies.request_sent", case_id=request.case_id,
                     object_type="remedy_request", object_id=request.id,
                     detail={"kind": request.kind, "channel": request.channel, "attempt": attempt,
                             "state": request.state})
        return True


@dataclass(frozen=True)
class EmailHandOver:
    message_pk: uuid.UUID
    message_id: str
    recipient: str
    raw: bytes
    answer: SmtpAnswer


def _operator_mail_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">").strip() or "localhost"


def envelope_sender(message_pk: uuid.UUID) -> str:
    """The SMTP MAIL FROM: a VERP address naming the message when REMEDIES_BOUNCE_ADDRESS is set."""
    bounce = settings.REMEDIES_BOUNCE_ADDRESS
    if not bounce:
        return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    local, _, domain = bounce.partition("@")
    return f"{local}+{message_pk.hex}@{domain}"


def _email_send(request: RemedyRequest) -> EmailHandOver:
    """Render the request once, hand those bytes to the mail server, and return them with its answer."""
    assert request.host is not None
    document = request_document(request)
    prefix = "Reminder: " if request.send_count else ""
    message_pk = uuid.uuid4()
    message_id = f"<{message_pk.hex}@{_operator_mail_domain()}>"
    recipient = request.host.abuse_email
    message = EmailMessage(
        subject=f"{prefix}{document.title} [ref {request.id}]",
        body=document_text(document),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        reply_to=[settings.REMEDIES_OPERATOR_EMAIL] if settings.REMEDIES_OPERATOR_EMAIL else None,
        headers={"X-Takedown-Reference": str(request.id), "Message-ID": message_id,
                 "Date": formatdate(localtime=False)},
    )
    message.attach(f"{request.kind}-request-{request.id}.pdf", document_pdf(document), "application/pdf")
    message.attach(f"{request.kind}-request-{request.id}.json",
                   json.dumps(document_json(document), indent=2, ensure_ascii=False), "application/json")
    raw = rendered_bytes(message)
    answer = smtp_hand_over(message=message, raw=raw, envelope_from=envelope_sender(message_pk))
    return EmailHandOver(message_pk=message_pk, message_id=message_id, recipient=recipient, raw=raw, answer=answer)


def _email_outcome_record(request: RemedyRequest, *, handed: EmailHandOver, actor: Actor, at: datetime) -> None:
    assert request.host is not None
    accepted = handed.answer.accepted
    sent_message_record(
        id=handed.message_pk, request=request, channel=Channel.EMAIL, recipient=handed.recipient,
        recipient_guessed=request.host.contact_source == Host.ContactSource.RFC2142, message_id=handed.message_id,
        body=handed.raw, content_type="message/rfc822", actor=actor, sent_at=at,
        delivery=DeliveryState.ACCEPTED if accepted else DeliveryState.BOUNCED,
        delivery_detail=("mail server accepted it: " if accepted else "mail server refused it: ")
        + handed.answer.detail,
    )
    if accepted:
        request_receipt_record(request, actor=actor, at=at, how=f"accepted by the mail server ({handed.answer.detail})")
    else:
        request_undelivered_record(request, actor=actor, at=at, reason=f"refused by the mail server: "
                                                                       f"{handed.answer.detail}")


def _partner_notify(request: RemedyRequest) -> list[Any]:
    """Queue the partner's webhook deliveries (via the partner app's outbox-backed publisher), when it has any."""
    from django.utils.module_loading import import_string

    assert request.host is not None
    try:
        publish = import_string("takedown.partners.services.webhook_event_publish")
    except ImportError:
        # Without the partner app the request is still served to the partner by the API (remedies_for_partner).
        return []
    from takedown.remedies.partner_api import removal_request_payload

    return list(publish(partner_id=uuid.UUID(request.host.partner_id), event="removal_request.created",
                        data=removal_request_payload(request)))


def _partner_messages_record(request: RemedyRequest, *, deliveries: list[Any], actor: Actor, at: datetime) -> None:
    from takedown.partners.webhooks import webhook_body

    assert request.host is not None
    for delivery in deliveries:
        sent_message_record(
            request=request, channel=Channel.PARTNER, recipient=f"partner:{request.host.partner_id}",
            recipient_guessed=False, message_id=str(delivery.id), body=webhook_body(delivery.payload),
            content_type="application/json", actor=actor, sent_at=at,
            delivery_detail=f"webhook queued for {urlsplit(delivery.endpoint.url).hostname or ''}",
        )


def _blocking_activate(request: RemedyRequest) -> None:
    from takedown.remedies.blocking import case_hashes_activate

    case_hashes_activate(case=request.case)


def remedy_request_send(*, request: RemedyRequest, actor: Actor) -> RemedyRequest:
    """A moderator sends (or re-sends) a request. Web-form requests are recorded as sent by the moderator."""
    with transaction.atomic():
        request = (RemedyRequest.objects.select_for_update(of=("self",)).select_related("case", "host")
                   .get(pk=request.pk))
        if request.state not in OPEN_STATES:
            raise RemedyError("this request is closed")
        if request.channel == Channel.NONE and request.host is not None:
            # The directory may have learnt a contact since the request was made.
            request.channel = channel_for(request.host)
            request.save(update_fields=["channel"])
        if request.channel == Channel.NONE:
            raise RemedyError("no channel is known for this host: add its contact to the host directory first")
        if not _sendable(request):
            raise RemedyError("this request lacks an element it needs (see 'Not yet complete' in its document)")
        if request.channel == Channel.WEB_FORM:
            now = timezone.now()
            _mark_handed_over(request, actor=actor, now=now, note="submitted through the host's web form")
            # The form's confirmation is the host's receipt; the moderator who submitted it vouches for it.
            request_receipt_record(request, actor=actor, at=now, how="submitted by a moderator through the "
                                                                     "host's web form")
        else:
            outbox_enqueue(task=SEND_TASK, kwargs={"request_id": str(request.id), "attempt": request.send_count + 1})
        audit_record(actor=actor, action="remedies.request_send", case_id=request.case_id,
                     object_type="remedy_request", object_id=request.id, detail={"kind": request.kind})
        return request


_TRANSITIONS = {
    # An acknowledgement proves receipt, whatever we knew of the delivery before.
    RequestState.ACKNOWLEDGED: {RequestState.DRAFT, RequestState.SENDING, RequestState.SENT,
                                RequestState.UNDELIVERED},
    RequestState.COMPLIED: set(OPEN_STATES),
    RequestState.REFUSED: set(OPEN_STATES),
}


def _apply_state(request: RemedyRequest, *, state: str, at: datetime, note: str, actor: Actor) -> bool:
    if state not in _TRANSITIONS:
        raise RemedyError(f"a request cannot be set to {state!r}")
    if request.state == state:
        return False
    if request.state not in _TRANSITIONS[RequestState(state)]:
        raise RemedyError(f"a {request.state} request cannot become {state}")
    if request.received_at is None or request.state == RequestState.UNDELIVERED:
        # The host answered, so its system has the request, whatever the delivery record said.
        request_receipt_record(request, actor=actor, at=at, how=f"{RECEIPT_FROM_ANSWER} ({state})")
    request.state = state
    setattr(request, f"{state}_at", at)
    if note:
        request.outcome_note = note[:500]
    request.save(update_fields=["state", f"{state}_at", "outcome_note"])
    # The answer is the recipient's acknowledgement of what we sent (a refusal of the request is recorded as such).
    delivery = DeliveryState.REFUSED if state == RequestState.REFUSED else DeliveryState.ACKNOWLEDGED
    for message in request.messages.filter(delivery__in=(DeliveryState.PENDING, DeliveryState.ACCEPTED)):
        sent_message_delivery_set(message=message, delivery=delivery, actor=actor, at=at,
                                  detail=f"the recipient answered: {state}{' (' + note + ')' if note else ''}")
    return True


def remedy_request_update(*, request: RemedyRequest, state: str, actor: Actor, note: str = "",
                          at: datetime | None = None) -> RemedyRequest:
    """Record what the host did (acknowledged / complied / refused), e.g. from its email reply."""
    with transaction.atomic():
        request = RemedyRequest.objects.select_for_update().get(pk=request.pk)
        at = at or timezone.now()
        if _apply_state(request, state=state, at=at, note=note, actor=actor):
            _event(request, action=state, actor=actor, note=note, at=at)
            audit_record(actor=actor, action=f"remedies.request_{state}", case_id=request.case_id,
                         object_type="remedy_request", object_id=request.id, detail={"kind": request.kind})
        return request


# Partner feedback vocabulary (native and StopNCII's) -> what it means for a request.
FEEDBACK_STATES = {
    "Removed": RequestState.COMPLIED,
    "Deleted": RequestState.COMPLIED,
    "Blocked": RequestState.COMPLIED,
    "NotFound": RequestState.COMPLIED,
    "NotBlocked": RequestState.REFUSED,
    "Disputed": RequestState.REFUSED,
    "PendingReview": RequestState.ACKNOWLEDGED,
    "None": RequestState.ACKNOWLEDGED,
    "QualityUnknown": RequestState.ACKNOWLEDGED,
}


def remedy_request_for_partner(*, partner_id: uuid.UUID | str, removal_request_id: uuid.UUID | str
                               ) -> RemedyRequest | None:
    """The removal request if it was addressed to this partner, else None (no one reports on others' requests)."""
    try:
        request_uuid = uuid.UUID(str(removal_request_id))
    except ValueError:
        return None
    return (RemedyRequest.objects.filter(id=request_uuid, kind=RequestKind.REMOVAL, host__partner_id=str(partner_id))
            .first())


def remedy_partner_feedback(*, partner_id: uuid.UUID | str, value: str, at: datetime | None = None,
                            removal_request_id: uuid.UUID | None = None,
                            case_ids: Iterable[uuid.UUID] = ()) -> list[RemedyRequest]:
    """Apply a partner's feedback: on the removal request it names, or on the blocking requests of its cases.

    Runs inside the partner's feedback transaction (it opens a savepoint) and does no I/O. A blocking request
    goes to every partner, so one partner's "NotBlocked" is recorded on its timeline but does not mark the whole
    request refused; one "Blocked" marks it complied.
    """
    state = FEEDBACK_STATES.get(value)
    actor = Actor.partner(partner_id)
    at = at or timezone.now()
    changed: list[RemedyRequest] = []
    with transaction.atomic():
        targets: dict[uuid.UUID, str | None] = {}
        if removal_request_id is not None:
            named = remedy_request_for_partner(partner_id=partner_id, removal_request_id=removal_request_id)
            if named is not None:
                targets[named.id] = state
        blocking = RemedyRequest.objects.filter(case_id__in=list(case_ids), kind=RequestKind.BLOCKING)
        for request_id in blocking.values_list("id", flat=True):
            targets[request_id] = state if state != RequestState.REFUSED else None
        for request in RemedyRequest.objects.select_for_update().filter(id__in=sorted(targets)).order_by("id"):
            target_state = targets[request.id]
            moved = False
            if target_state is not None and request.state in OPEN_STATES:
                try:
                    moved = _apply_state(request, state=target_state, at=at, note=f"partner feedback: {value}",
                                         actor=actor)
                except RemedyError:
                    moved = False  # e.g. "PendingReview" after "Acknowledged": nothing new to record
            _event(request, action=f"feedback:{value}", actor=actor, at=at)
            audit_record(actor=actor, action="remedies.partner_feedback", case_id=request.case_id,
                         object_type="remedy_request", object_id=request.id,
                         detail={"value": value, "state": request.state, "changed": moved})
            if moved:
                changed.append(request)
    return changed


def remedies_cancel_for_case(*, case: Case, actor: Actor, reason: str = "withdrawn") -> int:
    """Close every open request of a case (the victim withdrew, or the case was rejected after confirmation).

    The URL snapshots are erased too: after a withdrawal nothing of the case may stay behind but the fact that
    requests existed, their kinds, hosts and times, which the transparency report counts.
    """
    with transaction.atomic():
        now = timezone.now()
        open_requests = list(RemedyRequest.objects.select_for_update().filter(case=case, state__in=OPEN_STATES))
        for request in open_requests:
            request.state = RequestState.CANCELLED
            request.cancelled_at = now
            request.save(update_fields=["state", "cancelled_at"])
            _event(request, action="cancelled", actor=actor, note=reason, at=now)
        if reason == "withdrawn":
            RemedyRequest.objects.filter(case=case).update(urls=[], outcome_note="")
        audit_record(actor=actor, action="remedies.cancel", case_id=case.id, object_type="case", object_id=case.id,
                     detail={"cancelled": len(open_requests), "reason": reason})
        return len(open_requests)


@dataclass(frozen=True)
class ClockReport:
    escalated_24h: int = 0
    escalated_40h: int = 0
    overdue: int = 0


def remedies_clock_tick(*, now: datetime | None = None) -> ClockReport:
    """Escalate open removal requests at 24 and 40 hours (re-send, raise priority); mark them overdue at 48.

    Idempotent: each level is recorded on the request, so a second tick in the same hour does nothing.
    """
    now = now or timezone.now()
    actor = Actor.system()
    counts = {"escalated_24h": 0, "escalated_40h": 0, "overdue": 0}
    # The clock counts from the recipient's receipt and runs only while the recipient has the request: one that
    # bounced, or that a partner's system has not taken yet, waits in the moderators' queue instead.
    candidates = (RemedyRequest.objects.filter(kind=RequestKind.REMOVAL, state__in=RECEIVED_STATES,
                                               received_at__isnull=False)
                  .filter(received_at__lte=now - timedelta(hours=ESCALATION_HOURS[0]))
                  .values_list("id", flat=True))
    for request_id in list(candidates):
        with transaction.atomic():
            request = (RemedyRequest.objects.select_for_update(skip_locked=True)
                       .filter(id=request_id, state__in=RECEIVED_STATES).first())
            if request is None or request.received_at is None:
                continue
            age_hours = (now - request.received_at) / timedelta(hours=1)
            for level, threshold in enumerate(ESCALATION_HOURS, start=1):
                if age_hours >= threshold and request.escalation_level < level:
                    request.escalation_level = level
                    request.priority += 1
                    request.save(update_fields=["escalation_level", "priority"])
                    _event(request, action=f"escalated_{threshold}h", actor=actor, at=now,
                           note=f"{threshold} hours since receipt without removal")
                    if request.state == RequestState.SENT and request.channel != Channel.WEB_FORM:
                        # Not even acknowledged: send it again in case the first one was lost.
                        outbox_enqueue(task=SEND_TASK,
                                       kwargs={"request_id": str(request.id), "attempt": request.send_count + 1})
                    audit_record(actor=actor, action="remedies.escalate", case_id=request.case_id,
                                 object_type="remedy_request", object_id=request.id,
                                 detail={"level": level, "hours": threshold})
                    counts[f"escalated_{threshold}h"] += 1
            if age_hours >= STATUTORY_HOURS and request.overdue_at is None:
                request.overdue_at = now
                request.priority += 1
                request.save(update_fields=["overdue_at", "priority"])
                _event(request, action="overdue", actor=actor, at=now,
                       note=f"not removed within {STATUTORY_HOURS} hours")
                audit_record(actor=actor, action="remedies.overdue", case_id=request.case_id,
                             object_type="remedy_request", object_id=request.id, detail={})
                counts["overdue"] += 1
    if any(counts.values()):
        logger.info("remedies clock: %s", counts)
    return ClockReport(**counts)


# --- What came back: webhook answers, partner fetches and acknowledgements, bounces ------------------------------

def remedy_webhook_settled(*, delivery_id: uuid.UUID, delivered: bool, status_code: int | None, error: str,
                           attempts: int, at: datetime) -> bool:
    """A partner webhook delivery ended (runs inside the delivery's transaction, no I/O). False when it carried no
    removal request of ours."""
    actor = Actor.system()
    with transaction.atomic():
        message = (SentMessage.objects.select_related("request").filter(channel=Channel.PARTNER,
                                                                         message_id=str(delivery_id)).first())
        if message is None:
            return False
        request = RemedyRequest.objects.select_for_update().get(pk=message.request_id)
        if delivered:
            detail = f"the partner's endpoint answered HTTP {status_code}"
            sent_message_delivery_set(message=message, delivery=DeliveryState.ACCEPTED, detail=detail, actor=actor,
                                      at=at)
            request_receipt_record(request, actor=actor, at=at, how=detail)
            return True
        reason = f"the partner's endpoint refused the webhook after {attempts} attempt(s): {error or status_code}"
        sent_message_delivery_set(message=message, delivery=DeliveryState.REFUSED, detail=reason, actor=actor, at=at)
        # Another endpoint of the partner, or its own fetch, may have taken it: then the partner has it.
        if request.received_at is None and not request.messages.filter(
                delivery__in=(DeliveryState.PENDING, DeliveryState.ACCEPTED, DeliveryState.ACKNOWLEDGED)).exists():
            request_undelivered_record(request, actor=actor, at=at, reason=reason)
        return True


def remedy_requests_fetched(*, partner_id: uuid.UUID, requests: list[RemedyRequest],
                            render: Callable[[RemedyRequest], bytes]) -> list[bytes]:
    """The partner's system fetched these requests through the API; returns each one's bytes as served.

    A request it had not received yet is received now (its 48 hours start) before it is rendered, so what the
    partner reads already says so; the bytes served for it are kept as the message the partner got, in the same
    transaction.
    """
    actor = Actor.partner(partner_id)
    bodies: list[bytes] = []
    with transaction.atomic():
        now = timezone.now()
        for request in requests:
            first = request.received_at is None or request.state == RequestState.UNDELIVERED
            if first:
                locked = (RemedyRequest.objects.select_for_update(of=("self",)).select_related("case", "host")
                          .get(pk=request.pk))
                first = request_receipt_record(locked, actor=actor, at=now,
                                               how="fetched by the partner's system through the partner API")
                request = locked
            body = render(request)
            if first:
                sent_message_record(
                    request=request, channel=Channel.PARTNER, recipient=f"partner:{partner_id}",
                    recipient_guessed=False, message_id=f"fetch:{uuid.uuid4()}", body=body,
                    content_type="application/json", actor=actor, sent_at=now, delivery=DeliveryState.ACCEPTED,
                    delivery_detail="fetched by the partner's system through the partner API")
            bodies.append(body)
    return bodies


# What a partner may say about a removal request addressed to it, and the request state each means.
PARTNER_ACK_STATES = {
    "received": RequestState.ACKNOWLEDGED,
    "removed": RequestState.COMPLIED,
    "refused": RequestState.REFUSED,
}


def remedy_partner_acknowledge(*, partner_id: uuid.UUID, request_id: uuid.UUID, status: str,
                               reason: str = "") -> RemedyRequest:
    """A partner's answer on the partner API: received / removed / refused (with its reason)."""
    if status not in PARTNER_ACK_STATES:
        raise RemedyError(f"status is one of {', '.join(PARTNER_ACK_STATES)}")
    reason = reason.strip()
    if status == "refused" and not reason:
        raise RemedyError("a refusal needs its reason")
    actor = Actor.partner(partner_id)
    with transaction.atomic():
        request = (RemedyRequest.objects.select_for_update()
                   .filter(id=request_id, kind=RequestKind.REMOVAL, host__partner_id=str(partner_id))
                   .exclude(state__in=(RequestState.DRAFT, RequestState.CANCELLED)).first())
        if request is None:
            raise RemedyRequest.DoesNotExist
        at = timezone.now()
        target = PARTNER_ACK_STATES[status]
        note = f"partner: {status}" + (f": {reason}" if reason else "")
        if request.state == target or request.state not in OPEN_STATES:
            if request.state != target:
                raise RemedyError(f"this request is already {request.state}")
            return request
        if target == RequestState.ACKNOWLEDGED and request.state not in _TRANSITIONS[RequestState.ACKNOWLEDGED]:
            return request  # acknowledged already; "received" again says nothing new
        _apply_state(request, state=target, at=at, note=note, actor=actor)
        _event(request, action=f"partner:{status}", actor=actor, note=reason, at=at)
        audit_record(actor=actor, action="remedies.partner_acknowledge", case_id=request.case_id,
                     object_type="remedy_request", object_id=request.id, detail={"status": status})
        return request


@dataclass(frozen=True)
class BounceResult:
    bounced: list[uuid.UUID]  # SentMessage ids recorded as bounced now
    delayed: int  # recipients the DSN says are only delayed (nothing recorded as failed)
    matched: bool  # the DSN names a message of ours


def remedies_bounce_record(*, raw: bytes, actor: Actor) -> BounceResult:
    """Record a DSN: each failed recipient's message is bounced, and its request goes back to the moderators.

    Raises DsnError when the input is no DSN. A DSN about a message we never sent matches nothing and changes
    nothing (matched=False), so a forged or stray report cannot mark anything.
    """
    from takedown.remedies.bounces import dsn_parse

    dsn = dsn_parse(raw)
    candidates = SentMessage.objects.filter(channel=Channel.EMAIL).select_related("request")
    found = list(candidates.filter(id__in=dsn.verp_ids)) if dsn.verp_ids else []
    if not found and dsn.message_ids:
        found = list(candidates.filter(message_id__in=dsn.message_ids))
    bounced: list[uuid.UUID] = []
    delayed = 0
    with transaction.atomic():
        for message in found:
            reports = [r for r in dsn.recipients if r.recipient == message.recipient.lower()]
            if not reports and len(dsn.recipients) == 1:
                reports = list(dsn.recipients)  # a relay rewrote the address; the VERP / Message-ID still match
            for report in reports:
                if report.action == "delayed":
                    delayed += 1
                    _event(message.request, action="delivery_delayed", actor=actor,
                           note=f"{report.status} {report.diagnostic}".strip())
                if not report.failed:
                    continue
                detail = f"bounced: {report.status} {report.diagnostic}".strip()
                if dsn.reporting_mta:
                    detail += f" (reported by {dsn.reporting_mta})"
                if not sent_message_delivery_set(message=message, delivery=DeliveryState.BOUNCED, detail=detail,
                                                 actor=actor):
                    continue
                bounced.append(message.id)
                request = RemedyRequest.objects.select_for_update().get(pk=message.request_id)
                # A later message of the same request that got through (a corrected address) still stands.
                later_ok = request.messages.filter(sent_at__gt=message.sent_at, delivery__in=(
                    DeliveryState.ACCEPTED, DeliveryState.ACKNOWLEDGED)).exclude(id=message.id).exists()
                if not later_ok:
                    request_undelivered_record(request, actor=actor, at=timezone.now(), reason=detail)
        audit_record(actor=actor, action="remedies.bounce", object_type="dsn", object_id="",
                     detail={"matched": len(found), "bounced": len(bounced), "delayed": delayed})
    return BounceResult(bounced=bounced, delayed=delayed, matched=bool(found))
