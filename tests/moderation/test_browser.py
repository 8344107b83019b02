"""In headless Chromium: a moderator signs in with password and TOTP, claims, reveals, confirms; remedies appear."""

from __future__ import annotations

import io
import shutil

import pytest
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from pypdf import PdfReader

from takedown.core.models import AuditEvent
from takedown.remedies.directory import host_directory_seed
from takedown.remedies.models import RemedyRequest
from tests.conftest import make_staff
from tests.remedies.factory import CONTACT, case_make, host_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page(monkeypatch):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (./test installs it with apt-get)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    # monkeypatch restores the environment: a leaked flag would fail `check --deploy` in later tests.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        yield page
        browser.close()


def test_moderator_signs_in_claims_reveals_confirms_and_sees_the_remedies(live_server, browser_page, tmp_path):
    cache.clear()
    host_directory_seed()
    host_make("pics.example", jurisdiction="IE", name="Pics Host")
    case = case_make()
    user = make_staff("browser-mod", "moderator")
    device = TOTPDevice.objects.get(user=user)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/staff/login/?next=/staff/moderation/")
    page.fill("input[name=username]", "browser-mod")
    page.fill("input[name=password]", "correct horse battery staple")
    page.fill("input[name=otp_token]", code)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/moderation/")
    assert case.court_reference in page.inner_text("table.queue")

    page.click("#claim-next")
    page.wait_for_url("**/staff/moderation/items/**")
    image = page.locator("figure.case-image img")
    assert image.get_attribute("class") == "shielded"
    filter_css = image.evaluate("el => getComputedStyle(el).filter")
    assert "blur" in filter_css and "grayscale" in filter_css
    page.screenshot(path=str(tmp_path / "shielded.png"))
    assert CONTACT not in page.content()

    page.click("button.reveal")
    page.wait_for_selector("figure.case-image img.revealed")
    assert page.locator("figure.case-image img").evaluate("el => getComputedStyle(el).filter") == "none"
    assert AuditEvent.objects.filter(action="moderation.image_reveal", case_id=case.id).count() == 1

    page.check("input[name=decision][value=confirm]")
    page.click("#decide")
    page.wait_for_url(f"**/staff/remedies/cases/{case.id}/")
    kinds = sorted(page.locator("article.remedy").evaluate_all("els => els.map(e => e.dataset.kind)"))
    assert kinds == ["blocking"] + ["delinking"] * 5 + ["removal"]  # one de-linking per search engine
    removal = page.locator("article.remedy[data-kind=removal]")
    assert removal.get_attribute("data-state") == "sent"
    assert "48-hour deadline" in removal.inner_text() and "DSA Art. 16" in removal.inner_text()
    page.screenshot(path=str(tmp_path / "remedies.png"), full_page=True)

    pdf_href = removal.locator("a.doc-pdf").get_attribute("href")
    pdf = page.request.get(f"{live_server.url}{pdf_href}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages).split())
    assert "1. Signature" in text and "4. Contact information" in text and "Article 16" in text
    assert case.pseudonym in text and CONTACT not in text
    assert RemedyRequest.objects.filter(case=case).count() == 7
    assert not [e for e in errors if "Content Security Policy" in e], errors
