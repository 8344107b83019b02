"""Backup and restore: the database (pg_dump, or SQLite's online backup) plus the encrypted evidence store.

The backup holds no key: evidence stays encrypted and restores only where EVIDENCE_KEYS is configured, so keys
must be backed up separately (a password manager or HSM), never beside the dump.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

DB_FILE_PG = "database.pgdump"
DB_FILE_SQLITE = "database.sqlite3"
EVIDENCE_FILE = "evidence.tar"
MANIFEST = "SHA256SUMS"


class BackupError(Exception):
    pass


def _pg_env() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = ["-h", str(db.get("HOST") or "localhost"), "-p", str(db.get("PORT") or 5432),
            "-U", str(db.get("USER") or "postgres")]
    return args, env


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class BackupResult:
    directory: Path
    files: dict[str, str]


def backup_create(*, out: Path) -> BackupResult:
    out.mkdir(parents=True, exist_ok=False, mode=0o700)
    db = settings.DATABASES["default"]
    if connection.vendor == "postgresql":
        args, env = _pg_env()
        target = out / DB_FILE_PG
        result = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", *args, "-f", str(target), str(db["NAME"])],
            env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()[:300]}")
    elif connection.vendor == "sqlite":
        source = sqlite3.connect(str(db["NAME"]))
        dest = sqlite3.connect(str(out / DB_FILE_SQLITE))
        with dest:
            source.backup(dest)
        source.close()
        dest.close()
    else:
        raise BackupError(f"no backup method for {connection.vendor}")
    evidence_root = Path(settings.STORAGE_ROOT) / "evidence"
    with tarfile.open(out / EVIDENCE_FILE, "w") as tar:
        if evidence_root.exists():
            tar.add(evidence_root, arcname="evidence")
    files = {p.name: _sha256(p) for p in sorted(out.iterdir()) if p.is_file()}
    (out / MANIFEST).write_text("".join(f"{digest}  {name}\n" for name, digest in files.items()))
    (out / "backup.json").write_text(json.dumps({"created": timezone.now().isoformat(), "vendor": connection.vendor}))
    return BackupResult(out, files)


def _check_manifest(directory: Path) -> None:
    manifest = directory / MANIFEST
    if not manifest.exists():
        raise BackupError(f"{manifest} is missing")
    for line in manifest.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if _sha256(directory / name) != digest:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")


def backup_restore(*, directory: Path) -> None:
    """Replace the database and the evidence store with the backup's (after checking its checksums)."""
    _check_manifest(directory)
    db = settings.DATABASES["default"]
    connections.close_all()
    if (directory / DB_FILE_PG).exists():
        if connection.vendor != "postgresql":
            raise BackupError("this backup is of PostgreSQL; DATABASE_URL must point at PostgreSQL")
        args, env = _pg_env()
        result = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             *args, "-d", str(db["NAME"]), str(directory / DB_FILE_PG)],
            env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()[:300]}")
    elif (directory / DB_FILE_SQLITE).exists():
        shutil.copyfile(directory / DB_FILE_SQLITE, str(db["NAME"]))
    else:
        raise BackupError("the backup holds no database")
    storage = Path(settings.STORAGE_ROOT)
    evidence_root = storage / "evidence"
    if evidence_root.exists():
        shutil.rmtree(evidence_root)
    storage.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tarfile.open(directory / EVIDENCE_FILE) as tar:
        tar.extractall(storage, filter="data")
