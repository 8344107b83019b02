"""Fixtures for intake: a cheap argon2, a private evidence store, fresh rate-limit counters, a filed case."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from PIL import Image

from takedown.cases.models import Case
from tests.conftest import draw_image
from victims import credentials, hashbank

# The production hasher, kept before the cheap one is swapped in, for the test of its parameters.
PRODUCTION_HASHER = credentials._hasher


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production argon2 costs ~1 s per check on this machine; the parameters are tested on their own."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", lambda: cheap)
    credentials._decoy_hash.cache_clear()


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_ROOT = tmp_path / "storage"
    return Path(settings.STORAGE_ROOT)


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


class FakeBank:
    """Records what intake asks of the bank (detection.bank's service functions)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], dict[str, str]] = {}

    def bank_add(self, *, signal_type: str, value: str, quality: int | None, source_kind: str,
                 source_id: str, variants: list[str] | None = None) -> None:
        self.entries[(signal_type, value)] = {"status": "Received", "source_id": source_id}

    def bank_lookup(self, *, signal_type: str, value: str, exclude_source_id: str) -> list[Any]:
        return []

    def bank_delete_source(self, *, source_kind: str, source_id: str) -> int:
        gone = [key for key, entry in self.entries.items() if entry["source_id"] == source_id]
        for key in gone:
            self.entries[key] = {"status": "Deleted", "source_id": ""}
        return len(gone)

    def bank_withdraw_source(self, *, source_kind: str, source_id: str) -> int:
        changed = 0
        for entry in self.entries.values():
            if entry["source_id"] == source_id and entry["status"] != "Withdrawn":
                entry["status"] = "Withdrawn"
                changed += 1
        return changed


@pytest.fixture
def fake_bank(monkeypatch: pytest.MonkeyPatch) -> FakeBank:
    bank = FakeBank()
    monkeypatch.setattr(hashbank, "bank", bank)
    return bank


def jpeg_with_gps(seed: int = 1) -> bytes:
    image = Image.open(io.BytesIO(draw_image(seed, (400, 300), "PNG"))).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "CameraMakerXYZ"
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"taken at home")
    return out.getvalue()


def report_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "content_kind": "deepfake",
        "urls": "https://images.example.com/p/1\nexample.org/t/2",
        "description": "Shared in a group chat too",
        "authority": "self",
        "good_faith": "on",
        "authorise_agent": "on",
        "signature": "J. D.",
        "contact": "",
    }
    data.update(overrides)
    return data


@dataclass
class FiledCase:
    case: Case
    reference: str
    secret: str


def file_upload_report(client: Client, images: list[bytes] | None = None, **overrides: Any) -> FiledCase:
    files = [io.BytesIO(data) for data in (images if images is not None else [jpeg_with_gps()])]
    for index, handle in enumerate(files):
        handle.name = f"holiday-{index}.jpg"
    response = client.post(reverse("victims-report-upload"), {**report_data(**overrides), "images": files})
    assert response.status_code == 302, response.content.decode()[:2000]
    done = client.get(reverse("victims-report-done"))
    assert done.status_code == 200
    reference, secret = done.context["reference"], done.context["secret"]
    return FiledCase(case=Case.objects.get(reference=reference), reference=reference, secret=secret)


def open_case(client: Client, filed: FiledCase) -> None:
    response = client.post(reverse("victims-case-access"), {"reference": filed.reference, "secret": filed.secret})
    assert response.status_code == 302


@pytest.fixture
def filed(db: None, client: Client) -> FiledCase:
    return file_upload_report(client)


@pytest.fixture
def file_report() -> Callable[..., FiledCase]:
    return file_upload_report


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def chromium(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """Debian's headless Chromium driven by Python Playwright (never `playwright install`)."""
    import os
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian chromium is not installed (scripts/ensure-chromium.sh installs it)")
    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM reads are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def browser_context(chromium: Any, viewport: str, *, javascript: bool = True, locale: str = "en-GB") -> Any:
    """A fresh context (its own cookies) that answers for the neutral Quick exit site without the network."""
    context = chromium.new_context(viewport=VIEWPORTS[viewport], accept_downloads=True, device_scale_factor=1,
                                   is_mobile=viewport == "phone", has_touch=viewport == "phone",
                                   java_script_enabled=javascript, locale=locale)
    context.route("https://www.wikipedia.org/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Wikipedia</title><p>neutral</p>"))
    return context


def browser_open_case(page: Any, base: str, filed: FiledCase) -> None:
    page.goto(base + "/case/")
    page.fill("#id_reference", filed.reference)
    page.fill("#id_secret", filed.secret)
    page.click("main button[type=submit]")
    page.wait_for_selector("#case-status")
