"""Settings of the processes the fault tests start (web, worker, relay): production's, plus the test-only pause
points of tests.reliability.faultapp, a 1-second relay and short waits so that recovery fits in a test."""

import os

os.environ.setdefault("TAKEDOWN_TESTING", "true")

from takedown.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.reliability.faultapp"]  # noqa: F405
# The relay process publishes to the broker like production; only the waits are shorter.
OUTBOX_EAGER_SYNC = False
OUTBOX_RELAY_GRACE_SECONDS = 1
OUTBOX_REDELIVER_SECONDS = int(os.environ.get("FAULT_REDELIVER_SECONDS", "3"))
CELERY_BEAT_SCHEDULE = {"outbox-relay": {"task": "core.outbox_relay", "schedule": 1.0}}
PARTNER_WEBHOOK_BACKOFF_SECONDS = 1
PARTNER_WEBHOOK_TIMEOUT_SECONDS = 30
# Removal requests go to abuse@<domain> as files the test counts (one file per message sent).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(os.environ.get("FAULT_DIR", VAR_DIR), "mail")  # noqa: F405
# INFO, so that the log check at the end of test_faults.py sees as much as production writes.
LOGGING["root"]["level"] = "INFO"  # type: ignore[index]  # noqa: F405
