"""Append-only audit log and the transactional outbox."""

from __future__ import annotations

import uuid

from django.db import models


class AuditEvent(models.Model):
    """One access to or change of a case (or of anything staff can touch), chained by SHA-256.

    Rows are only ever inserted: the code has no path that updates or deletes them and, on PostgreSQL, a trigger
    refuses UPDATE and DELETE. `row_hash` covers the row's fields and the hash of the row before it in the same
    chain (one chain per case), so a changed, inserted or removed row breaks the chain that `manage.py
    audit_verify` walks, and a court export can show that it holds every row of its case.
    """

    at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64)
    # A plain UUID, not a foreign key: withdrawing a case must never cascade into its audit trail.
    case_id = models.UUIDField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # Which hash chain the row belongs to ("case:<uuid>" for a case's events, "actor:<kind>:<id>" otherwise) and
    # its place in it, from 1. Rows written before chains were per case have chain "" and seq 0: they form the
    # one global chain they were written in (takedown.core.audit verifies both).
    chain = models.CharField(max_length=120, blank=True, default="")
    seq = models.PositiveBigIntegerField(default=0)
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=("action", "at"))]
        constraints = [
            # Two writers can never both append position n to one chain, whatever happens to the locks.
            models.UniqueConstraint(fields=("chain", "seq"), condition=models.Q(seq__gt=0),
                                    name="core_auditevent_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_kind} {self.action}"


class OutboxMessage(models.Model):
    """A side effect (a Celery task) written in the same transaction as the change that causes it.

    After commit the row is published to the broker (or run in-process when there is none) and marked
    dispatched; a periodic relay publishes whatever a crash or a broker outage left behind. A task that ran to
    the end marks its row completed; one dispatched long ago and never completed (its worker was killed, Redis
    lost it on a restart, the database was down while it ran) is published again, with backoff, up to
    OUTBOX_MAX_ATTEMPTS. The row id is the Celery task id, and tasks are idempotent, so a second run is harmless.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    queue = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=("dispatched_at", "available_at")),
            # The relay's search for work that was dispatched and never finished.
            models.Index(fields=("completed_at", "dispatched_at"), name="core_outbox_unfinished"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.id}"


class WorkerHeartbeat(models.Model):
    """The latest report of one worker process: the queues it consumes and its detector's real state.

    Each Celery worker process writes its row every WORKER_HEARTBEAT_SECONDS (takedown.core.heartbeat);
    `/healthz` judges liveness from `reported_at` and shows the detector state the process that runs the
    analyses actually has (loaded or off, and why), not what the web process guesses from settings.
    Holds no case data.
    """

    worker = models.CharField(max_length=200, unique=True)  # "<celery hostname>/<pid>"
    queues = models.JSONField(default=list)
    detector = models.JSONField(default=dict)
    started_at = models.DateTimeField()
    reported_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.worker
