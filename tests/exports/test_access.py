"""Who sees what: anonymous, advocate without grant, with an expired or revoked grant, with a grant, moderator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.exports.models import AdvocateGrant
from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim, grant_revoke
from tests.conftest import make_staff, verified_client
from tests.exports.conftest import verify_pinned, zip_members


def current_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture
def case(make_case):
    return make_case("ACCESS-0001")


@pytest.fixture
def granted(case, advocate) -> AdvocateGrant:
    profile = advocate_profile_ensure(user=advocate)
    return grant_create_by_victim(case=case, advocate_code=profile.grant_code, days=30, images_consented=True,
                                  identity_for_court="")


def _urls(reference: str) -> list[str]:
    return [reverse("exports-advocate-case", args=[reference]), reverse("exports-advocate-export", args=[reference])]


def test_anonymous_is_sent_to_sign_in(client: Client, case) -> None:
    for url in [reverse("exports-advocate-cases"), *_urls(case.court_reference), reverse("exports-staff-grants")]:
        response = client.get(url)
        assert response.status_code == 302 and "/staff/login/" in response["Location"]


def test_advocate_without_grant_gets_not_found(advocate_client: Client, case) -> None:
    for url in _urls(case.court_reference):
        assert advocate_client.get(url).status_code == 404
    # A reference that does not exist looks exactly the same.
    for url in _urls("NO-SUCH-CASE"):
        assert advocate_client.get(url).status_code == 404
    assert case.court_reference not in advocate_client.get(reverse("exports-advocate-cases")).content.decode()


def test_expired_grant_gives_nothing(advocate_client: Client, granted: AdvocateGrant) -> None:
    AdvocateGrant.objects.filter(id=granted.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    for url in _urls(granted.case.court_reference):
        assert advocate_client.get(url).status_code == 404


def test_revoked_grant_gives_nothing(advocate_client: Client, granted: AdvocateGrant) -> None:
    assert advocate_client.get(_urls(granted.case.court_reference)[0]).status_code == 200
    grant_revoke(grant_id=granted.id, actor=Actor.victim(), case=granted.case)
    for url in _urls(granted.case.court_reference):
        assert advocate_client.get(url).status_code == 404


def test_withdrawn_case_gives_nothing(advocate_client: Client, granted: AdvocateGrant) -> None:
    granted.case.withdrawn_at = timezone.now()
    granted.case.save()
    assert advocate_client.get(_urls(granted.case.court_reference)[0]).status_code == 404


def test_another_advocate_sees_nothing(granted: AdvocateGrant) -> None:
    other = verified_client(make_staff("other-adv", "advocate"))
    for url in _urls(granted.case.court_reference):
        assert other.get(url).status_code == 404


def test_granted_advocate_sees_the_case_and_each_view_is_audited(advocate_client: Client, advocate: User,
                                                                 granted: AdvocateGrant) -> None:
    listing = advocate_client.get(reverse("exports-advocate-cases"))
    assert listing.status_code == 200 and granted.case.court_reference in listing.content.decode()
    page = advocate_client.get(_urls(granted.case.court_reference)[0])
    assert page.status_code == 200
    body = page.content.decode()
    assert "Jane Doe 17" in body
    # Never the person's signature, contact, description or message bodies.
    assert "Real Name" not in body and "real@example.org" not in body
    actions = list(AuditEvent.objects.filter(actor_id=str(advocate.pk)).values_list("action", flat=True))
    assert "advocate.cases_list" in actions and "advocate.case_view" in actions


def test_export_needs_a_fresh_second_factor(advocate_client: Client, granted: AdvocateGrant) -> None:
    url = _urls(granted.case.court_reference)[1]
    assert advocate_client.get(url).status_code == 200
    assert advocate_client.post(url, {"otp_token": ""}).status_code == 400
    assert advocate_client.post(url, {"otp_token": "000000"}).status_code in (400, 429)
    assert not AuditEvent.objects.filter(action="case.export").exists()
    assert AuditEvent.objects.filter(action="advocate.reconfirm_failed").exists()


def test_export_locks_after_repeated_wrong_codes(advocate_client: Client, granted: AdvocateGrant) -> None:
    url = _urls(granted.case.court_reference)[1]
    statuses = [advocate_client.post(url, {"otp_token": "000000"}).status_code for _ in range(6)]
    assert statuses[-1] == 429


def test_granted_advocate_exports_a_verifying_zip(advocate_client: Client, advocate: User,
                                                  granted: AdvocateGrant) -> None:
    url = _urls(granted.case.court_reference)[1]
    response = advocate_client.post(url, {"otp_token": current_code(advocate), "include_images": "on"})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    data = response.content
    assert verify_pinned(data).ok
    members = zip_members(data)
    assert any(name.startswith("images/") for name in members)
    event = AuditEvent.objects.get(action="case.export")
    assert event.actor_kind == "advocate" and event.case_id == granted.case.id
    assert event.detail["images"] is True


def test_images_need_the_persons_consent(advocate_client: Client, advocate: User, case) -> None:
    profile = advocate_profile_ensure(user=advocate)
    grant = grant_create_by_victim(case=case, advocate_code=profile.grant_code, days=30, images_consented=False,
                                   identity_for_court="")
    response = advocate_client.post(_urls(grant.case.court_reference)[1],
                                    {"otp_token": current_code(advocate), "include_images": "on"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="case.export").exists()


def test_moderator_cannot_use_advocate_pages(moderator_client: Client, granted: AdvocateGrant) -> None:
    for url in [reverse("exports-advocate-cases"), *_urls(granted.case.court_reference)]:
        assert moderator_client.get(url).status_code == 403


def test_advocate_cannot_manage_grants(advocate_client: Client, granted: AdvocateGrant) -> None:
    assert advocate_client.get(reverse("exports-staff-grants")).status_code == 403
    revoke = reverse("exports-staff-grant-revoke", args=[granted.id])
    assert advocate_client.post(revoke).status_code == 403


def test_moderator_grants_on_a_documented_request_and_revokes(moderator_client: Client, advocate: User,
                                                              case) -> None:
    url = reverse("exports-staff-grants")
    assert moderator_client.get(url).status_code == 200
    bad = moderator_client.post(url, {"reference": case.court_reference, "advocate": advocate.pk, "days": "30",
                                      "request_document": "short"})
    assert bad.status_code == 400
    ok = moderator_client.post(url, {"reference": case.court_reference, "advocate": advocate.pk, "days": "30",
                                     "request_document": "Signed authority of 3 May, ticket 1182"})
    assert ok.status_code == 302
    grant = AdvocateGrant.objects.get(case=case)
    assert grant.basis == AdvocateGrant.Basis.DOCUMENTED_REQUEST and not grant.images_consented
    listed = moderator_client.get(f"{url}?case={case.court_reference}")
    assert "ticket 1182" in listed.content.decode()
    assert moderator_client.post(reverse("exports-staff-grant-revoke", args=[grant.id])).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_by == "moderator"
    actions = set(AuditEvent.objects.filter(case_id=case.id).values_list("action", flat=True))
    assert {"advocate_grant.create", "advocate_grant.revoke", "advocate_grant.list"} <= actions


def test_unknown_case_on_the_moderator_form_is_a_form_error(moderator_client: Client, advocate: User) -> None:
    response = moderator_client.post(reverse("exports-staff-grants"), {
        "reference": "NOPE", "advocate": advocate.pk, "days": "30", "request_document": "Signed authority 2026"})
    assert response.status_code == 400
