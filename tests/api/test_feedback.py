from __future__ import annotations

import uuid

import pytest

from takedown.cases.models import Case
from takedown.core.models import AuditEvent
from takedown.partners import hooks
from takedown.partners.models import PartnerFeedback
from takedown.partners.selectors import feedback_for_case, feedback_for_removal_request
from tests.partners.fixtures import key_client

PDQ = "a" * 63 + "b"


@pytest.fixture
def cases(db):
    return [Case.objects.create(reference=f"TD-FB-{i}", secret_hash="x", pseudonym=f"Doe {i}") for i in range(2)]


@pytest.fixture
def received():
    notices: list[hooks.FeedbackNotice] = []

    def receiver(sender, notice, **kwargs):
        notices.append(notice)

    hooks.partner_feedback_received.connect(receiver)
    yield notices
    hooks.partner_feedback_received.disconnect(receiver)


@pytest.fixture
def removal_request(make_partner, cases):
    """A removal request that remedies sent to the partner "Host A" about the first case."""
    host_a = make_partner(name="Host A")
    request_id = uuid.uuid4()

    def resolver(*, partner_id, removal_request_id):
        if partner_id == host_a.partner.id and removal_request_id == request_id:
            return hooks.RemovalRequestRef(removal_request_id=request_id, case_id=cases[0].id)
        return None

    hooks.removal_request_resolver_register(resolver)
    yield host_a, request_id
    hooks.removal_request_resolver_unregister(resolver)


@pytest.mark.django_db
def test_feedback_on_a_hash_reaches_every_case_of_the_entry(partner, memory_bank, cases, received) -> None:
    entry = memory_bank.add(signal_type="pdq", value=PDQ, case_ids=[c.id for c in cases])
    response = key_client(partner.api_key.plaintext).post(
        "/api/v1/feedback", {"signal_type": "pdq", "hash": PDQ.upper(), "feedback": "Blocked",
                             "note": "matched at upload, user 123"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["entry_id"] == entry.id and body["feedback"] == "Blocked"
    for case in cases:
        assert [(f.partner_name, f.value, f.note) for f in feedback_for_case(case_id=case.id)] == [
            ("Example Social", "Blocked", "")]
        assert feedback_for_case(case_id=case.id, include_notes=True)[0].note == "matched at upload, user 123"
        event = AuditEvent.objects.get(case_id=case.id, action="partner.feedback")
        assert event.actor_kind == "partner" and event.actor_id == str(partner.partner.id)
        assert "hash" not in event.detail and PDQ not in str(event.detail)
    assert [(n.value, n.bank_entry_id, set(n.case_ids)) for n in received] == [
        ("Blocked", entry.id, {c.id for c in cases})]
    # The hash itself is not stored with the feedback, only the entry id.
    stored = PartnerFeedback.objects.get()
    assert stored.bank_entry_id == entry.id and PDQ not in str(stored.__dict__)


@pytest.mark.django_db
def test_unknown_hash_is_404(partner) -> None:
    response = key_client(partner.api_key.plaintext).post(
        "/api/v1/feedback", {"signal_type": "pdq", "hash": PDQ, "feedback": "NotFound"}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_hash"


@pytest.mark.django_db
def test_feedback_on_a_removal_request_only_by_its_addressee(removal_request, make_partner, cases, received) -> None:
    host_a, request_id = removal_request
    host_b = make_partner(name="Host B")
    body = {"removal_request_id": str(request_id), "feedback": "Removed", "note": "gone"}
    response = key_client(host_b.api_key.plaintext).post("/api/v1/feedback", body, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_removal_request"
    response = key_client(host_a.api_key.plaintext).post("/api/v1/feedback", body, format="json")
    assert response.status_code == 201
    assert [f.value for f in feedback_for_case(case_id=cases[0].id)] == ["Removed"]
    assert feedback_for_case(case_id=cases[1].id) == []
    assert [f.partner_name for f in feedback_for_removal_request(removal_request_id=request_id)] == ["Host A"]
    assert received[-1].removal_request_id == request_id and received[-1].case_ids == (cases[0].id,)


@pytest.mark.django_db
def test_without_remedies_no_removal_request_is_known(partner) -> None:
    response = key_client(partner.api_key.plaintext).post(
        "/api/v1/feedback", {"removal_request_id": str(uuid.uuid4()), "feedback": "Removed"}, format="json")
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code"), [
    ({"signal_type": "pdq", "hash": PDQ, "feedback": "Liked"}, "unknown_feedback_value"),
    ({"signal_type": "pdq", "hash": PDQ, "feedback": "Blocked", "note": "x" * 1001}, "note_too_long"),
    ({"feedback": "Blocked"}, "missing_field"),
    ({"hash": PDQ, "feedback": "Blocked"}, "missing_field"),
    ({"signal_type": "pdq", "hash": "xyz", "feedback": "Blocked"}, "invalid_hash"),
    ({"signal_type": "gif", "hash": PDQ, "feedback": "Blocked"}, "unknown_signal_type"),
    ({"removal_request_id": "not-a-uuid", "feedback": "Removed"}, "invalid_request"),
])
def test_bad_feedback(partner, body, code) -> None:
    response = key_client(partner.api_key.plaintext).post("/api/v1/feedback", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
