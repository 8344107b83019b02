"""Retention: what the platform keeps of a closed case, and for how long.

Withdrawal already deletes every stored image and every hash the case holds (victims.services.case_withdraw); what
stays is a shell (the case row, its URLs, messages, review and request history) so that the person can download
the withdrawal receipt again. After RETENTION_WITHDRAWN_DAYS the shell goes too. A case closed as not taken
forward (rejected) keeps its evidence for RETENTION_REJECTED_DAYS after its last change, in case the person comes
back with more, then everything goes. Evidence files that no row names (a process killed between writing a file
and committing its row) are deleted after RETENTION_ORPHAN_HOURS.

What remains of a purged case is its audit trail (append-only; it holds ids and counts, never content) and the
"case.purged" event that closes it. Other apps purge what they keep about a case outside its foreign keys through
settings.CASE_PURGE_HOOKS: `hook(case=, actor=) -> None`, called inside the purge's transaction before the rows
are deleted.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.core.audit import Actor, audit_record
from takedown.core.evidence import evidence_delete

logger = logging.getLogger(__name__)

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
        for path in getattr(settings, "CASE_PURGE_HOOKS", []):
            import_string(path)(case=case, actor=actor)
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
