"""Background work of intake, started only through the outbox (takedown.core.outbox)."""

from __future__ import annotations

import uuid

from celery import shared_task

from victims.services import case_process


@shared_task(name="victims.process_case", ignore_result=True)
def process_case(case_id: str) -> dict[str, int]:
    return case_process(case_id=uuid.UUID(case_id))
