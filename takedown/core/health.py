"""`GET /healthz`: database, broker and storage state as JSON (200 when all are usable, else 503).

Other parts add informational checks (the detector says whether it is on) with `health_register`; those
never turn the answer into a 503 unless they say they are required.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection


@dataclass
class CheckResult:
    ok: bool
    info: dict[str, Any] = field(default_factory=dict)
    required: bool = True


_extra_checks: dict[str, Callable[[], CheckResult]] = {}


def health_register(name: str, check: Callable[[], CheckResult]) -> None:
    _extra_checks[name] = check


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult(False, {"error": type(exc).__name__})
    return CheckResult(True, {"vendor": connection.vendor})


def check_broker() -> CheckResult:
    from takedown.celery import app

    if app.conf.task_always_eager:
        return CheckResult(True, {"mode": "in-process"})
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return CheckResult(False, {"mode": "broker", "error": type(exc).__name__})
    last_seen = cache.get("worker:heartbeat")
    return CheckResult(True, {"mode": "broker", "worker_heartbeat": last_seen})


def check_storage() -> CheckResult:
    root = settings.STORAGE_ROOT
    probe = root / f".health-{uuid.uuid4().hex}"
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe.write_bytes(b"ok")
        ok = probe.read_bytes() == b"ok"
        probe.unlink()
    except OSError as exc:
        return CheckResult(False, {"error": type(exc).__name__})
    stat = os.statvfs(root)
    return CheckResult(ok, {"free_bytes": stat.f_bavail * stat.f_frsize})


def health_report() -> tuple[bool, dict[str, Any]]:
    checks: dict[str, CheckResult] = {
        "database": check_database(),
        "broker": check_broker(),
        "storage": check_storage(),
    }
    for name, check in _extra_checks.items():
        try:
            checks[name] = check()
        except Exception as exc:
            # A check that cannot even run (its database table unreachable, say) cannot vouch for anything.
            checks[name] = CheckResult(False, {"error": type(exc).__name__}, required=False)
    healthy = all(result.ok for result in checks.values() if result.required)
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {name: {"ok": r.ok, **r.info} for name, r in checks.items()},
    }
    return healthy, body
