import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.audit import Actor
from takedown.partners.management.commands._keyarg import partner_from_arg
from takedown.partners.models import ALL_SCOPES
from takedown.partners.services import PartnerError, partner_key_issue, partner_stopncii_rotate


class Command(BaseCommand):
    help = "Issue another API key to a partner, or (--stopncii) a fresh set of StopNCII credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="partner name or id")
        parser.add_argument("--scopes", default=",".join(ALL_SCOPES))
        parser.add_argument("--label", default="")
        parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute for this key")
        parser.add_argument("--stopncii", action="store_true",
                            help="revoke the partner's StopNCII credentials and issue new ones")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        partner = partner_from_arg(options["partner"])
        out: dict[str, Any]
        try:
            if options["stopncii"]:
                creds = partner_stopncii_rotate(partner=partner, actor=Actor.system())
                out = {"partner_id": str(partner.id), "stopncii": {
                    "subscription_key": creds.subscription_key, "function_keys": creds.function_keys}}
            else:
                scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
                issued = partner_key_issue(partner=partner, actor=Actor.system(), scopes=scopes,
                                           label=options["label"], rate_limit_per_minute=options["rate_limit"])
                out = {"partner_id": str(partner.id), "key_id": str(issued.key_id), "api_key": issued.plaintext}
        except PartnerError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(json.dumps(out, indent=2))
            self.stdout.write("Shown once.")
