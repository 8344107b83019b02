"""Sending through the outbox, the 48-hour clock and its escalations (time moved with time-machine)."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.remedies.models import RemedyRequest, RequestKind, RequestState
from takedown.remedies.services import (
    RemedyError,
    remedies_cancel_for_case,
    remedies_clock_tick,
    remedies_generate_for_case,
    remedy_request_send,
    remedy_request_update,
)
from tests.remedies.factory import CONTACT, SIGNATURE, case_make, confirm, host_make

pytestmark = pytest.mark.django_db(transaction=True)


def _generate(case):
    with transaction.atomic():
        return remedies_generate_for_case(case=case, actor=Actor.system())


def test_removal_is_emailed_after_commit_with_pdf_and_json_and_its_clock_starts() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    start = timezone.now()
    _generate(case)
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    assert removal.state == RequestState.SENT and removal.send_count == 1
    # "Sent" means the mail system took it: the 48 hours count from that acceptance, recorded with the bytes.
    assert removal.deadline_at - removal.received_at == timedelta(hours=48)
    assert removal.received_at >= removal.sent_at >= start
    (message,) = removal.messages.all()
    assert message.delivery == "accepted" and message.recipient == "abuse@pics.example"
    assert not message.recipient_guessed and message.content_type == "message/rfc822"
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["abuse@pics.example"] and str(removal.id) in email.subject
    names = [a[0] for a in email.attachments]
    assert any(n.endswith(".pdf") for n in names) and any(n.endswith(".json") for n in names)
    assert "https://pics.example/a/1" in email.body and case.pseudonym in email.body
    # The removal request is signed with the signature the person chose for it; their contact never leaves.
    assert f"/s/ {SIGNATURE}" in email.body and CONTACT not in email.body
    assert AuditEvent.objects.filter(action="remedies.request_sent", case_id=case.id).exists()


def test_nothing_is_sent_when_the_transaction_rolls_back() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    with pytest.raises(RuntimeError), transaction.atomic():
        remedies_generate_for_case(case=case, actor=Actor.system())
        raise RuntimeError
    assert mail.outbox == [] and not RemedyRequest.objects.exists()


def test_clock_escalates_at_24_and_40_hours_and_marks_overdue_at_48() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    _generate(case)
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    sent = removal.received_at  # the clock counts from the mail server's acceptance
    with time_machine.travel(sent + timedelta(hours=23, minutes=59), tick=False):
        assert remedies_clock_tick() == remedies_clock_tick().__class__()
    with time_machine.travel(sent + timedelta(hours=24, minutes=1), tick=False):
        report = remedies_clock_tick()
        assert report.escalated_24h == 1 and report.overdue == 0
        assert remedies_clock_tick().escalated_24h == 0  # idempotent
    removal.refresh_from_db()
    assert removal.escalation_level == 1 and removal.priority == case.severity + 1
    assert removal.send_count == 2 and len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("Reminder: ")
    assert removal.deadline_at == sent + timedelta(hours=48)  # a re-send does not restart the clock
    with time_machine.travel(sent + timedelta(hours=40, minutes=1), tick=False):
        assert remedies_clock_tick().escalated_40h == 1
    with time_machine.travel(sent + timedelta(hours=48, minutes=1), tick=False):
        assert remedies_clock_tick().overdue == 1
        assert remedies_clock_tick().overdue == 0
    removal.refresh_from_db()
    assert removal.escalation_level == 2 and removal.overdue_at is not None and removal.send_count == 3
    actions = list(removal.events.values_list("action", flat=True))
    assert actions == ["created", "sent", "received", "escalated_24h", "resent", "escalated_40h", "resent",
                       "overdue"]


def test_an_acknowledged_request_is_escalated_but_not_resent() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    _generate(case)
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    remedy_request_update(request=removal, state="acknowledged", actor=Actor.system())
    with time_machine.travel(removal.sent_at + timedelta(hours=25), tick=False):
        assert remedies_clock_tick().escalated_24h == 1
    removal.refresh_from_db()
    assert removal.send_count == 1 and len(mail.outbox) == 1 and removal.priority == case.severity + 1


def test_a_complied_request_is_never_escalated() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    _generate(case)
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    remedy_request_update(request=removal, state="complied", actor=Actor.system(), note="removed")
    with time_machine.travel(removal.sent_at + timedelta(hours=50), tick=False):
        assert remedies_clock_tick() == remedies_clock_tick().__class__()
    removal.refresh_from_db()
    assert removal.complied_at is not None and removal.overdue_at is None


def test_state_changes_are_checked() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    _generate(case)
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    remedy_request_update(request=removal, state="refused", actor=Actor.system())
    with pytest.raises(RemedyError):
        remedy_request_update(request=removal, state="acknowledged", actor=Actor.system())
    with pytest.raises(RemedyError):
        remedy_request_update(request=removal, state="sent", actor=Actor.system())
    with pytest.raises(RemedyError):
        remedy_request_send(request=removal, actor=Actor.system())


def test_web_form_requests_are_recorded_as_sent_by_the_moderator() -> None:
    case = confirm(case_make())
    _generate(case)
    google = RemedyRequest.objects.get(case=case, kind=RequestKind.DELINKING, host__domain="google.com")
    assert google.state == RequestState.DRAFT
    remedy_request_send(request=google, actor=Actor.system())
    google.refresh_from_db()
    assert google.state == RequestState.SENT and google.deadline_at is None  # no statutory clock on de-linking


def test_withdrawal_cancels_open_requests_and_erases_their_urls() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    _generate(case)
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    remedy_request_update(request=removal, state="complied", actor=Actor.system())
    cancelled = remedies_cancel_for_case(case=case, actor=Actor.victim())
    assert cancelled == RemedyRequest.objects.filter(case=case).count() - 1
    assert set(RemedyRequest.objects.filter(case=case).values_list("state", flat=True)) == {"cancelled", "complied"}
    assert all(r.urls == [] for r in RemedyRequest.objects.filter(case=case))
    with time_machine.travel(timezone.now() + timedelta(hours=49), tick=False):
        assert remedies_clock_tick().overdue == 0


def test_blocking_makes_the_case_hashes_active_in_the_bank_that_partners_read() -> None:
    from detection.bank import bank_add, bank_search
    from detection.models import BankEntry

    host_make("pics.example")
    case = confirm(case_make())
    image = case.images.get()
    entry = bank_add(signal_type="pdq", value=image.pdq, quality=90, source_kind="case", source_id=str(case.id))
    assert entry.status == "Received"
    assert bank_search(signal_type="pdq", values=[image.pdq], statuses=("Active",)) == [[]]
    _generate(case)
    blocking = RemedyRequest.objects.get(case=case, kind=RequestKind.BLOCKING)
    assert blocking.state == RequestState.SENT and blocking.sent_at is not None
    assert BankEntry.objects.get(id=entry.id).status == "Active"
    [[match]] = bank_search(signal_type="pdq", values=[image.pdq], statuses=("Active",))
    assert match.entry_id == entry.id and match.distance == 0
