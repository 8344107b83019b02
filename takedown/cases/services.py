"""Writes on case images that belong to no single app: the detector's and provenance's verdict.

`case_images_analysis_schedule` picks a case's images that have no current verdict and queues them, in batches,
for the `detection.images_analyse` task (on the `gpu` queue, settings.DETECTOR_QUEUE) through the outbox, inside
the caller's transaction. Intake calls it once a case is processed (CASE_QUEUED_HOOKS would be too late for
evidence added later, so it is `CASE_PROCESSED_HOOKS`); a partner's feedback on a case's hash (a partner found
and acted on a copy) calls it too, which scores images that were analysed while the detector was off or with
other weights.

`case_images_analyse` is what the task runs: it decrypts each stored file, reads its provenance, scores
all of them in one detector call, and stores `Verdict.as_dict()` in `CaseImage.analysis` next to what other
parts keep there (the bank's lookup result under "bank"). Running it again stores the same result and writes
nothing (no second audit event) when nothing changed.

Retention: what the platform keeps of a closed case, and for how long.

Withdrawal already deletes every stored image and every hash the case holds (victims.services.case_withdraw); what
stays is a shell (the case row, its URLs, messages, review and request history) so that the person can download
the withdrawal receipt again. After RETENTION_WITHDRAWN_DAYS the shell goes too. A case closed as not taken
forward (rejected) keeps its evidence for RETENTION_REJECTED_DAYS after its last change, in case the person comes
back with more, then everything goes. Evidence files that no row names (a process killed between writing a file
and committing its row) are deleted after RETENTION_ORPHAN_HOURS.

What remains of a purged case is its audit trail (append-only; it holds ids and counts, never content) and the
"case.purged" event that closes it. Other apps purge what they keep about a case outside its foreign keys through
the `takedown.cases.hooks.case_purging` signal, sent inside the purge's transaction before the rows are deleted.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from takedown.cases.hooks import case_purging
from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.cases.verdicts import VERDICT_KEYS
from takedown.core.audit import Actor, audit_record
from takedown.core.crypto import DecryptionError
from takedown.core.evidence import evidence_delete, evidence_get
from takedown.core.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

ANALYSE_TASK = "detection.images_analyse"
# The keys `Verdict.as_dict()` writes: replaced as a whole on every analysis, so a field a newer verdict
# version no longer writes does not linger. Every other key of CaseImage.analysis belongs to someone else.
# Intake keeps a copy of each upload without its metadata (victims.images.image_strip_metadata): say so in
# every verdict rather than let "no C2PA manifest found" read as a finding about the posted file.
STRIPPED_NOTE = (
    "metadata: the stored copy had its metadata (EXIF, XMP, IPTC, C2PA, PNG text) removed at intake to "
    "protect the person reporting, so only checks on the pixels (watermark, detector) ran"
)
# Images reported since intake reads provenance first: the metadata checks ran on the original, the pixel checks
# on the stored copy.
INTAKE_NOTE = (
    "metadata: C2PA, XMP/IPTC and generator metadata were read from the original file at intake, before its "
    "metadata was removed to protect the person reporting; only those findings were kept. The watermark and "
    "detector ran on the stored copy (same pixels)"
)
# The CaseImage.analysis key under which intake (victims.services) keeps what the original file said about its origin.
INTAKE_PROVENANCE_KEY = "provenance_at_intake"


@dataclass(frozen=True)
class AnalysisResult:
    analysed: int = 0
    changed: int = 0
    skipped: int = 0
    unreadable_files: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"analysed": self.analysed, "changed": self.changed, "skipped": self.skipped,
                "unreadable_files": self.unreadable_files}


def verdict_part(analysis: Any) -> dict[str, Any]:
    """The stored verdict of an image (the VERDICT_KEYS of its analysis), empty when it has none."""
    if not isinstance(analysis, dict) or "label" not in analysis:
        return {}
    return {key: value for key, value in analysis.items() if key in VERDICT_KEYS}


def _verdict_current(analysis: Any) -> bool:
    """Whether a stored verdict was made by the configured detector (weights and threshold), so analysing again
    would change nothing."""
    from detection.services import detector_expected_weights_sha256
    from detection.verdict import VERDICT_VERSION

    verdict = verdict_part(analysis)
    if not verdict or verdict.get("version") != VERDICT_VERSION:
        return False
    status = (verdict.get("detector") or {}).get("status") or {}
    expected = detector_expected_weights_sha256()
    if status.get("weights_sha256", "") != expected:
        return False
    # The label depends on the threshold too: a changed threshold makes every verdict of the detector stale.
    if not expected:
        return True
    configured = settings.DETECTOR_THRESHOLD
    if configured is None:
        # The weights' own calibrated threshold: current if the verdict was made at the threshold it was calibrated at.
        calibration = status.get("calibration")
        return isinstance(calibration, dict) and status.get("threshold") == calibration.get("threshold")
    return bool(status.get("threshold") == float(configured))


def _analysable(images: Any) -> Any:
    return images.filter(state=CaseImage.State.HASHED, blob_name__gt="").exclude(case__status=CaseStatus.WITHDRAWN)


def case_images_analysis_schedule(*, case_ids: Iterable[uuid.UUID], force: bool = False) -> int:
    """Queue the stored images of these cases that lack a current verdict (all of them with `force`).

    Call inside the transaction that made them analysable: the outbox sends the work only if it commits.
    Returns how many images were queued.
    """
    pending = [
        image_id
        for image_id, analysis in _analysable(CaseImage.objects.filter(case_id__in=list(case_ids)))
        .order_by("created_at")
        .values_list("id", "analysis")
        if force or not _verdict_current(analysis)
    ]
    batch = max(1, int(settings.DETECTOR_BATCH_SIZE))
    for start in range(0, len(pending), batch):
        ids = [str(image_id) for image_id in pending[start : start + batch]]
        outbox_enqueue(task=ANALYSE_TASK, kwargs={"image_ids": ids}, queue=settings.DETECTOR_QUEUE)
    return len(pending)


def case_images_analyse(*, image_ids: Sequence[uuid.UUID]) -> AnalysisResult:
    """Analyse these images (those still stored and not withdrawn) and store each verdict.

    Decryption and scoring happen outside any transaction (they take seconds on a CPU); each result is
    written under a row lock after checking the image was not withdrawn or deleted in the meantime.
    """
    from detection.services import detector_current, provenance_limits
    from detection.verdict import images_analyse

    images = list(_analysable(CaseImage.objects.filter(id__in=list(image_ids))).order_by("created_at"))
    skipped = len(set(image_ids)) - len(images)
    readable: list[tuple[CaseImage, bytes]] = []
    unreadable = 0
    for image in images:
        try:
            readable.append((image, evidence_get(image.blob_name)))
        except (OSError, ValueError, DecryptionError) as exc:
            # A missing file or one no configured key decrypts is an operations problem, not a finding about
            # the image: store nothing, so a later run (keys restored) analyses it.
            unreadable += 1
            logger.warning("analysis: stored file of image %s unreadable (%s)", image.id, type(exc).__name__)
    if not readable:
        return AnalysisResult(skipped=skipped, unreadable_files=unreadable)
    detector = detector_current()
    intake = [_intake_findings(image.analysis) for image, _ in readable]
    verdicts = images_analyse([data for _, data in readable], detector=detector, limits=provenance_limits(),
                              intake=intake,
                              file_notes=[[INTAKE_NOTE if found is not None else STRIPPED_NOTE] for found in intake])
    changed = sum(_verdict_store(image_id=image.id, verdict=verdict.as_dict())
                  for (image, _), verdict in zip(readable, verdicts, strict=True))
    return AnalysisResult(analysed=len(readable), changed=changed, skipped=skipped, unreadable_files=unreadable)


def _intake_findings(analysis: Any) -> dict[str, Any] | None:
    found = analysis.get(INTAKE_PROVENANCE_KEY) if isinstance(analysis, dict) else None
    return found if isinstance(found, dict) else None


def _verdict_store(*, image_id: uuid.UUID, verdict: dict[str, Any]) -> bool:
    with transaction.atomic():
        image = _analysable(CaseImage.objects.select_for_update().filter(id=image_id)).first()
        if image is None:
            return False  # withdrawn or deleted while it was being analysed: keep nothing about it
        previous = image.analysis if isinstance(image.analysis, dict) else {}
        if verdict_part(previous) == verdict:
            return False
        others = {key: value for key, value in previous.items() if key not in VERDICT_KEYS}
        image.analysis = {**others, **verdict}
        image.save(update_fields=["analysis"])
        status = verdict["detector"]["status"]
        audit_record(actor=Actor.system(), action="image.analysed", case_id=image.case_id, object_type="image",
                     object_id=image.id,
                     detail={"label": verdict["label"], "detector": "on" if status.get("enabled") else "off",
                             "digital_forgery": verdict["supports_digital_forgery"],
                             "unreadable": len(verdict["provenance"].get("unreadable", []))})
    return True


# --- Hooks -----------------------------------------------------------------------------------------------------

def case_processed(*, case: Case, actor: Actor) -> None:
    """victims' CASE_PROCESSED_HOOKS: the case's new images are hashed and stored."""
    case_images_analysis_schedule(case_ids=[case.id])


def partner_feedback_received(*, notice: Any, **kwargs: Any) -> None:
    """Receiver of takedown.partners.hooks.partner_feedback_received: a partner matched a case's hash."""
    if notice.case_ids:
        case_images_analysis_schedule(case_ids=notice.case_ids)


# --- retention ------------------------------------------------------------------------------------------

PURGEABLE = (CaseStatus.WITHDRAWN, CaseStatus.REJECTED)


@dataclass
class RetentionReport:
    cases_withdrawn: int = 0
    cases_rejected: int = 0
    files_deleted: int = 0
    orphan_files_deleted: int = 0
    case_ids: list[uuid.UUID] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"cases_withdrawn": self.cases_withdrawn, "cases_rejected": self.cases_rejected,
                "files_deleted": self.files_deleted, "orphan_files_deleted": self.orphan_files_deleted}


def _expired(now: datetime) -> Q:
    withdrawn_before = now - timedelta(days=settings.RETENTION_WITHDRAWN_DAYS)
    rejected_before = now - timedelta(days=settings.RETENTION_REJECTED_DAYS)
    return (Q(status=CaseStatus.WITHDRAWN, withdrawn_at__lte=withdrawn_before)
            | Q(status=CaseStatus.REJECTED, updated_at__lte=rejected_before))


def cases_due_for_purge(*, now: datetime | None = None) -> list[uuid.UUID]:
    return list(Case.objects.filter(_expired(now or timezone.now())).order_by("updated_at")
                .values_list("id", flat=True))


def case_purge(*, case_id: uuid.UUID, now: datetime | None = None) -> tuple[str, int] | None:
    """Delete a case past its retention window: its evidence files, then every row that hangs off it.

    Returns (status it had, files deleted), or None when the case is gone or no longer due (it was re-opened,
    or another purge got there first). Files go first: a crash after that leaves rows without files, which the
    next run deletes, never a readable file without its row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(_expired(now), id=case_id).first()
        if case is None:
            return None
        files = 0
        for blob_name in CaseImage.objects.filter(case=case).exclude(blob_name="").values_list("blob_name", flat=True):
            files += int(evidence_delete(blob_name))
        actor = Actor.system()
        case_purging.send(sender=Case, case=case, actor=actor)
        _links_without_foreign_keys_delete(case.id)
        status = case.status
        audit_record(actor=actor, action="case.purged", case_id=case.id, object_type="case", object_id=case.id,
                     detail={"status": status, "files_deleted": files})
        case.delete()
    return status, files


def _links_without_foreign_keys_delete(case_id: uuid.UUID) -> None:
    # Partner feedback names cases by a plain UUID (so that partner history never blocks a withdrawal); the
    # feedback is the partner's and stays, its link to a case that no longer exists does not.
    from takedown.partners.models import PartnerFeedbackCase

    PartnerFeedbackCase.objects.filter(case_id=case_id).delete()


def evidence_orphans_purge(*, now: datetime | None = None) -> int:
    """Delete evidence files older than RETENTION_ORPHAN_HOURS that no row names, and stale temporary files."""
    root = Path(settings.STORAGE_ROOT) / "evidence"
    if not root.exists():
        return 0
    cutoff = (now or timezone.now()).timestamp() - settings.RETENTION_ORPHAN_HOURS * 3600
    named = {uuid.UUID(name).hex for name in CaseImage.objects.exclude(blob_name="")
             .values_list("blob_name", flat=True).iterator(chunk_size=5000)}
    deleted = 0
    for path in root.glob("*/*"):
        if not path.is_file() or path.name in named:
            continue
        try:
            if path.stat().st_mtime > cutoff:
                continue  # perhaps a report whose transaction is still open
            # Re-read the row names for this file only: it may have been committed since the set was built.
            if path.suffix != ".tmp" and CaseImage.objects.filter(blob_name=str(uuid.UUID(path.name))).exists():
                continue
            path.unlink()
            deleted += 1
        except (FileNotFoundError, ValueError):
            continue
    return deleted


def retention_purge(*, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """The periodic job: purge every case past its window, then orphaned evidence files."""
    now = now or timezone.now()
    report = RetentionReport()
    due = cases_due_for_purge(now=now)
    if dry_run:
        statuses = dict(Case.objects.filter(id__in=due).values_list("id", "status"))
        report.case_ids = due
        report.cases_withdrawn = sum(1 for status in statuses.values() if status == CaseStatus.WITHDRAWN)
        report.cases_rejected = len(statuses) - report.cases_withdrawn
        return report
    started = time.monotonic()
    for case_id in due:
        done = case_purge(case_id=case_id, now=now)
        if done is None:
            continue
        status, files = done
        report.case_ids.append(case_id)
        report.files_deleted += files
        if status == CaseStatus.WITHDRAWN:
            report.cases_withdrawn += 1
        else:
            report.cases_rejected += 1
    report.orphan_files_deleted = evidence_orphans_purge(now=now)
    logger.info("retention purge: %s in %.1f s", report.as_dict(), time.monotonic() - started)
    return report


def retention_windows() -> dict[str, Any]:
    return {"withdrawn_days": settings.RETENTION_WITHDRAWN_DAYS, "rejected_days": settings.RETENTION_REJECTED_DAYS,
            "orphan_hours": settings.RETENTION_ORPHAN_HOURS}
