"""One hash chain per case: completeness per case, and writers on unrelated cases never wait on each other."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from takedown.core.audit import GENESIS_HASH, Actor, audit_chain_verify, audit_record, chain_key
from takedown.core.models import AuditEvent
from tests.core.test_audit import _tamper


def _view(case_id: uuid.UUID, step: int) -> AuditEvent:
    return audit_record(actor=Actor.system(), action="case.view", case_id=case_id, object_type="case",
                        object_id=case_id, detail={"step": step})


@pytest.mark.django_db
def test_each_case_has_its_own_chain_numbered_from_one() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows = [_view(a, 0), _view(b, 0), _view(a, 1), _view(b, 1), _view(a, 2)]
    chain_a = [r for r in rows if r.case_id == a]
    assert [r.seq for r in chain_a] == [1, 2, 3]
    assert {r.chain for r in chain_a} == {f"case:{a}"}
    assert chain_a[0].prev_hash == GENESIS_HASH
    assert chain_a[1].prev_hash == chain_a[0].row_hash and chain_a[2].prev_hash == chain_a[1].row_hash
    # Rows about no case chain by actor, apart from every case.
    staff = audit_record(actor=Actor("moderator", "7"), action="moderation.queue_view")
    assert staff.chain == "actor:moderator:7" and staff.seq == 1
    report = audit_chain_verify()
    assert report.ok and report.rows == 6 and report.chains == 3


@pytest.mark.django_db
def test_a_case_row_removed_anywhere_in_its_chain_is_found() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows_a = [_view(a, i) for i in range(4)]
    [_view(b, i) for i in range(4)]
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [rows_a[0].id])
    report = audit_chain_verify()
    assert not report.ok and report.first_bad_id == rows_a[1].id
    assert "removed" in report.reason
    with pytest.raises(CommandError, match=f"row {rows_a[1].id}"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_renumbering_or_moving_a_row_is_found() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows_a = [_view(a, i) for i in range(3)]
    _view(b, 0)
    # Hiding a removed row by renumbering the rows after it breaks their hashes.
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [rows_a[1].id])
    _tamper("UPDATE core_auditevent SET seq = 2 WHERE id = %s", [rows_a[2].id])
    assert audit_chain_verify().first_bad_id == rows_a[2].id


@pytest.mark.django_db
def test_moving_a_row_into_another_chain_is_found() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows_a = [_view(a, i) for i in range(3)]
    _view(b, 0)
    _tamper("UPDATE core_auditevent SET chain = %s, seq = 2 WHERE id = %s", [f"case:{b}", rows_a[2].id])
    assert audit_chain_verify().first_bad_id == rows_a[2].id


@pytest.mark.django_db
def test_old_global_rows_still_verify_beside_the_chains() -> None:
    """Rows written before per-case chains (seq 0) keep their old digest and their global chain."""
    from django.utils import timezone

    from takedown.core.audit import _row_digest

    prev = GENESIS_HASH
    for step in range(2):
        fields = {"at": timezone.now(), "actor_kind": "system", "actor_id": "", "action": "case.view",
                  "case_id": None, "object_type": "", "object_id": "", "detail": {"step": step}}
        row_hash = _row_digest(prev_hash=prev, **fields)
        AuditEvent.objects.create(prev_hash=prev, row_hash=row_hash, **fields)
        prev = row_hash
    _view(uuid.uuid4(), 0)
    assert audit_chain_verify().ok


def test_chain_key_names_case_or_actor() -> None:
    case_id = uuid.uuid4()
    assert chain_key(case_id=case_id, actor_kind="moderator", actor_id="3") == f"case:{case_id}"
    assert chain_key(case_id=None, actor_kind="partner", actor_id="p1") == "actor:partner:p1"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the per-chain lock is PostgreSQL's advisory lock")
def test_a_writer_on_one_case_does_not_wait_for_another_case() -> None:
    """A transaction holding case A's chain (as moderation_decide does while it writes remedies) blocks a second
    writer on A, and never a writer on B."""
    a, b = uuid.uuid4(), uuid.uuid4()
    holding = threading.Event()
    release = threading.Event()

    def hold_a() -> None:
        try:
            with transaction.atomic():
                _view(a, 0)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    def timed_write(case_id: uuid.UUID, out: list[float]) -> None:
        try:
            began = time.monotonic()
            _view(case_id, 1)
            out.append(time.monotonic() - began)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(10)
    other: list[float] = []
    same: list[float] = []
    writer_b = threading.Thread(target=timed_write, args=(b, other))
    writer_a = threading.Thread(target=timed_write, args=(a, same))
    writer_b.start()
    writer_a.start()
    writer_b.join(5)
    assert other and other[0] < 2.0, "a write on case B waited for case A"
    time.sleep(0.5)
    assert not same, "a second writer on case A did not wait for the first"
    release.set()
    holder.join(10)
    writer_a.join(10)
    assert same
    assert [r.seq for r in AuditEvent.objects.filter(case_id=a).order_by("seq")] == [1, 2]
    assert audit_chain_verify().ok
