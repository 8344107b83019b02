import itertools
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from takedown.core.audit import Actor, AuditDetailError, audit_chain_verify, audit_record
from takedown.core.models import AuditEvent


def _record_some(n: int = 5) -> list[AuditEvent]:
    case_id = uuid.uuid4()
    return [
        audit_record(actor=Actor.system(), action="case.view", case_id=case_id, object_type="case",
                     object_id=case_id, detail={"step": i})
        for i in range(n)
    ]


def _tamper(sql: str, params: list[object]) -> None:
    """Change the table behind the application's back, as an attacker with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # bypass the append-only trigger
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.django_db
def test_chain_links_each_row_to_the_previous_one() -> None:
    rows = _record_some(4)
    assert rows[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.row_hash
    report = audit_chain_verify()
    assert report.ok and report.rows == 4


@pytest.mark.django_db
def test_audit_verify_command_passes_on_an_intact_chain(capsys: pytest.CaptureFixture[str]) -> None:
    _record_some(3)
    call_command("audit_verify")
    assert "3 audit rows, chain intact" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_changed_row_is_found() -> None:
    rows = _record_some(5)
    _tamper("UPDATE core_auditevent SET action = %s WHERE id = %s", ["case.export", rows[2].id])
    with pytest.raises(CommandError, match=f"row {rows[2].id}"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_a_removed_row_is_found() -> None:
    rows = _record_some(5)
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [rows[1].id])
    report = audit_chain_verify()
    assert not report.ok and report.first_bad_id == rows[2].id


@pytest.mark.django_db
def test_a_rewritten_detail_is_found() -> None:
    rows = _record_some(3)
    _tamper("UPDATE core_auditevent SET detail = %s WHERE id = %s", ['{"step": 99}', rows[0].id])
    assert audit_chain_verify().first_bad_id == rows[0].id


@pytest.mark.django_db
def test_secrets_and_hashes_are_refused_in_details() -> None:
    for key in ("secret", "pdq", "sha256", "image", "contact"):
        with pytest.raises(AuditDetailError):
            audit_record(actor=Actor.system(), action="case.view", detail={key: "x"})
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_event_rolls_back_with_the_change_it_describes() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=Actor.victim(), action="case.withdraw")
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
def test_postgresql_refuses_update_and_delete() -> None:
    (row,) = _record_some(1)
    for statement in ("UPDATE core_auditevent SET action = 'x' WHERE id = %s",
                      "DELETE FROM core_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement, [row.id])
    assert AuditEvent.objects.get(id=row.id).action == "case.view"
