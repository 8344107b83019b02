"""Thin tasks: deliver one webhook; turn recent bank changes into webhook deliveries."""

from __future__ import annotations

import uuid

from celery import shared_task

from takedown.partners.services import webhook_bank_changes_publish, webhook_delivery_attempt


@shared_task(name="partners.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: str) -> str:
    return webhook_delivery_attempt(delivery_id=uuid.UUID(delivery_id))


@shared_task(name="partners.webhook_bank_changes", ignore_result=True)
def webhook_bank_changes() -> int:
    return webhook_bank_changes_publish()
