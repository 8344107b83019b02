"""`remedies_render` (a contract for other tools) and partner feedback updating request states."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.remedies.models import RemedyRequest, RequestKind, RequestState
from takedown.remedies.selectors import remedies_for_partner, remedies_status_for_case
from takedown.remedies.services import (
    remedies_generate_for_case,
    remedy_partner_feedback,
    remedy_request_for_partner,
    remedy_request_send,
)
from tests.remedies.factory import CONTACT, case_make, confirm, host_make

pytestmark = pytest.mark.django_db


def test_remedies_render_prints_every_request_as_json() -> None:
    host_make("pics.example", jurisdiction="NL")
    case = confirm(case_make())
    remedies_generate_for_case(case=case, actor=Actor.system())
    out = StringIO()
    call_command("remedies_render", case.reference, "--format", "json", stdout=out)
    payload = json.loads(out.getvalue())
    # The output names the case by its court reference: the person's own reference opens their case.
    assert payload["case"] == case.court_reference
    kinds = sorted(r["kind"] for r in payload["requests"])
    # One de-linking request per search engine in the directory (Baidu, Bing, DuckDuckGo, Google, Yandex).
    assert kinds == ["blocking"] + ["delinking"] * 5 + ["removal"]
    removal = next(r for r in payload["requests"] if r["kind"] == "removal")
    assert removal["schema"] == "takedown.remedy-request/1" and removal["dsa_notice"]["notifier"]
    assert removal["take_it_down"]["identification_and_location"]["urls"] == ["https://pics.example/a/1"]
    assert CONTACT not in out.getvalue()
    assert AuditEvent.objects.filter(action="remedies.render", case_id=case.id).exists()
    text = StringIO()
    call_command("remedies_render", case.reference, "--format", "text", stdout=text)
    assert "Removal request" in text.getvalue()


def test_remedies_render_unknown_case() -> None:
    with pytest.raises(CommandError, match="no case"):
        call_command("remedies_render", "TD-NOPE")


def _partner_case(partner: uuid.UUID):
    host_make("partner.example", partner_id=str(partner), email="")
    case = confirm(case_make(urls=[("https://partner.example/v/1", "partner.example")]))
    remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    assert removal.channel == "partner"
    return case, removal


def test_partner_feedback_on_its_removal_request() -> None:
    partner = uuid.uuid4()
    case, removal = _partner_case(partner)
    remedy_request_send(request=removal, actor=Actor.system())
    assert remedy_request_for_partner(partner_id=uuid.uuid4(), removal_request_id=removal.id) is None
    assert remedy_request_for_partner(partner_id=partner, removal_request_id=removal.id) == removal
    # Another partner cannot report on it.
    assert remedy_partner_feedback(partner_id=uuid.uuid4(), value="Removed", removal_request_id=removal.id) == []
    changed = remedy_partner_feedback(partner_id=partner, value="PendingReview", removal_request_id=removal.id)
    assert [r.state for r in changed] == [RequestState.ACKNOWLEDGED]
    changed = remedy_partner_feedback(partner_id=partner, value="Removed", removal_request_id=removal.id)
    removal.refresh_from_db()
    assert removal.state == RequestState.COMPLIED and removal.complied_at and removal.acknowledged_at
    assert list(removal.events.values_list("action", flat=True))[-2:] == ["feedback:PendingReview",
                                                                          "feedback:Removed"]
    assert AuditEvent.objects.filter(action="remedies.partner_feedback", actor_kind="partner").count() == 2
    statuses = {s.kind: s for s in remedies_status_for_case(case)}
    assert statuses["removal"].state == "complied" and statuses["removal"].platform == "Partner"


def test_partner_feedback_on_blocking_by_case() -> None:
    partner = uuid.uuid4()
    case, _ = _partner_case(partner)
    blocking = RemedyRequest.objects.get(case=case, kind=RequestKind.BLOCKING)
    remedy_partner_feedback(partner_id=partner, value="NotBlocked", case_ids=[case.id])
    blocking.refresh_from_db()
    assert blocking.state == RequestState.DRAFT  # one partner's refusal does not refuse the whole bank
    remedy_partner_feedback(partner_id=partner, value="Blocked", case_ids=[case.id])
    blocking.refresh_from_db()
    assert blocking.state == RequestState.COMPLIED


def test_requests_served_to_a_partner_are_its_own_and_sent() -> None:
    partner = uuid.uuid4()
    _, removal = _partner_case(partner)
    assert list(remedies_for_partner(partner)) == []  # still a draft here (no commit in this test)
    remedy_request_send(request=removal, actor=Actor.system())
    RemedyRequest.objects.filter(id=removal.id).update(state="sent")
    assert list(remedies_for_partner(partner)) == [removal]
    assert list(remedies_for_partner(uuid.uuid4())) == []
