"""Thin periodic task: keep the queues in step with the cases."""

from __future__ import annotations

from celery import shared_task

from takedown.moderation.services import moderation_queue_sync


@shared_task(name="moderation.queue_sync", ignore_result=True)
def queue_sync() -> int:
    return moderation_queue_sync()
