from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.roles import ROLE_GROUPS
from takedown.core.services import staff_provision


class Command(BaseCommand):
    help = "Create (or reset) a staff account with a new password and authenticator (TOTP) secret, shown once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=sorted(ROLE_GROUPS))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            staff = staff_provision(username=options["username"], role=options["role"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"username: {staff.username}\npassword: {staff.password}")
        self.stdout.write(f"authenticator secret (base32): {staff.totp_secret_b32}\notpauth URI: {staff.totp_uri}")
        self.stdout.write("These are shown once. Add the secret to an authenticator app now.")
