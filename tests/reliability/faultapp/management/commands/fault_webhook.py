"""Publish one webhook event to a test receiver, the way a real change does (delivery + outbox row, one commit)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from takedown.core.audit import Actor
from takedown.partners.models import Partner, WebhookEndpoint, WebhookEvent
from takedown.partners.services import partner_create, webhook_endpoint_register, webhook_event_publish


class Command(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True)
        parser.add_argument("--marker", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system()
        name = "fault receiver"
        partner = Partner.objects.filter(name=name).first() or partner_create(name=name, actor=actor).partner
        if not WebhookEndpoint.objects.filter(partner=partner, url=options["url"], active=True).exists():
            WebhookEndpoint.objects.filter(partner=partner).update(active=False)
            webhook_endpoint_register(partner=partner, url=options["url"], actor=actor,
                                      events=[WebhookEvent.REMOVAL_REQUEST_CREATED])
        with transaction.atomic():
            deliveries = webhook_event_publish(event=WebhookEvent.REMOVAL_REQUEST_CREATED,
                                               data={"marker": options["marker"]}, partner_id=partner.id)
        self.stdout.write(json.dumps([str(delivery.id) for delivery in deliveries]))
