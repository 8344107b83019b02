"""The person's status page shows each removal request's 48-hour clock: hours left, then that it is late."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.template.loader import render_to_string

from takedown.core.audit import Actor
from takedown.remedies.intake_hooks import remedy_rows
from takedown.remedies.models import RemedyRequest, RequestKind
from takedown.remedies.services import remedies_clock_tick, remedies_generate_for_case, remedy_request_update
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db


def _removal_row(case: Any) -> dict[str, Any]:
    return next(row for row in remedy_rows(case=case) if row["kind"] == RequestKind.REMOVAL)


def test_clock_counts_down_then_says_the_platform_is_late(django_capture_on_commit_callbacks: Any) -> None:
    host_make("pics.example")
    case = confirm(case_make())
    with django_capture_on_commit_callbacks(execute=True):
        remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    with time_machine.travel(removal.sent_at + timedelta(hours=10, minutes=5), tick=False):
        row = _removal_row(case)
        assert row["clock"] == "37 hours left of the 48 the law gives." and row["overdue"] is False
        html = render_to_string("victims/_remedy.html", {"remedy": row})
        assert '<span class="clock">37 hours left' in html
    with time_machine.travel(removal.sent_at + timedelta(hours=47, minutes=30), tick=False):
        assert _removal_row(case)["clock"] == "1 hour left of the 48 the law gives."
    with time_machine.travel(removal.sent_at + timedelta(hours=49), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        remedies_clock_tick()
        row = _removal_row(case)
        assert row["overdue"] is True and "we keep pressing this platform" in row["clock"]
        assert 'class="clock overdue"' in render_to_string("victims/_remedy.html", {"remedy": row})
    remedy_request_update(request=removal, state="complied", actor=Actor.system())
    row = _removal_row(case)
    assert row["clock"] == "" and row["overdue"] is False


def test_requests_without_a_statutory_clock_show_none(django_capture_on_commit_callbacks: Any) -> None:
    host_make("pics.example")
    case = confirm(case_make())
    with django_capture_on_commit_callbacks(execute=True):
        remedies_generate_for_case(case=case, actor=Actor.system())
    others = [row for row in remedy_rows(case=case) if row["kind"] != RequestKind.REMOVAL]
    assert others and all(row["clock"] == "" for row in others)
