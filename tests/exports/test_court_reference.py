"""The person's own reference (which, with their secret, opens their case) never leaves their hands.

Court files, advocates' pages and staff consoles show a separate court reference that opens nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.services import advocate_profile_ensure, case_export_build, grant_create_by_victim
from takedown.moderation.models import ItemKind
from takedown.moderation.services import moderation_claim, moderation_item_open
from tests.exports.conftest import case_make, zip_members

pytestmark = pytest.mark.django_db


def test_court_references_are_distinct_and_unrelated_to_the_login_reference() -> None:
    first = case_make("LOGIN-REF-0001")
    second = case_make("LOGIN-REF-0002")
    assert first.court_reference.startswith("CR-") and len(first.court_reference) == 17
    assert first.court_reference != second.court_reference
    assert "LOGIN" not in first.court_reference


def test_the_court_file_carries_the_court_reference_only(advocate: Any) -> None:
    case = case_make("LOGIN-REF-0003")
    grant = grant_create_by_victim(case=case, advocate_code=advocate_profile_ensure(user=advocate).grant_code,
                                   days=30, images_consented=True, identity_for_court="")
    result = case_export_build(case=case, actor=Actor.system(), grant=grant, include_images=True)
    assert case.reference not in result.filename and case.court_reference in result.filename
    for name, content in zip_members(result.data).items():
        assert case.reference.encode() not in content, name
    assert json.loads(zip_members(result.data)[bundle.CASE_JSON])["case"]["court_reference"] == case.court_reference


def test_staff_and_advocate_pages_never_show_the_login_reference(moderator: Any, moderator_client: Client,
                                                                 advocate: Any, advocate_client: Client) -> None:
    case = case_make("LOGIN-REF-0004")
    item = moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)
    grant_create_by_victim(case=case, advocate_code=advocate_profile_ensure(user=advocate).grant_code, days=30,
                           images_consented=False, identity_for_court="")
    pages = [
        moderator_client.get(reverse("moderation-queue")),
        moderator_client.get(f"{reverse('exports-staff-grants')}?case={case.court_reference}"),
        advocate_client.get(reverse("exports-advocate-cases")),
        advocate_client.get(reverse("exports-advocate-case", args=[case.court_reference])),
        advocate_client.get(reverse("exports-advocate-export", args=[case.court_reference])),
    ]
    moderation_claim(item_id=item.id, user=moderator)
    pages.append(moderator_client.get(reverse("moderation-review", args=[item.id])))
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200, response
        assert case.reference not in html
    assert case.court_reference in pages[0].content.decode() + pages[-1].content.decode()
    # The login reference does not open the advocate's page either: it is not a court reference.
    assert advocate_client.get(reverse("exports-advocate-case", args=[case.reference])).status_code == 404
