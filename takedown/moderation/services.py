"""Writes on the review queues: open items, claim / release them, reveal an image, decide a case.

A claim is taken under SELECT ... FOR UPDATE SKIP LOCKED, so concurrent moderators each get a different item
without waiting on one another, and it expires (MODERATION_CLAIM_SECONDS), so a closed laptop frees its items.
Every function records its audit event in its own transaction; the victim learns of a decision through a
message on the case, never through anything sent to a contact address.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from takedown.cases.models import Case, CaseImage, CaseStatus, CaseURL, Message
from takedown.core.audit import Actor, audit_record
from takedown.core.crypto import DecryptionError
from takedown.core.evidence import evidence_get
from takedown.moderation.models import DECIDABLE_KINDS, Decision, DecisionKind, ItemKind, ReviewItem
from takedown.remedies.models import OPEN_STATES, RemedyRequest, RequestKind
from takedown.remedies.services import remedies_cancel_for_case, remedies_generate_for_case

logger = logging.getLogger(__name__)


class ModerationError(ValueError):
    """The action is not possible in the item's or the case's state (a 4xx for the moderator)."""


class ClaimError(ModerationError):
    pass


def _claim_seconds() -> int:
    return int(settings.MODERATION_CLAIM_SECONDS)


def moderation_item_open(*, case: Case, kind: str, subject: str = "", severity: int | None = None,
                         due_at: datetime | None = None, note: str = "") -> ReviewItem:
    """Put something in a queue, once: an open item for the same case, kind and subject is returned as is.

    Other parts call this (a partner match found, a detector flag); the periodic sync calls it too.
    """
    existing = ReviewItem.objects.filter(case=case, kind=kind, subject=subject, state=ReviewItem.State.OPEN).first()
    if existing is not None:
        return existing
    if due_at is None:
        due_at = timezone.now() + timedelta(hours=settings.MODERATION_REVIEW_TARGET_HOURS)
    try:
        with transaction.atomic():
            return ReviewItem.objects.create(case=case, kind=kind, subject=subject, due_at=due_at,
                                             severity=case.severity if severity is None else severity,
                                             note=note[:300])
    except IntegrityError:
        # Another process opened the same item between our check and insert.
        return ReviewItem.objects.get(case=case, kind=kind, subject=subject, state=ReviewItem.State.OPEN)


def _ever_opened(case_id: uuid.UUID, kind: str, subject: str) -> bool:
    return ReviewItem.objects.filter(case_id=case_id, kind=kind, subject=subject).exists()


def detector_flagged(analysis: object) -> bool:
    """Whether the stored verdict (CaseImage.analysis, detection.verdict's `as_dict`) asks for a moderator's eye.

    Generated, likely generated and conflicting evidence are flagged; so is any verdict that supports a
    "digital forgery" claim.
    """
    if not isinstance(analysis, dict):
        return False
    if analysis.get("supports_digital_forgery") is True or analysis.get("flagged") is True:
        return True
    label = str(analysis.get("label") or analysis.get("verdict") or "").lower()
    return label in {"generated", "likely_generated", "conflicting_evidence", "synthetic", "likely_synthetic"}


def moderation_queue_sync(*, now: datetime | None = None) -> int:
    """Derive queue items from the cases: new reports, unread messages, matches, detector flags, at-risk requests.

    Idempotent, and cheap enough to run every minute and when the queue page opens. Items whose cause is gone
    (a request that was met, a withdrawn case) are closed.
    """
    now = now or timezone.now()
    opened = 0
    target = timedelta(hours=settings.MODERATION_REVIEW_TARGET_HOURS)
    reviewable = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.NEEDS_INFO)
    for case in Case.objects.filter(status=CaseStatus.SUBMITTED).exclude(review_items__kind=ItemKind.NEW_REPORT):
        moderation_item_open(case=case, kind=ItemKind.NEW_REPORT, due_at=case.created_at + target)
        opened += 1
    unread = (Message.objects.filter(author=Message.Author.VICTIM, read_at__isnull=True)
              .exclude(case__status=CaseStatus.WITHDRAWN).order_by("created_at"))
    for message in unread:
        if not ReviewItem.objects.filter(case_id=message.case_id, kind=ItemKind.VICTIM_MESSAGE,
                                         state=ReviewItem.State.OPEN).exists():
            moderation_item_open(case=message.case, kind=ItemKind.VICTIM_MESSAGE, due_at=message.created_at + target)
            opened += 1
    for case_url in CaseURL.objects.filter(source=CaseURL.Source.MATCH).exclude(case__status=CaseStatus.WITHDRAWN):
        if not _ever_opened(case_url.case_id, ItemKind.PARTNER_MATCH, str(case_url.id)):
            moderation_item_open(case=case_url.case, kind=ItemKind.PARTNER_MATCH, subject=str(case_url.id),
                                 due_at=case_url.added_at + target, note=case_url.host)
            opened += 1
    flagged = CaseImage.objects.filter(analysis__isnull=False, case__status__in=(*reviewable, CaseStatus.CONFIRMED))
    for image in flagged.select_related("case"):
        if detector_flagged(image.analysis) and not _ever_opened(image.case_id, ItemKind.DETECTOR_FLAG, str(image.id)):
            moderation_item_open(case=image.case, kind=ItemKind.DETECTOR_FLAG, subject=str(image.id),
                                 due_at=image.created_at + target)
            opened += 1
    at_risk = RemedyRequest.objects.filter(kind=RequestKind.REMOVAL, state__in=OPEN_STATES).filter(
        Q(escalation_level__gte=1) | Q(overdue_at__isnull=False)).select_related("case", "host")
    for request in at_risk:
        level = "overdue" if request.overdue_at else str(request.escalation_level)
        subject = f"{request.id}:{level}"
        if not _ever_opened(request.case_id, ItemKind.DEADLINE_RISK, subject):
            # A newer level supersedes the item of the level before it.
            ReviewItem.objects.filter(case_id=request.case_id, kind=ItemKind.DEADLINE_RISK,
                                      subject__startswith=f"{request.id}:", state=ReviewItem.State.OPEN).update(
                state=ReviewItem.State.DONE, resolved_at=now, resolution="superseded")
            moderation_item_open(case=request.case, kind=ItemKind.DEADLINE_RISK, subject=subject,
                                 severity=request.case.severity + request.priority, due_at=request.deadline_at,
                                 note=request.host.domain if request.host else "")
            opened += 1
    _close_moot_items(now)
    return opened


def _close_moot_items(now: datetime) -> None:
    ReviewItem.objects.filter(state=ReviewItem.State.OPEN, case__status=CaseStatus.WITHDRAWN).update(
        state=ReviewItem.State.DONE, resolved_at=now, resolution="withdrawn", claimed_by=None, claim_expires_at=None)
    for item in ReviewItem.objects.filter(state=ReviewItem.State.OPEN, kind=ItemKind.DEADLINE_RISK):
        request_id = item.subject.split(":", 1)[0]
        if not RemedyRequest.objects.filter(id=request_id, state__in=OPEN_STATES).exists():
            item.state = ReviewItem.State.DONE
            item.resolved_at = now
            item.resolution = "request_closed"
            item.save(update_fields=["state", "resolved_at", "resolution"])


def moderation_close_for_case(*, case: Case, actor: Actor, resolution: str = "withdrawn") -> int:
    """Close a case's open items (the intake's withdrawal calls this with remedies_cancel_for_case)."""
    with transaction.atomic():
        closed = ReviewItem.objects.filter(case=case, state=ReviewItem.State.OPEN).update(
            state=ReviewItem.State.DONE, resolved_at=timezone.now(), resolution=resolution, claimed_by=None,
            claim_expires_at=None)
        audit_record(actor=actor, action="moderation.close_items", case_id=case.id, object_type="case",
                     object_id=case.id, detail={"closed": closed, "resolution": resolution})
        return closed


def _claimable(user: User, now: datetime) -> QuerySet[ReviewItem]:
    return (ReviewItem.objects.filter(state=ReviewItem.State.OPEN)
            .filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now) | Q(claimed_by=user))
            .exclude(excluded_user=user))


def queue_order(items: QuerySet[ReviewItem]) -> QuerySet[ReviewItem]:
    """Earliest deadline first, then the most severe, then the oldest."""
    from django.db.models import F

    return items.order_by(F("due_at").asc(nulls_last=True), "-severity", "created_at", "id")


def _take(item: ReviewItem, user: User, now: datetime) -> None:
    item.claimed_by = user
    item.claim_expires_at = now + timedelta(seconds=_claim_seconds())
    item.save(update_fields=["claimed_by", "claim_expires_at"])
    if item.kind in DECIDABLE_KINDS and item.case.status == CaseStatus.SUBMITTED:
        item.case.status = CaseStatus.IN_REVIEW
        item.case.save(update_fields=["status", "updated_at"])
    audit_record(actor=Actor.for_user(user), action="moderation.claim", case_id=item.case_id,
                 object_type="review_item", object_id=item.id, detail={"kind": item.kind})


def moderation_claim_next(*, user: User, kinds: Collection[str] = ()) -> ReviewItem | None:
    """Claim the most urgent item nobody else holds. Concurrent callers never get the same item."""
    with transaction.atomic():
        now = timezone.now()
        items = _claimable(user, now).exclude(claimed_by=user)
        if kinds:
            items = items.filter(kind__in=list(kinds))
        # SKIP LOCKED: a row another moderator is claiming right now is passed over, not waited for. The lock
        # is re-checked against the row's committed state, so a claim committed meanwhile is seen.
        item = (queue_order(items).select_for_update(skip_locked=True, of=("self",))
                .select_related("case").first())
        if item is None:
            return None
        _take(item, user, now)
        return item


def moderation_claim(*, item_id: uuid.UUID, user: User) -> ReviewItem:
    """Claim one chosen item (or renew one's own claim); refused while another moderator holds it."""
    with transaction.atomic():
        now = timezone.now()
        item = (ReviewItem.objects.select_for_update(skip_locked=True, of=("self",)).select_related("case")
                .filter(id=item_id).first())
        if item is None:
            if ReviewItem.objects.filter(id=item_id).exists():
                raise ClaimError("another moderator is claiming this item right now")
            raise ReviewItem.DoesNotExist
        if item.state != ReviewItem.State.OPEN:
            raise ClaimError("this item is already done")
        if item.excluded_user_id == user.pk:
            raise ClaimError("a second review must be done by another moderator")
        held_by_other = (item.claimed_by_id not in (None, user.pk) and item.claim_expires_at is not None
                         and item.claim_expires_at > now)
        if held_by_other:
            raise ClaimError("another moderator holds this item")
        _take(item, user, now)
        return item


def _held(item_id: uuid.UUID, user: User) -> ReviewItem:
    """The item, locked, if `user` holds a live claim on it."""
    item = ReviewItem.objects.select_for_update(of=("self",)).select_related("case").get(id=item_id)
    if item.state != ReviewItem.State.OPEN:
        raise ClaimError("this item is already done")
    if item.claimed_by_id != user.pk or item.claim_expires_at is None or item.claim_expires_at <= timezone.now():
        raise ClaimError("claim the item first (your claim may have expired)")
    return item


def moderation_claim_check(*, item_id: uuid.UUID, user: User) -> ReviewItem:
    with transaction.atomic():
        return _held(item_id, user)


def moderation_release(*, item_id: uuid.UUID, user: User) -> ReviewItem:
    with transaction.atomic():
        item = _held(item_id, user)
        item.claimed_by = None
        item.claim_expires_at = None
        item.save(update_fields=["claimed_by", "claim_expires_at"])
        audit_record(actor=Actor.for_user(user), action="moderation.release", case_id=item.case_id,
                     object_type="review_item", object_id=item.id, detail={"kind": item.kind})
        return item


def moderation_case_open(*, item_id: uuid.UUID, user: User) -> ReviewItem:
    """Open the review page of a held item: the access to the case is audited."""
    with transaction.atomic():
        item = _held(item_id, user)
        audit_record(actor=Actor.for_user(user), action="moderation.case_view", case_id=item.case_id,
                     object_type="review_item", object_id=item.id, detail={"kind": item.kind})
        return item


class EvidenceUnreadable(Exception):
    """A stored image exists but cannot be read back (a missing key, a damaged file): an operator's problem."""


def moderation_image_read(*, item_id: uuid.UUID, image_id: uuid.UUID, user: User, revealed: bool) -> bytes:
    """The stored bytes of one image of a held item. Showing it unblurred is audited; a file that cannot be read
    is logged with its reason and raised as EvidenceUnreadable, never passed off as "not found"."""
    with transaction.atomic():
        item = _held(item_id, user)
        image = CaseImage.objects.filter(id=image_id, case_id=item.case_id).exclude(blob_name="").first()
        if image is None:
            raise ModerationError("that image is not stored on this case")
        try:
            data = evidence_get(image.blob_name)
        except (OSError, DecryptionError) as exc:
            logger.error("stored image %s of case %s cannot be read: %s", image.id, item.case_id,
                         type(exc).__name__)
            raise EvidenceUnreadable(type(exc).__name__) from exc
        if revealed:
            audit_record(actor=Actor.for_user(user), action="moderation.image_view", case_id=item.case_id,
                         object_type="case_image", object_id=image.id, detail={"revealed": True})
        return data


def moderation_image_reveal(*, item_id: uuid.UUID, image_id: uuid.UUID, user: User) -> CaseImage:
    """A moderator chose to see one image unblurred. Audited; the caller shows it for a short while only."""
    with transaction.atomic():
        item = _held(item_id, user)
        image = CaseImage.objects.filter(id=image_id, case_id=item.case_id).exclude(blob_name="").first()
        if image is None:
            raise ModerationError("that image is not stored on this case")
        audit_record(actor=Actor.for_user(user), action="moderation.image_reveal", case_id=item.case_id,
                     object_type="case_image", object_id=image.id, detail={"item": str(item.id)})
        return image


def _resolve(item: ReviewItem, resolution: str, now: datetime) -> None:
    item.state = ReviewItem.State.DONE
    item.resolved_at = now
    item.resolution = resolution
    item.claimed_by = None
    item.claim_expires_at = None
    item.save(update_fields=["state", "resolved_at", "resolution", "claimed_by", "claim_expires_at"])


def _tell_victim(case: Case, body: str, *, author: str = Message.Author.MODERATOR) -> None:
    Message.objects.create(case=case, author=author, body=body)


def _mark_messages_read(case: Case, now: datetime) -> None:
    Message.objects.filter(case=case, author=Message.Author.VICTIM, read_at__isnull=True).update(read_at=now)


def _reject_take_effect(decision: Decision, *, actor: Actor, now: datetime) -> None:
    case = decision.case
    case.status = CaseStatus.REJECTED
    case.save(update_fields=["status", "updated_at"])
    _tell_victim(case, f"We could not take your report forward. Reason: {decision.reason}\n"
                       "You can reply to this message if you think we got it wrong or can add information.")
    if case.remedy_requests.filter(state__in=OPEN_STATES).exists():
        remedies_cancel_for_case(case=case, actor=actor, reason="rejected")


def moderation_decide(*, item_id: uuid.UUID, user: User, decision: str, reason: str = "",
                      message: str = "") -> Decision | None:
    """Confirm, reject (with a reason the person sees and can answer) or ask for more information.

    Confirming generates the case's removal, blocking and de-linking requests in the same transaction. For a
    partner match on a case already confirmed, confirming adds the new URL to the requests and rejecting drops
    the URL as a false match; the person is not asked either way. Returns None when no case decision was made.
    """
    reason, message = reason.strip(), message.strip()
    actor = Actor.for_user(user)
    with transaction.atomic():
        item = _held(item_id, user)
        case = Case.objects.select_for_update().get(pk=item.case_id)
        now = timezone.now()
        if item.kind not in DECIDABLE_KINDS:
            raise ModerationError("this item takes no case decision")
        if case.status == CaseStatus.WITHDRAWN:
            raise ModerationError("the person withdrew this case")
        if case.status == CaseStatus.CONFIRMED:
            _decide_on_confirmed(item, case, decision=decision, actor=actor, now=now)
            return None
        if decision == DecisionKind.CONFIRM:
            record = Decision.objects.create(case=case, item=item, kind=decision, decided_by=user, decided_at=now,
                                             reason=reason)
            case.status = CaseStatus.CONFIRMED
            case.confirmed_at = now
            case.save(update_fields=["status", "confirmed_at", "updated_at"])
            _tell_victim(case, "A moderator confirmed your report. Removal, blocking and de-linking requests are "
                               "being sent; this page shows what each platform does.", author=Message.Author.SYSTEM)
            audit_record(actor=actor, action="moderation.confirm", case_id=case.id, object_type="decision",
                         object_id=record.id, detail={"item_kind": item.kind})
            remedies_generate_for_case(case=case, actor=actor)
        elif decision == DecisionKind.REJECT:
            if not reason:
                raise ModerationError("a rejection needs a reason: the person will read it")
            second = bool(settings.MODERATION_SECOND_REVIEW)
            record = Decision.objects.create(
                case=case, item=item, kind=decision, decided_by=user, decided_at=now, reason=reason,
                state=Decision.State.PENDING_SECOND_REVIEW if second else Decision.State.FINAL)
            audit_record(actor=actor, action="moderation.reject", case_id=case.id, object_type="decision",
                         object_id=record.id, detail={"item_kind": item.kind, "second_review": second})
            if second:
                review = moderation_item_open(case=case, kind=ItemKind.SECOND_REVIEW, subject=str(record.id),
                                              due_at=now + timedelta(hours=settings.MODERATION_REVIEW_TARGET_HOURS))
                review.excluded_user = user
                review.save(update_fields=["excluded_user"])
            else:
                _reject_take_effect(record, actor=actor, now=now)
        elif decision == DecisionKind.ASK_INFO:
            if not message:
                raise ModerationError("say what information is needed: the person will read it")
            record = Decision.objects.create(case=case, item=item, kind=decision, decided_by=user, decided_at=now,
                                             reason=message)
            case.status = CaseStatus.NEEDS_INFO
            case.save(update_fields=["status", "updated_at"])
            _tell_victim(case, message)
            audit_record(actor=actor, action="moderation.ask_info", case_id=case.id, object_type="decision",
                         object_id=record.id, detail={"item_kind": item.kind})
        else:
            raise ModerationError("unknown decision")
        # A person's message is answered only by words written to them: asking for information is that; a
        # confirmation or a rejection is not, so their message stays open until a reply or an explicit close.
        if decision == DecisionKind.ASK_INFO:
            _mark_messages_read(case, now)
        _resolve(item, decision, now)
        # One decision covers every other open decidable item of the case (a flag, a match), but not a message.
        covered = ReviewItem.objects.filter(case=case, state=ReviewItem.State.OPEN, kind__in=DECIDABLE_KINDS)
        if decision != DecisionKind.ASK_INFO:
            covered = covered.exclude(kind=ItemKind.VICTIM_MESSAGE)
        for other in covered:
            _resolve(other, f"covered:{decision}", now)
        return record


def _decide_on_confirmed(item: ReviewItem, case: Case, *, decision: str, actor: Actor, now: datetime) -> None:
    if decision == DecisionKind.CONFIRM:
        audit_record(actor=actor, action="moderation.confirm_addition", case_id=case.id, object_type="review_item",
                     object_id=item.id, detail={"item_kind": item.kind})
        remedies_generate_for_case(case=case, actor=actor)
    elif decision == DecisionKind.REJECT and item.kind == ItemKind.PARTNER_MATCH:
        CaseURL.objects.filter(case=case, id=item.subject, source=CaseURL.Source.MATCH).delete()
        audit_record(actor=actor, action="moderation.reject_match", case_id=case.id, object_type="review_item",
                     object_id=item.id, detail={})
    elif decision == DecisionKind.REJECT or decision == DecisionKind.ASK_INFO:
        raise ModerationError("this case is confirmed; reply to the person instead, or reject a match")
    else:
        raise ModerationError("unknown decision")
    _resolve(item, decision, now)


def moderation_second_review(*, item_id: uuid.UUID, user: User, approve: bool,
                             note: str = "") -> Decision:
    """A second moderator agrees with a rejection (it takes effect) or overturns it (the case is reviewed again)."""
    actor = Actor.for_user(user)
    with transaction.atomic():
        item = _held(item_id, user)
        if item.kind != ItemKind.SECOND_REVIEW:
            raise ModerationError("this item is not a second review")
        decision = Decision.objects.select_for_update().select_related("case").get(id=item.subject)
        if decision.decided_by_id == user.pk:
            raise ModerationError("a second review must be done by another moderator")
        now = timezone.now()
        decision.second_reviewer = user
        decision.second_reviewed_at = now
        if approve:
            decision.state = Decision.State.FINAL
            decision.save(update_fields=["state", "second_reviewer", "second_reviewed_at"])
            _reject_take_effect(decision, actor=actor, now=now)
        else:
            decision.state = Decision.State.OVERTURNED
            decision.save(update_fields=["state", "second_reviewer", "second_reviewed_at"])
            moderation_item_open(case=decision.case, kind=ItemKind.NEW_REPORT, subject=f"overturned:{decision.id}",
                                 note=note[:300])
        audit_record(actor=actor, action="moderation.second_review", case_id=decision.case_id,
                     object_type="decision", object_id=decision.id, detail={"approved": approve})
        _resolve(item, "approved" if approve else "overturned", now)
        return decision


def moderation_reply(*, item_id: uuid.UUID, user: User, body: str) -> Message:
    """Answer the person on their case; a reply closes a message item."""
    body = body.strip()
    if not body:
        raise ModerationError("write a reply")
    with transaction.atomic():
        item = _held(item_id, user)
        now = timezone.now()
        message = Message.objects.create(case=item.case, author=Message.Author.MODERATOR, body=body)
        _mark_messages_read(item.case, now)
        if item.kind == ItemKind.VICTIM_MESSAGE:
            _resolve(item, "replied", now)
        audit_record(actor=Actor.for_user(user), action="moderation.reply", case_id=item.case_id,
                     object_type="message", object_id=message.id, detail={"item_kind": item.kind})
        return message


def moderation_message_close(*, item_id: uuid.UUID, user: User, reason: str) -> ReviewItem:
    """Close a person's message without a reply (e.g. a duplicate, or answered in another message), with a reason.

    The reason is kept on the item and in the audit log; the person's messages up to now count as handled.
    """
    reason = reason.strip()
    if not reason:
        raise ModerationError("say why this message needs no reply")
    with transaction.atomic():
        item = _held(item_id, user)
        if item.kind != ItemKind.VICTIM_MESSAGE:
            raise ModerationError("only a message from the person can be closed this way")
        now = timezone.now()
        _mark_messages_read(item.case, now)
        item.note = reason[:300]
        item.save(update_fields=["note"])
        _resolve(item, "closed_without_reply", now)
        audit_record(actor=Actor.for_user(user), action="moderation.message_closed", case_id=item.case_id,
                     object_type="review_item", object_id=item.id, detail={"reason": reason[:300]})
        return item


def moderation_item_done(*, item_id: uuid.UUID, user: User, note: str = "") -> ReviewItem:
    """Close an item that takes no decision (a deadline at risk once the moderator has acted on it)."""
    with transaction.atomic():
        item = _held(item_id, user)
        if item.kind in DECIDABLE_KINDS:
            raise ModerationError("this item needs a decision")
        _resolve(item, "handled", timezone.now())
        audit_record(actor=Actor.for_user(user), action="moderation.item_done", case_id=item.case_id,
                     object_type="review_item", object_id=item.id, detail={"kind": item.kind})
        return item
