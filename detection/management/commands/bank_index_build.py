"""`python manage.py bank_index_build [--signal-type pdq ...]`: write this host's index snapshots now.

Processes also rebuild on their own when their delta grows or a snapshot ages (BANK_DELTA_MAX,
BANK_SNAPSHOT_MAX_AGE); run this at deploy so the first request finds a snapshot ready.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.bank import INDEX_CLASSES, bank_index_build


class Command(BaseCommand):
    help = "Build the hash bank's shared index snapshots under BANK_INDEX_DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--signal-type", action="append", choices=sorted(INDEX_CLASSES), dest="signal_types")

    def handle(self, *args: Any, **options: Any) -> None:
        for signal_type in options["signal_types"] or sorted(INDEX_CLASSES):
            try:
                result = bank_index_build(signal_type=signal_type)
            except RuntimeError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{signal_type}: {result.get('entries', '?')} entries, {result.get('hashes', '?')} "
                              f"hashes, {result.get('total_seconds', 0):.2f} s ({result['generation']})")
