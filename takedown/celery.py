"""The Celery application. Tasks are thin: they take ids and call one service."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")

app = Celery("takedown")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_to_work_without_secrets(**kwargs: object) -> None:
    from takedown.core.startup import startup_check

    startup_check()
