import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.audit import Actor
from takedown.partners.management.commands._keyarg import partner_from_arg
from takedown.partners.models import WebhookEvent
from takedown.partners.services import PartnerError, webhook_endpoint_register


class Command(BaseCommand):
    help = "Register a partner's webhook URL; prints its signing secret once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="partner name or id")
        parser.add_argument("url")
        parser.add_argument("--events", default=",".join(WebhookEvent.values))
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        partner = partner_from_arg(options["partner"])
        events = [e.strip() for e in options["events"].split(",") if e.strip()]
        try:
            new = webhook_endpoint_register(partner=partner, url=options["url"], actor=Actor.system(), events=events)
        except PartnerError as exc:
            raise CommandError(str(exc)) from exc
        out = {"endpoint_id": str(new.endpoint.id), "secret": new.secret, "events": new.endpoint.events}
        self.stdout.write(json.dumps(out) if options["json"] else json.dumps(out, indent=2))
