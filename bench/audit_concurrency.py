"""Moderation decisions/s and audit writes/s with N concurrent workers, on PostgreSQL.

Run (your own database and Redis db; the script migrates it and only ever adds rows):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/takedown_NAME CELERY_BROKER_URL=redis://127.0.0.1:6379/K \\
        nice .venv/bin/python bench/audit_concurrency.py --workers 1,2,4,8 --decisions 40 --writes 200

Two workloads, each with N worker processes (one database connection each) released together:
- decisions: each worker confirms --decisions cases of its own (moderation_decide: the decision, the case's
  status, the person's message, the remedy requests for 3 URLs on 3 hosts, and their audit events, in one
  transaction; the outbox rows are published to the broker after commit and nobody consumes them);
- audit writes: each worker records --writes "case.view" events (audit_record alone, in its own transaction)
  on a case of its own, as the staff consoles do for every read.
Rate = all operations / (last worker's end - first worker's start). Unrelated cases only: the point is whether
work on one case waits for work on another. Prints the load average before and after (the cores are shared).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path

import django

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# The project's own settings (not the suite's, which runs every task in-process): with CELERY_BROKER_URL set,
# tasks are published to the broker after commit, as in production, and no worker here consumes them.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")


def _setup() -> None:
    django.setup()


def _prepare(workers: int, decisions: int, run_tag: str) -> list[tuple[int, list[str], str]]:
    """Per worker: a moderator id, the review items it holds, and a case id for the audit-write workload."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from takedown.cases.models import Case, CaseStatus, CaseURL
    from takedown.core.roles import roles_ensure
    from takedown.moderation.models import ItemKind
    from takedown.moderation.services import moderation_claim, moderation_item_open
    from takedown.remedies.models import Host

    groups = roles_ensure()
    for index in range(3):
        domain = f"bench-host{index}.example"
        Host.objects.get_or_create(domain=domain, defaults={
            "name": f"Bench host {index}", "jurisdiction": "US", "abuse_email": f"abuse@{domain}",
            "contact_source": Host.ContactSource.DIRECTORY})
    secret_hash = make_password("tds_bench-not-a-secret")
    plan = []
    for worker in range(workers):
        user = User.objects.create_user(username=f"bench-{run_tag}-{worker}", password=None)
        user.groups.set([groups["moderator"]])
        items = []
        cases = []
        for number in range(decisions + 1):
            case = Case.objects.create(
                reference=f"BENCH-{run_tag}-{worker}-{number}".upper(), secret_hash=secret_hash,
                pseudonym=f"Jane Doe {number}", content_kind="deepfake", status=CaseStatus.SUBMITTED,
                description="bench", signature="bench", contact="", good_faith_at=timezone.now(),
            )
            for index in range(3):
                CaseURL.objects.create(case=case, url=f"https://bench-host{index}.example/{case.id}",
                                       host=f"bench-host{index}.example")
            cases.append(case)
        for case in cases[:decisions]:
            item = moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)
            moderation_claim(item_id=item.id, user=user)
            items.append(str(item.id))
        plan.append((user.pk, items, str(cases[-1].id)))
    return plan


def _worker(kind: str, user_id: int, items: list[str], case_id: str, writes: int, start: object,
            results: object) -> None:
    _setup()
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from takedown.core.audit import Actor, audit_record
    from takedown.moderation.services import moderation_decide

    user = User.objects.get(pk=user_id)
    connection.ensure_connection()
    start.wait()  # type: ignore[attr-defined]
    began = time.perf_counter()
    if kind == "decisions":
        for item_id in items:
            moderation_decide(item_id=uuid.UUID(item_id), user=user, decision="confirm")
        done = len(items)
    else:
        actor = Actor.for_user(user)
        for step in range(writes):
            with transaction.atomic():
                audit_record(actor=actor, action="case.view", case_id=uuid.UUID(case_id), object_type="case",
                             object_id=case_id, detail={"step": step})
        done = writes
    results.put((began, time.perf_counter(), done))  # type: ignore[attr-defined]


def _run(kind: str, plan: list[tuple[int, list[str], str]], writes: int) -> tuple[float, int, float]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(plan))
    results = context.Queue()
    processes = [context.Process(target=_worker, args=(kind, user_id, items, case_id, writes, start, results))
                 for user_id, items, case_id in plan]
    for process in processes:
        process.start()
    rows = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a worker failed (exit {process.exitcode})")
    first = min(r[0] for r in rows)
    last = max(r[1] for r in rows)
    total = sum(r[2] for r in rows)
    return total / (last - first), total, last - first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--decisions", type=int, default=40, help="cases each worker confirms")
    parser.add_argument("--writes", type=int, default=200, help="audit events each worker records")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to your own PostgreSQL database")
    if not os.environ.get("CELERY_BROKER_URL"):
        raise SystemExit("set CELERY_BROKER_URL to your own Redis db (tasks are published there, never run)")
    _setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit}; PostgreSQL {connection.pg_version}; {os.cpu_count()} CPUs")  # type: ignore[attr-defined]
    print(f"load average before: {os.getloadavg()}")
    counts = [int(n) for n in args.workers.split(",")]
    for workers in counts:
        tag = uuid.uuid4().hex[:8]
        plan = _prepare(workers, args.decisions, tag)
        connection.close()
        rate, total, seconds = _run("decisions", plan, args.writes)
        print(f"decisions    workers={workers:2d}  {total:5d} in {seconds:6.2f} s  {rate:8.1f} decisions/s")
        rate, total, seconds = _run("writes", plan, args.writes)
        print(f"audit writes workers={workers:2d}  {total:5d} in {seconds:6.2f} s  {rate:8.1f} writes/s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
