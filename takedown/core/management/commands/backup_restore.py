from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.audit import audit_chain_verify
from takedown.core.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup made by backup_create (replaces the database and evidence), then verify the audit log."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--yes", action="store_true", help="confirm that current data is to be replaced")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            raise CommandError("restoring replaces the current database and evidence: add --yes to confirm")
        try:
            backup_restore(directory=options["directory"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(f"restored, but the audit chain is broken at row {report.first_bad_id}")
        self.stdout.write(f"restored; audit chain intact over {report.rows} rows")
