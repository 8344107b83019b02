"""Delete closed cases past their retention window and orphaned evidence files (also run daily by beat)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedown.cases.services import retention_purge, retention_windows


class Command(BaseCommand):
    help = ("Purge withdrawn cases after RETENTION_WITHDRAWN_DAYS, rejected ones after RETENTION_REJECTED_DAYS, and "
            "evidence files no row names after RETENTION_ORPHAN_HOURS.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what is due, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        windows = retention_windows()
        report = retention_purge(dry_run=options["dry_run"])
        verb = "due" if options["dry_run"] else "purged"
        self.stdout.write(
            f"retention windows: withdrawn {windows['withdrawn_days']} d, rejected {windows['rejected_days']} d, "
            f"orphan files {windows['orphan_hours']} h")
        self.stdout.write(f"cases {verb}: {report.cases_withdrawn} withdrawn, {report.cases_rejected} rejected; "
                          f"evidence files deleted: {report.files_deleted}; orphan files deleted: "
                          f"{report.orphan_files_deleted}")
