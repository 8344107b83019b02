"""`python manage.py hash_image PATH [PATH ...] [--json]`: every hash of each file, one line per file.

With --json each line is `{"path", "pdq", "pdq_quality", "pdq_dihedral", "phash", "dhash", "sha256", "md5"}`
or `{"path", "error"}`; the exit status is 1 if any file failed. Never a traceback for a bad file.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from detection.hashing import ImageRejected, hash_files


class Command(BaseCommand):
    help = "Hash image files: PDQ (+ quality, 8 dihedral variants), pHash, dHash, SHA-256, MD5."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = 0
        for path, result in hash_files(options["paths"]):
            if isinstance(result, ImageRejected):
                failed += 1
                if options["json"]:
                    self.stdout.write(json.dumps({"path": path, "error": result.message}))
                else:
                    self.stderr.write(f"{path}: {result.message}")
                continue
            record = {"path": path, **result.as_dict()}
            if options["json"]:
                self.stdout.write(json.dumps(record))
            else:
                self.stdout.write(f"{path}\n  pdq {result.pdq} (quality {result.pdq_quality})\n"
                                  f"  phash {result.phash}  dhash {result.dhash}\n"
                                  f"  sha256 {result.sha256}\n  md5 {result.md5}")
        if failed:
            raise SystemExit(1)
