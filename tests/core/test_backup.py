"""Backup and restore end to end, as an operator runs them: separate processes, a fresh database to restore into."""

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

SEED = """
import uuid
from django.db import transaction
from takedown.cases.models import Case
from takedown.core.audit import Actor, audit_record
from takedown.core.evidence import evidence_put
with transaction.atomic():
    case = Case.objects.create(reference="TEST-" + uuid.uuid4().hex[:8], secret_hash="x", pseudonym="Doe",
                               contact="signal: +1 555 0100")
    for i in range(5):
        audit_record(actor=Actor.system(), action="case.view", case_id=case.id, detail={"i": i})
name = evidence_put(b"EVIDENCE-BYTES")
print("SEED", case.id, name)
"""

CHECK = """
from takedown.cases.models import Case
from takedown.core.evidence import evidence_get
case_id, name = CASE_ID, NAME
assert Case.objects.get(id=case_id).contact == "signal: +1 555 0100"
assert evidence_get(name) == b"EVIDENCE-BYTES"
print("RESTORED-OK")
"""


def _database_url(name: str, tmp: Path) -> str:
    if not POSTGRES:
        return f"sqlite:///{tmp / (name + '.sqlite3')}"
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


def _psql(sql: str) -> None:
    db = settings.DATABASES["default"]
    subprocess.run(["psql", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-d", "postgres", "-c", sql],
                   check=True, capture_output=True)


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.mark.integration
def test_backup_restores_into_an_empty_database_with_audit_chain_and_evidence(tmp_path: Path) -> None:
    names = [f"takedown_bk_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    if POSTGRES:
        for name in names:
            _psql(f"CREATE DATABASE {name}")
    key = base64.b64encode(os.urandom(32)).decode()
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    base.update({"DJANGO_SETTINGS_MODULE": "tests.settings", "EVIDENCE_KEYS": key, "VAR_DIR": str(tmp_path)})
    source = {**base, "DATABASE_URL": _database_url(names[0], tmp_path), "STORAGE_ROOT": str(tmp_path / "s1")}
    target = {**base, "DATABASE_URL": _database_url(names[1], tmp_path), "STORAGE_ROOT": str(tmp_path / "s2")}
    try:
        assert _manage(source, "migrate", "-v0").returncode == 0
        seeded = _manage(source, "shell", "-c", SEED)
        assert seeded.returncode == 0, seeded.stderr
        case_id, evidence_name = seeded.stdout.split("SEED")[1].split()
        made = _manage(source, "backup_create", "--out", str(tmp_path / "backup"))
        assert made.returncode == 0, made.stderr
        # Nothing in the backup is readable without the key.
        for path in (tmp_path / "backup").iterdir():
            assert b"EVIDENCE-BYTES" not in path.read_bytes()
            assert b"555 0100" not in path.read_bytes()

        refused = _manage(target, "backup_restore", str(tmp_path / "backup"))
        assert refused.returncode != 0 and "--yes" in refused.stderr
        restored = _manage(target, "backup_restore", str(tmp_path / "backup"), "--yes")
        assert restored.returncode == 0, restored.stderr
        assert "audit chain intact over 5 rows" in restored.stdout
        assert _manage(target, "audit_verify").returncode == 0
        verify = _manage(target, "shell", "-c", CHECK.replace("case_id, name = CASE_ID, NAME",
                                                              f"case_id, name = {case_id!r}, {evidence_name!r}"))
        assert "RESTORED-OK" in verify.stdout, verify.stderr

        # A damaged backup is refused before anything is replaced.
        dump = next(p for p in (tmp_path / "backup").iterdir() if p.name.startswith("database"))
        dump.write_bytes(dump.read_bytes()[:-10] + b"0123456789")
        damaged = _manage(target, "backup_restore", str(tmp_path / "backup"), "--yes")
        assert damaged.returncode != 0 and "checksum" in damaged.stderr
    finally:
        if POSTGRES:
            for name in names:
                _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
