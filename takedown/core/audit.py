"""Writing and checking the hash-chained audit log.

Every service that reads or changes a case calls `audit_record` inside its own transaction, so the event and
the change commit together or not at all. Details must never hold a secret, an image or an image hash: the
keys below are refused outright, whatever the caller meant.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from takedown.core.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

GENESIS_HASH = "0" * 64
# Detail keys that would put something sensitive into an append-only table that can never be cleaned.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"secret", "password", "token", "api_key", "key", "image", "data", "pdq", "sha256", "md5", "phash", "dhash",
     "hash", "hashes", "contact", "signature", "name", "email"}
)
ACTOR_KINDS = frozenset({"victim", "moderator", "advocate", "admin", "partner", "system"})


@dataclass(frozen=True)
class Actor:
    """Who did something, by role and an opaque id: never a name."""

    kind: str
    id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}")

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def victim(cls) -> Actor:
        # The victim is known only as the holder of the case secret; the case id already names the case.
        return cls("victim")

    @classmethod
    def for_user(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        from takedown.core.roles import user_role

        role = user_role(user)
        if role is None:
            raise PermissionError("only staff users act as audited actors")
        return cls(role, str(user.pk))

    @classmethod
    def partner(cls, partner_id: object) -> Actor:
        return cls("partner", str(partner_id))


class AuditDetailError(ValueError):
    pass


def _check_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    for key in detail:
        if key.lower() in FORBIDDEN_DETAIL_KEYS:
            raise AuditDetailError(f"audit detail may not carry {key!r}")
    encoded = json.dumps(detail, sort_keys=True, default=str)
    if len(encoded) > 4000:
        raise AuditDetailError("audit detail is too large")
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded


def _row_digest(
    *,
    prev_hash: str,
    at: datetime,
    actor_kind: str,
    actor_id: str,
    action: str,
    case_id: uuid.UUID | None,
    object_type: str,
    object_id: str,
    detail: Mapping[str, Any],
) -> str:
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "at": at.isoformat(timespec="microseconds"),
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "action": action,
            "case_id": str(case_id) if case_id else "",
            "object_type": object_type,
            "object_id": object_id,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_chain() -> None:
    """Serialise appends so that each row's prev_hash is the hash of the row before it in id order."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(726172)")
    # SQLite takes its write lock at BEGIN IMMEDIATE (see settings), which serialises writers already.


def audit_record(
    *,
    actor: Actor,
    action: str,
    case_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: object = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    clean = _check_detail(detail or {})
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("row_hash", flat=True).first()
        prev_hash = last or GENESIS_HASH
        at = timezone.now()
        fields: dict[str, Any] = {
            "at": at,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "case_id": case_id,
            "object_type": object_type,
            "object_id": str(object_id),
            "detail": clean,
        }
        row_hash = _row_digest(prev_hash=prev_hash, **fields)
        return AuditEvent.objects.create(prev_hash=prev_hash, row_hash=row_hash, **fields)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    first_bad_id: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def _rows() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=2000)


def audit_chain_verify() -> ChainReport:
    prev_hash = GENESIS_HASH
    count = 0
    for row in _rows():
        count += 1
        if row.prev_hash != prev_hash:
            return ChainReport(count, row.id, "its prev_hash does not match the row before it (a row was removed)")
        expected = _row_digest(
            prev_hash=row.prev_hash,
            at=row.at,
            actor_kind=row.actor_kind,
            actor_id=row.actor_id,
            action=row.action,
            case_id=row.case_id,
            object_type=row.object_type,
            object_id=row.object_id,
            detail=row.detail,
        )
        if expected != row.row_hash:
            return ChainReport(count, row.id, "its contents do not match its hash (the row was changed)")
        prev_hash = row.row_hash
    return ChainReport(count, None, "")


def audit_events_for_case(case_id: uuid.UUID) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(case_id=case_id).order_by("id"))
