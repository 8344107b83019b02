"""Coming back: reference + secret, the session grant, rate limits, and the audit trail of every access."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from takedown.core.models import AuditEvent
from tests.victims.conftest import FiledCase, file_upload_report, open_case
from victims import access
from victims.access import CaseNotFound, case_from_grant
from victims.credentials import reference_parse, secret_canonical

pytestmark = pytest.mark.django_db


def _try(client: Client, reference: str, secret: str) -> Any:
    return client.post(reverse("victims-case-access"), {"reference": reference, "secret": secret})


def test_right_secret_opens_the_case(filed: FiledCase) -> None:
    client = Client()
    response = _try(client, filed.reference, filed.secret)
    assert response.status_code == 302 and response["Location"] == reverse("victims-case-status")
    page = client.get(reverse("victims-case-status"))
    assert page.status_code == 200
    assert filed.reference in page.content.decode()
    assert filed.secret not in page.content.decode()
    actions = list(AuditEvent.objects.filter(case_id=filed.case.id).values_list("action", "detail__via"))
    assert ("case.opened", "secret") in actions and ("case.opened", "session") in actions


def test_forgiving_typing(filed: FiledCase) -> None:
    sloppy_reference = filed.reference.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    sloppy_secret = filed.secret.removeprefix("tds_").replace("-", "").lower()
    assert _try(Client(), sloppy_reference, sloppy_secret).status_code == 302


def test_wrong_secret_and_unknown_reference_look_the_same(filed: FiledCase) -> None:
    wrong = _try(Client(), filed.reference, "tds_" + "0" * 25)
    unknown = _try(Client(), "0000-0000-0000-0000", filed.secret)
    garbage = _try(Client(), "hello", "world")
    assert wrong.status_code == unknown.status_code == garbage.status_code == 404
    assert "do not match a case" in wrong.content.decode()
    assert wrong.content.decode().count("do not match") == unknown.content.decode().count("do not match")
    assert AuditEvent.objects.filter(case_id=filed.case.id, action="case.access_denied").count() == 1


def test_another_cases_secret_does_not_open_it(client: Client, filed: FiledCase) -> None:
    other = file_upload_report(client)
    assert _try(Client(), filed.reference, other.secret).status_code == 404
    assert _try(Client(), other.reference, filed.secret).status_code == 404


def test_five_wrong_secrets_lock_the_reference(filed: FiledCase) -> None:
    for attempt in range(5):
        client = Client(REMOTE_ADDR=f"203.0.113.{attempt}")
        assert _try(client, filed.reference, "tds_" + "0" * 25).status_code == 404
    # Even the right secret, from a fresh client, now waits.
    response = _try(Client(REMOTE_ADDR="198.51.100.7"), filed.reference, filed.secret)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert AuditEvent.objects.filter(case_id=filed.case.id, action="case.access_limited").exists()


def test_too_many_tries_from_one_client(filed: FiledCase) -> None:
    client = Client(REMOTE_ADDR="203.0.113.50")
    statuses = [_try(client, f"{n:04d}-0000-0000-0000", "tds_" + "0" * 25).status_code
                for n in range(access.CLIENT_TRIES_LIMIT)]
    assert set(statuses) == {404}
    assert _try(client, filed.reference, filed.secret).status_code == 429


def test_receipt_download_counts_toward_the_limits(filed: FiledCase) -> None:
    for attempt in range(5):
        Client(REMOTE_ADDR=f"203.0.113.{attempt}").post(
            reverse("victims-receipt"), {"reference": filed.reference, "secret": "tds_" + "0" * 25})
    response = Client().post(reverse("victims-receipt"), {"reference": filed.reference, "secret": filed.secret})
    assert response.status_code == 429


def test_blank_access_form_keeps_input(client: Client) -> None:
    response = client.post(reverse("victims-case-access"), {"reference": "7KQ2-", "secret": ""})
    assert response.status_code == 400
    assert 'value="7KQ2-"' in response.content.decode()


def test_grant_expires_and_dies_with_the_secret(filed: FiledCase) -> None:
    grant = access.case_grant(filed.case).as_session()
    assert case_from_grant(grant=grant, purpose="t").id == filed.case.id
    with pytest.raises(CaseNotFound):
        case_from_grant(grant=grant, purpose="t", now=time.time() + access.GRANT_IDLE_SECONDS + 1)
    with pytest.raises(CaseNotFound):
        case_from_grant(grant={**grant, "token": "0" * 64}, purpose="t")
    with pytest.raises(CaseNotFound):
        case_from_grant(grant="not a dict", purpose="t")
    filed.case.secret_hash = "$argon2id$changed"
    filed.case.save()
    with pytest.raises(CaseNotFound):
        case_from_grant(grant=grant, purpose="t")


def test_session_holds_no_secret(filed: FiledCase) -> None:
    from django.contrib.sessions.models import Session

    client = Client()
    open_case(client, filed)
    for session in Session.objects.all():
        decoded = str(session.get_decoded())
        assert filed.secret not in decoded
        assert (secret_canonical(filed.secret) or "") not in decoded


def test_reference_shape() -> None:
    from victims.credentials import reference_new, secret_new

    references = {reference_new() for _ in range(200)}
    assert len(references) == 200
    for reference in list(references)[:20]:
        assert len(reference) == 19 and reference.count("-") == 3
        assert reference_parse(reference) == reference
    secret = secret_new()
    assert secret.startswith("tds_") and len(secret_canonical(secret) or "") == 25


def test_production_argon2_parameters() -> None:
    from tests.victims.conftest import PRODUCTION_HASHER

    hasher = PRODUCTION_HASHER()
    assert hasher.time_cost >= 3 and hasher.memory_cost >= 65536
    assert hasher.hash("x").startswith("$argon2id$")


def test_quick_exit_flushes_the_session_by_get_and_by_beacon(client: Client, filed: FiledCase) -> None:
    from django.conf import settings

    for method in ("get", "post"):
        open_case(client, filed)
        assert client.get(reverse("victims-case-status")).status_code == 200
        response = getattr(client, method)(reverse("quick-exit"))
        if method == "get":
            assert response.status_code == 302 and response["Location"] == settings.QUICK_EXIT_URL
        else:
            assert response.status_code == 204
        assert response["Clear-Site-Data"] == '"cookies", "storage"'
        after = client.get(reverse("victims-case-status"))
        assert after.status_code == 302 and after["Location"] == reverse("victims-case-access")
