"""A real Celery worker process, against the Redis broker, runs a task published through the outbox."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from takedown.celery import app
from takedown.core.models import OutboxMessage
from takedown.core.outbox import outbox_enqueue

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
        reason="needs CELERY_BROKER_URL pointing at Redis (CI sets it)",
    ),
]


@pytest.fixture
def worker(tmp_path: Path):
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["CACHE_KEY_PREFIX"] = settings.CACHES["default"].get("KEY_PREFIX", "")
    env["VAR_DIR"] = str(settings.VAR_DIR)
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    queue = f"test-{os.getpid()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "takedown",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.django_db(transaction=True)
def test_worker_process_completes_a_task_from_the_outbox(worker: str) -> None:
    cache.delete("worker:heartbeat")
    app.conf.task_always_eager = False
    try:
        with transaction.atomic():
            message = outbox_enqueue(task="core.worker_heartbeat", queue=worker)
        assert OutboxMessage.objects.get(id=message.id).dispatched_at is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not cache.get("worker:heartbeat"):
            time.sleep(0.25)
    finally:
        app.conf.task_always_eager = True
    assert cache.get("worker:heartbeat"), "the worker did not run the task within 60 s"
    # The worker process reported itself at start: its queue, and that it does not serve the detector queue.
    from takedown.core.models import WorkerHeartbeat

    rows = [row for row in WorkerHeartbeat.objects.all() if worker in row.queues]
    assert len(rows) == 1 and rows[0].detector["state"] == "not served", rows
