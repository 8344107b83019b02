from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedown.core.audit import Actor
from takedown.partners.management.commands._keyarg import key_from_arg
from takedown.partners.services import partner_key_revoke


class Command(BaseCommand):
    help = "Revoke a partner key at once (every process stops accepting it within PARTNER_KEY_CACHE_SECONDS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="the key, or its id (the 12 characters after tdk_)")

    def handle(self, *args: Any, **options: Any) -> None:
        key = partner_key_revoke(key=key_from_arg(options["key"]), actor=Actor.system())
        self.stdout.write(f"revoked {key.kind} key {key.lookup_id} of {key.partner.name}")
