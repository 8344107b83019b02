"""The person's status page tells the truth per URL: a case from report to removal, every remedy line of every
address compared with the database after each step (sent, bounced, acknowledged, removed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.remedies.smtpserver import FakeSMTP, smtp_serving
from tests.victims.status_scenario import (
    URLS,
    check_page_against_database,
    scenario_bounce,
    scenario_confirm,
    scenario_partner_acknowledges,
    scenario_removed,
    scenario_report,
    status_page_remedies,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings: Any) -> Iterator[FakeSMTP]:
    with smtp_serving(settings) as server:
        yield server


def _page(client: Client) -> str:
    response = client.get("/case/status/")
    assert response.status_code == 200
    return response.content.decode()


def _states(content: str, name: str) -> dict[str, str]:
    return {row["recipient"]: row["state"] for row in status_page_remedies(content)[URLS[name]]}


def test_each_url_shows_what_happened_to_its_requests_from_report_to_removal(smtp: FakeSMTP) -> None:
    s = scenario_report()
    client = Client()
    assert client.post("/case/", {"reference": s.case.reference, "secret": s.secret}).status_code == 302
    before = _page(client)
    assert check_page_against_database(before, s.case) == []
    assert "Requests are sent once a moderator confirms the report." in before

    scenario_confirm(s)
    sent = _page(client)
    assert check_page_against_database(sent, s.case) == []
    assert "No request for this address yet." not in sent
    pics = _states(sent, "pics")
    assert pics["to Pics Host"] == "sent" and pics["to Google Search"] == pics["to Microsoft Bing"] == "not_sent"
    assert _states(sent, "social")["to Social"] == "sending"  # handed over, not yet taken by the partner
    assert len(smtp.received) == 2  # pics and bounce, each accepted by the mail server
    assert "Shared: the fingerprints are in the list partner platforms check." in sent  # blocking, case-wide

    scenario_bounce(s)
    bounced = _page(client)
    assert check_page_against_database(bounced, s.case) == []
    assert _states(bounced, "bounce")["to Bounce Host"] == "bounced"
    assert _states(bounced, "pics")["to Pics Host"] == "sent"

    scenario_partner_acknowledges(s)
    acknowledged = _page(client)
    assert check_page_against_database(acknowledged, s.case) == []
    assert _states(acknowledged, "social")["to Social"] == "acknowledged"
    social = next(r for r in status_page_remedies(acknowledged)[URLS["social"]] if r["recipient"] == "to Social")
    assert any(line.startswith("Received by the platform's system") for line in social["events"])
    assert social["clock"].endswith("hours left of the 48 the law gives.")

    scenario_removed(s)
    removed = _page(client)
    assert check_page_against_database(removed, s.case) == []
    assert _states(removed, "pics")["to Pics Host"] == "done"
    assert _states(removed, "social")["to Social"] == "done"
    assert _states(removed, "bounce")["to Bounce Host"] == "bounced"
