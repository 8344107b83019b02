"""Thin periodic tasks of the core: relay the outbox, record a worker heartbeat."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from takedown.core.outbox import outbox_prune, outbox_relay_pending


@shared_task(name="core.outbox_relay", ignore_result=True)
def outbox_relay() -> int:
    return outbox_relay_pending()


@shared_task(name="core.outbox_prune", ignore_result=True)
def outbox_prune_task() -> int:
    return outbox_prune()


@shared_task(name="core.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> str:
    stamp = timezone.now().isoformat()
    cache.set("worker:heartbeat", stamp, timeout=300)
    return stamp
