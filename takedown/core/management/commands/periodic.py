"""The embedded default's beat: runs the Celery beat schedule in-process, for `./run` without a broker."""

import logging
import time
from datetime import datetime
from typing import Any

from celery.schedules import BaseSchedule, maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django.utils import timezone

from takedown.celery import app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the periodic tasks of CELERY_BEAT_SCHEDULE in this process (no broker needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every entry once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        entries: dict[str, tuple[str, BaseSchedule]] = {}
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            schedule = maybe_schedule(entry["schedule"])  # type: ignore[arg-type]
            assert isinstance(schedule, BaseSchedule)
            entries[name] = (str(entry["task"]), schedule)
        app.loader.import_default_modules()
        last_run: dict[str, datetime] = {}
        self.stdout.write(f"periodic: {len(entries)} entries: {', '.join(sorted(entries))}")
        while True:
            next_wake = 30.0
            for name, (task_name, schedule) in entries.items():
                previous = last_run.get(name)
                due, next_in = (True, 0.0) if previous is None else schedule.is_due(previous)
                if due:
                    last_run[name] = timezone.now()
                    close_old_connections()
                    try:
                        app.tasks[task_name].apply(throw=True)
                    except Exception:
                        logger.exception("periodic task %s failed", task_name)
                    next_in = schedule.remaining_estimate(last_run[name]).total_seconds()
                next_wake = min(next_wake, max(1.0, float(next_in)))
            if options["once"]:
                return
            time.sleep(next_wake)
