"""Hostile text in every form staff, advocates and the case holder fill in outside intake: staff sign-in (and its
`next`), the moderation console's decide / second-review / reply, a removal request's outcome, the moderator's
and the person's advocate grants (on their status page), the advocate's profile and the export's second factor.

Each field gets every item of corpus.HOSTILE_TEXT (NUL bytes, replacement characters where a browser sent a lone
surrogate, a megabyte, markup, template syntax, CRLF, SQL) with the rest of the form valid: never a 5xx, and
nothing recorded before is lost or changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from takedown.core.models import AuditEvent
from takedown.exports.models import AdvocateGrant
from takedown.exports.services import advocate_profile_ensure
from takedown.moderation.models import ReviewItem
from takedown.moderation.services import moderation_claim
from takedown.remedies.models import RemedyRequest
from tests.conftest import make_staff, verified_client
from tests.exports.conftest import case_make
from tests.hostile import corpus
from tests.moderation.authz_rows import _item, _request
from tests.victims.conftest import FakeBank, file_upload_report, open_case

pytestmark = pytest.mark.django_db

TEXTS = [text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for _, text in corpus.HOSTILE_TEXT]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _client() -> Client:
    return Client(raise_request_exception=False)


def _post_each(client: Client, path: str, base: dict[str, Any], fields: list[str]) -> list[str]:
    failures = []
    for field in fields:
        for text in TEXTS:
            response = client.post(path, {**base, field: text})
            if response.status_code >= 500:
                failures.append(f"{path} {field}={text[:20]!r}: {response.status_code}")
    return failures


def _code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_staff_sign_in_takes_hostile_text() -> None:
    make_staff("signin", "moderator")
    failures = _post_each(_client(), "/staff/login/",
                          {"username": "signin", "password": "wrong", "otp_token": "123456"},
                          ["username", "password", "otp_token", "next"])
    assert not failures, "\n".join(failures)


HOSTILE_NEXT = [url for _, url, _ in corpus.HOSTILE_URLS] + [
    "//evil.example/", "///evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example",
    "http://testserver.evil.example/", "/%2F%2Fevil.example", "/staff/\r\nLocation: https://evil.example/",
]


def test_sign_in_never_redirects_off_site() -> None:
    user = make_staff("redirected", "moderator")
    failures = []
    for index, next_url in enumerate(HOSTILE_NEXT):
        client = _client()
        # Each try is a real sign-in; the lockout counts only failures, and the code is valid for its window.
        response = client.post("/staff/login/", {"username": "redirected", "password": "correct horse battery staple",
                                                 "otp_token": _code(user), "next": next_url})
        location = response.get("Location", "")
        if response.status_code >= 500:
            failures.append(f"#{index}: {response.status_code}")
        elif response.status_code == 302 and not (location.startswith("/") and not location.startswith(("//", "/\\"))):
            failures.append(f"#{index} {next_url[:40]!r}: redirected to {location[:80]!r}")
        TOTPDevice.objects.filter(user=user).update(last_t=-1)  # let the same code be used again
    assert not failures, "\n".join(failures)


def test_moderation_forms_take_hostile_text() -> None:
    moderator = make_staff("hostile-mod", "moderator")
    client = verified_client(moderator)
    client.raise_request_exception = False
    scenario: dict[str, Any] = {}
    item = _item(scenario)
    moderation_claim(item_id=item.id, user=moderator)
    messages_before = item.case.messages.count()
    base = f"/staff/moderation/items/{item.id}/"
    failures = _post_each(client, base + "reply/", {"body": "hello"}, ["body"])
    failures += _post_each(client, base + "second-review/", {"verdict": "uphold", "note": "n"}, ["verdict", "note"])
    # Decide last: a valid decision closes the item. Invalid choices must not.
    failures += _post_each(client, base + "decide/", {"decision": "not-a-decision", "reason": "r", "message": "m"},
                           ["reason", "message", "decision"])
    assert not failures, "\n".join(failures)
    item.refresh_from_db()
    assert ReviewItem.objects.filter(id=item.id).exists()
    # Replies that were valid were sent; none with a NUL byte; earlier messages are all still there.
    assert item.case.messages.count() >= messages_before
    assert not any("\x00" in body for body in item.case.messages.values_list("body", flat=True))


def test_remedy_outcome_takes_hostile_text() -> None:
    client = verified_client(make_staff("hostile-mod2", "moderator"))
    client.raise_request_exception = False
    request = _request({})
    state_before = RemedyRequest.objects.get(id=request.id).state
    failures = _post_each(client, f"/staff/remedies/requests/{request.id}/outcome/",
                          {"state": "no-such-state", "note": "n"}, ["state", "note"])
    assert not failures, "\n".join(failures)
    assert RemedyRequest.objects.get(id=request.id).state == state_before


def test_grant_and_profile_forms_take_hostile_text(fake_bank: FakeBank) -> None:
    case = case_make("HOSTILE-0001")
    advocate = make_staff("hostile-adv", "advocate")
    profile = advocate_profile_ensure(user=advocate)
    admin = verified_client(make_staff("hostile-admin", "admin"))
    admin.raise_request_exception = False
    advocate_client = verified_client(advocate)
    advocate_client.raise_request_exception = False
    failures = _post_each(admin, "/staff/grants/", {"reference": case.reference, "advocate": str(advocate.pk),
                                                    "days": "30", "request_document": "x"},
                          ["reference", "advocate", "days", "request_document"])
    # Any free text of ten characters or more is a documented request: those grants are legitimate.
    moderator_grants = AdvocateGrant.objects.count()
    assert not any("\x00" in doc for doc in AdvocateGrant.objects.values_list("request_document", flat=True))
    failures += _post_each(advocate_client, "/staff/advocate/profile/",
                           {"organisation": "Org", "annex_certificate": ""}, ["organisation", "annex_certificate"])
    failures += _post_each(advocate_client, f"/staff/advocate/cases/{case.reference}/export/", {"otp_token": "1"},
                           ["otp_token", "include_images"])
    filed = file_upload_report(Client())
    victim = _client()
    open_case(victim, filed)
    failures += _post_each(victim, "/case/advocate-access/", {
        "advocate-advocate_code": profile.grant_code, "advocate-days": "bad", "advocate-secret": "wrong",
        "advocate-identity_for_court": ""},
        ["action", "advocate-advocate_code", "advocate-days", "advocate-secret", "advocate-identity_for_court",
         "advocate-images_consented"])
    failures += _post_each(victim, "/case/advocate-access/", {"action": "revoke", "grant": "x"}, ["grant"])
    assert not failures, "\n".join(failures)
    # The person's forms had a wrong secret or wrong days: none of them created a grant.
    assert AdvocateGrant.objects.count() == moderator_grants
    assert AuditEvent.objects.filter(action="case.submit", case_id=case.id).count() == 1
