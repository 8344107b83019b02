from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedown.partners.management.commands._keyarg import partner_from_arg


class Command(BaseCommand):
    help = "List a partner's keys (ids, kinds, scopes, state); never the keys themselves."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="partner name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        partner = partner_from_arg(options["partner"])
        for key in partner.keys.order_by("created_at"):
            if key.revoked_at:
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
            elif key.expires_at:
                state = f"expires {key.expires_at:%Y-%m-%d %H:%M}"
            else:
                state = "active"
            self.stdout.write(f"{key.lookup_id}  {key.kind:<22} {key.function or '-':<15} "
                              f"{','.join(key.scopes) or '-':<30} {state}")
