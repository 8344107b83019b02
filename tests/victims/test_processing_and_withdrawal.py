"""After commit: hashing, the bank, queueing for review. Withdrawal: nothing left on disk, hashes withdrawn."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.core.evidence import evidence_names_on_disk
from takedown.core.models import AuditEvent
from tests.victims.conftest import FakeBank, file_upload_report, jpeg_with_gps, open_case, report_data
from victims.services import case_process

pytestmark = pytest.mark.django_db(transaction=True)

queued: list[str] = []


def record_queued(*, case: Case, actor: Any) -> None:
    queued.append(case.reference)


def cancel_requests(*, case: Case, actor: Any) -> list[str]:
    return ["2 pending requests cancelled"]


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_report_is_processed_after_commit_and_queued(client: Client, fake_bank: FakeBank, settings: Any) -> None:
    settings.CASE_QUEUED_HOOKS = ["tests.victims.test_processing_and_withdrawal.record_queued"]
    queued.clear()
    filed = file_upload_report(client, images=[jpeg_with_gps(1), jpeg_with_gps(2)])
    case = Case.objects.get(id=filed.case.id)
    assert case.status == CaseStatus.IN_REVIEW
    assert queued == [case.reference]
    images = list(case.images.all())
    assert {i.state for i in images} == {CaseImage.State.HASHED}
    assert all(len(i.pdq) == 64 and len(i.pdq_dihedral) == 8 and i.phash and i.dhash for i in images)
    # Exact-copy hashes are those of the file as sent, not of the stripped copy.
    import hashlib
    assert {i.sha256 for i in images} == {hashlib.sha256(jpeg_with_gps(n)).hexdigest() for n in (1, 2)}
    assert {(k[0], v["status"]) for k, v in fake_bank.entries.items()} == {
        ("pdq", "Received"), ("phash", "Received"), ("dhash", "Received"), ("md5", "Received"),
        ("sha256", "Received")}
    assert all(i.analysis["bank"]["available"] for i in images)
    processed = AuditEvent.objects.get(case_id=case.id, action="case.processed")
    assert processed.detail["hashed"] == 2 and processed.detail["queued"] is True
    # Idempotent: running again changes nothing and queues nothing twice.
    case_process(case_id=case.id)
    assert queued == [case.reference]


def test_device_hashes_go_to_the_bank(client: Client, fake_bank: FakeBank) -> None:
    client.post(reverse("victims-report-device"),
                report_data(device_hashes=json.dumps([{"sha256": "a" * 64, "pdq": "b" * 64, "quality": 80}])))
    case = Case.objects.get()
    assert case.status == CaseStatus.IN_REVIEW
    assert ("pdq", "b" * 64) in fake_bank.entries and ("sha256", "a" * 64) in fake_bank.entries


def test_a_failing_bank_leaves_the_case_unprocessed_and_retried_never_reviewed_without_a_lookup(
        client: Client, fake_bank: FakeBank, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from takedown.core.models import OutboxMessage
    from takedown.core.outbox import outbox_relay_one

    def bank_down(**_: object) -> int:
        raise RuntimeError("bank down")

    monkeypatch.setattr(fake_bank, "bank_add", bank_down)
    filed = file_upload_report(client)
    case = Case.objects.get(id=filed.case.id)
    # Not passed off as "no match": the case waits, its task is left unfinished for the relay to run again.
    assert case.status != CaseStatus.IN_REVIEW
    assert case.images.get().state != CaseImage.State.HASHED
    unfinished = OutboxMessage.objects.filter(completed_at__isnull=True, dispatched_at__isnull=False)
    assert unfinished.count() == 1
    monkeypatch.undo()
    monkeypatch.setattr("victims.hashbank.bank", fake_bank)
    assert outbox_relay_one(message_id=unfinished.get().id, dispatched_before=timezone.now() + timedelta(1))
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW
    assert case.images.get().analysis["bank"] == {"available": True, "matches": []}


def test_reports_enter_the_real_bank_match_each_other_and_withdraw(client: Client) -> None:
    from detection.models import BankEntry, BankSource

    first = Case.objects.get(id=file_upload_report(client, images=[jpeg_with_gps(3)]).case.id)
    pdq = first.images.get().pdq
    entry = BankEntry.objects.get(signal_type="pdq", value=pdq)
    assert entry.status == "Received" and len(entry.variants) == 7 * 32
    assert BankSource.objects.get(entry=entry).source_id == str(first.id)
    assert first.images.get().analysis["bank"]["matches"] == []
    # A second victim reports the same picture: the bank tells moderators it is known.
    client.cookies.clear()
    second = Case.objects.get(id=file_upload_report(client, images=[jpeg_with_gps(3)]).case.id)
    assert second.images.get().analysis["bank"]["matches"] == [{"entry": str(entry.id), "distance": 0}]
    # The first withdraws: the second still holds the hash, so it stays; then the second withdraws too.
    from victims.hashbank import bank_withdraw_case

    assert bank_withdraw_case(case=first).entered == 0
    assert BankEntry.objects.get(id=entry.id).status == "Received"
    assert bank_withdraw_case(case=second).entered == 5
    assert set(BankEntry.objects.values_list("status", flat=True)) == {"Withdrawn"}


def test_withdrawal_deletes_everything_on_disk(client: Client, fake_bank: FakeBank, storage: Path,
                                               settings: Any) -> None:
    settings.CASE_WITHDRAW_HOOKS = ["tests.victims.test_processing_and_withdrawal.cancel_requests"]
    filed = file_upload_report(client, images=[jpeg_with_gps(1), jpeg_with_gps(2)])
    open_case(client, filed)
    evidence = io.BytesIO(jpeg_with_gps(3))
    evidence.name = "more.jpg"
    assert client.post(reverse("victims-case-evidence"), {"images": [evidence]}).status_code == 302
    assert len(evidence_names_on_disk()) == 3
    assert len(_files_under(storage)) == 3

    response = client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your case was withdrawn" in body and "2 pending requests cancelled" in body

    assert evidence_names_on_disk() == []
    assert _files_under(storage) == []
    case = Case.objects.get(id=filed.case.id)
    assert case.status == CaseStatus.WITHDRAWN and case.withdrawn_at is not None
    for image in case.images.all():
        assert image.state == CaseImage.State.DELETED and image.deleted_at is not None
        assert (image.blob_name, image.pdq, image.sha256, image.md5, image.phash) == ("", "", "", "", "")
    assert fake_bank.entries and {v["status"] for v in fake_bank.entries.values()} == {"Withdrawn"}
    event = AuditEvent.objects.get(case_id=case.id, action="case.withdrawn")
    assert event.detail["files_deleted"] == 3 and event.detail["hashes_withdrawn"] == len(fake_bank.entries)

    receipt = client.get(reverse("victims-withdrawal-receipt"))
    assert receipt.status_code == 200 and "attachment" in receipt["Content-Disposition"]
    text = receipt.content.decode()
    assert filed.reference in text and text.count("image file and fingerprints deleted") == 3
    assert f"Fingerprints withdrawn from partners: {len(fake_bank.entries)}" in text

    # Withdrawn cases take nothing more, and withdrawing twice is harmless.
    assert client.post(reverse("victims-case-urls"), {"urls": "https://x.example.com/"}).status_code == 409
    assert client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret}).status_code == 200
    assert AuditEvent.objects.filter(case_id=case.id, action="case.withdrawn").count() == 1


def test_withdraw_needs_the_confirmation(client: Client) -> None:
    filed = file_upload_report(client)
    open_case(client, filed)
    response = client.post(reverse("victims-case-withdraw"), {})
    assert response.status_code == 400
    assert Case.objects.get(id=filed.case.id).status != CaseStatus.WITHDRAWN
    assert len(evidence_names_on_disk()) == 1


def test_after_withdrawal_the_pages_say_only_what_is_true(client: Client, fake_bank: FakeBank) -> None:
    filed = file_upload_report(client, images=[jpeg_with_gps(1), jpeg_with_gps(2)])
    open_case(client, filed)
    withdrawn = client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret})
    body = withdrawn.content.decode()
    withdrawn_count = len(fake_bank.entries)
    assert withdrawn_count > 0
    assert f'<dd id="hashes-withdrawn">{withdrawn_count}</dd>' in body
    assert "marked withdrawn in the list partner platforms use to block copies" in body
    status = client.get(reverse("victims-case-status")).content.decode()
    assert "Requests are sent once a moderator confirms" not in status
    assert "images in this case" not in status and "image in this case" not in status
    assert "none will be sent: you withdrew the case" in status
    assert "every image you sent was deleted" in status


def test_withdrawal_with_nothing_in_the_bank_explains_the_zero(client: Client, fake_bank: FakeBank,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from victims import services

    monkeypatch.setattr(services, "outbox_enqueue", lambda **kwargs: None)  # never processed: nothing entered
    filed = file_upload_report(client)
    open_case(client, filed)
    body = client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret}).content.decode()
    assert '<dd id="hashes-withdrawn">0</dd>' in body
    assert "either they had not been added yet, or someone else reported the same image" in body


def test_withdraw_asks_for_the_secret_again(client: Client) -> None:
    """A status page left open on a shared phone is not enough to delete the case."""
    filed = file_upload_report(client)
    open_case(client, filed)
    page = client.get(reverse("victims-case-withdraw")).content.decode()
    assert 'name="secret"' in page and 'type="password"' in page
    missing = client.post(reverse("victims-case-withdraw"), {"confirm": "on"})
    assert missing.status_code == 400 and "Type the secret from your receipt." in missing.content.decode()
    wrong = client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": "tds_" + "0" * 25})
    assert wrong.status_code == 400 and "That is not the secret of this case." in wrong.content.decode()
    assert Case.objects.get(id=filed.case.id).status != CaseStatus.WITHDRAWN
    assert AuditEvent.objects.filter(case_id=filed.case.id, action="case.access_denied",
                                     detail__purpose="withdraw").count() == 1
    assert client.post(reverse("victims-case-withdraw"),
                       {"confirm": "on", "secret": filed.secret}).status_code == 200
    assert Case.objects.get(id=filed.case.id).status == CaseStatus.WITHDRAWN


def test_failed_submission_leaves_no_file(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from victims import services

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "outbox_enqueue", broken)
    upload = io.BytesIO(jpeg_with_gps())
    upload.name = "a.jpg"
    client.raise_request_exception = False
    response = client.post(reverse("victims-report-upload"), {**report_data(), "images": [upload]})
    assert response.status_code == 500
    assert evidence_names_on_disk() == []
    assert Case.objects.count() == 0


def test_withdrawing_while_processing_is_pending(client: Client, fake_bank: FakeBank,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from victims import services

    monkeypatch.setattr(services, "outbox_enqueue", lambda **kwargs: None)
    filed = file_upload_report(client)
    open_case(client, filed)
    client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret})
    assert case_process(case_id=filed.case.id) == {}
    assert Case.objects.get(id=filed.case.id).status == CaseStatus.WITHDRAWN
