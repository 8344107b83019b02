"""`python manage.py bank_import FILE [--format csv|stopncii] [--source NAME] [--status Active]`

Streams the file in batches with a progress bar on the console; a bad row prints one error line (line number
and reason) and the good rows around it are kept. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from detection.bank import bank_import_batch
from detection.bankio import ImportProblem, csv_read, stopncii_read
from detection.models import BankEntry, EntryStatus, SourceKind
from detection.vpdqbank import bank_vpdq_add

BATCH = 2000


class Command(BaseCommand):
    help = "Import hashes into the bank from CSV or StopNCII records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path, or - for standard input")
        parser.add_argument("--format", choices=("csv", "stopncii"), default=None,
                            help="default: from the file name (.csv, else StopNCII JSON)")
        parser.add_argument("--source", default=None, help="a name for this import (default: the file name)")
        parser.add_argument("--status", choices=EntryStatus.values, default=EntryStatus.ACTIVE,
                            help="status of new entries whose row names none (default Active)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        fmt = options["format"] or ("csv" if path.lower().endswith(".csv") else "stopncii")
        source = (options["source"] or Path(path).name or "stdin")[:64]
        try:
            handle = sys.stdin if path == "-" else open(path, encoding="utf-8", newline="")
        except OSError as exc:
            raise CommandError(f"cannot open {path}: {exc.strerror}") from None
        created = existing = problems = 0
        batch: list[tuple[str, str, str | None, int | None]] = []
        reader = csv_read(handle) if fmt == "csv" else stopncii_read(handle)
        with handle, tqdm(unit=" rows", desc="importing", file=sys.stderr, disable=None) as progress:
            try:
                for item in reader:
                    progress.update(1)
                    if isinstance(item, ImportProblem):
                        problems += 1
                        self.stderr.write(f"line {item.line}: {item.reason}")
                        continue
                    if item.features:  # a video's vPDQ: its frames go with it, one at a time
                        before = BankEntry.objects.filter(signal_type="vpdq", value=item.value).exists()
                        bank_vpdq_add(features=item.features, source_kind=SourceKind.IMPORT, source_id=source,
                                      status=item.status or options["status"])
                        existing, created = existing + before, created + (not before)
                        continue
                    batch.append((item.signal_type, item.value, item.status, item.quality))
                    if len(batch) >= BATCH:
                        new, old = bank_import_batch(rows=batch, source_id=source,
                                                     default_status=options["status"])
                        created, existing, batch = created + new, existing + old, []
            except UnicodeDecodeError:
                problems += 1
                self.stderr.write("the file is not UTF-8 text: stopped reading there (rows before it kept)")
            if batch:
                new, old = bank_import_batch(rows=batch, source_id=source, default_status=options["status"])
                created, existing = created + new, existing + old
        if created and connection.vendor == "postgresql":
            # Fresh planner statistics after a bulk load, so each process's refresh query keeps its index plan.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {BankEntry._meta.db_table}")
        self.stdout.write(f"imported {created} new, {existing} already in the bank, {problems} rejected")
        if problems:
            raise SystemExit(1)
