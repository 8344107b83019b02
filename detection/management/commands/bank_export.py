"""`python manage.py bank_export FILE [--format csv|stopncii] [--signal-type pdq ...]`

Streams every entry (id order) to the file or standard output with a progress bar on the console; what it
writes, bank_import reads back.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from detection.bank import bank_entries_iter
from detection.bankio import CSV_FIELDS, SIGNAL_TO_STOPNCII, VPDQ_CSV_FIELDS, stopncii_record, vpdq_csv_cell
from detection.models import BankEntry, SignalType
from detection.vpdqbank import bank_vpdq_features


class Command(BaseCommand):
    help = "Export the bank as CSV or StopNCII records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path, or - for standard output")
        parser.add_argument("--format", choices=("csv", "stopncii"), default=None)
        parser.add_argument("--signal-type", action="append", choices=SignalType.values, dest="signal_types")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        fmt = options["format"] or ("csv" if path.lower().endswith(".csv") else "stopncii")
        types = options["signal_types"]
        if fmt == "stopncii":
            types = [t for t in (types or SIGNAL_TO_STOPNCII) if t in SIGNAL_TO_STOPNCII]
        total = BankEntry.objects.filter(signal_type__in=types).count() if types else BankEntry.objects.count()
        out = sys.stdout if path == "-" else open(path, "w", encoding="utf-8", newline="")
        written = 0
        with tqdm(total=total, unit=" rows", desc="exporting", file=sys.stderr, disable=None) as progress:
            try:
                if fmt == "csv":
                    writer = csv.writer(out)
                    videos = BankEntry.objects.filter(signal_type=SignalType.VPDQ)
                    with_vpdq = (types is None or SignalType.VPDQ in types) and videos.exists()
                    writer.writerow(VPDQ_CSV_FIELDS if with_vpdq else CSV_FIELDS)
                    for entry in bank_entries_iter(signal_types=types):
                        row: tuple[object, ...] = (entry.signal_type, entry.value, entry.status,
                                                   "" if entry.quality is None else entry.quality)
                        if with_vpdq:
                            # A withdrawn or deleted video has no frames left: its row carries the key alone.
                            frames = bank_vpdq_features(entry_ids=[entry.id]).get(entry.id) \
                                if entry.signal_type == SignalType.VPDQ else None
                            row = (*row, vpdq_csv_cell(frames) if frames else "")
                        writer.writerow(row)
                        written += 1
                        progress.update(1)
                else:
                    out.write(f'{{"count": {total}, "hashRecords": [\n')
                    for entry in bank_entries_iter(signal_types=types):
                        record = stopncii_record(signal_type=entry.signal_type, value=entry.value,
                                                 status=entry.status, updated_at=entry.updated_at)
                        out.write(("," if written else "") + json.dumps(record) + "\n")
                        written += 1
                        progress.update(1)
                    out.write("]}\n")
            finally:
                if out is not sys.stdout:
                    out.close()
        self.stderr.write(f"exported {written} entries")
