"""Generate the operator's export keys: `python manage.py export_keys_generate --out DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.exports.keys import export_keys_generate


class Command(BaseCommand):
    help = (
        "Write a new Ed25519 export signing key and a local time-stamping authority (CA and TSA certificate) into "
        "DIR, private files mode 0600, and print the settings that load them. Keep DIR out of version control."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="directory to write the key files into")
        parser.add_argument("--operator", default="Takedown operator", help="name in the certificates")
        parser.add_argument("--force", action="store_true", help="replace existing key files")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            generated = export_keys_generate(out=options["out"], operator=options["operator"],
                                             force=options["force"])
        except FileExistsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote export keys to {generated.directory.resolve()}")
        self.stdout.write("Set these (environment or .env):")
        for line in generated.settings_lines():
            self.stdout.write(f"  {line}")
        self.stdout.write(f"Publish the signing key fingerprint: {generated.signing_fingerprint}")
        self.stdout.write(f"Local TSA CA certificate fingerprint: {generated.tsa_ca_fingerprint}")
        self.stdout.write("tsa-ca.key.pem issues TSA certificates only: move it offline.")
