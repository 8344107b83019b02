from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.management.commands.demo_data import DEMO_STAFF, demo_totp_now


class Command(BaseCommand):
    help = "Print the current authenticator code of a demo account (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", choices=[u for u, _ in DEMO_STAFF.values()])

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_totp runs only with DEBUG=true")
        self.stdout.write(demo_totp_now(options["username"]))
