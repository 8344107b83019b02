from unittest import mock

import pytest
from celery import shared_task
from django.core.cache import cache
from django.db import transaction

from takedown.core.models import OutboxMessage
from takedown.core.outbox import outbox_enqueue, outbox_relay_pending

RUNS: list[str] = []


@shared_task(name="tests.record_run")
def record_run(label: str) -> None:
    RUNS.append(label)


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_task_runs_only_after_commit() -> None:
    with transaction.atomic():
        outbox_enqueue(task="tests.record_run", kwargs={"label": "a"})
        assert RUNS == []
    assert RUNS == ["a"]
    assert OutboxMessage.objects.get().dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_sends_nothing() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task="tests.record_run", kwargs={"label": "b"})
        raise RuntimeError
    assert RUNS == [] and OutboxMessage.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_broker_outage_leaves_the_message_for_the_relay(settings) -> None:
    settings.OUTBOX_RELAY_GRACE_SECONDS = 0
    with mock.patch("takedown.core.outbox._publish", side_effect=ConnectionError("broker down")):
        with transaction.atomic():
            outbox_enqueue(task="tests.record_run", kwargs={"label": "c"})
        message = OutboxMessage.objects.get()
        assert message.dispatched_at is None and "broker down" in message.last_error
        assert outbox_relay_pending() == 0
    assert outbox_relay_pending() == 1
    assert RUNS == ["c"]
    # A second relay pass finds nothing left: the message went exactly once.
    assert outbox_relay_pending() == 0 and RUNS == ["c"]


@pytest.mark.django_db(transaction=True)
def test_delayed_message_waits_for_its_time(settings) -> None:
    import time_machine
    from django.utils import timezone

    with transaction.atomic():
        outbox_enqueue(task="tests.record_run", kwargs={"label": "later"}, delay_seconds=3600)
    assert RUNS == [] and outbox_relay_pending() == 0
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        assert outbox_relay_pending() == 1
    assert RUNS == ["later"]


@pytest.mark.django_db(transaction=True)
def test_periodic_command_runs_the_beat_schedule_in_process(settings) -> None:
    from django.core.management import call_command

    settings.OUTBOX_RELAY_GRACE_SECONDS = 0
    with mock.patch("takedown.core.outbox._publish", side_effect=ConnectionError("broker down")):
        with transaction.atomic():
            outbox_enqueue(task="tests.record_run", kwargs={"label": "periodic"})
    call_command("periodic", "--once")
    assert RUNS == ["periodic"]
    assert cache.get("worker:heartbeat")


@pytest.mark.django_db
def test_prune_deletes_old_completed_rows_and_never_an_unfinished_one() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from takedown.core.outbox import outbox_prune

    long_ago = timezone.now() - timedelta(days=30)
    done = OutboxMessage.objects.create(task="t.done", available_at=long_ago, dispatched_at=long_ago,
                                        completed_at=long_ago)
    lost = OutboxMessage.objects.create(task="t.lost", available_at=long_ago, dispatched_at=long_ago, attempts=6)
    never_sent = OutboxMessage.objects.create(task="t.waiting", available_at=long_ago)
    recent = OutboxMessage.objects.create(task="t.recent", available_at=long_ago, dispatched_at=long_ago,
                                          completed_at=timezone.now())
    assert outbox_prune(older_than_days=7) == 1
    assert set(OutboxMessage.objects.values_list("id", flat=True)) == {lost.id, never_sent.id, recent.id}
    assert not OutboxMessage.objects.filter(id=done.id).exists()
