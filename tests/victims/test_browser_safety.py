"""The victim's side in headless Chromium: Quick exit ends the case session; more images in either mode.

Phone and desktop, JavaScript on and off, English and Spanish.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from takedown.cases.models import CaseImage
from tests.conftest import draw_image
from tests.victims.conftest import browser_context, browser_open_case, file_upload_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("locale", ["en-GB", "es-ES"])
def test_quick_exit_ends_the_case_session(chromium: Any, live_server: Any, viewport: str, javascript: bool,
                                          locale: str) -> None:
    filed = file_upload_report(Client())
    context = browser_context(chromium, viewport, javascript=javascript, locale=locale)
    page = context.new_page()
    try:
        browser_open_case(page, live_server.url, filed)
        assert filed.reference in page.content()
        exit_link = page.locator("#quick-exit")
        # The same place on every page: the top corner, whatever the language and the header's contents.
        box = exit_link.bounding_box()
        width = page.viewport_size["width"]
        assert box is not None and box["y"] < 20 and box["x"] + box["width"] > width - 20
        exit_link.click()
        page.wait_for_url("https://www.wikipedia.org/**")
        if javascript:
            # location.replace: the case page is no longer in this tab's history.
            page.go_back()
            assert "/case/status/" not in page.url
        # The same phone, later: the case asks for the reference and secret again.
        page.goto(live_server.url + "/case/status/")
        assert page.url.endswith("/case/")
        assert filed.reference not in page.content()
        assert page.locator("#id_secret").count() == 1
    finally:
        context.close()


def _drawn_files(tmp_path: Path, count: int, first_seed: int = 40) -> list[str]:
    paths = []
    for seed in range(first_seed, first_seed + count):
        path = tmp_path / f"drawn-{seed}.png"
        path.write_bytes(draw_image(seed, (240, 180), "PNG"))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("locale", ["en-GB", "es-ES"])
def test_more_images_can_be_hashed_on_the_device(chromium: Any, live_server: Any, tmp_path: Path, viewport: str,
                                                 locale: str) -> None:
    """Adding images later offers "without sending the images", with the 10-image check before anything runs."""
    filed = file_upload_report(Client())
    before = set(CaseImage.objects.filter(case=filed.case).values_list("id", flat=True))
    context = browser_context(chromium, viewport, locale=locale)
    page = context.new_page()
    sent_files: list[str] = []
    page.on("request", lambda request: sent_files.append(request.url)
            if request.method == "POST" and "multipart" in (request.headers.get("content-type") or "") else None)
    try:
        browser_open_case(page, live_server.url, filed)
        page.wait_for_selector("#add-evidence-device:not([hidden])", timeout=10_000)
        assert page.locator("#add-evidence").is_visible()
        page.set_input_files("#device-files", _drawn_files(tmp_path, 11))
        message = page.text_content("[data-device-progress-text]")
        assert "11" in message and "10" in message
        assert page.input_value("#add-evidence-device input[name=device_hashes]") == ""
        assert page.evaluate("document.activeElement.id") == "device-files"
        page.set_input_files("#device-files", _drawn_files(tmp_path, 2, first_seed=60))
        page.wait_for_function("() => document.querySelector('#add-evidence-device input[name=device_hashes]')"
                               ".value.length > 0", timeout=60_000)
        page.click("#add-evidence-device button[type=submit]")
        page.wait_for_selector(".notice")
    finally:
        context.close()
    assert sent_files == []  # nothing went out as a file upload
    added = CaseImage.objects.filter(case=filed.case).exclude(id__in=before)
    assert added.count() == 2
    assert all(not image.blob_name and len(image.sha256) == 64 for image in added)


def test_without_javascript_more_images_are_sent_as_files(chromium: Any, live_server: Any, tmp_path: Path) -> None:
    filed = file_upload_report(Client())
    context = browser_context(chromium, "phone", javascript=False)
    page = context.new_page()
    try:
        browser_open_case(page, live_server.url, filed)
        # The device mode needs JavaScript: its form is not offered, and the page says why.
        assert not page.locator("#add-evidence-device").is_visible()
        page.set_input_files("#id_images", _drawn_files(tmp_path, 1))
        page.click("#add-evidence button[type=submit]")
        page.wait_for_selector(".notice")
    finally:
        context.close()
    assert CaseImage.objects.filter(case=filed.case).exclude(blob_name="").count() == 2
