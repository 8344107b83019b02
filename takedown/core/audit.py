"""Writing and checking the hash-chained audit log.

Every service that reads or changes a case calls `audit_record` inside its own transaction, so the event and
the change commit together or not at all. Details must never hold a secret, an image or an image hash: the
keys below are refused outright, whatever the caller meant.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
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
    {
        "secret",
        "password",
        "token",
        "api_key",
        "key",
        "image",
        "data",
        "pdq",
        "sha256",
        "md5",
        "phash",
        "dhash",
        "hash",
        "hashes",
        "contact",
        "signature",
        "name",
        "email",
    }
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
    chain: str = "",
    seq: int = 0,
) -> str:
    body: dict[str, Any] = {
        "prev": prev_hash,
        "at": at.isoformat(timespec="microseconds"),
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "action": action,
        "case_id": str(case_id) if case_id else "",
        "object_type": object_type,
        "object_id": object_id,
        "detail": detail,
    }
    if seq:
        # Per-chain rows also cover their chain and position, so a row cannot be moved to another chain or
        # renumbered to hide a gap. Rows of the old global chain (seq 0) keep the digest they were written with.
        body["chain"] = chain
        body["seq"] = seq
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_key(*, case_id: uuid.UUID | str | None, actor_kind: str, actor_id: str) -> str:
    """The chain a row joins: its case's, or, for events about no case, its actor's."""
    if case_id:
        return f"case:{case_id}"
    return f"actor:{actor_kind}:{actor_id}"


def chain_lock(chain: str) -> None:
    """Serialise appends to one chain only: writers on other cases (or other actors) never wait for this one.

    A transaction-scoped advisory lock keyed by the chain's name (namespace 726172, the name's 32-bit hash); two
    chains whose names collide merely share a lock. The unique (chain, seq) constraint keeps the chain right
    even if they did not.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(726172, hashtext(%s))", [chain])
    # SQLite takes its write lock at BEGIN IMMEDIATE (see settings), which serialises writers already.


@dataclass(frozen=True)
class ChainHead:
    chain: str
    seq: int
    row_hash: str


def chain_head(chain: str) -> ChainHead:
    """The last row of a chain (seq 0 and the genesis hash when it has none). Lock the chain first to be sure."""
    last = (AuditEvent.objects.filter(chain=chain, seq__gt=0).order_by("-seq")
            .values_list("seq", "row_hash").first())
    if last is None:
        return ChainHead(chain, 0, GENESIS_HASH)
    return ChainHead(chain, last[0], last[1])


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
    chain = chain_key(case_id=case_id, actor_kind=actor.kind, actor_id=actor.id)
    with transaction.atomic():
        chain_lock(chain)
        head = chain_head(chain)
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
            "chain": chain,
            "seq": head.seq + 1,
        }
        row_hash = _row_digest(prev_hash=head.row_hash, **fields)
        return AuditEvent.objects.create(prev_hash=head.row_hash, row_hash=row_hash, **fields)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    first_bad_id: int | None
    reason: str
    chains: int = 0

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def _digest_of(row: AuditEvent) -> str:
    return _row_digest(
        prev_hash=row.prev_hash,
        at=row.at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        case_id=row.case_id,
        object_type=row.object_type,
        object_id=row.object_id,
        detail=row.detail,
        chain=row.chain,
        seq=row.seq,
    )


def audit_chain_verify() -> ChainReport:
    """Walk the old global chain (rows with seq 0, by id), then every per-case and per-actor chain by seq.

    In each chain the positions run 1, 2, 3... with no gap, each row links to the one before it and its hash
    recomputes: a changed row fails its hash, a removed row leaves a gap, an inserted or rewritten one breaks
    the link or the numbering.
    """
    count = 0
    prev_hash = GENESIS_HASH
    for row in AuditEvent.objects.filter(seq=0).order_by("id").iterator(chunk_size=2000):
        count += 1
        if row.prev_hash != prev_hash or row.chain:
            return ChainReport(count, row.id, "its prev_hash does not match the row before it (a row was removed)")
        if _digest_of(row) != row.row_hash:
            return ChainReport(count, row.id, "its contents do not match its hash (the row was changed)")
        prev_hash = row.row_hash
    chains = 0
    current = ""
    expected_seq = 1
    for row in AuditEvent.objects.filter(seq__gt=0).order_by("chain", "seq").iterator(chunk_size=2000):
        count += 1
        if row.chain != current:
            current, expected_seq, prev_hash = row.chain, 1, GENESIS_HASH
            chains += 1
        if row.chain != chain_key(case_id=row.case_id, actor_kind=row.actor_kind, actor_id=row.actor_id):
            return ChainReport(count, row.id, "it sits in another case's or actor's chain (the row was changed)",
                               chains)
        if row.seq != expected_seq or row.prev_hash != prev_hash:
            return ChainReport(count, row.id, f"it is not the next row of {row.chain} after position "
                               f"{expected_seq - 1} (a row was removed or inserted)", chains)
        if _digest_of(row) != row.row_hash:
            return ChainReport(count, row.id, "its contents do not match its hash (the row was changed)", chains)
        prev_hash = row.row_hash
        expected_seq += 1
    return ChainReport(count, None, "", chains)


def audit_events_for_case(case_id: uuid.UUID) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(case_id=case_id).order_by("seq", "id"))
