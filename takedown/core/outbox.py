"""The transactional outbox: every side effect leaves through here.

`outbox_enqueue` writes a row in the caller's transaction and arranges for it to be relayed after commit. If
the transaction rolls back, nothing is sent; if the process dies or the broker is down after commit, the
periodic `core.outbox_relay` task publishes the row later. The row id is the Celery task id.

Publishing is not the end: a task that returns marks its row completed (`outbox_complete`, from Celery's
task_postrun signal). A row dispatched but not completed after OUTBOX_REDELIVER_SECONDS (doubling with each
attempt) is published again, up to OUTBOX_MAX_ATTEMPTS: that covers a worker killed as a whole (its unacked
message would otherwise wait for Redis' visibility timeout), a Redis restart that lost its queues, and a task
that failed because the database was down. Tasks are idempotent, so the rare second run changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from takedown.core.models import OutboxMessage

logger = logging.getLogger(__name__)

_local_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def outbox_enqueue(
    *, task: str, kwargs: dict[str, Any] | None = None, queue: str = "", delay_seconds: float = 0
) -> OutboxMessage:
    now = timezone.now()
    message = OutboxMessage.objects.create(
        task=task,
        kwargs=kwargs or {},
        queue=queue,
        available_at=now + timedelta(seconds=delay_seconds),
    )
    if delay_seconds <= 0:
        message_id = message.id
        # Robust: the change is committed whatever happens here; if the database or broker fails now, the
        # periodic relay publishes the row, and the request that made the change still succeeds.
        transaction.on_commit(lambda: outbox_relay_one(message_id=message_id), robust=True)
    return message


def _celery_eager() -> bool:
    from takedown.celery import app

    return bool(app.conf.task_always_eager)


def _run_in_process(message: OutboxMessage) -> None:
    from takedown.celery import app

    app.loader.import_default_modules()
    task = app.tasks[message.task]
    task.apply(kwargs=message.kwargs, task_id=str(message.id))


def _local_executor() -> ThreadPoolExecutor:
    global _local_pool
    with _pool_lock:
        if _local_pool is None:
            _local_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        return _local_pool


def _run_in_background(message_id: uuid.UUID) -> None:
    def job() -> None:
        close_old_connections()
        try:
            message = OutboxMessage.objects.get(id=message_id)
            _run_in_process(message)
        except Exception:
            logger.exception("in-process task failed (outbox message %s)", message_id)
        finally:
            close_old_connections()

    _local_executor().submit(job)


def _publish(message: OutboxMessage) -> None:
    from takedown.celery import app

    if _celery_eager():
        if settings.OUTBOX_EAGER_SYNC:
            _run_in_process(message)
        else:
            _run_in_background(message.id)
        return
    app.send_task(
        message.task,
        kwargs=message.kwargs,
        task_id=str(message.id),
        queue=message.queue or None,
        retry=True,
        retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
    )


def outbox_relay_one(*, message_id: uuid.UUID, dispatched_before: datetime | None = None) -> bool:
    """Publish one message if nobody has yet. Returns True when it was published by this call.

    With `dispatched_before`, publish it again if it was dispatched before then and has not completed.
    """
    with transaction.atomic():
        pending = OutboxMessage.objects.select_for_update(skip_locked=True).filter(id=message_id)
        if dispatched_before is None:
            pending = pending.filter(dispatched_at__isnull=True)
        else:
            pending = pending.filter(completed_at__isnull=True, dispatched_at__lt=dispatched_before)
        message = pending.first()
        if message is None:
            return False
        message.attempts += 1
        try:
            _publish(message)
        except Exception as exc:
            # The broker is down or refused: leave the row for the periodic relay.
            message.last_error = f"{type(exc).__name__}: {exc}"[:300]
            message.save(update_fields=["attempts", "last_error"])
            logger.warning("outbox publish failed for %s; the relay will retry", message.task)
            return False
        message.dispatched_at = timezone.now()
        message.last_error = ""
        message.save(update_fields=["attempts", "dispatched_at", "last_error"])
        return True


def outbox_relay_pending(*, limit: int = 500) -> int:
    """Publish messages that are due and were not published after their commit (crash, broker outage).

    A message enqueued without delay gets a grace period in which its own after-commit publish should land;
    a delayed message has no after-commit publish, so the relay owns it as soon as it is due.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_RELAY_GRACE_SECONDS)
    due = list(
        OutboxMessage.objects.filter(dispatched_at__isnull=True, available_at__lte=now)
        .filter(Q(created_at__lte=cutoff) | Q(available_at__gt=F("created_at")))
        .order_by("available_at")
        .values_list("id", flat=True)[:limit]
    )
    published = sum(1 for message_id in due if outbox_relay_one(message_id=message_id))
    return published + outbox_redeliver_unfinished(limit=limit)


def _redeliver_after(attempts: int) -> timedelta:
    base = settings.OUTBOX_REDELIVER_SECONDS
    return timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 24 * 3600))


def outbox_redeliver_unfinished(*, limit: int = 500) -> int:
    """Publish again what was dispatched long enough ago and never completed (see the module docstring)."""
    now = timezone.now()
    earliest = now - timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS)
    candidates = list(
        OutboxMessage.objects.filter(
            completed_at__isnull=True,
            dispatched_at__lt=earliest,
            attempts__lt=settings.OUTBOX_MAX_ATTEMPTS,
        )
        .order_by("dispatched_at")
        .values_list("id", "attempts", "dispatched_at")[:limit]
    )
    published = 0
    for message_id, attempts, dispatched_at in candidates:
        if dispatched_at is None or dispatched_at + _redeliver_after(attempts) > now:
            continue
        if outbox_relay_one(message_id=message_id, dispatched_before=now - _redeliver_after(attempts)):
            logger.warning("outbox message %s (%s) never completed; published again", message_id, attempts)
            published += 1
    return published


def outbox_complete(*, message_id: str) -> None:
    """Mark an outbox row's task finished (called by Celery's task_postrun for every successful task)."""
    try:
        parsed = uuid.UUID(message_id)
    except (TypeError, ValueError):
        return
    OutboxMessage.objects.filter(id=parsed, completed_at__isnull=True).update(completed_at=timezone.now())


def outbox_backlog() -> dict[str, int]:
    """For /healthz: rows waiting to be published, published and not completed, and given up on."""
    now = timezone.now()
    unfinished = OutboxMessage.objects.filter(dispatched_at__isnull=False, completed_at__isnull=True)
    return {
        "waiting": OutboxMessage.objects.filter(
            dispatched_at__isnull=True,
            available_at__lte=now - timedelta(seconds=settings.OUTBOX_RELAY_GRACE_SECONDS),
        ).count(),
        "unfinished": unfinished.count(),
        "gave_up": unfinished.filter(attempts__gte=settings.OUTBOX_MAX_ATTEMPTS).count(),
    }


def outbox_prune(*, older_than_days: int = 7) -> int:
    """Delete rows whose task completed more than `older_than_days` ago. A row that never completed is never
    deleted, however old: it is the only trace of work that was lost or given up on (see outbox_backlog)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = OutboxMessage.objects.filter(completed_at__isnull=False, completed_at__lt=cutoff).delete()
    return deleted
