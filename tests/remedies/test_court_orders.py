"""Court orders: an advocate with a grant and a fresh authenticator code records an order; the requests it directs
cite it and keep their own clocks; staff see it; everyone else is refused."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from fpdf import FPDF

from takedown.core.audit import Actor
from takedown.core.evidence import evidence_get
from takedown.core.models import AuditEvent, OutboxMessage
from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim
from takedown.remedies.documents import request_render
from takedown.remedies.models import CourtOrder, RemedyRequest, RequestKind
from takedown.remedies.services import remedies_generate_for_case
from tests.conftest import make_staff, verified_client
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db

DOCKET = "1:26-cv-04242"


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "ORDER granting injunctive relief (drawn test document)")
    return bytes(pdf.output())


def _code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def _form(user: User, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "court": "United States District Court for the Southern District of New York", "docket_number": DOCKET,
        "order_date": (date.today() - timedelta(days=2)).isoformat(), "scope": ["removal", "delinking"],
        "document": SimpleUploadedFile("scan.pdf", _pdf(), content_type="application/pdf"), "otp_token": _code(user),
    }
    data.update(overrides)
    return data


@pytest.fixture
def granted_case(advocate: User):
    host_make("pics.example")
    case = confirm(case_make())
    remedies_generate_for_case(case=case, actor=Actor.system())
    profile = advocate_profile_ensure(user=advocate)
    grant_create_by_victim(case=case, advocate_code=profile.grant_code, days=30, images_consented=False,
                           identity_for_court="")
    return case


def test_anonymous_and_wrong_roles_are_refused(client: Client, granted_case, moderator_client: Client,
                                               admin_client_2fa: Client) -> None:
    url = reverse("exports-advocate-court-order", args=[granted_case.court_reference])
    assert client.get(url).status_code == 302  # to sign-in
    assert moderator_client.get(url).status_code == 403
    assert admin_client_2fa.get(url).status_code == 403
    # An advocate without a grant to this case is told "not found", as for a case that does not exist.
    other = verified_client(make_staff("advocate-without-grant", "advocate"))
    assert other.get(url).status_code == 404
    assert not CourtOrder.objects.exists()


def test_advocate_records_an_order_and_the_requests_cite_it(advocate: User, advocate_client: Client,
                                                            granted_case, moderator_client: Client) -> None:
    before = set(RemedyRequest.objects.filter(case=granted_case).values_list("id", flat=True))
    url = reverse("exports-advocate-court-order", args=[granted_case.court_reference])
    assert advocate_client.get(url).status_code == 200
    response = advocate_client.post(url, _form(advocate))
    assert response.status_code == 200, response.content.decode()[:3000]
    order = CourtOrder.objects.get(case=granted_case)
    assert order.scope == ["removal", "delinking"] and order.docket_number == DOCKET
    stored = evidence_get(order.document_blob)
    assert stored.startswith(b"%PDF-") and len(stored) == order.document_size  # decrypts to the PDF sent
    # New requests, separate from the case's own (which stay as they were), each citing the order.
    ordered = RemedyRequest.objects.filter(case=granted_case, court_order=order)
    assert set(ordered.values_list("id", flat=True)).isdisjoint(before)
    assert sorted(set(ordered.values_list("kind", flat=True))) == ["delinking", "removal"]
    removal = ordered.get(kind=RequestKind.REMOVAL)
    # Queued for sending through the outbox (relayed after commit); its clock starts when it is sent, apart from
    # the clock of the case's own removal request.
    assert OutboxMessage.objects.filter(task="remedies.request_send", kwargs__request_id=str(removal.id)).exists()
    assert removal.deadline_at is None
    data = json.loads(request_render(removal, "json")[0])
    assert data["court_order"]["docket_number"] == DOCKET and data["court_order"]["document_sha256"] == \
        order.document_sha256
    assert data["title"].startswith("Court-ordered removal request")
    assert "Southern District of New York" in data["text"]
    # Audited, without the docket number in the detail.
    event = AuditEvent.objects.get(action="court_order.recorded", case_id=granted_case.id)
    assert DOCKET not in json.dumps(event.detail)
    # Staff see it with the case and can open the PDF (audited).
    page = moderator_client.get(reverse("remedies-case", args=[granted_case.id])).content.decode()
    assert "Court orders" in page and order.document_sha256 in page and "Court-ordered" in page
    pdf = moderator_client.get(reverse("remedies-court-order-pdf", args=[order.id]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="court_order.document_view", case_id=granted_case.id).exists()
    # Regenerating the case adds nothing: the order's URLs are covered.
    assert remedies_generate_for_case(case=granted_case, actor=Actor.system()) == []


@pytest.mark.parametrize(("overrides", "field"), [
    ({"document": SimpleUploadedFile("x.pdf", b"GIF89a not a pdf", content_type="application/pdf")}, "document"),
    ({"scope": []}, "scope"),
    ({"order_date": (date.today() + timedelta(days=3)).isoformat()}, None),
    ({"otp_token": "000000"}, "otp_token"),
])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(advocate: User, advocate_client: Client, granted_case,
                                                     overrides: dict[str, object], field: str | None) -> None:
    url = reverse("exports-advocate-court-order", args=[granted_case.court_reference])
    response = advocate_client.post(url, _form(advocate, **overrides))
    assert response.status_code in (400, 429)
    assert not CourtOrder.objects.exists()
    assert not RemedyRequest.objects.filter(court_order__isnull=False).exists()


def test_an_oversized_pdf_is_refused(advocate: User, advocate_client: Client, granted_case, settings) -> None:
    from takedown.remedies import models

    big = b"%PDF-1.7\n" + b"0" * (models.COURT_ORDER_MAX_BYTES + 10) + b"\n%%EOF\n"
    url = reverse("exports-advocate-court-order", args=[granted_case.court_reference])
    response = advocate_client.post(url, _form(advocate, document=SimpleUploadedFile("big.pdf", big)))
    assert response.status_code == 400 and "larger than" in response.content.decode()
    assert not CourtOrder.objects.exists()


def test_staff_only_see_the_pdf(client: Client, advocate_client: Client, granted_case, advocate: User) -> None:
    advocate_client.post(reverse("exports-advocate-court-order", args=[granted_case.court_reference]), _form(advocate))
    order = CourtOrder.objects.get()
    url = reverse("remedies-court-order-pdf", args=[order.id])
    assert client.get(url).status_code == 302
    assert advocate_client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_court_ordered_removal_is_sent_with_its_own_clock(mailoutbox) -> None:
    from django.db import transaction

    from takedown.core.evidence import evidence_put
    from takedown.remedies.directory import host_directory_seed
    from takedown.remedies.services import remedies_generate_for_court_order

    host_directory_seed()
    host_make("pics.example")
    case = confirm(case_make())
    with transaction.atomic():
        remedies_generate_for_case(case=case, actor=Actor.system())
    own = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL, court_order=None)
    data = _pdf()
    order = CourtOrder.objects.create(case=case, court="Landgericht Berlin II", docket_number="27 O 1/26",
                                      order_date=date.today(), scope=["removal"], document_blob=evidence_put(data),
                                      document_sha256="0" * 64, document_size=len(data))
    with transaction.atomic():
        remedies_generate_for_court_order(order=order, actor=Actor.system())
    ordered = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL, court_order=order)
    # The clock runs from the recipient's acceptance (SMTP 250), not from our attempt (r14-delivery).
    assert ordered.sent_at is not None and ordered.received_at is not None
    assert ordered.deadline_at == ordered.received_at + timedelta(hours=48)
    assert ordered.id != own.id and ordered.sent_at >= own.sent_at
    assert len(mailoutbox) == 2 and "Court-ordered removal request" in mailoutbox[1].body
    assert "Landgericht Berlin II" in mailoutbox[1].body
