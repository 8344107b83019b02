"""Intake records who signs (the person shown or who acts for them), the agent authorisation and the signature
they chose: the signature stored encrypted, never logged, never in an audit detail."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from takedown.cases.models import Authority, Case
from takedown.core.models import AuditEvent
from tests.victims.conftest import file_upload_report, jpeg_with_gps, report_data

pytestmark = pytest.mark.django_db

SIGNATURE = "Signed Sig-7731"


def test_the_person_says_who_signs_and_authorises_the_agent(client: Client, caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG):
        filed = file_upload_report(client, authority="parent_guardian", signature=SIGNATURE)
    case = Case.objects.get(id=filed.case.id)
    assert case.authority == Authority.PARENT_GUARDIAN and case.agent_authorised_at is not None
    assert case.signature == SIGNATURE
    # Encrypted at rest, and nowhere in the logs or the audit log.
    with connection.cursor() as cursor:
        cursor.execute("SELECT signature FROM cases_case WHERE id = %s", [case.id.hex])
        row = cursor.fetchone()
    if row is None:  # PostgreSQL stores the UUID natively
        with connection.cursor() as cursor:
            cursor.execute("SELECT signature FROM cases_case WHERE id = %s", [str(case.id)])
            row = cursor.fetchone()
    assert row is not None and SIGNATURE not in str(row[0])
    assert SIGNATURE not in caplog.text
    details = json.dumps([e.detail for e in AuditEvent.objects.filter(case_id=case.id)])
    assert SIGNATURE not in details and "parent_guardian" in details


def test_without_the_authorisation_the_case_is_still_filed(client: Client) -> None:
    filed = file_upload_report(client, authorise_agent="")
    case = Case.objects.get(id=filed.case.id)
    assert case.agent_authorised_at is None and case.authority == Authority.SELF


def test_who_signs_is_required(client: Client) -> None:
    image = io.BytesIO(jpeg_with_gps())
    image.name = "x.jpg"
    data = report_data(authority="")
    response = client.post(reverse("victims-report-upload"), {**data, "images": [image]})
    assert response.status_code == 400
    assert "Choose whether you are the person shown or act for them." in response.content.decode()
    assert not Case.objects.exists()


def test_the_form_explains_what_the_authorisation_does(client: Client) -> None:
    body = client.get(reverse("victims-report-upload")).content.decode()
    assert 'name="authority"' in body and 'name="authorise_agent"' in body
    assert "I am their parent or guardian" in body
    assert "we ask no website or search engine to remove anything for you" in body
    spanish = client.get(reverse("victims-report-upload"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "¿Quién eres?" in spanish and "Soy su madre, padre o tutor legal" in spanish
