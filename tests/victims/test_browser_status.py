"""In headless Chromium: the person's status page shows each URL's true state after the requests were sent, after
a bounce, after the partner's acknowledgement and after removal (the same scenario as test_status_truth)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.remedies.smtpserver import FakeSMTP
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

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def smtp(settings: Any) -> Iterator[FakeSMTP]:
    server = FakeSMTP().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = False, False
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    yield server
    server.stop()


@pytest.fixture
def page(monkeypatch: Any) -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (./test installs it with apt-get)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser.new_page()
        browser.close()


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
