"""Retention: after withdrawal (or rejection) and the purge, no file and no row of the case survives."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.utils import timezone

from takedown.cases.hooks import case_purging
from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.cases.services import case_purge, evidence_orphans_purge, retention_purge
from takedown.core.audit import Actor
from takedown.core.evidence import evidence_names_on_disk, evidence_put
from takedown.core.models import AuditEvent
from takedown.partners.models import PartnerFeedback, PartnerFeedbackCase
from takedown.partners.services import partner_create
from tests.victims.conftest import FakeBank, file_upload_report, jpeg_with_gps
from victims.services import case_evidence_add, case_message_send, case_withdraw

pytestmark = pytest.mark.django_db(transaction=True)

purged_by_hook: list[uuid.UUID] = []


def record_purge(*, case: Case, actor: Actor, **_signal: Any) -> None:
    purged_by_hook.append(case.id)


@pytest.fixture
def purge_recorder() -> Iterator[list[uuid.UUID]]:
    purged_by_hook.clear()
    case_purging.connect(record_purge, dispatch_uid="tests.record_purge")
    yield purged_by_hook
    case_purging.disconnect(dispatch_uid="tests.record_purge")


def rows_naming(case_id: uuid.UUID) -> dict[str, int]:
    """Every row of every model that points at the case: foreign keys to Case, and plain `case_id` UUID columns
    (the audit log excepted: it is the lasting, content-free record). A new model that names a case is covered
    without being listed here."""
    found: dict[str, int] = {}
    for model in apps.get_models():
        if model is AuditEvent:
            continue
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is Case:
                lookup = {field.name: case_id}
            elif isinstance(field, models.UUIDField) and field.name == "case_id":
                lookup = {"case_id": case_id}
            elif model is Case and field.name == "id":
                lookup = {"id": case_id}
            else:
                continue
            count = model._default_manager.filter(**lookup).count()
            if count:
                found[f"{model._meta.label}.{field.name}"] = count
    return found


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def a_full_case(client: Client) -> Case:
    """A case with everything hanging off it: uploads, later evidence, URLs, messages, a review item, partner
    feedback naming it."""
    filed = file_upload_report(client, images=[jpeg_with_gps(1), jpeg_with_gps(2)])
    case = Case.objects.get(id=filed.case.id)
    from tests.reliability.scenarios import drawn_png  # a plain PNG, drawn in code
    from victims.images import image_inspect
    from victims.services import UploadedImage

    data = drawn_png(7)
    case_evidence_add(case=case, images=[UploadedImage(data=data, inspected=image_inspect(data, max_bytes=10**7))])
    case_message_send(case=case, body="one more place it was posted")
    partner = partner_create(name="retention partner", actor=Actor.system()).partner
    feedback = PartnerFeedback.objects.create(partner=partner, value="Blocked")
    PartnerFeedbackCase.objects.create(feedback=feedback, case_id=case.id)
    return Case.objects.get(id=case.id)


def test_withdrawal_then_purge_leaves_no_file_and_no_row(client: Client, fake_bank: FakeBank, storage: Path,
                                                          settings: Any, moderator: Any,
                                                          purge_recorder: list[uuid.UUID]) -> None:
    from takedown.moderation.models import DecisionKind, ReviewItem
    from takedown.moderation.services import moderation_claim, moderation_decide

    case = a_full_case(client)
    # Confirmed by a moderator: a decision and removal, blocking and de-linking requests with their events.
    item = ReviewItem.objects.get(case=case)
    moderation_claim(item_id=item.id, user=moderator)
    moderation_decide(item_id=item.id, user=moderator, decision=DecisionKind.CONFIRM)
    case = Case.objects.get(id=case.id)
    assert len(evidence_names_on_disk()) == 3 and case.status == CaseStatus.CONFIRMED
    assert {"cases.CaseImage.case", "cases.CaseURL.case", "cases.Message.case", "moderation.ReviewItem.case",
            "moderation.Decision.case", "remedies.RemedyRequest.case",
            "partners.PartnerFeedbackCase.case_id"} <= set(rows_naming(case.id))

    from takedown.remedies.models import RemedyRequest, RequestEvent

    request_ids = list(RemedyRequest.objects.filter(case=case).values_list("id", flat=True))
    assert RequestEvent.objects.filter(request_id__in=request_ids).exists()

    case_withdraw(case=case)
    # Withdrawal itself deletes every file; the shell stays for the receipt until the window ends.
    assert evidence_names_on_disk() == [] and files_under(storage / "evidence") == []
    assert retention_purge().cases_withdrawn == 0
    assert Case.objects.filter(id=case.id).exists()

    with time_machine.travel(timezone.now() + timedelta(days=settings.RETENTION_WITHDRAWN_DAYS, hours=1)):
        report = retention_purge()
    assert report.cases_withdrawn == 1 and report.case_ids == [case.id]
    assert rows_naming(case.id) == {}
    assert not RequestEvent.objects.filter(request_id__in=request_ids).exists()  # rows hanging off those rows
    assert files_under(storage / "evidence") == []
    assert purge_recorder == [case.id]
    purged = AuditEvent.objects.get(case_id=case.id, action="case.purged")
    assert purged.detail == {"status": "withdrawn", "files_deleted": 0}
    call_command("audit_verify", stdout=StringIO())
    # The feedback is the partner's and stays; only its link to the gone case went.
    assert PartnerFeedback.objects.count() == 1


def test_a_rejected_case_keeps_its_evidence_for_the_window_then_loses_everything(
        client: Client, fake_bank: FakeBank, storage: Path, settings: Any) -> None:
    case = a_full_case(client)
    Case.objects.filter(id=case.id).update(status=CaseStatus.REJECTED, updated_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=settings.RETENTION_REJECTED_DAYS - 1)):
        assert retention_purge().cases_rejected == 0
    assert len(evidence_names_on_disk()) == 3
    with time_machine.travel(timezone.now() + timedelta(days=settings.RETENTION_REJECTED_DAYS, hours=1)):
        report = retention_purge()
    assert report.cases_rejected == 1 and report.files_deleted == 3
    assert rows_naming(case.id) == {}
    assert files_under(storage / "evidence") == []


def test_open_and_confirmed_cases_are_never_purged(client: Client, fake_bank: FakeBank, settings: Any) -> None:
    settings.RETENTION_WITHDRAWN_DAYS = settings.RETENTION_REJECTED_DAYS = 0
    open_case = a_full_case(client)
    confirmed = file_upload_report(client, images=[jpeg_with_gps(5)]).case
    Case.objects.filter(id=confirmed.id).update(status=CaseStatus.CONFIRMED)
    with time_machine.travel(timezone.now() + timedelta(days=3650)):
        assert retention_purge().case_ids == []
        assert case_purge(case_id=open_case.id) is None
    assert Case.objects.count() == 2 and len(evidence_names_on_disk()) == 4


def test_a_case_reopened_after_it_was_listed_is_not_purged(client: Client, fake_bank: FakeBank,
                                                           settings: Any) -> None:
    settings.RETENTION_REJECTED_DAYS = 0
    case = file_upload_report(client, images=[jpeg_with_gps(6)]).case
    Case.objects.filter(id=case.id).update(status=CaseStatus.REJECTED)
    Case.objects.filter(id=case.id).update(status=CaseStatus.IN_REVIEW)
    assert case_purge(case_id=case.id) is None and Case.objects.filter(id=case.id).exists()


def test_orphaned_evidence_files_go_after_their_window_and_named_ones_never(
        client: Client, fake_bank: FakeBank, storage: Path, settings: Any) -> None:
    kept = file_upload_report(client, images=[jpeg_with_gps(3)]).case
    orphan = evidence_put(b"written by a process killed before its commit")
    stale_tmp = storage / "evidence" / "ab" / (uuid.uuid4().hex + ".tmp")
    stale_tmp.parent.mkdir(parents=True, exist_ok=True)
    stale_tmp.write_bytes(b"half-written")
    assert evidence_orphans_purge() == 0  # too recent: perhaps a transaction still open
    with time_machine.travel(timezone.now() + timedelta(hours=settings.RETENTION_ORPHAN_HOURS, minutes=5)):
        assert evidence_orphans_purge() == 2
    names = evidence_names_on_disk()
    assert orphan not in names and not stale_tmp.exists()
    assert names == [CaseImage.objects.get(case=kept).blob_name]


def test_command_dry_run_counts_and_deletes_nothing_then_purges(client: Client, fake_bank: FakeBank,
                                                                settings: Any) -> None:
    settings.RETENTION_WITHDRAWN_DAYS = 0
    case = file_upload_report(client, images=[jpeg_with_gps(4)]).case
    case_withdraw(case=case)
    out = StringIO()
    call_command("retention_purge", "--dry-run", stdout=out)
    assert "cases due: 1 withdrawn, 0 rejected" in out.getvalue()
    assert Case.objects.filter(id=case.id).exists()
    out = StringIO()
    call_command("retention_purge", stdout=out)
    assert "cases purged: 1 withdrawn" in out.getvalue() and not Case.objects.filter(id=case.id).exists()


def test_the_purge_is_on_the_beat_schedule_and_runs_as_a_task(settings: Any) -> None:
    from takedown.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    assert entry["task"] in app.tasks
    assert app.tasks[entry["task"]].apply().get() == {"cases_withdrawn": 0, "cases_rejected": 0, "files_deleted": 0,
                                                      "orphan_files_deleted": 0}


def test_negative_windows_are_refused() -> None:
    import subprocess
    import sys

    env = {**os.environ, "RETENTION_WITHDRAWN_DAYS": "-1", "TAKEDOWN_TESTING": "true"}
    result = subprocess.run([sys.executable, "-c", "import takedown.settings"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and "RETENTION_" in result.stderr


def test_the_purge_unlinks_the_case_from_the_hash_bank_and_leaves_tombstones(client: Client, settings: Any) -> None:
    from detection.models import BankEntry, BankSource

    filed = file_upload_report(client, images=[jpeg_with_gps(5)])
    case = Case.objects.get(id=filed.case.id)
    assert BankSource.objects.filter(kind="case", source_id=str(case.id)).count() == 5
    case_withdraw(case=Case.objects.get(id=case.id))
    assert set(BankEntry.objects.values_list("status", flat=True)) == {"Withdrawn"}
    with time_machine.travel(timezone.now() + timedelta(days=settings.RETENTION_WITHDRAWN_DAYS, hours=1)):
        assert retention_purge().cases_withdrawn == 1
    # Nothing in the bank names the case any more; partners are told to delete (Deleted tombstones).
    assert not BankSource.objects.filter(source_id=str(case.id)).exists()
    assert set(BankEntry.objects.values_list("status", flat=True)) == {"Deleted"}
