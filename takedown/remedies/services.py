"""Writes on remedies: generate a confirmed case's requests, send them, record what hosts did, watch the clocks.

Every function runs in one transaction, records its audit event there and leaves side effects (email, partner
webhooks, hash-bank activation) to the outbox, so a rollback sends nothing and a crash after commit is retried.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from takedown.cases.models import Case, CaseStatus
from takedown.core.audit import Actor, audit_record
from takedown.core.outbox import outbox_enqueue
from takedown.remedies.directory import channel_for, dsa_notice_due, host_for_url, is_search_results_page
from takedown.remedies.documents import document_json, document_pdf, document_text, request_document
from takedown.remedies.models import (
    ESCALATION_HOURS,
    OPEN_STATES,
    STATUTORY_HOURS,
    Channel,
    CourtOrder,
    Host,
    HostKind,
    RemedyRequest,
    RequestEvent,
    RequestKind,
    RequestState,
)

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


def _mark_sent(request: RemedyRequest, *, actor: Actor, now: datetime, note: str = "") -> None:
    first = request.sent_at is None
    request.send_count += 1
    request.last_sent_at = now
    if first:
        request.sent_at = now
        if request.has_statutory_clock:
            # The Act counts 48 hours from the platform's receipt; we count from sending, which is never later.
            request.deadline_at = now + timedelta(hours=STATUTORY_HOURS)
    if request.state == RequestState.DRAFT:
        request.state = RequestState.SENT
    request.save(update_fields=["send_count", "last_sent_at", "sent_at", "deadline_at", "state"])
    _event(request, action="sent" if first else "resent", actor=actor, note=note, at=now)


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
            _email_send(request)
            note = f"email to the abuse contact of {request.host.domain if request.host else ''}"
        elif request.channel == Channel.PARTNER:
            _partner_notify(request)
            note = "published to the partner through the API"
        elif request.channel == Channel.HASH_BANK:
            from takedown.remedies.blocking import BankUnavailable

            try:
                _blocking_activate(request)
            except BankUnavailable as exc:
                logger.warning("blocking request %s not sent: %s", request.id, exc)
                return False
            note = "the case's hashes are Active in the hash bank"
        else:
            return False  # web forms are submitted by a moderator, who then records it
        _mark_sent(request, actor=actor, now=now, note=note)
        audit_record(actor=actor, action="remedies.request_sent", case_id=request.case_id,
                     object_type="remedy_request", object_id=request.id,
                     detail={"kind": request.kind, "channel": request.channel, "attempt": attempt})
        return True


def _email_send(request: RemedyRequest) -> None:
    assert request.host is not None
    document = request_document(request)
    prefix = "Reminder: " if request.send_count else ""
    message = EmailMessage(
        subject=f"{prefix}{document.title} [ref {request.id}]",
        body=document_text(document),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[request.host.abuse_email],
        reply_to=[settings.REMEDIES_OPERATOR_EMAIL] if settings.REMEDIES_OPERATOR_EMAIL else None,
        headers={"X-Takedown-Reference": str(request.id)},
    )
    import json

    message.attach(f"{request.kind}-request-{request.id}.pdf", document_pdf(document), "application/pdf")
    message.attach(f"{request.kind}-request-{request.id}.json",
                   json.dumps(document_json(document), indent=2, ensure_ascii=False), "application/json")
    message.send(fail_silently=False)


def _partner_notify(request: RemedyRequest) -> None:
    """Tell the partner through its webhook (via the partner app's outbox-backed publisher) when it has one."""
    from django.utils.module_loading import import_string

    assert request.host is not None
    try:
        publish = import_string("takedown.partners.services.webhook_event_publish")
    except ImportError:
        # Without the partner app the request is still served to the partner by the API (remedies_for_partner).
        return
    publish(partner_id=uuid.UUID(request.host.partner_id), event="removal_request.created",
            data={"removal_request_id": str(request.id), "urls": list(request.urls),
                  "deadline_hours": STATUTORY_HOURS})


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
            _mark_sent(request, actor=actor, now=timezone.now(), note="submitted through the host's web form")
        else:
            outbox_enqueue(task=SEND_TASK, kwargs={"request_id": str(request.id), "attempt": request.send_count + 1})
        audit_record(actor=actor, action="remedies.request_send", case_id=request.case_id,
                     object_type="remedy_request", object_id=request.id, detail={"kind": request.kind})
        return request


_TRANSITIONS = {
    RequestState.ACKNOWLEDGED: {RequestState.DRAFT, RequestState.SENT},
    RequestState.COMPLIED: set(OPEN_STATES),
    RequestState.REFUSED: set(OPEN_STATES),
}


def _apply_state(request: RemedyRequest, *, state: str, at: datetime, note: str) -> bool:
    if state not in _TRANSITIONS:
        raise RemedyError(f"a request cannot be set to {state!r}")
    if request.state == state:
        return False
    if request.state not in _TRANSITIONS[RequestState(state)]:
        raise RemedyError(f"a {request.state} request cannot become {state}")
    request.state = state
    setattr(request, f"{state}_at", at)
    if note:
        request.outcome_note = note[:500]
    request.save(update_fields=["state", f"{state}_at", "outcome_note"])
    return True


def remedy_request_update(*, request: RemedyRequest, state: str, actor: Actor, note: str = "",
                          at: datetime | None = None) -> RemedyRequest:
    """Record what the host did (acknowledged / complied / refused), e.g. from its email reply."""
    with transaction.atomic():
        request = RemedyRequest.objects.select_for_update().get(pk=request.pk)
        at = at or timezone.now()
        if _apply_state(request, state=state, at=at, note=note):
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
                    moved = _apply_state(request, state=target_state, at=at, note=f"partner feedback: {value}")
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
    candidates = (RemedyRequest.objects.filter(kind=RequestKind.REMOVAL, state__in=OPEN_STATES,
                                               sent_at__isnull=False)
                  .filter(sent_at__lte=now - timedelta(hours=ESCALATION_HOURS[0]))
                  .values_list("id", flat=True))
    for request_id in list(candidates):
        with transaction.atomic():
            request = (RemedyRequest.objects.select_for_update(skip_locked=True)
                       .filter(id=request_id, state__in=OPEN_STATES).first())
            if request is None or request.sent_at is None:
                continue
            age_hours = (now - request.sent_at) / timedelta(hours=1)
            for level, threshold in enumerate(ESCALATION_HOURS, start=1):
                if age_hours >= threshold and request.escalation_level < level:
                    request.escalation_level = level
                    request.priority += 1
                    request.save(update_fields=["escalation_level", "priority"])
                    _event(request, action=f"escalated_{threshold}h", actor=actor, at=now,
                           note=f"{threshold} hours since sending without removal")
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
