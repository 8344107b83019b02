import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.audit import Actor
from takedown.partners.models import ALL_SCOPES
from takedown.partners.services import PartnerError, partner_create


class Command(BaseCommand):
    help = "Create a partner platform with an API key and StopNCII-compatible credentials (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--scopes", default=",".join(ALL_SCOPES),
                            help=f"comma-separated, from {','.join(ALL_SCOPES)} (default: all)")
        parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute per key")
        parser.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            created = partner_create(name=options["name"], actor=Actor.system(), scopes=scopes,
                                     rate_limit_per_minute=options["rate_limit"])
        except PartnerError as exc:
            raise CommandError(str(exc)) from exc
        out = {
            "partner_id": str(created.partner.id),
            "api_key": created.api_key.plaintext,
            "stopncii": {
                "subscription_key": created.stopncii.subscription_key,
                "function_keys": created.stopncii.function_keys,
            },
        }
        if options["json"]:
            self.stdout.write(json.dumps(out))
            return
        self.stdout.write(f"partner: {created.partner.name} ({out['partner_id']})")
        self.stdout.write(f"API key (Authorization: Bearer ...): {out['api_key']}")
        subscription = created.stopncii.subscription_key
        self.stdout.write(f"StopNCII subscription key (Ocp-Apim-Subscription-Key): {subscription}")
        for function, key in created.stopncii.function_keys.items():
            self.stdout.write(f"StopNCII {function} function key (x-functions-key): {key}")
        self.stdout.write("These are shown once and stored only as keyed hashes. Hand them over now.")
