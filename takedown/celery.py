"""The Celery application. Tasks are thin: they take ids and call one service."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")

app = Celery("takedown")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@worker_init.connect
def _refuse_to_work_without_secrets(**kwargs: object) -> None:
    from takedown.core.startup import startup_check

    startup_check()


@task_postrun.connect
def _outbox_mark_completed(task_id: str | None = None, state: str | None = None, **kwargs: Any) -> None:
    # Only a task that ran to the end completes its outbox row; anything else is published again later.
    if state != "SUCCESS" or not task_id:
        return
    from django.db import DatabaseError

    from takedown.core.outbox import outbox_complete

    try:
        outbox_complete(message_id=task_id)
    except DatabaseError:
        # The database went away after the task's own work: the row is published again and the task, being
        # idempotent, finds nothing left to do.
        logger.warning("could not mark task %s completed", task_id)


@worker_process_init.connect
def _heartbeat_start(sender: object = None, **kwargs: object) -> None:
    # In each process that runs tasks (every prefork child, the solo pool's process): report now, then periodically.
    from takedown.core.heartbeat import heartbeat_start

    queues = sorted(app.amqp.queues.consume_from or app.amqp.queues)
    heartbeat_start(hostname=str(sender or "worker"), queues=queues)
