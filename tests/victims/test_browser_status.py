"""In headless Chromium: the person's status page shows each URL's true state after the requests were sent, after
a bounce, after the partner's acknowledgement and after removal (the same scenario as test_status_truth)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.remedies.smtpserver import FakeSMTP, smtp_serving
from tests.victims.status_scenario import (
    URLS,
    check_page_against_database,
    scenario_bounce,
    scenario_confirm,
    scenario_partner_acknowledges,
    scenario_removed,
    scenario_report,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def smtp(settings: Any) -> Iterator[FakeSMTP]:
    with smtp_serving(settings) as server:
        yield server


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A page of the victims' shared headless Chromium (tests/victims/conftest.py)."""
    opened = chromium.new_page()
    yield opened
    opened.close()


def _shown(page: Any, name: str) -> dict[str, str]:
    """recipient -> (data-state, the words) of each remedy under one URL, as rendered in the browser."""
    item = page.locator("li.url", has=page.locator("span.url-text", has_text=URLS[name]))
    return dict(item.locator("li.remedy").evaluate_all(
        "els => els.map(e => [e.querySelector('.recipient').innerText, "
        "e.dataset.state + ' | ' + e.querySelector('.state').innerText])"))


def test_the_browser_shows_each_urls_true_state_at_each_step(live_server: Any, page: Any, smtp: FakeSMTP,
                                                              tmp_path: Any) -> None:
    s = scenario_report()
    page.goto(f"{live_server.url}/case/")
    page.fill("input[name=reference]", s.case.reference)
    page.fill("input[name=secret]", s.secret)
    page.click("form button[type=submit]")
    page.wait_for_url("**/case/status/")

    scenario_confirm(s)
    page.reload()
    assert check_page_against_database(page.content(), s.case) == []
    assert _shown(page, "pics")["to Pics Host"] == "sent | Sent: the platform's system received it."
    assert _shown(page, "bounce")["to Bounce Host"].startswith("sent |")
    assert _shown(page, "social")["to Social"].startswith("sending | Handed over")
    assert _shown(page, "pics")["to Google Search"].startswith("not_sent | Not sent yet")
    page.screenshot(path=str(tmp_path / "sent.png"), full_page=True)

    scenario_bounce(s)
    page.reload()
    assert check_page_against_database(page.content(), s.case) == []
    assert _shown(page, "bounce")["to Bounce Host"] == (
        "bounced | Bounced: it did not reach the platform. A moderator is on it.")

    scenario_partner_acknowledges(s)
    page.reload()
    assert check_page_against_database(page.content(), s.case) == []
    assert _shown(page, "social")["to Social"] == "acknowledged | Acknowledged by the platform."
    social = page.locator("li.url", has=page.locator("span.url-text", has_text=URLS["social"]))
    assert "hours left of the 48" in social.locator("li.remedy-removal .clock").inner_text()

    scenario_removed(s)
    page.reload()
    assert check_page_against_database(page.content(), s.case) == []
    assert _shown(page, "pics")["to Pics Host"] == "done | Removed"
    assert _shown(page, "social")["to Social"] == "done | Removed"
    assert _shown(page, "bounce")["to Bounce Host"].startswith("bounced |")
    assert "No request for this address yet." not in page.content()
    page.screenshot(path=str(tmp_path / "removed.png"), full_page=True)
