"""The demo case for the embedded default: drawn images, made once."""

from __future__ import annotations

import pytest
from django.conf import settings

from takedown.cases.models import Case, CaseImage
from victims.demo import demo_case

pytestmark = pytest.mark.django_db


def test_demo_case_is_made_once() -> None:
    assert "victims.demo.demo_case" in settings.DEMO_DATA_STEPS
    line = demo_case()
    assert line is not None and "tds_" in line
    assert demo_case() is None
    case = Case.objects.get()
    assert CaseImage.objects.filter(case=case).count() == 2
    assert case.urls.count() == 2 and case.messages.count() == 1
