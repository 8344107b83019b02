"""Accessibility of every victim page, in headless Chromium with axe-core (vendored in tests/vendor/axe-core).

Phone (320 px, the narrowest common screen) and desktop; English and Arabic (right to left). Each page must have
0 serious or critical axe violations and no horizontal scroll. Also: focus lands on the error summary after a
failed submit (JavaScript on and off), "Show" is not offered without JavaScript, the receipt never breaks a group
across lines and survives a reload, the language switch works without JavaScript, and after withdrawal the page
says only what is true, in Spanish too.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from takedown.core import crypto
from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim
from tests.victims.conftest import FiledCase, browser_context, browser_open_case, file_upload_report
from victims.views import RECEIPT_COOKIE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
SIZES = {"phone": {"width": 320, "height": 720}, "desktop": {"width": 1280, "height": 900}}
LONG_URL_LINE = "ftp://" + "x" * 240 + ".example.com/" + "y" * 200


def _axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, "tests/vendor/axe-core/axe.min.js changed"
    return data.decode()


def _violations(page: Any, axe: str) -> list[str]:
    # Evaluated through the DevTools protocol: the page's strict Content-Security-Policy stays on.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe + "\n;0")
    results = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '));
    }""")
    return list(results)


def _overflows(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"))


def _with_advocate_and_long_url(filed: FiledCase) -> None:
    from tests.conftest import make_staff

    profile = advocate_profile_ensure(user=make_staff("adv-a11y", "advocate"))
    profile.organisation = "Legal Aid Collective with a rather long organisation name"
    profile.save()
    grant_create_by_victim(case=filed.case, advocate_code=profile.grant_code, days=90, images_consented=True,
                           identity_for_court="")


def _receipt_cookie(context: Any, base: str, filed: FiledCase) -> None:
    token = crypto.encrypt_text(f"{filed.reference}\n{filed.secret}\n{int(time.time())}", associated=RECEIPT_COOKIE)
    context.add_cookies([{"name": RECEIPT_COOKIE, "value": token, "url": base + reverse("victims-report-done")}])


def _set_language(context: Any, base: str, language: str) -> None:
    context.add_cookies([{"name": "django_language", "value": language, "url": base + "/"}])


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_victim_page_passes_axe_and_fits(chromium: Any, live_server: Any, size: str, language: str) -> None:
    axe = _axe_source()
    filed = file_upload_report(Client(), urls="https://images.example.com/" + "p" * 180 + "\nexample.org/t/2")
    _with_advocate_and_long_url(filed)
    base = live_server.url
    context = chromium.new_context(viewport=SIZES[size], device_scale_factor=1, is_mobile=size == "phone",
                                   has_touch=size == "phone")
    _set_language(context, base, language)
    _receipt_cookie(context, base, filed)
    page = context.new_page()
    problems: list[str] = []

    def check(name: str) -> None:
        problems.extend(f"{name}: {v}" for v in _violations(page, axe))
        if _overflows(page):
            problems.append(f"{name}: scrolls sideways at {SIZES[size]['width']} px")

    try:
        for path in ("/", "/start/", "/under-18/", "/help/", "/privacy/", "/report/", "/report/device/", "/case/",
                     "/report/done/"):
            page.goto(base + path)
            assert page.locator("html").get_attribute("lang") == language
            check(path)
        # A failed report with a very long bad address: the errors must wrap, not widen the page.
        page.goto(base + "/report/")
        page.fill("#id_urls", LONG_URL_LINE)
        page.click("main form button[type=submit]")
        page.wait_for_selector("#error-summary")
        check("/report/ with errors")
        browser_open_case(page, base, filed)
        check("/case/status/")
        page.goto(base + "/case/withdraw/")
        check("/case/withdraw/")
        page.check("#id_confirm")
        page.fill("#id_secret", filed.secret)
        page.click("main button.danger")
        page.wait_for_selector("#hashes-withdrawn")
        check("/case/withdraw/ done")
    finally:
        context.close()
    assert problems == []


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("size", list(SIZES))
def test_focus_moves_to_the_error_summary(chromium: Any, live_server: Any, size: str, javascript: bool) -> None:
    context = browser_context(chromium, "phone" if size == "phone" else "desktop", javascript=javascript)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/report/")
        # The person's tab is in front, as on a phone: headless Chromium grants autofocus only to a focused page.
        page.bring_to_front()
        page.fill("#id_urls", "javascript:alert(1)")
        page.click("main form button[type=submit]")
        page.wait_for_selector("#error-summary")
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'error-summary'",
                               timeout=5_000)
        # The ring is visible: a 3 px near-black outline (19:1 on white) with a yellow halo.
        ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
            return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }""")
        assert ring == ["solid", "3px", "rgb(11, 12, 12)"]
    finally:
        context.close()


def test_show_buttons_are_not_offered_without_javascript(chromium: Any, live_server: Any) -> None:
    filed = file_upload_report(Client())
    for javascript in (False, True):
        context = browser_context(chromium, "phone", javascript=javascript)
        page = context.new_page()
        try:
            browser_open_case(page, live_server.url, filed)
            if javascript:
                page.wait_for_selector("button[data-reveal]:visible")
                page.click("button[data-reveal]")
                assert page.locator("img.revealed").count() == 1
            else:
                assert page.locator("button[data-reveal]").count() == 1
                assert not page.locator("button[data-reveal]").is_visible()
                assert page.locator("img.shielded").count() == 1
        finally:
            context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("language", ["en-GB", "es-ES"])
def test_receipt_survives_a_reload_and_never_splits_a_group(chromium: Any, live_server: Any, javascript: bool,
                                                            language: str) -> None:
    filed = file_upload_report(Client())
    context = chromium.new_context(viewport=SIZES["phone"], is_mobile=True, has_touch=True,
                                   java_script_enabled=javascript, locale=language, accept_downloads=True)
    _receipt_cookie(context, live_server.url, filed)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/report/done/")
        assert page.text_content("#case-secret").strip() == filed.secret
        page.reload()  # what a phone does on app switch
        assert page.text_content("#case-secret").strip() == filed.secret
        # Each group of the secret sits on one line at 320 px.
        split = page.evaluate("""() => Array.from(document.querySelectorAll('.credential .group'))
            .filter(g => g.getClientRects().length !== 1 || g.getBoundingClientRect().height > 45).length""")
        assert split == 0 and not _overflows(page)
        assert page.locator("#print-receipt").is_visible() == javascript
        assert page.locator("#copy-receipt").is_visible() == javascript
        with page.expect_download() as download:
            page.click("#save-receipt")
        assert filed.secret in Path(download.value.path()).read_text()
        page.click("#receipt-saved button[type=submit]")  # not ticked: asked again
        page.wait_for_selector("#error-summary")
        page.check("#id_saved")
        page.click("#receipt-saved button[type=submit]")
        page.wait_for_url("**/case/")
        page.goto(live_server.url + "/report/done/")
        assert filed.secret not in page.content()
    finally:
        context.close()


def test_language_switch_works_without_javascript_and_arabic_is_right_to_left(chromium: Any,
                                                                              live_server: Any) -> None:
    context = browser_context(chromium, "phone", javascript=False)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/help/")
        page.click("button[name=language][value=fr]")
        page.wait_for_selector("html[lang=fr]")
        assert page.url.endswith("/help/") and "Quelqu'un à qui parler" in page.content()
        page.click("button[name=language][value=ar]")
        page.wait_for_selector("html[lang=ar][dir=rtl]")
        # Quick exit keeps its corner: the inline end, which is the left in Arabic.
        box = page.locator("#quick-exit").bounding_box()
        assert box is not None and box["x"] < 20 and box["y"] < 20
        assert not _overflows(page)
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en-GB", "es-ES"])
def test_after_withdrawal_the_page_says_only_what_is_true(chromium: Any, live_server: Any, language: str) -> None:
    filed = file_upload_report(Client(), images=None)
    context = browser_context(chromium, "phone", locale=language)
    page = context.new_page()
    try:
        browser_open_case(page, live_server.url, filed)
        page.goto(live_server.url + "/case/withdraw/")
        page.check("#id_confirm")
        page.click("main button.danger")  # no secret typed: refused
        page.wait_for_selector("#error-summary")
        page.check("#id_confirm")
        page.fill("#id_secret", filed.secret)
        page.click("main button.danger")
        page.wait_for_selector("#hashes-withdrawn-explained")
        explained = page.text_content("#hashes-withdrawn-explained")
        page.goto(live_server.url + "/case/status/")
        status = page.content()
    finally:
        context.close()
    if language.startswith("es"):
        assert "Ninguna de tus huellas" in explained or "huella" in explained
        assert "Las solicitudes se envían" not in status
        assert "imágenes en este caso" not in status and "imagen en este caso" not in status
    else:
        assert "fingerprint" in explained
        assert "Requests are sent once a moderator confirms" not in status
        assert "in this case." not in status
    assert "you withdrew the case" in status or "retiraste el caso" in status
