"""Transport security and secret checks (issue 10, "No one where they don't belong").

- The production configuration turns on HSTS (a year, subdomains, preload), the HTTPS redirect and Secure,
  HttpOnly, SameSite=Strict cookies; with those settings every cookie the site sets (CSRF, a person's session,
  a staff session, the one-time receipt) carries the three flags and HTTPS answers carry HSTS.
- Per-response headers (CSP without unsafe-inline, frame-ancestors 'none', nosniff, referrer policy, no-store on
  case and staff pages) are checked on every route for every principal in test_authz_matrix.py, and so is CSRF.
- Secrets are compared in constant time, and a miss costs what a wrong secret costs: a case secret is checked
  against a decoy argon2 hash when no case has the reference; partner keys and webhook signatures go through
  hmac.compare_digest; a staff sign-in for an unknown name still hashes the password.
"""

from __future__ import annotations

import hmac
import io
import json
import subprocess
import sys
from collections.abc import Callable
from http.cookies import Morsel
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from takedown.core.audit import Actor
from takedown.partners import keys as partner_keys
from takedown.partners.auth import KeyRejected, key_authenticate, key_cache_forget
from takedown.partners.models import PartnerKey
from takedown.partners.services import partner_create
from takedown.partners.webhooks import webhook_signature, webhook_signature_verify
from tests.conftest import make_staff
from tests.core.test_settings import _production_env
from tests.victims.conftest import FakeBank, file_upload_report, jpeg_with_gps, report_data
from victims import credentials
from victims.access import CaseNotFound, case_open

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_TRANSPORT = {
    "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31536000, "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


def test_production_settings_turn_on_hsts_https_and_strict_cookies(tmp_path: Path) -> None:
    names = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT",
             "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SECURE",
             "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF"]
    script = ("import json, django; from django.conf import settings; django.setup(); "
              f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_production_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and values["SECURE_HSTS_PRELOAD"]
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_CONTENT_TYPE_NOSNIFF"]
    for cookie in ("SESSION", "CSRF"):
        assert values[f"{cookie}_COOKIE_SECURE"] and values[f"{cookie}_COOKIE_HTTPONLY"]
        assert values[f"{cookie}_COOKIE_SAMESITE"] == "Strict"
    assert values["X_FRAME_OPTIONS"] == "DENY"


def _strict(cookie: Morsel[str]) -> bool:
    return bool(cookie["secure"]) and bool(cookie["httponly"]) and cookie["samesite"] == "Strict"


@pytest.mark.django_db
@override_settings(**PRODUCTION_TRANSPORT)
def test_http_is_redirected_and_https_carries_hsts() -> None:
    plain = Client().get("/case/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    secure = Client().get("/case/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    # The health check stays reachable over plain HTTP for the load balancer, and says nothing more.
    assert Client().get("/healthz").status_code in (200, 503)


@pytest.mark.django_db
def test_every_cookie_the_site_sets_is_secure_httponly_and_strict(fake_bank: FakeBank,
                                                                   cheap_argon2: None, storage: Path) -> None:
    filed = file_upload_report(Client())
    user = make_staff("cookie-staff", "moderator")
    device = TOTPDevice.objects.get(user=user)
    with override_settings(**PRODUCTION_TRANSPORT):
        person = Client(enforce_csrf_checks=True)
        csrf = person.get("/report/", secure=True).cookies["csrftoken"]
        assert _strict(csrf)
        upload = io.BytesIO(jpeg_with_gps())
        upload.name = "a.jpg"
        done = person.post("/report/", {**report_data(), "images": [upload], "csrfmiddlewaretoken": csrf.value},
                           secure=True, HTTP_REFERER="https://testserver/report/")
        assert done.status_code == 302
        receipt = done.cookies["victims_receipt"]
        assert _strict(receipt) and receipt["path"] == "/report/done/"
        # Coming back with the reference and secret: the session cookie.
        back = Client(enforce_csrf_checks=True)
        token = back.get("/case/", secure=True).cookies["csrftoken"].value
        opened = back.post("/case/", {"reference": filed.reference, "secret": filed.secret,
                                      "csrfmiddlewaretoken": token}, secure=True,
                           HTTP_REFERER="https://testserver/case/")
        assert opened.status_code == 302 and _strict(opened.cookies["sessionid"])
        # A staff sign-in: the same.
        staff = Client(enforce_csrf_checks=True)
        token = staff.get("/staff/login/", secure=True).cookies["csrftoken"].value
        code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
        signed_in = staff.post("/staff/login/", {
            "username": "cookie-staff", "password": "correct horse battery staple", "csrfmiddlewaretoken": token,
            "otp_token": code}, secure=True, HTTP_REFERER="https://testserver/staff/login/")
        assert signed_in.status_code == 302 and _strict(signed_in.cookies["sessionid"])


# --- Constant-time checks -----------------------------------------------------------------------------------


class Spy:
    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(args)
        return self.inner(*args, **kwargs)


@pytest.mark.django_db
def test_a_case_reference_that_does_not_exist_costs_one_argon2_check(
        fake_bank: FakeBank, cheap_argon2: None, storage: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    filed = file_upload_report(Client())
    inner = credentials._hasher()
    spy = Spy(inner.verify)

    class CountingHasher:
        hash = staticmethod(inner.hash)
        verify = staticmethod(spy)

    monkeypatch.setattr(credentials, "_hasher", lambda: CountingHasher())
    credentials._decoy_hash.cache_clear()
    decoy = credentials._decoy_hash()
    with pytest.raises(CaseNotFound):
        case_open(reference=credentials.reference_new(), secret=filed.secret, address="198.51.100.1",
                  purpose="status")
    assert [call[0] for call in spy.calls] == [decoy]
    with pytest.raises(CaseNotFound):
        case_open(reference=filed.reference, secret=credentials.secret_new(), address="198.51.100.2",
                  purpose="status")
    with pytest.raises(CaseNotFound):  # not even shaped like a secret: still one full check
        case_open(reference=filed.reference, secret="x", address="198.51.100.3", purpose="status")
    assert len(spy.calls) == 3 and spy.calls[1][0] == spy.calls[2][0] == filed.case.secret_hash


@pytest.mark.django_db
def test_partner_keys_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    made = partner_create(name="Timing", actor=Actor.system())
    key_cache_forget()
    spy = Spy(hmac.compare_digest)
    monkeypatch.setattr(partner_keys.hmac, "compare_digest", spy)
    right = made.api_key.plaintext
    wrong = right[:-4] + ("AAAA" if not right.endswith("AAAA") else "BBBB")
    with pytest.raises(KeyRejected):
        key_authenticate(wrong, kind=PartnerKey.Kind.API)
    assert len(spy.calls) == 1 and spy.calls[0][1] != partner_keys.key_digest(wrong)
    assert key_authenticate(right, kind=PartnerKey.Kind.API).partner_id == made.partner.id


def test_webhook_signatures_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    from takedown.partners import webhooks

    spy = Spy(hmac.compare_digest)
    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    header = webhook_signature("tdw_secret", 1_700_000_000, b"{}")
    assert webhook_signature_verify("tdw_secret", header, b"{}", now=1_700_000_000)
    assert not webhook_signature_verify("tdw_secret", header.replace("v1=", "v1=0"), b"{}", now=1_700_000_000)
    assert len(spy.calls) == 2


@pytest.mark.django_db
def test_staff_sign_in_for_an_unknown_name_still_hashes_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.contrib.auth import base_user

    spy = Spy(base_user.make_password)
    monkeypatch.setattr(base_user, "make_password", spy)
    response = Client().post("/staff/login/", {"username": "nobody-by-this-name", "password": "guess",
                                               "otp_token": "123456"})
    assert response.status_code == 400
    assert len(spy.calls) == 1  # Django's ModelBackend runs the hasher for a missing user too
