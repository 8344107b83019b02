"""Every task that leaves through the outbox may run twice (a redelivery after a crash): the second run must change
nothing. Each is run again here with the very kwargs of its outbox row; a new task must join this list."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction

from takedown.celery import app
from takedown.core.audit import Actor
from takedown.core.models import AuditEvent, OutboxMessage
from takedown.partners.models import WebhookDelivery, WebhookEvent
from takedown.partners.services import (
    partner_create,
    webhook_endpoint_register,
    webhook_event_publish,
)
from takedown.partners.webhooks import SendResult
from takedown.remedies.models import RemedyRequest, RequestKind
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db(transaction=True)

# Tasks run by the beat schedule rather than the outbox: each is a sweep over the database's state, so a second
# run finds nothing left to do (their own tests show it, e.g. remedies_clock_tick's "idempotent" check).
PERIODIC = {"core.outbox_relay", "core.outbox_prune", "core.worker_heartbeat", "remedies.clock_tick",
            "moderation.queue_sync", "partners.webhook_bank_changes", "cases.retention_purge"}
CHECKED_HERE = {"remedies.request_send", "partners.webhook_deliver", "victims.process_case"}
# Outbox tasks whose second run is shown by their own tests.
CHECKED_ELSEWHERE = {
    "detection.images_analyse",  # tests/detection/test_analysis_task.py::test_analysis_is_idempotent
    # tests/detection/test_video_analysis.py::test_keyframes_are_scored_and_the_verdict_explains_each_frame
    "detection.videos_analyse",
}


def _run_again(task: str) -> list[OutboxMessage]:
    messages = list(OutboxMessage.objects.filter(task=task))
    assert messages, f"no outbox row for {task}"
    for message in messages:
        app.tasks[task].apply(kwargs=message.kwargs, task_id=str(uuid.uuid4()), throw=True)
    return messages


def test_every_project_task_is_checked_for_a_second_run() -> None:
    app.loader.import_default_modules()
    project = {name for name in app.tasks if not name.startswith(("celery.", "tests."))}
    unchecked = project - PERIODIC - CHECKED_HERE - CHECKED_ELSEWHERE
    assert unchecked == set(), "a new task: show that running it twice changes nothing"


def test_removal_request_sent_again_is_not_sent_twice() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    with transaction.atomic():
        remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    assert removal.send_count == 1 and len(mail.outbox) == 1
    _run_again("remedies.request_send")
    removal.refresh_from_db()
    assert removal.send_count == 1 and len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="remedies.request_sent", object_id=str(removal.id)).count() == 1


def test_webhook_delivered_is_not_posted_again() -> None:
    partner = partner_create(name="idempotent partner", actor=Actor.system()).partner
    webhook_endpoint_register(partner=partner, url="https://hooks.example/in", actor=Actor.system(),
                              events=[WebhookEvent.REMOVAL_REQUEST_CREATED])
    with mock.patch("takedown.partners.services.webhook_send", return_value=SendResult(200, "", 3)) as send:
        with transaction.atomic():
            webhook_event_publish(event=WebhookEvent.REMOVAL_REQUEST_CREATED, data={"n": 1}, partner_id=partner.id)
        assert send.call_count == 1
        _run_again("partners.webhook_deliver")
        assert send.call_count == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 1
    assert delivery.attempt_log.count() == 1


def test_case_processed_again_queues_and_hashes_nothing_twice(client, fake_bank) -> None:
    from tests.victims.conftest import file_upload_report, jpeg_with_gps

    case = file_upload_report(client, images=[jpeg_with_gps(1)]).case
    before = (AuditEvent.objects.filter(case_id=case.id, action="case.processed", detail__queued=True).count(),
              case.review_items.count(), dict(fake_bank.entries))
    assert before[0] == 1 and before[1] == 1
    _run_again("victims.process_case")
    after = (AuditEvent.objects.filter(case_id=case.id, action="case.processed", detail__queued=True).count(),
             case.review_items.count(), dict(fake_bank.entries))
    assert after == before


def test_a_crash_means_a_retry_acks_late_reject_on_worker_lost_one_message_at_a_time() -> None:
    # Acknowledged only after the task ran; a killed pool process puts its message back; a worker holds no more
    # than the message it works on, so a crash strands nothing else (tests/reliability/test_faults.py kills them).
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_image_analysis_run_again_from_its_outbox_row_changes_nothing() -> None:
    from takedown.cases.services import ANALYSE_TASK, case_images_analysis_schedule

    case = case_make(images=2)
    with transaction.atomic():
        assert case_images_analysis_schedule(case_ids=[case.id]) >= 1
    analysed = {image.id: image.analysis for image in case.images.all()}
    assert all(analysis and "label" in analysis for analysis in analysed.values())
    events = AuditEvent.objects.filter(case_id=case.id).count()
    _run_again(ANALYSE_TASK)
    assert {image.id: image.analysis for image in case.images.all()} == analysed
    assert AuditEvent.objects.filter(case_id=case.id).count() == events
