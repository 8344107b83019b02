"""In headless Chromium: the person gives their advocate access from the status page, the advocate signs in with
the second factor and downloads the court file (which verifies), then the person removes the access and the
advocate's page is gone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from takedown.exports import bundle
from takedown.exports.models import AdvocateGrant
from takedown.exports.services import advocate_profile_ensure
from tests.conftest import make_staff
from tests.exports.conftest import verify_pinned, zip_members
from tests.victims.conftest import file_upload_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian chromium is not installed (scripts/ensure-chromium.sh installs it)")
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM reads are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _code(user: Any, steps_ahead: int = 0) -> str:
    # A TOTP code is accepted once; the export's re-confirmation uses the next step's (within the tolerance).
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"


def _shot(page: Any, name: str) -> None:
    # Only `python -m tests.screenshots` (which sets SCREENSHOTS_DIR) writes pictures: a test run leaves the tree clean.
    target = os.environ.get("SCREENSHOTS_DIR")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    path = Path(target) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as shot:  # small committed pictures: a 64-colour palette is plenty for text
        shot.convert("RGB").quantize(colors=64).save(path, optimize=True)


def _watch(page: Any, errors: list[str]) -> None:
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 500 else None)


def test_person_gives_and_removes_access_and_the_advocate_exports_in_between(chromium: Any, live_server: Any,
                                                                             tmp_path: Path) -> None:
    cache.clear()
    filed = file_upload_report(Client())
    advocate = make_staff("browser-advocate", "advocate")
    profile = advocate_profile_ensure(user=advocate)
    profile.organisation = "Legal Aid Collective"
    profile.save()
    errors: list[str] = []

    person = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = person.new_page()
    _watch(page, errors)
    page.goto(live_server.url + "/case/")
    page.fill("#id_reference", filed.reference)
    page.fill("#id_secret", filed.secret)
    page.click("button[type=submit]")
    page.wait_for_selector("#case-status")
    page.click("#advocate-grant summary")
    page.fill("#id_advocate-advocate_code", profile.grant_code.lower())
    page.select_option("#id_advocate-days", "30")
    page.check("#id_advocate-images_consented")
    # A wrong secret first: refused, what was typed stays, nothing is granted.
    page.fill("#id_advocate-secret", "tds_AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")
    page.click("#advocate-grant button[type=submit]")
    page.wait_for_selector("#advocate-grant .error-summary")
    assert "That is not the secret of this case." in page.inner_text("#advocate-grant")
    assert page.input_value("#id_advocate-advocate_code") == profile.grant_code.lower()
    assert not AdvocateGrant.objects.exists()
    page.fill("#id_advocate-secret", filed.secret)
    page.click("#advocate-grant button[type=submit]")
    page.wait_for_selector("text=Access given")
    row = page.locator("#advocate-grants tr[data-grant-state=active]")
    assert "Legal Aid Collective" in row.inner_text() and "your images" in row.inner_text()
    assert "not your identity" in row.inner_text()
    _shot(page, "status-advocate-phone")

    # The advocate signs in with the second factor, finds the case and downloads the court file.
    lawyer = chromium.new_context(accept_downloads=True)
    desk = lawyer.new_page()
    _watch(desk, errors)
    desk.goto(f"{live_server.url}/staff/login/?next=/staff/advocate/")
    desk.fill("input[name=username]", "browser-advocate")
    desk.fill("input[name=password]", "correct horse battery staple")
    desk.fill("input[name=otp_token]", _code(advocate))
    desk.click("button[type=submit]")
    desk.wait_for_url("**/staff/advocate/")
    desk.click(f"text={filed.case.court_reference}")
    desk.wait_for_url(f"**/staff/advocate/cases/{filed.case.court_reference}/")
    desk.click("text=Export the court case file")
    desk.fill("input[name=otp_token]", _code(advocate, steps_ahead=1))
    desk.check("input[name=include_images]")
    with desk.expect_download() as download:
        desk.click("button[type=submit]")
    saved = tmp_path / "case.zip"
    download.value.save_as(saved)
    data = saved.read_bytes()
    assert verify_pinned(data).ok
    members = zip_members(data)
    assert filed.case.pseudonym in members[bundle.CASE_JSON].decode()
    assert any(name.startswith("images/") for name in members)

    # The person removes the access; the advocate's case page is gone at once.
    page.click("#advocate-grants tr[data-grant-state=active] button")
    page.wait_for_selector("text=Access removed")
    assert page.locator("#advocate-grants tr[data-grant-state=revoked]").count() == 1
    response = desk.goto(f"{live_server.url}/staff/advocate/cases/{filed.case.court_reference}/")
    assert response is not None and response.status == 404
    person.close()
    lawyer.close()
    assert [e for e in errors if "/staff/advocate/cases/" not in e] == []
