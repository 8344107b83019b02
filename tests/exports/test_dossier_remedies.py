"""The case file carries every request as sent, each answer with its time, the 48-hour outcome, partner reports,
the hash bank's matches and the detector's verdict with the limits it states.

Time is moved with time-machine: a request is sent at T, hosts answer at T + n hours, the export is made later.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from pypdf import PdfReader

from detection.detector.interface import DetectorStatus
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal
from detection.verdict import verdict_build
from takedown.cases.models import Case, CaseImage, CaseURL
from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.services import case_export_build
from takedown.partners.models import Partner, PartnerFeedback, PartnerFeedbackCase
from takedown.remedies.directory import host_directory_seed
from takedown.remedies.models import Host, RemedyRequest, RequestKind, SentMessage
from takedown.remedies.services import (
    remedies_clock_tick,
    remedies_generate_for_case,
    remedy_request_update,
    request_undelivered_record,
)
from tests.exports.conftest import case_make, verify_pinned, zip_members

# After the session's export keys were made (the time-stamping certificate must be valid at export time).
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
HOSTS = ("fast.example", "slow.example", "refuse.example", "silent.example")


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _export(case: Case) -> tuple[dict[str, Any], str, bytes]:
    data = case_export_build(case=case, actor=Actor.system()).data
    members = zip_members(data)
    return json.loads(members[bundle.CASE_JSON]), _pdf_text(members[bundle.CASE_PDF]), data


def _by_host(dossier: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["host"]: r for r in dossier["requests"] if r["kind"] == "removal"}


@pytest.fixture
def answered_case(db: None, django_capture_on_commit_callbacks: Any) -> Case:
    """Four hosts got a removal request at T0: one complied in 5 hours, one after 50, one refused, one is silent."""
    host_directory_seed()
    for domain in HOSTS:
        Host.objects.create(domain=domain, name=domain.split(".")[0].title() + " Host", abuse_email=f"abuse@{domain}",
                            jurisdiction="DE" if domain == "fast.example" else "US",
                            contact_source=Host.ContactSource.DIRECTORY)
    with time_machine.travel(T0, tick=False):
        case = case_make("REMEDY-0001", urls=0, images=1)
        for domain in HOSTS:
            CaseURL.objects.create(case=case, url=f"https://{domain}/v/1", host=domain, platform=domain)
        with django_capture_on_commit_callbacks(execute=True):
            remedies_generate_for_case(case=case, actor=Actor.system())
    removals = {r.host.domain: r for r in RemedyRequest.objects.filter(case=case, kind=RequestKind.REMOVAL)
                .select_related("host")}
    moderator = Actor.system()
    answers = [
        ("fast.example", "acknowledged", 1), ("fast.example", "complied", 5),
        ("refuse.example", "refused", 3), ("slow.example", "acknowledged", 30),
    ]
    for domain, state, hours in answers:
        remedy_request_update(request=removals[domain], state=state, actor=moderator, note=f"{state} by email",
                              at=T0 + timedelta(hours=hours))
    return case


def test_a_host_that_answered_before_any_receipt_was_recorded_is_neither_met_nor_missed(
        answered_case: Case) -> None:
    """The silent host's request bounced, so no receipt was on record; the host removed the image anyway and said so
    at 60 hours. Its system had the request by then, but since when is not known: the file must not call the
    deadline met (the receipt stored is the answer's own time, which would make it 0 hours) nor give hours."""
    silent = RemedyRequest.objects.get(case=answered_case, host__domain="silent.example")
    with transaction.atomic():
        silent = RemedyRequest.objects.select_for_update().get(pk=silent.pk)
        assert request_undelivered_record(silent, actor=Actor.system(), at=T0 + timedelta(hours=2),
                                          reason="bounced: 5.1.1 user unknown")
    remedy_request_update(request=silent, state="complied", actor=Actor.system(), note="removed, said by email",
                          at=T0 + timedelta(hours=60))
    silent.refresh_from_db()
    assert silent.received_at == silent.complied_at == T0 + timedelta(hours=60)  # the receipt inferred from it
    with time_machine.travel(T0 + timedelta(hours=61), tick=False):
        dossier, pdf, data = _export(answered_case)
    deadline = _by_host(dossier)["silent.example"]["deadline"]
    assert deadline["outcome"] == "receipt_unknown" and deadline["hours_to_compliance"] is None
    assert dossier["deadlines"]["receipt_unknown"] == 1 and dossier["deadlines"]["met"] == 1  # fast.example only
    assert "1 answered by the recipient before any receipt was recorded" in pdf
    assert "answered before any receipt was recorded: met or missed not known" in pdf
    assert verify_pinned(data).ok


def test_requests_carry_their_answers_with_times_and_the_deadline_outcome(answered_case: Case,
                                                                         django_capture_on_commit_callbacks: Any
                                                                         ) -> None:
    with time_machine.travel(T0 + timedelta(hours=10), tick=False):
        early, _, _ = _export(answered_case)
    removal = _by_host(early)
    assert removal["fast.example"]["sent_at"] == _at(0)
    assert removal["fast.example"]["acknowledged_at"] == _at(1)
    assert removal["fast.example"]["complied_at"] == _at(5)
    assert removal["fast.example"]["deadline"] == {
        "statutory_hours": 48, "received_at": _at(0), "deadline_at": _at(48), "outcome": "met",
        "overdue_marked_at": None,
        "hours_to_compliance": 5.0,
    }
    assert removal["refuse.example"]["deadline"]["outcome"] == "refused"
    assert removal["refuse.example"]["refused_at"] == _at(3)
    assert removal["slow.example"]["deadline"]["outcome"] == "running"
    assert removal["silent.example"]["deadline"]["outcome"] == "running"
    assert removal["fast.example"]["dsa_notice"] is True and removal["silent.example"]["dsa_notice"] is False

    with time_machine.travel(T0 + timedelta(hours=49), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert remedies_clock_tick().overdue == 2
    slow = RemedyRequest.objects.get(case=answered_case, host__domain="slow.example")
    remedy_request_update(request=slow, state="complied", actor=Actor.system(), at=T0 + timedelta(hours=50))
    with time_machine.travel(T0 + timedelta(hours=51), tick=False):
        late, pdf, data = _export(answered_case)
    removal = _by_host(late)
    assert removal["slow.example"]["deadline"]["outcome"] == "missed"
    assert removal["slow.example"]["deadline"]["hours_to_compliance"] == 50.0
    assert removal["silent.example"]["deadline"]["outcome"] == "missed"
    assert removal["silent.example"]["deadline"]["overdue_marked_at"] == _at(49)
    assert removal["fast.example"]["deadline"]["outcome"] == "met"
    assert late["deadlines"] == {"met": 1, "missed": 2, "past_deadline": 0, "refused": 1, "running": 0,
                                 "not_sent": 0, "not_received": 0, "receipt_unknown": 0, "cancelled": 0}
    steps = [e["action"] for e in removal["silent.example"]["events"]]
    # One tick at 49 hours escalates twice, re-sends the unanswered request once and marks it overdue.
    assert steps[:2] == ["created", "sent"]
    assert sorted(steps[2:]) == ["escalated_24h", "escalated_40h", "overdue", "received", "resent"]
    assert verify_pinned(data).ok

    # Blocking and de-linking are there too, with no statutory clock.
    kinds = sorted((r["kind"], r["recipient"]) for r in late["requests"] if r["kind"] != "removal")
    assert kinds == [("blocking", "Hash bank and every partner platform"), ("delinking", "Baidu Search"),
                     ("delinking", "DuckDuckGo"), ("delinking", "Google Search"), ("delinking", "Microsoft Bing"),
                     ("delinking", "Yandex Search")]
    assert {r["deadline"]["outcome"] for r in late["requests"] if r["kind"] != "removal"} == {"not_applicable"}

    # The PDF says the same: per request its answers, and which deadlines were met or missed.
    assert "1 met, 2 missed, 0 past the deadline with no compliance recorded, 1 refused, 0 still running" in pdf
    assert "Fast Host" in pdf and "Refuse Host" in pdf and "MISSED" in pdf
    assert "complied after 5.0 hours" in pdf and "complied after 50.0 hours" in pdf
    assert "statutory deadline missed" in pdf


def test_each_request_is_cited_as_sent_from_the_stored_bytes_and_names_the_person_by_pseudonym_only(
        answered_case: Case) -> None:
    dossier, pdf, data = _export(answered_case)
    members = zip_members(data)
    fast = _by_host(dossier)["fast.example"]
    assert "document" not in fast  # nothing is rendered again at export time
    (exhibit,) = fast["exhibits"]
    message = SentMessage.objects.get(request_id=fast["id"])
    stored = message.raw_bytes()
    assert exhibit["sha256"] == hashlib.sha256(stored).hexdigest() == message.sha256
    assert exhibit["recipient"] == "abuse@fast.example" and exhibit["recipient_guessed"] is False
    assert exhibit["channel"] == "email" and exhibit["content_type"] == "message/rfc822"
    assert exhibit["message_id"] == message.message_id and exhibit["delivery"] == message.delivery == "acknowledged"
    assert fast["received_by_recipient"] is True
    # The e-mail as sent carries the person's signature (it may be their name): its bytes stay out of the plain
    # file, and the exhibit keeps the SHA-256 and says it is held under seal.
    assert b"Real Name Signed" in stored
    assert exhibit["held_under_seal"] is True and exhibit["file"] is None
    assert not any(name.startswith("exhibits/") for name in members)
    assert f"exhibit {exhibit['exhibit']} to {exhibit['recipient']}" in pdf  # cited beside its request
    assert exhibit["sha256"] in pdf and exhibit["message_id"] in pdf and "Held under seal" in pdf
    plain = json.dumps(dossier) + pdf + "".join(v.decode("latin-1") for v in members.values())
    for private in ("Real Name", "real@example.org"):
        assert private not in plain


def test_a_message_without_the_persons_signature_is_in_the_file_byte_for_byte(answered_case: Case) -> None:
    answered_case.signature = ""
    answered_case.save(update_fields=["signature"])
    dossier, pdf, data = _export(answered_case)
    members = zip_members(data)
    (exhibit,) = _by_host(dossier)["fast.example"]["exhibits"]
    stored = SentMessage.objects.get(id=exhibit["message"]).raw_bytes()
    assert exhibit["held_under_seal"] is False and members[exhibit["file"]] == stored
    assert f"{exhibit['sha256']}  {exhibit['file']}" in members[bundle.MANIFEST].decode()
    assert exhibit["file"] in pdf and exhibit["sha256"] in pdf
    assert verify_pinned(data).ok


def test_the_timeline_names_each_answer(answered_case: Case) -> None:
    dossier, _, _ = _export(answered_case)
    timeline = [(e["event"], e["subject"]) for e in dossier["timeline"]]
    assert ("Removal request complied with", "Fast Host") in timeline
    assert ("Removal request refused by the recipient", "Refuse Host") in timeline


def test_a_request_nobody_accepted_says_so_and_has_no_deadline_outcome(answered_case: Case) -> None:
    silent = SentMessage.objects.get(request__case=answered_case, request__host__domain="silent.example")
    request = silent.request
    # As if the mail server had refused it: the message bounced and the request never reached anyone.
    SentMessage.objects.filter(id=silent.id).update(delivery="bounced", delivery_detail="550 5.1.1 user unknown")
    RemedyRequest.objects.filter(id=request.id).update(state="undelivered", received_at=None, deadline_at=None)
    dossier, pdf, _ = _export(answered_case)
    row = _by_host(dossier)["silent.example"]
    assert row["received_by_recipient"] is False
    assert row["receipt"].startswith("never accepted by anyone")
    assert row["deadline"]["outcome"] == "not_received" and row["deadline"]["deadline_at"] is None
    assert row["exhibits"][0]["delivery"] == "bounced"
    assert row["exhibits"][0]["delivery_detail"] == "550 5.1.1 user unknown"
    assert "No recipient's system ever accepted this request" in pdf and "550 5.1.1 user unknown" in pdf


def test_a_stored_message_that_fails_its_hash_stops_the_export(answered_case: Case) -> None:
    from takedown.exports.services import ExhibitUnreadable

    message = SentMessage.objects.filter(request__case=answered_case).first()
    SentMessage.objects.filter(id=message.id).update(sha256="0" * 64)
    with pytest.raises(ExhibitUnreadable):
        case_export_build(case=answered_case, actor=Actor.system())


def test_partner_reports_are_listed_without_their_notes(answered_case: Case) -> None:
    partner = Partner.objects.create(name="PhotoShare")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        feedback = PartnerFeedback.objects.create(partner=partner, value="Blocked", note="user @someone banned",
                                                  bank_entry_id=42)
    PartnerFeedbackCase.objects.create(feedback=feedback, case_id=answered_case.id)
    dossier, pdf, _ = _export(answered_case)
    assert dossier["partner_feedback"] == [{
        "at": _at(2), "partner": "PhotoShare", "value": "Blocked", "channel": "api",
        "removal_request_id": None, "bank_entry": 42,
    }]
    assert "@someone" not in json.dumps(dossier) and "@someone" not in pdf
    assert "PhotoShare" in pdf
    assert ("Partner reported Blocked", "PhotoShare") in [(e["event"], e["subject"]) for e in dossier["timeline"]]


def test_detector_verdict_and_bank_matches_are_shown_with_their_stated_limits(make_case: Any) -> None:
    case = make_case("VERDICT-0001", images=1)
    status = DetectorStatus(enabled=True, reason="", architecture="npr", weights_sha256="ab" * 32, threshold=0.5,
                            calibration={"threshold": 0.5, "target_fpr": 0.01, "real_images": 200, "false_positives": 2,
                                         "measured_fpr": 0.01, "fpr_upper_95": 0.0315,
                                         "measured_on": "held-out real images"})
    provenance = ProvenanceReport(format="png", signals=[ProvenanceSignal(
        kind="digital_source_type", strength="claimed", says_generated=True,
        summary="IPTC DigitalSourceType trainedAlgorithmicMedia (unsigned)")])
    verdict = verdict_build(detector_status=status, detector_score=0.87, provenance=provenance).as_dict()
    image = CaseImage.objects.get(case=case)
    image.analysis = {**verdict, "bank": {"available": True, "matches": [{"entry": "981", "distance": 12},
                                                                           {"entry": "17", "distance": 0}]}}
    image.save(update_fields=["analysis"])

    dossier, pdf, _ = _export(case)
    finding = dossier["findings"][0]["verdict"]
    assert finding["label"] == "likely_generated" and finding["supports_digital_forgery"] is True
    assert finding["limits"] == verdict["limits"] and finding["limits"]
    assert finding["detector"]["score"] == 0.87 and finding["detector"]["threshold"] == 0.5
    assert finding["provenance"]["signals"][0]["strength"] == "claimed"
    assert dossier["findings"][0]["other"] == {}  # the bank's lookup is reported apart
    assert dossier["bank_matches"] == [{"image_id": str(image.id), "bank_available": True, "matches": [
        {"signal": "pdq", "entry": "17", "distance": 0}, {"signal": "pdq", "entry": "981", "distance": 12}]}]
    assert "likely_generated" in pdf and "0.87 (threshold 0.5; npr" in pdf
    assert "Limits this verdict states" in pdf
    assert " ".join(verdict["limits"][0].split())[:60] in pdf
    assert "trainedAlgorithmicMedia" in pdf


def test_a_detector_that_was_off_says_so_instead_of_a_score(make_case: Any) -> None:
    case = make_case("VERDICT-0002", images=1)
    status = DetectorStatus(enabled=False, reason="DETECTOR_WEIGHTS is not set")
    verdict = verdict_build(detector_status=status, detector_score=None, provenance=ProvenanceReport()).as_dict()
    CaseImage.objects.filter(case=case).update(analysis=verdict)
    dossier, pdf, _ = _export(case)
    finding = dossier["findings"][0]["verdict"]
    assert finding["label"] == "undetermined" and finding["detector"]["score"] is None
    assert "detector off: DETECTOR_WEIGHTS is not set" in pdf
    assert "not a finding that the image is authentic" not in pdf  # that sentence belongs to another label


def test_the_advocates_case_page_shows_the_requests_and_their_deadlines(answered_case: Case, advocate: Any,
                                                                         advocate_client: Any) -> None:
    from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim

    grant_create_by_victim(case=answered_case, advocate_code=advocate_profile_ensure(user=advocate).grant_code,
                           days=30, images_consented=False, identity_for_court="")
    # Now (before T0 + 48 h): the two unanswered requests' clocks still run. (Travelling forward would end the
    # advocate's session.)
    page = advocate_client.get(f"/staff/advocate/cases/{answered_case.court_reference}/").content.decode()
    assert "48-hour removal deadlines: 1 met, 0 missed, 1 refused, 2 still running." in page
    assert page.count('data-outcome="running"') == 2 and "Fast Host" in page
