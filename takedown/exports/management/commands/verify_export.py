"""`python manage.py verify_export FILE`: exit 0 when every check passes, 1 naming the first that fails.

Needs no database and no network: the same checks as VERIFY.md's standard-tool commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedown.exports.verify import export_verify


class Command(BaseCommand):
    help = "Verify a court export ZIP offline (manifest, signature, time-stamp, file set, digests, audit chain)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--pubkey", type=Path, help="the operator's published signing key (PEM) to pin")
        parser.add_argument("--fingerprint", default="",
                            help="the operator's published signing-key fingerprint (SHA-256 hex) to pin, as shown "
                                 "at /.well-known/takedown-export-keys and on the transparency page")
        parser.add_argument("--trust-embedded", action="store_true",
                            help="trust the key shipped inside the file (checks integrity only, not who made it)")
        parser.add_argument("--tsa-ca", type=Path, help="the TSA CA file to pin instead of the bundled one")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
            key = options["pubkey"].read_bytes() if options["pubkey"] else None
            ca = options["tsa_ca"].read_bytes() if options["tsa_ca"] else None
        except OSError as exc:
            self.stderr.write(f"FAILED: cannot read {exc.filename}")
            sys.exit(1)
        source = (f"--pubkey {options['pubkey']}" if key is not None
                  else "--fingerprint" if options["fingerprint"] else "")
        report = export_verify(data, trusted_key_pem=key, trusted_fingerprint=options["fingerprint"],
                               trusted_ca_pem=ca, trust_embedded=options["trust_embedded"], anchor_source=source)
        for check in report.checks:
            self.stdout.write(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        failure = report.first_failure
        if failure is not None or not report.ok:
            name = failure.name if failure else "checks"
            detail = failure.detail if failure else "nothing was checked"
            self.stderr.write(f"FAILED: {name}: {detail}")
            sys.exit(1)
        self.stdout.write(f"OK: {path.name} verifies ({len(report.checks)} checks); trust anchor: {report.anchor}")
