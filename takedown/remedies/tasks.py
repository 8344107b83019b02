"""Thin tasks: each takes ids and calls one service."""

from __future__ import annotations

import uuid

from celery import shared_task

from takedown.remedies.services import remedies_clock_tick, remedy_request_deliver


@shared_task(name="remedies.request_send", ignore_result=True)
def request_send(request_id: str, attempt: int) -> bool:
    return remedy_request_deliver(request_id=uuid.UUID(request_id), attempt=attempt)


@shared_task(name="remedies.clock_tick", ignore_result=True)
def clock_tick() -> dict[str, int]:
    report = remedies_clock_tick()
    return {"escalated_24h": report.escalated_24h, "escalated_40h": report.escalated_40h, "overdue": report.overdue}
