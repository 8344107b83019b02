from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from takedown.cases.models import Case, CaseStatus
from takedown.cases.services import case_images_analysis_schedule


class Command(BaseCommand):
    help = (
        "Queue detector and provenance analysis (the gpu queue) for stored case images that have no verdict from "
        "the configured detector: run it after configuring or changing DETECTOR_WEIGHTS. Withdrawn cases are "
        "skipped; --force re-analyses images whose verdict is current too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--case", action="append", default=[], metavar="REFERENCE",
                            help="only this case (repeatable); default: every case that is not withdrawn")
        parser.add_argument("--force", action="store_true", help="also images whose verdict is current")

    def handle(self, *args: Any, **options: Any) -> None:
        cases = Case.objects.exclude(status=CaseStatus.WITHDRAWN)
        if options["case"]:
            cases = cases.filter(reference__in=options["case"])
            missing = set(options["case"]) - set(cases.values_list("reference", flat=True))
            if missing:
                raise CommandError(f"no open case with reference {', '.join(sorted(missing))}")
        queued = 0
        case_ids = list(cases.order_by("created_at").values_list("id", flat=True))
        # One transaction per slice of cases: the outbox sends each slice's tasks when it commits.
        for start in range(0, len(case_ids), 200):
            with transaction.atomic():
                queued += case_images_analysis_schedule(case_ids=case_ids[start : start + 200], force=options["force"])
        self.stdout.write(f"queued {queued} images of {len(case_ids)} cases for analysis")
