"""Idempotent demo data for the embedded default: staff of each role, and whatever other apps add.

Refuses to run without DEBUG: the demo accounts have published passwords and authenticator secrets.
"""

import base64
from typing import Any

import django_otp.oath
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.module_loading import import_string
from django_otp.plugins.otp_totp.models import TOTPDevice

from takedown.core.roles import ROLE_GROUPS, roles_ensure

DEMO_STAFF = {
    "moderator": ("demo-moderator", "demo-moderator-password"),
    "advocate": ("demo-advocate", "demo-advocate-password"),
    "admin": ("demo-admin", "demo-admin-password"),
}


def demo_totp_key(username: str) -> str:
    """A fixed, published TOTP key per demo account (hex, as django-otp stores it)."""
    return (username.encode().hex() * 4)[:40]


def demo_totp_now(username: str) -> str:
    key = bytes.fromhex(demo_totp_key(username))
    return f"{django_otp.oath.totp(key):06d}"


class Command(BaseCommand):
    help = "Load demo staff, partners and drawn images (DEBUG only, idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_data runs only with DEBUG=true: its accounts have published credentials")
        groups = roles_ensure()
        user_model = get_user_model()
        with transaction.atomic():
            for role, (username, password) in DEMO_STAFF.items():
                user, created = user_model.objects.get_or_create(username=username)
                if created:
                    user.set_password(password)
                    user.is_staff = role == "admin"
                    user.save()
                user.groups.set([groups[role]])
                TOTPDevice.objects.get_or_create(
                    user=user, name="demo", defaults={"key": demo_totp_key(username), "confirmed": True}
                )
        for dotted in getattr(settings, "DEMO_DATA_STEPS", []):
            step = import_string(dotted)
            message = step()
            if message and not options["quiet"]:
                self.stdout.write(str(message))
        if options["quiet"]:
            return
        self.stdout.write("Demo staff (DEBUG only; sign in at /staff/login/):")
        for role, (username, password) in DEMO_STAFF.items():
            secret = base64.b32encode(bytes.fromhex(demo_totp_key(username))).decode().rstrip("=")
            self.stdout.write(
                f"  {ROLE_GROUPS[role]:<16} {username} / {password}  TOTP secret {secret} "
                f"(code now: {demo_totp_now(username)}; `manage.py demo_totp {username}` prints the current one)"
            )
