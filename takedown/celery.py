"""The Celery application. Tasks are thin: they take ids and call one service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")

app = Celery("takedown")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

