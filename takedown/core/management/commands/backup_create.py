from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the encrypted evidence store into a new directory (keys are not included)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="a directory that does not exist yet")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(out=options["out"])
        except (BackupError, FileExistsError) as exc:
            raise CommandError(str(exc)) from exc
        for name in result.files:
            self.stdout.write(f"wrote {result.directory / name}")
