"""Everything intake writes: reports, added URLs, evidence and messages, processing, withdrawal.

Each service runs in one transaction and records its audit event there. Work that must not hold up the
person's page (hashing, bank lookups) leaves through the outbox as `victims.process_case` after commit.

Hooks for other apps (dotted paths in settings, each called inside the transaction with keyword arguments):
- `CASE_QUEUED_HOOKS`: `hook(case=, actor=) -> None`, once a processed case is queued for moderation.
- `CASE_PROCESSED_HOOKS`: `hook(case=, actor=) -> None`, every time processing ends for a case that is not
  withdrawn (new evidence included): schedules work on the hashed images, such as detector analysis.
- `CASE_WITHDRAW_HOOKS`: `hook(case=, actor=) -> list[str]`, on withdrawal (cancel pending requests, ...);
  the lines returned go on the person's withdrawal receipt.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from takedown.cases.locations import NormalisedURL
from takedown.cases.models import (
    Authority,
    Case,
    CaseImage,
    CaseStatus,
    CaseURL,
    ContentKind,
    IntakeMode,
    Message,
)
from takedown.cases.services import INTAKE_PROVENANCE_KEY
from takedown.core.audit import Actor, audit_record
from takedown.core.evidence import evidence_delete, evidence_get, evidence_put
from takedown.core.models import AuditEvent
from takedown.core.outbox import outbox_enqueue
from victims import hashbank
from victims.credentials import pseudonym_new, reference_new, secret_hash, secret_new
from victims.images import InspectedImage, image_provenance_findings, image_strip_metadata

logger = logging.getLogger(__name__)

PROCESS_TASK = "victims.process_case"


class CaseClosed(Exception):
    """The case was withdrawn: nothing can be added to it."""


@dataclass(frozen=True)
class UploadedImage:
    data: bytes
    inspected: InspectedImage


@dataclass(frozen=True)
class DeviceHash:
    """What the browser computed on the person's device: no pixels ever left it."""

    sha256: str
    pdq: str = ""
    pdq_quality: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class SubmittedCase:
    case: Case
    # The only moment the secret exists in plain text on the server: it is shown once and never stored.
    secret: str


@dataclass(frozen=True)
class WithdrawalReceipt:
    reference: str
    withdrawn_at: datetime
    # (short id, where it came from, bytes stored (0 for hashes made on the device), when it was deleted)
    deleted_files: list[tuple[str, str, int, datetime]]
    hashes_withdrawn: int
    other_lines: list[str] = field(default_factory=list)


def _hooks(name: str) -> list[Any]:
    return [import_string(path) for path in getattr(settings, name, [])]


def _store_images(*, case: Case, images: Sequence[UploadedImage], source: str, written: list[str]) -> int:
    for upload in images:
        # Exact-copy hashes describe the file as it was posted online, so they come from the original bytes;
        # what is kept on disk is the copy without metadata (same pixels, so the same perceptual hashes).
        # Provenance (C2PA, XMP/IPTC, generator metadata) is read from the original in memory first, and only its
        # findings are kept: after stripping there would be nothing left to read.
        findings = image_provenance_findings(upload.data)
        stripped = image_strip_metadata(upload.data, fmt=upload.inspected.format)
        name = evidence_put(stripped.data)
        written.append(name)
        CaseImage.objects.create(
            case=case,
            source=source,
            state=CaseImage.State.PENDING,
            blob_name=name,
            media_type=stripped.media_type,
            size=len(stripped.data),
            width=upload.inspected.width,
            height=upload.inspected.height,
            sha256=hashlib.sha256(upload.data).hexdigest(),
            md5=hashlib.md5(upload.data, usedforsecurity=False).hexdigest(),
            analysis={INTAKE_PROVENANCE_KEY: findings},
        )
    return len(images)


def _store_device_hashes(*, case: Case, hashes: Sequence[DeviceHash], source: str) -> int:
    for item in hashes:
        CaseImage.objects.create(
            case=case,
            source=source,
            state=CaseImage.State.PENDING,
            sha256=item.sha256,
            pdq=item.pdq,
            pdq_quality=item.pdq_quality,
            width=item.width,
            height=item.height,
        )
    return len(hashes)


def _add_urls(*, case: Case, urls: Sequence[NormalisedURL], source: str) -> int:
    existing = set(case.urls.values_list("url", flat=True))
    added = 0
    for item in urls:
        if item.url in existing:
            continue
        CaseURL.objects.create(case=case, url=item.url, host=item.host, platform=item.registrable_domain,
                               source=source)
        existing.add(item.url)
        added += 1
    return added


def _discard_blobs(names: list[str]) -> None:
    for name in names:
        evidence_delete(name)


def report_submit(
    *,
    content_kind: str,
    urls: Sequence[NormalisedURL],
    description: str,
    signature: str,
    contact: str,
    good_faith: bool,
    authority: str = "",
    authorise_agent: bool = False,
    images: Sequence[UploadedImage] = (),
    device_hashes: Sequence[DeviceHash] = (),
    locale: str = "en",
) -> SubmittedCase:
    """Open a case from a completed report and queue its processing after commit.

    `authority`: who signs (takedown.cases.models.Authority); `authorise_agent`: the person authorised the operator
    to send requests on their behalf. Without that authorisation the case is still reviewed, hashed and blocked
    (the hash bank needs no agent), but no removal or de-linking request is sent for it.
    """
    if authority and authority not in Authority.values:
        raise ValueError("unknown authority")
    if not good_faith:
        raise ValueError("a report needs the good-faith statement")
    if not images and not device_hashes:
        raise ValueError("a report needs at least one image or device hash")
    if content_kind not in ContentKind.values:
        raise ValueError("unknown content kind")
    secret = secret_new()
    written: list[str] = []
    try:
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    case = Case.objects.create(
                        reference=reference_new(),
                        secret_hash=secret_hash(secret),
                        pseudonym=pseudonym_new(),
                        status=CaseStatus.SUBMITTED,
                        content_kind=content_kind,
                        intake_mode=IntakeMode.DEVICE if device_hashes and not images else IntakeMode.UPLOAD,
                        description=description,
                        signature=signature,
                        contact=contact,
                        good_faith_at=timezone.now(),
                        authority=authority,
                        agent_authorised_at=timezone.now() if authorise_agent else None,
                        locale=locale[:8],
                    )
                    url_count = _add_urls(case=case, urls=urls, source=CaseURL.Source.REPORT)
                    image_count = _store_images(case=case, images=images, source=CaseImage.Source.UPLOAD,
                                                written=written)
                    hash_count = _store_device_hashes(case=case, hashes=device_hashes,
                                                      source=CaseImage.Source.DEVICE)
                    audit_record(actor=Actor.victim(), action="case.submitted", case_id=case.id,
                                 object_type="case", object_id=case.id,
                                 detail={"mode": case.intake_mode, "urls": url_count, "uploads": image_count,
                                         "device_hashes": hash_count, "kind": content_kind,
                                         "authority": authority, "agent_authorised": authorise_agent})
                    outbox_enqueue(task=PROCESS_TASK, kwargs={"case_id": str(case.id)})
                return SubmittedCase(case=case, secret=secret)
            except IntegrityError:
                # Two cases drew the same 80-bit reference: astronomically rare, but retry rather than fail.
                _discard_blobs(written)
                written.clear()
        raise RuntimeError("could not draw a free case reference")
    except BaseException:
        _discard_blobs(written)
        raise


def _ensure_open(case: Case) -> None:
    if case.status == CaseStatus.WITHDRAWN:
        raise CaseClosed


def case_urls_add(*, case: Case, urls: Sequence[NormalisedURL]) -> int:
    """Add addresses the person found later; returns how many were new."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(id=case.id)
        _ensure_open(case)
        added = _add_urls(case=case, urls=urls, source=CaseURL.Source.VICTIM)
        audit_record(actor=Actor.victim(), action="case.urls_added", case_id=case.id, object_type="case",
                     object_id=case.id, detail={"added": added, "offered": len(urls)})
    return added


def case_evidence_add(
    *, case: Case, images: Sequence[UploadedImage] = (), device_hashes: Sequence[DeviceHash] = ()
) -> int:
    """Add further images (or device hashes) to an open case and queue their processing."""
    written: list[str] = []
    try:
        with transaction.atomic():
            case = Case.objects.select_for_update().get(id=case.id)
            _ensure_open(case)
            count = _store_images(case=case, images=images, source=CaseImage.Source.EVIDENCE, written=written)
            count += _store_device_hashes(case=case, hashes=device_hashes, source=CaseImage.Source.DEVICE)
            audit_record(actor=Actor.victim(), action="case.evidence_added", case_id=case.id, object_type="case",
                         object_id=case.id, detail={"uploads": len(images), "device_hashes": len(device_hashes)})
            outbox_enqueue(task=PROCESS_TASK, kwargs={"case_id": str(case.id)})
    except BaseException:
        _discard_blobs(written)
        raise
    return count


def case_message_send(*, case: Case, body: str, author: str = Message.Author.VICTIM,
                      actor: Actor | None = None) -> Message:
    """A message on the case; the victim writes as "you", moderators as "moderator", never by name."""
    body = body.strip()
    if not body:
        raise ValueError("empty message")
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(id=case.id)
        if author == Message.Author.VICTIM:
            _ensure_open(locked)
        message = Message.objects.create(case=locked, author=author, body=body)
        audit_record(actor=actor or Actor.victim(), action="case.message_sent", case_id=locked.id,
                     object_type="message", object_id=message.id, detail={"author": author})
    return message


def case_messages_mark_read(*, case: Case) -> int:
    """Mark moderators' messages read when the person has seen them on the status page."""
    with transaction.atomic():
        count = (Message.objects.filter(case=case, read_at__isnull=True)
                 .exclude(author=Message.Author.VICTIM).update(read_at=timezone.now()))
        if count:
            audit_record(actor=Actor.victim(), action="case.messages_read", case_id=case.id, object_type="case",
                         object_id=case.id, detail={"count": count})
    return count


def case_image_read(*, case: Case, image_id: uuid.UUID) -> tuple[CaseImage, bytes]:
    """The person's own stored image, decrypted, for their status page (audited like any other access)."""
    with transaction.atomic():
        image = CaseImage.objects.get(case=case, id=image_id, blob_name__gt="")
        data = evidence_get(image.blob_name)
        audit_record(actor=Actor.victim(), action="case.image_viewed", case_id=case.id, object_type="image",
                     object_id=image.id)
    return image, data


def case_process(*, case_id: uuid.UUID) -> dict[str, int]:
    """Hash what is pending, enter it into the bank, look it up, and queue the case for moderation.

    Idempotent: only PENDING images are touched and a case is queued once; a withdrawn case is left alone.
    """
    case = Case.objects.filter(id=case_id).first()
    if case is None or case.status == CaseStatus.WITHDRAWN:
        return {}
    counts = {"hashed": 0, "rejected": 0, "matches": 0}
    for image in list(case.images.filter(state=CaseImage.State.PENDING)):
        _process_image(image, counts)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(id=case_id)
        if case.status == CaseStatus.WITHDRAWN:
            return counts
        queued = case.status == CaseStatus.SUBMITTED
        if queued:
            case.status = CaseStatus.IN_REVIEW
            case.save(update_fields=["status", "updated_at"])
        audit_record(actor=Actor.system(), action="case.processed", case_id=case.id, object_type="case",
                     object_id=case.id, detail={**counts, "queued": queued})
        if queued:
            for hook in _hooks("CASE_QUEUED_HOOKS"):
                hook(case=case, actor=Actor.system())
        for hook in _hooks("CASE_PROCESSED_HOOKS"):
            hook(case=case, actor=Actor.system())
    return counts


def _process_image(image: CaseImage, counts: dict[str, int]) -> None:
    if image.blob_name:
        rejected_error = hashbank.image_rejected_error()
        try:
            hashes = hashbank.image_hashes(evidence_get(image.blob_name))
        except rejected_error as exc:
            image.state = CaseImage.State.REJECTED
            image.error = str(exc)[:200]
            image.save(update_fields=["state", "error"])
            counts["rejected"] += 1
            return
        image.pdq = hashes.pdq or ""
        image.pdq_quality = hashes.pdq_quality
        image.pdq_dihedral = list(hashes.pdq_dihedral or [])
        image.phash = hashes.phash or ""
        image.dhash = hashes.dhash or ""
    result = hashbank.bank_enter_image(image=image)
    image.state = CaseImage.State.HASHED
    # "available" records that the lookup was made (court files of older cases read it).
    image.analysis = {**(image.analysis or {}), "bank": {"available": True, "matches": result.matches}}
    image.save(update_fields=["pdq", "pdq_quality", "pdq_dihedral", "phash", "dhash", "state", "analysis"])
    counts["hashed"] += 1
    counts["matches"] += len(result.matches)


def case_withdraw(*, case: Case) -> WithdrawalReceipt:
    """Delete every stored image, withdraw every hash from the bank, cancel what is pending, close the case."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(id=case.id)
        if case.status == CaseStatus.WITHDRAWN:
            return withdrawal_receipt(case=case)
        bank = hashbank.bank_withdraw_case(case=case)
        other_lines: list[str] = []
        for hook in _hooks("CASE_WITHDRAW_HOOKS"):
            other_lines.extend(hook(case=case, actor=Actor.victim()) or [])
        now = timezone.now()
        deleted = 0
        for image in case.images.all():
            if image.blob_name:
                evidence_delete(image.blob_name)
                deleted += 1
            # The bank keeps each hash, marked Withdrawn, so partners learn to drop it; the case keeps none.
            image.blob_name = ""
            image.state = CaseImage.State.DELETED
            image.deleted_at = now
            image.pdq = image.phash = image.dhash = image.md5 = image.sha256 = ""
            image.pdq_quality = None
            image.pdq_dihedral = []
            image.analysis = None
            image.save()
        case.status = CaseStatus.WITHDRAWN
        case.withdrawn_at = now
        case.contact = ""
        case.save(update_fields=["status", "withdrawn_at", "contact", "updated_at"])
        # The audit event is the lasting record of the withdrawal; the receipt is rebuilt from it.
        audit_record(actor=Actor.victim(), action="case.withdrawn", case_id=case.id, object_type="case",
                     object_id=case.id, detail={"files_deleted": deleted, "hashes_withdrawn": bank.entered,
                                                "notes": other_lines[:20]})
        return withdrawal_receipt(case=case)


def withdrawal_receipt(*, case: Case) -> WithdrawalReceipt:
    """What withdrawal deleted and when, rebuilt from the case's records (so it can be downloaded again)."""
    if case.withdrawn_at is None:
        raise ValueError("the case is not withdrawn")
    event = (AuditEvent.objects.filter(case_id=case.id, action="case.withdrawn").order_by("-id")
             .values_list("detail", flat=True).first()) or {}
    files = [
        (str(image.id)[:8], image.get_source_display(), image.size, image.deleted_at or case.withdrawn_at)
        for image in case.images.filter(state=CaseImage.State.DELETED)
    ]
    return WithdrawalReceipt(
        reference=case.reference,
        withdrawn_at=case.withdrawn_at,
        deleted_files=files,
        hashes_withdrawn=int(event.get("hashes_withdrawn", 0)),
        other_lines=[str(line) for line in event.get("notes", [])],
    )
