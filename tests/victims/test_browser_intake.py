"""A person's whole journey in headless Chromium, on a phone-sized and a desktop viewport, in both modes.

File a report, save the receipt, come back with it, see the status, add a URL, withdraw. Screenshots of each
page are taken only when SCREENSHOTS_DIR is set: `python -m tests.screenshots` sets it to docs/screenshots/ and
runs this file (checked by eye: text must be as large and clear on the phone as on a desktop). The ordinary test
run writes nothing into the work tree.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.core.evidence import evidence_names_on_disk
from tests.conftest import draw_image
from tests.victims.conftest import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS_ENV = "SCREENSHOTS_DIR"


def _images(tmp_path: Path) -> list[Path]:
    paths = []
    for seed in (11, 12):
        image = Image.open(io.BytesIO(draw_image(seed, (800, 600), "PNG"))).convert("RGB")
        path = tmp_path / f"drawn-{seed}.jpg"
        image.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def _shot(page: Any, name: str) -> None:
    target = os.environ.get(SHOTS_ENV)
    if not target:
        return
    shots = Path(target)
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    # Keep the committed pictures small: a 64-colour palette is plenty for pages of text.
    with Image.open(path) as shot:
        shot.convert("RGB").quantize(colors=64).save(path, optimize=True)


def _fill_common(page: Any) -> None:
    page.check("#id_content_kind_0")
    page.fill("#id_urls", "https://images.example.com/p/1\nforum.example.org/t/2?utm_source=share")
    page.check("#id_authority_0")
    page.check("#id_good_faith")
    page.check("#id_authorise_agent")
    page.fill("#id_signature", "J. D.")


def _journey(page: Any, base: str, mode: str, viewport: str, files: list[Path], tmp_path: Path) -> Case:
    tag = f"{mode}-{viewport}"
    page.goto(base + "/")
    if viewport == "phone":
        _shot(page, f"home-{viewport}")
    page.click("#age-adult")
    if mode == "upload":
        page.click("text=Report by sending the images")
        page.set_input_files("#id_images", [str(f) for f in files])
    else:
        page.click("text=Report without sending the images")
        page.wait_for_selector("[data-device-hash-block]:not([hidden])")
        page.set_input_files("#device-files", [str(f) for f in files])
        page.wait_for_function(
            "() => document.querySelector('[data-device-progress-text]').textContent.startsWith('Done')",
            timeout=120_000)
    # First a mistake, as people make them: the form comes back with the error and what was typed.
    page.fill("#id_urls", "javascript:alert(1)")
    page.fill("#id_signature", "J. D.")
    page.click("button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert page.input_value("#id_signature") == "J. D."
    if viewport == "phone" and mode == "upload":
        _shot(page, f"report-error-{viewport}")
    if mode == "upload":
        page.set_input_files("#id_images", [str(f) for f in files])
    _fill_common(page)
    if mode == "device":
        # The hashes survived the error: the page says so and sends them again.
        assert "ready from before" in page.text_content("[data-device-progress-text]")
    if viewport == "phone":
        _shot(page, f"report-{tag}")
    page.click("button[type=submit]")
    page.wait_for_selector("#case-secret")
    reference = page.text_content("#case-reference").strip()
    secret = page.text_content("#case-secret").strip()
    assert secret.startswith("tds_")
    _shot(page, f"receipt-{tag}")
    with page.expect_download() as download_info:
        page.click("#save-receipt")
    saved = tmp_path / f"receipt-{tag}.txt"
    download_info.value.save_as(saved)
    receipt = saved.read_text()
    assert reference in receipt and secret in receipt

    # Come back later, in a fresh page, with only the saved receipt.
    page.context.clear_cookies()
    page.goto(base + "/case/")
    page.fill("#id_reference", re.search(r"Case reference: (\S+)", receipt).group(1))
    page.fill("#id_secret", re.search(r"Secret:\s+(\S+)", receipt).group(1))
    page.click("button[type=submit]")
    page.wait_for_selector("#case-status")
    assert page.text_content("#case-status").strip() == "Being reviewed"
    assert "images.example.com" in page.content()
    if mode == "upload":
        assert page.locator("img.shielded").count() == 2
    _shot(page, f"status-{tag}")

    page.fill("#id_urls", "https://mirror.example.net/copy/9")
    page.click("#add-urls button[type=submit]")
    page.wait_for_selector("text=1 address added.")
    assert "mirror.example.net" in page.content()

    page.click("text=Withdraw my case")
    page.check("#id_confirm")
    page.fill("#id_secret", secret)
    if viewport == "phone":
        _shot(page, f"withdraw-{tag}")
    page.click("button.danger")
    page.wait_for_selector("text=Your case was withdrawn")
    _shot(page, f"withdrawn-{tag}")
    with page.expect_download() as download_info:
        page.click("#withdrawal-receipt")
    withdrawal = tmp_path / f"withdrawal-{tag}.txt"
    download_info.value.save_as(withdrawal)
    assert reference in withdrawal.read_text()
    return Case.objects.get(reference=reference)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("mode", ["upload", "device"])
def test_journey(chromium: Any, live_server: Any, tmp_path: Path,
                 mode: str, viewport: str) -> None:
    files = _images(tmp_path)
    context = chromium.new_context(viewport=VIEWPORTS[viewport], accept_downloads=True,
                                   device_scale_factor=1, is_mobile=viewport == "phone",
                                   has_touch=viewport == "phone", locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A 400 for the deliberate mistake is expected; a missing static file or a server error is not.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 500 or (response.status == 404 and "/static/" in response.url) else None)
    try:
        case = _journey(page, live_server.url, mode, viewport, files, tmp_path)
    finally:
        context.close()
    assert errors == []  # no CSP violation, no script error
    assert case.status == CaseStatus.WITHDRAWN
    assert case.intake_mode == mode
    assert evidence_names_on_disk() == []
    assert set(case.images.values_list("state", flat=True)) == {CaseImage.State.DELETED}


def test_phone_text_is_as_large_as_on_desktop(chromium: Any, live_server: Any) -> None:
    sizes = {}
    for name, viewport in VIEWPORTS.items():
        context = chromium.new_context(viewport=viewport, is_mobile=name == "phone")
        page = context.new_page()
        page.goto(live_server.url + "/report/")
        sizes[name] = page.evaluate("""() => ({
            body: parseFloat(getComputedStyle(document.querySelector('main p')).fontSize),
            label: parseFloat(getComputedStyle(document.querySelector('label')).fontSize),
            button: document.querySelector('button[type=submit]').getBoundingClientRect().height,
            overflow: document.documentElement.scrollWidth > window.innerWidth,
        })""")
        context.close()
    assert sizes["phone"]["body"] >= 18 and sizes["phone"]["label"] >= 18
    assert sizes["phone"]["body"] >= sizes["desktop"]["body"]
    assert sizes["phone"]["button"] >= 44  # touch target (WCAG 2.5.8 asks 24; 44 is comfortable)
    assert not sizes["phone"]["overflow"]


def test_upload_mode_works_without_javascript(chromium: Any, live_server: Any,
                                              tmp_path: Path) -> None:
    context = chromium.new_context(java_script_enabled=False, viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.goto(live_server.url + "/report/")
    page.set_input_files("#id_images", [str(_images(tmp_path)[0])])
    _fill_common(page)
    page.click("button[type=submit]")
    page.wait_for_selector("#case-secret")
    context.close()
    assert Case.objects.count() == 1
