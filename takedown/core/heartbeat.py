"""Worker heartbeats: each worker process says, every WORKER_HEARTBEAT_SECONDS, that it is alive, which queues it
consumes and what its detector really is (loaded on which device and precision, at which threshold and
calibration, or off and why). `/healthz` judges liveness and shows the detector from these reports.

Started in every worker process (`worker_process_init`: each prefork child and the solo pool's process), on a
daemon thread, so a worker busy with a long task still reports. The process that serves DETECTOR_QUEUE loads its
detector before its first report: a configuration that cannot work shows as "off" with the reason at once, not
at the first reported image.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from takedown.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)
# Rows of processes gone this long are deleted when another process reports (restarts leave one row each).
FORGET_AFTER = timedelta(days=1)


def heartbeat_detector(queues: list[str]) -> dict[str, Any]:
    """The detector as this process has it, or a note that this process does not run analyses."""
    if settings.DETECTOR_QUEUE not in queues:
        return {"state": "not served", "reason": f"this worker does not consume queue {settings.DETECTOR_QUEUE!r}"}
    from detection.services import detector_report

    return detector_report()


def worker_heartbeat_record(*, worker: str, queues: list[str], detector: dict[str, Any], started_at: datetime) -> None:
    """Store one process's report (one row per process, overwritten), and forget processes long gone."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker=worker,
        defaults={"queues": sorted(queues), "detector": detector, "started_at": started_at, "reported_at": now},
    )
    WorkerHeartbeat.objects.filter(reported_at__lt=now - FORGET_AFTER).delete()


def heartbeat_report_once(*, hostname: str, queues: list[str], started_at: datetime) -> None:
    try:
        worker_heartbeat_record(
            worker=f"{hostname}/{os.getpid()}", queues=queues, detector=heartbeat_detector(queues),
            started_at=started_at,
        )
    except DatabaseError:
        # The database is down: /healthz says so itself, and this worker's report goes stale, which is the truth.
        logger.warning("worker heartbeat not recorded: database unavailable")


def heartbeat_start(*, hostname: str, queues: list[str]) -> threading.Thread:
    """Report now, then every WORKER_HEARTBEAT_SECONDS on a daemon thread, for as long as the process lives."""
    started_at = timezone.now()
    heartbeat_report_once(hostname=hostname, queues=queues, started_at=started_at)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            # This thread's own connection: drop it if the database restarted since the last report.
            close_old_connections()
            heartbeat_report_once(hostname=hostname, queues=queues, started_at=started_at)

    thread = threading.Thread(target=loop, name="worker-heartbeat", daemon=True)
    thread.start()
    return thread


def heartbeats_live() -> tuple[list[WorkerHeartbeat], list[WorkerHeartbeat]]:
    """(live, stale) worker reports, newest first."""
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    rows = list(WorkerHeartbeat.objects.order_by("-reported_at")[:200])
    return [r for r in rows if r.reported_at >= cutoff], [r for r in rows if r.reported_at < cutoff]


def _in_process() -> bool:
    from takedown.celery import app

    return bool(app.conf.task_always_eager)


def workers_health() -> tuple[bool, dict[str, Any]]:
    """(ok, info): is a live worker consuming the default queue? In-process mode: this process is the worker."""
    if _in_process():
        return True, {"mode": "in-process", "note": "tasks run in this process; there are no separate workers"}
    live, stale = heartbeats_live()
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    served = {queue for row in live for queue in row.queues}
    missing = sorted({default, settings.DETECTOR_QUEUE} - served)
    info: dict[str, Any] = {
        "mode": "broker",
        "live": [{"worker": r.worker, "queues": r.queues, "reported_at": r.reported_at.isoformat()} for r in live],
        "stale": len(stale),
        "queues_without_live_worker": missing,
        "stale_after_seconds": settings.WORKER_HEARTBEAT_STALE_SECONDS,
    }
    ok = default in served
    if not ok:
        info["reason"] = (
            f"no live worker consumes queue {default!r}: no heartbeat in the last "
            f"{settings.WORKER_HEARTBEAT_STALE_SECONDS} s, so queued work (removal requests, hashing) waits"
        )
    return ok, info


def detector_health() -> tuple[bool, dict[str, Any]]:
    """(ok, info): the detector as the process that runs analyses reported it, and when.

    ok is true when it is on, or off only because no weights are configured (a deliberate choice); false when it is
    off for any other reason, or when no live worker serves the detector queue (then its state is unknown).
    """
    from detection.services import detector_report, detector_weights_check

    _, weights = detector_weights_check()
    if _in_process():
        report = detector_report()
        info = {**report, "reported_at": timezone.now().isoformat(), "reported_by": "this process (in-process tasks)"}
    else:
        live, stale = heartbeats_live()
        serving = [r for r in live if settings.DETECTOR_QUEUE in r.queues]
        if not serving:
            last = max((r.reported_at for r in stale if settings.DETECTOR_QUEUE in r.queues), default=None)
            return False, {
                "state": "unknown",
                "reason": f"no live worker consumes queue {settings.DETECTOR_QUEUE!r}, so no analysis runs and "
                "nothing reports the detector's state",
                "last_report_at": last.isoformat() if last else None,
                **weights,
            }
        newest = serving[0]
        info = {**newest.detector, "reported_at": newest.reported_at.isoformat(), "reported_by": newest.worker}
        if len(serving) > 1:
            info["workers"] = [
                {"worker": r.worker, "reported_at": r.reported_at.isoformat(), "state": r.detector.get("state"),
                 "reason": r.detector.get("reason", "")}
                for r in serving
            ]
            if any(r.detector.get("state") != "on" for r in serving):
                info["state"] = "off"
                info["reason"] = "; ".join(
                    f"{r.worker}: {r.detector.get('reason', '')}" for r in serving if r.detector.get("state") != "on"
                )
    info.update(weights)
    off_by_choice = not settings.DETECTOR_WEIGHTS and info.get("state") == "off"
    return info.get("state") == "on" or off_by_choice, info
