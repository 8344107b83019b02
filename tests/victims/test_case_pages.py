"""Every case page as anonymous, with the right secret, with another case's secret, and as each staff role."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from takedown.cases.models import CaseImage, CaseURL, Message
from takedown.core.models import AuditEvent
from tests.conftest import draw_image
from tests.victims.conftest import FiledCase, file_upload_report, open_case

pytestmark = pytest.mark.django_db


def _image_url(filed: FiledCase) -> str:
    return reverse("victims-case-image", args=[CaseImage.objects.filter(case=filed.case).first().id])


def _png(seed: int = 9) -> io.BytesIO:
    handle = io.BytesIO(draw_image(seed, (64, 48), "PNG"))
    handle.name = "evidence.png"
    return handle


# (method, url builder, data builder, status for the case's own holder)
PAGES: list[tuple[str, Callable[[FiledCase], str], Callable[[FiledCase], dict[str, Any]], int]] = [
    ("get", lambda f: reverse("victims-case-status"), lambda f: {}, 200),
    ("get", _image_url, lambda f: {}, 200),
    ("post", lambda f: reverse("victims-case-urls"), lambda f: {"urls": "https://new.example.net/x"}, 302),
    ("post", lambda f: reverse("victims-case-evidence"), lambda f: {"images": [_png()]}, 302),
    ("post", lambda f: reverse("victims-case-message"), lambda f: {"body": "Found another copy"}, 302),
    ("get", lambda f: reverse("victims-case-withdraw"), lambda f: {}, 200),
    ("post", lambda f: reverse("victims-case-withdraw"), lambda f: {"confirm": "on", "secret": f.secret}, 200),
]
IDS = ["status", "image", "add-urls", "add-evidence", "message", "withdraw-form", "withdraw"]


@pytest.mark.parametrize(("method", "url", "data", "expected"), PAGES, ids=IDS)
def test_anonymous_is_sent_to_sign_in(filed: FiledCase, method: str, url: Any, data: Any, expected: int) -> None:
    response = getattr(Client(), method)(url(filed), data(filed))
    assert response.status_code == 302 and response["Location"] == reverse("victims-case-access")


@pytest.mark.parametrize(("method", "url", "data", "expected"), PAGES, ids=IDS)
def test_with_the_right_secret(filed: FiledCase, method: str, url: Any, data: Any, expected: int) -> None:
    client = Client()
    open_case(client, filed)
    response = getattr(client, method)(url(filed), data(filed))
    assert response.status_code == expected
    assert AuditEvent.objects.filter(case_id=filed.case.id, action="case.opened", detail__via="session").exists()


@pytest.mark.parametrize(("method", "url", "data", "expected"), PAGES, ids=IDS)
def test_with_another_cases_secret(client: Client, filed: FiledCase, method: str, url: Any, data: Any,
                                   expected: int) -> None:
    other = file_upload_report(client)
    intruder = Client()
    open_case(intruder, other)
    before = (CaseURL.objects.filter(case=filed.case).count(), CaseImage.objects.filter(case=filed.case).count(),
              Message.objects.filter(case=filed.case).count())
    response = getattr(intruder, method)(url(filed), data(filed))
    if url is _image_url:
        assert response.status_code == 404  # the other case's image is simply not found
    else:
        assert filed.reference not in response.content.decode()
    filed.case.refresh_from_db()
    assert filed.case.status != "withdrawn"
    after = (CaseURL.objects.filter(case=filed.case).count(), CaseImage.objects.filter(case=filed.case).count(),
             Message.objects.filter(case=filed.case).count())
    assert before == after


@pytest.mark.parametrize(("method", "url", "data", "expected"), PAGES, ids=IDS)
@pytest.mark.parametrize("role", ["moderator", "advocate", "admin"])
def test_staff_have_no_way_in_here(role_clients: dict[str, Client], filed: FiledCase, role: str, method: str,
                                   url: Any, data: Any, expected: int) -> None:
    response = getattr(role_clients[role], method)(url(filed), data(filed))
    assert response.status_code == 302 and response["Location"] == reverse("victims-case-access")


def test_status_page_shows_urls_images_messages(filed: FiledCase) -> None:
    Message.objects.create(case=filed.case, author=Message.Author.MODERATOR, body="Can you add the second link?")
    CaseURL.objects.create(case=filed.case, url="https://xn--pple-43d.com/", host="xn--pple-43d.com",
                           platform="xn--pple-43d.com", source=CaseURL.Source.VICTIM)
    client = Client()
    open_case(client, filed)
    body = client.get(reverse("victims-case-status")).content.decode()
    assert "https://images.example.com/p/1" in body and "example.org" in body
    assert 'class="shielded"' in body
    assert "Can you add the second link?" in body
    assert "Look-alike address" in body and "\u0430pple.com" in body
    assert Message.objects.get(author="moderator").read_at is not None


def test_remedy_rows_plug_in(filed: FiledCase, settings: Any) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
    rows = [
        {"kind": "removal", "kind_label": "Removal", "state": "sent", "state_label": "Sent, waiting for reply",
         "url": "https://images.example.com/p/1", "events": [("Sent", at)]},
        {"kind": "delinking", "kind_label": "De-linking", "state": "done", "state_label": "Done",
         "platform": "example.org", "events": []},
        {"kind": "blocking", "kind_label": "Blocking", "state": "active", "state_label": "Hashes shared", "events": []},
    ]
    import sys
    import types

    module = types.ModuleType("fake_remedies")
    module.rows = lambda case: rows  # type: ignore[attr-defined]
    sys.modules["fake_remedies"] = module
    settings.CASE_REMEDY_PROVIDERS = ["fake_remedies.rows"]
    client = Client()
    open_case(client, filed)
    body = client.get(reverse("victims-case-status")).content.decode()
    assert "Sent, waiting for reply" in body and "2026-05-20 09:30 UTC" in body
    assert "De-linking" in body and "Hashes shared" in body


def test_add_urls_deduplicates_and_reports_errors(filed: FiledCase) -> None:
    client = Client()
    open_case(client, filed)
    response = client.post(reverse("victims-case-urls"),
                           {"urls": "https://images.example.com/p/1?utm_source=x\nhttps://new.example.net/y"})
    assert response.status_code == 302
    assert CaseURL.objects.filter(case=filed.case).count() == 3
    assert "1 address added." in client.get(reverse("victims-case-status")).content.decode()
    bad = client.post(reverse("victims-case-urls"), {"urls": "javascript:alert(1)\nhttps://keep.example.net/"})
    assert bad.status_code == 400
    assert "https://keep.example.net/" in bad.content.decode()


def test_bad_evidence_and_empty_message_keep_the_page(filed: FiledCase) -> None:
    client = Client()
    open_case(client, filed)
    junk = io.BytesIO(b"not an image")
    junk.name = "x.png"
    response = client.post(reverse("victims-case-evidence"), {"images": [junk]})
    assert response.status_code == 400 and "not an image we can read" in response.content.decode()
    assert client.post(reverse("victims-case-evidence"), {}).status_code == 400
    response = client.post(reverse("victims-case-message"), {"body": "   "})
    assert response.status_code == 400


def test_evidence_by_device_hashes(filed: FiledCase) -> None:
    client = Client()
    open_case(client, filed)
    response = client.post(reverse("victims-case-evidence"),
                           {"device_hashes": json.dumps([{"sha256": "e" * 64, "pdq": "f" * 64, "quality": 70}])})
    assert response.status_code == 302
    assert CaseImage.objects.filter(case=filed.case, sha256="e" * 64, blob_name="").exists()


def test_image_is_served_privately(filed: FiledCase) -> None:
    client = Client()
    open_case(client, filed)
    response = client.get(_image_url(filed))
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(case_id=filed.case.id, action="case.image_viewed").exists()
    assert client.get(reverse("victims-case-image", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404


def test_leaving_ends_the_grant(filed: FiledCase) -> None:
    client = Client()
    open_case(client, filed)
    assert client.post(reverse("victims-case-leave")).status_code == 302
    assert client.get(reverse("victims-case-status")).status_code == 302
