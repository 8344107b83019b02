"""The person gives and removes an advocate's access on their status page (victims-case-advocates).

Checked as anonymous, as each staff role (no case open), as the holder of another case, and as the case's own
holder: giving access asks for the case secret once more, removing it does not.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from takedown.core.models import AuditEvent
from takedown.exports.models import AdvocateGrant
from takedown.exports.services import (
    GrantNotFound,
    advocate_grant_get,
    advocate_profile_ensure,
    grant_create_by_victim,
)
from tests.victims.conftest import FiledCase, file_upload_report, open_case

pytestmark = pytest.mark.django_db
URL = "/case/advocate-access/"


@pytest.fixture
def filed() -> FiledCase:
    return file_upload_report(Client())


@pytest.fixture
def holder(filed: FiledCase) -> Client:
    client = Client()
    open_case(client, filed)
    return client


@pytest.fixture
def code(advocate: User) -> str:
    profile = advocate_profile_ensure(user=advocate)
    profile.organisation = "Legal Aid Collective"
    profile.save()
    return profile.grant_code


def _grant_form(code: str, secret: str, **extra: str) -> dict[str, str]:
    return {"action": "grant", "advocate-advocate_code": code, "advocate-days": "90",
            "advocate-secret": secret, **extra}


def test_the_route_is_the_status_pages_own() -> None:
    assert reverse("victims-case-advocates") == URL


def test_without_an_open_case_nobody_changes_anything(filed: FiledCase, code: str,
                                                      role_clients: dict[str, Client]) -> None:
    for principal, client in role_clients.items():
        for form in (_grant_form(code, filed.secret), {"action": "revoke", "grant": "0" * 32}):
            response = client.post(URL, form)
            assert response.status_code == 302, principal
            assert response["Location"] == reverse("victims-case-access")
        assert client.get(URL).status_code in (302, 405)
    assert not AdvocateGrant.objects.exists()


def test_status_page_shows_the_panel(holder: Client) -> None:
    page = holder.get(reverse("victims-case-status")).content.decode()
    assert 'id="advocates"' in page and "Give an advocate access" in page
    assert 'name="advocate-secret"' in page


def _enrol_certificate(advocate: User) -> None:
    from tests.exports.test_annex import _advocate_keys, _pem

    profile = advocate_profile_ensure(user=advocate)
    profile.annex_certificate = _pem(_advocate_keys()[1])
    profile.save()


def test_identity_is_refused_when_the_advocate_cannot_receive_it_sealed(holder: Client, filed: FiledCase,
                                                                        code: str) -> None:
    response = holder.post(URL, _grant_form(code, filed.secret, **{"advocate-identity_for_court": "Real Name"}))
    assert response.status_code == 400
    assert "cannot receive a sealed identity" in response.content.decode()
    assert not AdvocateGrant.objects.exists()


def test_the_person_sees_exactly_what_the_advocate_will_receive(holder: Client, filed: FiledCase, code: str,
                                                                advocate: User) -> None:
    _enrol_certificate(advocate)
    holder.post(URL, _grant_form(code, filed.secret, **{"advocate-identity_for_court": "Real Name"}))
    page = holder.get(reverse("victims-case-status")).content.decode()
    assert 'data-receives="identity"' in page and 'data-receives="images"' not in page
    assert "not your images" in page
    profile = advocate_profile_ensure(user=advocate)
    profile.annex_certificate = ""
    profile.save()
    page = holder.get(reverse("victims-case-status")).content.decode()
    assert 'data-receives="identity-withheld"' in page and 'data-receives="identity"' not in page


def test_person_gives_access_with_the_secret_and_the_advocate_sees_the_case(
        holder: Client, filed: FiledCase, code: str, advocate: User) -> None:
    _enrol_certificate(advocate)
    response = holder.post(URL, _grant_form(code.lower().replace("-", " "), filed.secret,
                                            **{"advocate-images_consented": "on",
                                               "advocate-identity_for_court": "Real Name, 1 Court Street"}))
    assert response.status_code == 302 and response["Location"] == reverse("victims-case-status")
    grant = AdvocateGrant.objects.get(case=filed.case)
    assert grant.is_active() and grant.images_consented and grant.basis == AdvocateGrant.Basis.VICTIM_CONSENT
    assert grant.identity_for_court == "Real Name, 1 Court Street"
    assert advocate_grant_get(user=advocate, reference=filed.case.court_reference).id == grant.id
    page = holder.get(reverse("victims-case-status")).content.decode()
    assert "Access given" in page and "Legal Aid Collective" in page and "Can see your case" in page
    detail = AuditEvent.objects.get(action="advocate_grant.create").detail
    assert detail["identity_given"] is True and "Real Name" not in str(detail)
    assert AuditEvent.objects.filter(case_id=filed.case.id, action="case.opened",
                                     detail__purpose="advocate-grant").exists()


def test_giving_access_needs_the_right_secret_and_locks_after_five_wrong(holder: Client, filed: FiledCase,
                                                                         code: str) -> None:
    wrong = "tds_" + "-".join(["AAAAA"] * 5)
    statuses = [holder.post(URL, _grant_form(code, wrong)).status_code for _ in range(6)]
    assert statuses[:5] == [400] * 5 and statuses[5] == 429
    assert not AdvocateGrant.objects.exists()
    # The lock is intake's own (per reference): the right secret is refused too until the window passes.
    assert holder.post(URL, _grant_form(code, filed.secret)).status_code == 429


def test_wrong_secret_says_so_and_keeps_what_was_typed(holder: Client, code: str) -> None:
    response = holder.post(URL, _grant_form(code, "tds_" + "-".join(["BBBBB"] * 5)))
    page = response.content.decode()
    assert response.status_code == 400 and "That is not the secret of this case." in page
    assert code in page  # the code is kept; the secret never comes back
    assert "BBBBB" not in page


def test_person_removes_access_without_the_secret(holder: Client, filed: FiledCase, code: str,
                                                  advocate: User) -> None:
    grant = grant_create_by_victim(case=filed.case, advocate_code=code, days=30, images_consented=False,
                                   identity_for_court="")
    response = holder.post(URL, {"action": "revoke", "grant": str(grant.id)})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_by == "victim" and not grant.is_active()
    page = holder.get(reverse("victims-case-status")).content.decode()
    assert "Access removed" in page and 'data-grant-state="revoked"' in page
    with pytest.raises(GrantNotFound):
        advocate_grant_get(user=advocate, reference=filed.case.court_reference)


def test_person_cannot_remove_a_grant_on_another_case(holder: Client, code: str) -> None:
    theirs = file_upload_report(Client())
    other = grant_create_by_victim(case=theirs.case, advocate_code=code, days=30, images_consented=False,
                                   identity_for_court="")
    response = holder.post(URL, {"action": "revoke", "grant": str(other.id)})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.is_active()


@pytest.mark.parametrize("form", [
    {"action": "grant"},
    {"action": "grant", "advocate-advocate_code": "nonsense", "advocate-days": "3", "advocate-secret": "x"},
    {"action": "grant", "advocate-advocate_code": "ADV-0000-0000-0000-0000", "advocate-days": "90",
     "advocate-secret": "x", "advocate-identity_for_court": "x" * 2001},
    {"action": "revoke", "grant": "not-a-uuid"},
    {"action": "revoke"},
])
def test_bad_input_is_a_4xx_and_stores_nothing(holder: Client, form: dict[str, str]) -> None:
    assert holder.post(URL, form).status_code == 400
    assert not AdvocateGrant.objects.exists()


def test_unknown_advocate_code_is_a_form_error(holder: Client, filed: FiledCase) -> None:
    response = holder.post(URL, _grant_form("ADV-0000-0000-0000-0000", filed.secret))
    assert response.status_code == 400 and "No advocate has that code" in response.content.decode()


def test_a_withdrawn_case_gives_no_access(holder: Client, filed: FiledCase, code: str) -> None:
    assert holder.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret}).status_code == 200
    response = holder.post(URL, _grant_form(code, filed.secret))
    assert response.status_code == 400
    assert not AdvocateGrant.objects.exists()
