"""A person reports a video on a phone, in both modes, in headless Chromium.

Upload mode streams the file to the server, which computes its MD5 as it arrives; device mode computes the MD5
in the browser (vendored spark-md5, in 4 MiB pieces) and sends only that. The same file gives the same MD5 both
ways, and in device mode no request carries the video. The file is drawn in code: about 10 MB of noise frames
(several pieces, so the incremental hashing is exercised), never people.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from takedown.cases.models import Case, CaseVideo
from tests.intake_videos import video_bytes
from tests.victims.conftest import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fill(page: Any) -> None:
    page.check("#id_content_kind_0")
    page.fill("#id_urls", "https://videos.example.com/watch/1")
    page.check("#id_authority_0")
    page.check("#id_good_faith")
    page.check("#id_authorise_agent")
    page.fill("#id_signature", "J. D.")


def _report(chromium: Any, base: str, mode: str, video: Path) -> tuple[Case, list[int], str]:
    context = chromium.new_context(viewport=VIEWPORTS["phone"], device_scale_factor=1, is_mobile=True,
                                   has_touch=True, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    bodies: list[int] = []  # sizes of POST bodies Playwright can see (not multipart file uploads)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    # A missing static file (the vendored library) or a server error is a failure; a missing favicon is not.
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 500 or (response.status == 404 and "/static/" in response.url) else None)
    page.on("request", lambda request: bodies.append(len(request.post_data_buffer or b""))
            if request.method == "POST" else None)
    browser_md5 = ""
    try:
        if mode == "upload":
            page.goto(base + "/report/")
            page.set_input_files("#id_videos", str(video))
        else:
            page.goto(base + "/report/device/")
            page.wait_for_selector("[data-device-video-block]:not([hidden])")
            page.set_input_files("#device-videos", str(video))
            page.wait_for_function(
                "() => document.querySelector('[data-device-video-progress-text]').textContent.startsWith('Done')",
                timeout=120_000)
            browser_md5 = page.get_attribute("[data-device-video-results] li", "data-md5") or ""
        _fill(page)
        page.click("button[type=submit]")
        page.wait_for_selector("#case-secret, .error-summary", timeout=120_000)
        assert page.query_selector("#case-secret") is not None, page.text_content("main")
        reference = page.text_content("#case-reference").strip()
    finally:
        context.close()
    assert errors == []  # no CSP violation (spark-md5 is plain JavaScript), no script error
    return Case.objects.get(reference=reference), bodies, browser_md5


def test_video_report_on_a_phone_in_both_modes_gives_the_same_md5(chromium: Any, live_server: Any,
                                                                  tmp_path: Path) -> None:
    data = video_bytes(container="mp4", codec="mpeg4", seconds=3, fps=10, width=640, height=480, noise=True,
                       bit_rate=100_000_000)
    assert len(data) > 2 * 4 * 1024 * 1024  # more than two of the page's 4 MiB pieces
    path = tmp_path / "drawn-video.mp4"
    path.write_bytes(data)
    expected = hashlib.md5(data).hexdigest()

    uploaded, _, _ = _report(chromium, live_server.url, "upload", path)
    server_video = uploaded.videos.get()
    assert server_video.md5 == expected and server_video.source == CaseVideo.Source.UPLOAD

    hashed, device_bodies, browser_md5 = _report(chromium, live_server.url, "device", path)
    device_video = hashed.videos.get()
    assert browser_md5 == device_video.md5 == server_video.md5 == expected
    assert device_video.source == CaseVideo.Source.DEVICE and device_video.blob_name == ""
    assert device_video.size == len(data)
    assert device_bodies and max(device_bodies) < 10_000  # the form went url-encoded: only the fingerprint left
