"""The age question, the help page (support lines, plain-words explanation) and the privacy notice."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from takedown.cases.models import Case
from takedown.core.models import AuditEvent
from victims.helplines import HELPLINES_FILE, helplines

pytestmark = pytest.mark.django_db


def test_under_18_goes_to_take_it_down_and_keeps_nothing(client: Client) -> None:
    home = client.get("/").content.decode()
    # Both answers are plain links: choosing one sends nothing but which page to open.
    assert f'href="{reverse("victims-under-18")}"' in home and f'href="{reverse("victims-report-start")}"' in home
    before = (Case.objects.count(), AuditEvent.objects.count())
    page = client.get(reverse("victims-under-18"))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'href="https://takeitdown.ncmec.org/"' in body
    assert "cannot take the report" in body and "Nothing you did on this site was kept" in body
    assert (Case.objects.count(), AuditEvent.objects.count()) == before
    assert not client.session.keys()


def test_report_start_offers_both_modes(client: Client) -> None:
    body = client.get(reverse("victims-report-start")).content.decode()
    assert reverse("victims-report-upload") in body and reverse("victims-report-device") in body


def test_helplines_file_is_well_formed() -> None:
    data = json.loads(HELPLINES_FILE.read_text())
    countries, everywhere, checked = helplines()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", checked)
    assert {c.code for c in countries} >= {"US", "GB", "FR", "DE", "ES", "PT", "BR"}
    for country in data["countries"]:
        for line in country["lines"]:
            assert line["url"].startswith("https://") and line["checked_against"], line
            assert re.fullmatch(r"[0-9 \-]*", line["phone"]), line
    assert any(line.url == "https://takeitdown.ncmec.org/" for line in everywhere)


def test_help_page_lists_lines_and_explains_in_plain_words(client: Client) -> None:
    body = client.get(reverse("victims-help")).content.decode()
    assert 'href="tel:03456000459"' in body and "Revenge Porn Helpline" in body
    assert "<svg" in body and 'role="img"' in body
    for word in ("Removal:", "Blocking:", "Search results:"):
        assert word in body
    for jargon in ("hash bank", "Hash bank", "de-linking", "De-linking", "delinking"):
        assert jargon not in body


def test_privacy_notice_reads_the_retention_settings(client: Client, settings: Any) -> None:
    settings.RETENTION_WITHDRAWN_DAYS = 17
    settings.RETENTION_REJECTED_DAYS = 93
    settings.RETENTION_ORPHAN_HOURS = 5
    body = client.get(reverse("victims-privacy")).content.decode()
    assert "deleted 17 days later" in body
    assert "93 days after its last change" in body
    assert "after 5 hours" in body
    assert "30 minutes without use" in body


@pytest.mark.parametrize("name", ["home", "victims-report-start", "victims-under-18", "victims-help",
                                  "victims-privacy", "victims-report-upload", "victims-report-device",
                                  "victims-case-access"])
def test_every_victim_page_has_quick_exit_help_and_language_switch(client: Client, name: str) -> None:
    body = client.get(reverse(name)).content.decode()
    assert 'id="quick-exit"' in body and f'href="{reverse("quick-exit")}"' in body
    assert reverse("victims-help") in body and reverse("victims-privacy") in body
    assert 'action="/i18n/setlang/"' in body
    for code in ("en", "es", "fr", "pt", "de", "ar"):
        assert f'name="language" value="{code}"' in body
    assert "Take it down" not in body  # NCMEC's service name is not the product's


def test_arabic_pages_are_right_to_left(client: Client) -> None:
    client.post("/i18n/setlang/", {"language": "ar", "next": "/"})
    body = client.get("/").content.decode()
    assert '<html lang="ar" dir="rtl">' in body
