"""Filing a report: both modes, the one-time receipt, and every kind of bad input."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from takedown.cases.models import Case, CaseImage, CaseStatus, CaseURL
from takedown.core.evidence import evidence_get, evidence_names_on_disk
from takedown.core.models import AuditEvent, OutboxMessage
from tests.conftest import draw_image
from tests.victims.conftest import file_upload_report, jpeg_with_gps, report_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["home", "victims-report-upload", "victims-report-device", "victims-case-access"])
def test_pages_render_with_strict_csp(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    body = response.content.decode()
    assert "<script>" not in body and " style=" not in body and "<style" not in body
    assert 'id="quick-exit"' in body


def test_upload_report_files_a_case(client: Client, storage: Any) -> None:
    filed = file_upload_report(client)
    case = filed.case
    assert case.status == CaseStatus.SUBMITTED
    assert case.intake_mode == "upload" and case.content_kind == "deepfake"
    assert filed.secret.startswith("tds_") and filed.secret not in case.secret_hash
    assert case.secret_hash.startswith("$argon2id$")
    assert sorted(CaseURL.objects.filter(case=case).values_list("url", flat=True)) == [
        "https://example.org/t/2", "https://images.example.com/p/1"]
    assert CaseURL.objects.get(case=case, url="https://images.example.com/p/1").platform == "example.com"
    image = CaseImage.objects.get(case=case)
    original = jpeg_with_gps()
    import hashlib
    assert image.sha256 == hashlib.sha256(original).hexdigest()
    assert image.state == CaseImage.State.PENDING and image.media_type == "image/jpeg"
    # Stored encrypted, without the original name, without EXIF/GPS.
    assert evidence_names_on_disk() == [image.blob_name]
    raw_on_disk = next((storage / "evidence").glob("*/*")).read_bytes()
    assert b"CameraMakerXYZ" not in raw_on_disk and b"JFIF" not in raw_on_disk
    kept = evidence_get(image.blob_name)
    assert b"CameraMakerXYZ" not in kept and b"taken at home" not in kept
    with Image.open(io.BytesIO(kept)) as reopened:
        assert 0x8825 not in reopened.getexif()
    assert "holiday" not in json.dumps(list(CaseImage.objects.values()), default=str)
    assert OutboxMessage.objects.filter(task="victims.process_case", kwargs={"case_id": str(case.id)}).exists()
    assert AuditEvent.objects.filter(case_id=case.id, action="case.submitted").exists()


def test_receipt_survives_a_reload_until_saved_and_is_downloadable(client: Client) -> None:
    filed = file_upload_report(client)
    # A phone reloads the page on app switch: within the window, in the same browser, it is shown again.
    again = client.get(reverse("victims-report-done"))
    assert again.status_code == 200 and filed.secret in again.content.decode()
    assert client.cookies["victims_receipt"]["max-age"] == ""  # a browser-session cookie, not a stored one
    # Continuing without saying it was saved asks again; saying so forgets it.
    unconfirmed = client.post(reverse("victims-report-done"), {})
    assert unconfirmed.status_code == 400 and "error-summary" in unconfirmed.content.decode()
    confirmed = client.post(reverse("victims-report-done"), {"saved": "on"})
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("victims-case-access")
    gone = client.get(reverse("victims-report-done"))
    assert gone.status_code == 410 and filed.secret not in gone.content.decode()
    response = client.post(reverse("victims-receipt"), {"reference": filed.reference, "secret": filed.secret})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="takedown-case-{filed.reference}.txt"'
    text = response.content.decode()
    assert filed.reference in text and filed.secret in text
    wrong = client.post(reverse("victims-receipt"), {"reference": filed.reference, "secret": "tds_" + "A" * 25})
    assert wrong.status_code == 404


def test_receipt_is_gone_after_the_window(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from victims import views

    filed = file_upload_report(client)
    later = time.time() + views.RECEIPT_WINDOW_SECONDS + 5
    monkeypatch.setattr(views.time, "time", lambda: later)
    response = client.get(reverse("victims-report-done"))
    assert response.status_code == 410 and filed.secret not in response.content.decode()


def test_receipt_cookie_holds_no_readable_secret(client: Client) -> None:
    filed = file_upload_report(client)
    token = client.cookies["victims_receipt"].value
    assert filed.secret not in token and filed.secret.split("-")[1] not in token


def test_receipt_cookie_cannot_be_forged(client: Client) -> None:
    client.cookies["victims_receipt"] = "made-up"
    response = client.get(reverse("victims-report-done"))
    assert response.status_code == 410


def test_device_report_sends_only_hashes(client: Client, storage: Any) -> None:
    hashes = [{"sha256": "a" * 64, "pdq": "b" * 64, "quality": 88, "width": 640, "height": 480},
              {"sha256": "c" * 64, "pdq": "d" * 64, "quality": 45, "width": 10, "height": 10},
              {"sha256": "a" * 64, "pdq": "b" * 64, "quality": 88, "width": 640, "height": 480}]
    response = client.post(reverse("victims-report-device"), report_data(device_hashes=json.dumps(hashes)))
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.intake_mode == "device"
    images = list(case.images.order_by("sha256"))
    assert [(i.sha256, i.pdq, i.pdq_quality, i.blob_name) for i in images] == [
        ("a" * 64, "b" * 64, 88, ""), ("c" * 64, "d" * 64, 45, "")]
    assert evidence_names_on_disk() == []


def _truncated_jpeg() -> bytes:
    data = draw_image(3, (400, 300), "JPEG")
    return data[: len(data) // 2]


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"%PDF-1.4 not an image", "not an image we can read"),
        (b"", "empty"),
        (_truncated_jpeg(), "damaged or incomplete"),
        (_bomb(), "too large in width and height"),
        (b"GIF89a" + b"\x00" * 20, "not an image we can read"),
    ],
    ids=["pdf", "zero-bytes", "truncated", "decompression-bomb", "broken-gif"],
)
def test_bad_images_keep_the_form(client: Client, payload: bytes, message: str) -> None:
    upload = io.BytesIO(payload)
    upload.name = "x.jpg"
    data = report_data(urls="https://kept.example.com/abc", description="kept words", signature="Kept Sig")
    response = client.post(reverse("victims-report-upload"), {**data, "images": [upload]})
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert "https://kept.example.com/abc" in body and "kept words" in body and 'value="Kept Sig"' in body
    assert 'aria-invalid="true"' in body
    assert Case.objects.count() == 0
    assert evidence_names_on_disk() == []


def test_oversize_upload_is_refused_without_spilling_to_disk(client: Client, settings: Any,
                                                              tmp_path: Any) -> None:
    settings.MAX_UPLOAD_BYTES = 50_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    big = io.BytesIO(draw_image(5, (1200, 900), "PNG") + b"\x00" * 60_000)
    big.name = "big.png"
    response = client.post(reverse("victims-report-upload"), {**report_data(), "images": [big]})
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert list(tmp_path.iterdir()) == []
    assert "https://images.example.com/p/1" in response.content.decode()


def test_too_many_images(client: Client) -> None:
    files = []
    for index in range(11):
        handle = io.BytesIO(draw_image(index, (40, 30), "PNG"))
        handle.name = "a.png"
        files.append(handle)
    response = client.post(reverse("victims-report-upload"), {**report_data(), "images": files})
    assert response.status_code == 400
    assert "at most 10 images" in response.content.decode()


def test_500_urls_are_refused_and_kept(client: Client) -> None:
    urls = "\n".join(f"https://site{n}.example.com/p" for n in range(500))
    response = client.post(reverse("victims-report-device"),
                           report_data(urls=urls, device_hashes=json.dumps([{"sha256": "a" * 64}])))
    assert response.status_code == 400
    body = response.content.decode()
    assert "at most 50 addresses" in body
    assert "https://site499.example.com/p" in body
    # The device hashes ride along in the hidden field, so nothing needs hashing again.
    assert "a" * 64 in body


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ("javascript:alert(1)", "Only web addresses starting with http"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://192.168.1.10/x", "private or local network"),
        ("http://[::1]/", "private or local network"),
        ("https://", "no website name"),
        ("http://exa mple.com", "not valid"),
        ("", "Enter at least one web address"),
        ("https://example.com/" + "a" * 3000, "too long"),
    ],
)
def test_malformed_urls_keep_the_form(client: Client, urls: str, message: str) -> None:
    response = client.post(reverse("victims-report-device"),
                           report_data(urls=urls, device_hashes=json.dumps([{"sha256": "a" * 64}])))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    "device_hashes",
    ["", "not json", "{}", "[]", json.dumps([{"sha256": "zz"}]), json.dumps([{"sha256": "a" * 64, "quality": 200}]),
     json.dumps([{"sha256": "a" * 64, "pdq": "short"}]), json.dumps([{"sha256": "a" * 64}] * 11),
     json.dumps(["a" * 64]), json.dumps([{"sha256": "a" * 64, "width": -1}])],
)
def test_bad_device_hashes(client: Client, device_hashes: str) -> None:
    response = client.post(reverse("victims-report-device"), report_data(device_hashes=device_hashes))
    assert response.status_code == 400
    assert Case.objects.count() == 0


def test_missing_statement_and_signature(client: Client) -> None:
    response = client.post(reverse("victims-report-device"),
                           report_data(good_faith="", signature="", device_hashes=json.dumps([{"sha256": "a" * 64}])))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Tick this box to confirm" in body and "Type a signature" in body


def test_forged_csrf_is_refused(db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("victims-report-device"))
    response = client.post(reverse("victims-report-device"),
                           report_data(device_hashes=json.dumps([{"sha256": "a" * 64}]),
                                       csrfmiddlewaretoken="forged" * 5))
    assert response.status_code == 403
    upload = io.BytesIO(jpeg_with_gps())
    upload.name = "a.jpg"
    response = client.post(reverse("victims-report-upload"), {**report_data(), "images": [upload]})
    assert response.status_code == 403
    assert Case.objects.count() == 0


def test_wrong_methods(client: Client) -> None:
    assert client.put(reverse("victims-report-upload")).status_code == 405
    assert client.get(reverse("victims-receipt")).status_code == 405


def test_spanish(client: Client) -> None:
    response = client.get(reverse("victims-report-upload"), HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert 'lang="es"' in response.content.decode()
    assert "Enviar mi denuncia" in response.content.decode()


def test_spanish_catalogue_is_complete_and_compiled() -> None:
    """Every message in the .po is translated, and the committed .mo holds the same (recompile after edits)."""
    import gettext
    import re
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "victims" / "locale" / "es" / "LC_MESSAGES"
    po = (folder / "django.po").read_text()
    ids = [m.replace('\\"', '"') for m in re.findall(r'^msgid "(.+)"$', po, re.M)]
    assert len(ids) > 150
    assert not re.search(r'^msgstr ""\n\n', po, re.M)
    with (folder / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for msgid in ids:
        assert catalogue.gettext(msgid) != msgid or msgid in {"Take it down", "UTC"}, msgid
