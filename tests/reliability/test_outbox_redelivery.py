"""The outbox publishes again what was dispatched and never completed, with backoff, a bounded number of times."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from takedown.core.models import OutboxMessage
from takedown.core.outbox import outbox_enqueue, outbox_relay_pending

RUNS: list[str] = []


@shared_task(name="tests.reliability.record")
def record(label: str) -> None:
    RUNS.append(label)


@pytest.fixture(autouse=True)
def _reset(settings) -> None:
    RUNS.clear()
    settings.OUTBOX_REDELIVER_SECONDS = 60
    settings.OUTBOX_MAX_ATTEMPTS = 3


@pytest.mark.django_db(transaction=True)
def test_a_task_that_ran_marks_its_row_completed_and_is_never_sent_again() -> None:
    with transaction.atomic():
        message = outbox_enqueue(task="tests.reliability.record", kwargs={"label": "a"})
    message.refresh_from_db()
    assert RUNS == ["a"] and message.completed_at is not None
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert outbox_relay_pending() == 0
    assert RUNS == ["a"]


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_is_published_again_with_backoff_until_the_cap() -> None:
    # Published to a broker that then lost it (a killed worker, a Redis restart): dispatched, never completed.
    with mock.patch("takedown.core.outbox._publish"):
        with transaction.atomic():
            message = outbox_enqueue(task="tests.reliability.record", kwargs={"label": "lost"})
    message.refresh_from_db()
    assert message.dispatched_at is not None and message.completed_at is None and RUNS == []
    start = timezone.now()
    with mock.patch("takedown.core.outbox._publish") as publish:
        with time_machine.travel(start + timedelta(seconds=30)):
            assert outbox_relay_pending() == 0  # too early: it may still be queued
        with time_machine.travel(start + timedelta(seconds=61)):
            assert outbox_relay_pending() == 1
        with time_machine.travel(start + timedelta(seconds=61 + 90)):
            assert outbox_relay_pending() == 0  # second wait is twice as long (120 s)
        with time_machine.travel(start + timedelta(seconds=61 + 121)):
            assert outbox_relay_pending() == 1
        with time_machine.travel(start + timedelta(days=2)):
            assert outbox_relay_pending() == 0  # OUTBOX_MAX_ATTEMPTS reached: left for an operator
    assert publish.call_count == 2
    message.refresh_from_db()
    assert message.attempts == 3 and message.completed_at is None
    # An operator sees it on /healthz (informational: the site still answers 200).
    from django.test import Client

    response = Client().get("/healthz")
    assert response.status_code == 200
    outbox = response.json()["checks"]["outbox"]
    assert outbox["ok"] is False and outbox["gave_up"] == 1 and outbox["unfinished"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_runs_when_published_again_and_then_completes() -> None:
    with mock.patch("takedown.core.outbox._publish"):
        with transaction.atomic():
            message = outbox_enqueue(task="tests.reliability.record", kwargs={"label": "again"})
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert outbox_relay_pending() == 1
    assert RUNS == ["again"]
    assert OutboxMessage.objects.get(id=message.id).completed_at is not None


@shared_task(name="tests.reliability.fail")
def fail() -> None:
    raise ConnectionError("database went away")


@pytest.mark.django_db(transaction=True)
def test_a_failed_task_is_not_completed_and_is_retried() -> None:
    with transaction.atomic():
        message = outbox_enqueue(task="tests.reliability.fail")
    message.refresh_from_db()
    assert message.dispatched_at is not None and message.completed_at is None
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert outbox_relay_pending() == 1
