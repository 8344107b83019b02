"""Thin periodic task: the retention purge (takedown.cases.services)."""

from __future__ import annotations

from celery import shared_task

from takedown.cases.services import retention_purge


@shared_task(name="cases.retention_purge", ignore_result=True)
def retention_purge_task() -> dict[str, int]:
    return retention_purge().as_dict()
