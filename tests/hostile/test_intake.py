"""The hostile corpus against every intake entry point of the victim's pages.

Entry points: the upload report form, the device report form (its JSON field of hashes), a case's add-evidence
and add-addresses forms, messages, case access and the receipt. For each: no answer is a 5xx; every refusal is a
400 that shows the form again with a message; whatever is accepted is stored without the hostile part; and the
case that existed before (its rows, its stored files) is exactly as it was.

Each test walks one family of the corpus and collects every failure, so one run names all of them.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from takedown.cases.models import Case, CaseImage, CaseURL, Message
from takedown.core.evidence import evidence_get, evidence_names_on_disk
from tests.hostile import corpus
from tests.victims.conftest import FakeBank, FiledCase, file_upload_report, open_case, report_data

pytestmark = pytest.mark.django_db

FAMILIES = ("truncated", "garbage", "jpeg-", "png-", "gif-", "webp-", "tiff-", "huge", "bomb", "posing",
            "polyglot", "metadata")
_POSING = {"svg", "html", "pdf", "zip", "elf", "php", "json", "eps", "bmp", "ico", "psd", "utf16", "zero", "one",
           "random"}


def _family(item: corpus.Hostile) -> str:
    head = item.name.split("-")[0]
    if item.name.startswith(("exif-", "icc-", "xmp-", "png-1000", "png-exif", "png-itxt", "webp-with",
                             "gif-comment")):
        return "metadata"
    if head in _POSING or item.name.startswith("tiff-valid"):
        return "posing" if head not in {"zero", "one", "random"} else "garbage"
    for family in FAMILIES:
        if item.name.startswith(family):
            return family
    raise AssertionError(f"no family for {item.name}")


def _by_family(family: str) -> list[corpus.Hostile]:
    return [item for item in corpus.images() if _family(item) == family]


def test_every_image_has_a_family_and_the_corpus_is_large() -> None:
    assert sum(len(_by_family(f)) for f in FAMILIES) == len(corpus.images())
    assert corpus.everything_count() >= 200


@dataclass
class Snapshot:
    """Everything stored for the case that existed before the hostile requests."""

    case: dict[str, Any]
    images: list[tuple[Any, ...]]
    urls: list[str]
    messages: int
    blobs: dict[str, str]


def _snapshot(filed: FiledCase) -> Snapshot:
    case = Case.objects.get(id=filed.case.id)
    images = list(CaseImage.objects.filter(case=case).order_by("id")
                  .values_list("id", "state", "blob_name", "sha256", "pdq"))
    blobs = {name: hashlib.sha256(evidence_get(name)).hexdigest() for _, _, name, _, _ in images if name}
    return Snapshot(
        case={"status": case.status, "updated": case.updated_at, "withdrawn": case.withdrawn_at},
        images=images, urls=sorted(CaseURL.objects.filter(case=case).values_list("url", flat=True)),
        messages=Message.objects.filter(case=case).count(), blobs=blobs,
    )


@pytest.fixture
def existing(fake_bank: FakeBank) -> FiledCase:
    return file_upload_report(Client())


def _client() -> Client:
    # Exceptions come back as 500 responses (as in production) so every failure is collected, not the first.
    return Client(raise_request_exception=False)


def _upload(data: bytes, name: str = "photo.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _check(failures: list[str], label: str, response: Any, expect: str, *, message: str | tuple[str, ...]) -> bool:
    """True when the request was accepted. Records a failure for a 5xx, a wrong outcome or a silent refusal."""
    status = response.status_code
    if status >= 500:
        failures.append(f"{label}: {status}")
        return False
    accepted = status == 302
    messages = (message,) if isinstance(message, str) else message
    if status == 400:
        body = response.content.decode(errors="replace")
        if not any(text in body for text in messages):
            failures.append(f"{label}: 400 without a message ({' or '.join(messages)})")
    elif not accepted:
        failures.append(f"{label}: unexpected {status}")
    if expect == "refuse" and accepted:
        failures.append(f"{label}: accepted, should be refused")
    if expect == "accept" and not accepted:
        failures.append(f"{label}: refused ({status}), should be accepted")
    return accepted


# What the URL field says: a numbered line's problem, or Django's own refusal of NUL characters.
URL_MESSAGES = ("Line ", "Null characters are not allowed")
# The names look-alike hosts imitate: never stored as such.
IMITATED = {"apple.com", "paypal.com", "google.com"}


def _check_stored_urls(failures: list[str], case: Case) -> None:
    for url, host in CaseURL.objects.filter(case=case).values_list("url", "host"):
        if not url.isascii() or not url.startswith(("https://", "http://")) or host in IMITATED:
            failures.append(f"stored an address that is not a public ASCII web address: {url[:80]!r}")
        if any(ord(char) < 0x20 or char == "\x7f" for char in url):
            failures.append(f"stored an address with control characters: {url[:80]!r}")


def _form_text(text: str) -> str:
    """Text as the server reads it. A lone surrogate cannot be UTF-8: a browser sends its (invalid) bytes, which
    Django decodes with replacement characters (test_raw_bodies_that_are_not_forms_are_refused sends such bytes)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _stored_blobs(case: Case) -> Iterable[bytes]:
    for name in CaseImage.objects.filter(case=case).exclude(blob_name="").values_list("blob_name", flat=True):
        yield evidence_get(name)


def _assert_untouched(filed: FiledCase, before: Snapshot) -> None:
    after = _snapshot(filed)
    assert after == before, "the case that existed before the hostile requests changed"
    assert set(before.blobs) <= set(evidence_names_on_disk())


@pytest.mark.parametrize("family", FAMILIES)
def test_report_form_refuses_or_cleans_every_hostile_image(family: str, existing: FiledCase) -> None:
    before = _snapshot(existing)
    cases_before = Case.objects.count()
    client, accepted = _client(), 0
    failures: list[str] = []
    for item in _by_family(family):
        response = client.post(reverse("victims-report-upload"),
                               {**report_data(), "images": [_upload(item.data)]})
        if not _check(failures, item.name, response, item.web, message="Image 1:"):
            continue
        accepted += 1
        case = Case.objects.order_by("-created_at").first()
        assert case is not None
        for stored in _stored_blobs(case):
            if item.marker and item.marker in stored:
                failures.append(f"{item.name}: accepted and stored with its hostile part")
            with Image.open(io.BytesIO(stored)) as image:
                if getattr(image, "n_frames", 1) > 1:
                    failures.append(f"{item.name}: stored with {getattr(image, 'n_frames')} frames")
    assert not failures, "\n".join(failures)
    assert Case.objects.count() == cases_before + accepted
    _assert_untouched(existing, before)


@pytest.mark.parametrize("family", FAMILIES)
def test_add_evidence_refuses_or_cleans_every_hostile_image(family: str, existing: FiledCase) -> None:
    client = _client()
    open_case(client, existing)
    before = _snapshot(existing)
    failures: list[str] = []
    for item in _by_family(family):
        count = CaseImage.objects.filter(case=existing.case).count()
        response = client.post(reverse("victims-case-evidence"), {"images": [_upload(item.data)]})
        if _check(failures, item.name, response, item.web, message="Image 1:"):
            added = CaseImage.objects.filter(case=existing.case).order_by("-created_at")[:1]
            stored = evidence_get(added[0].blob_name)
            if item.marker and item.marker in stored:
                failures.append(f"{item.name}: accepted and stored with its hostile part")
            CaseImage.objects.filter(id=added[0].id).delete()  # keep the comparison with the snapshot exact
        elif CaseImage.objects.filter(case=existing.case).count() != count:
            failures.append(f"{item.name}: refused but a row was written")
    assert not failures, "\n".join(failures)
    _assert_untouched(existing, before)


def test_several_hostile_images_in_one_upload_are_each_named(existing: FiledCase) -> None:
    refused = [item for item in corpus.images() if item.web == "refuse"][:10]
    response = _client().post(reverse("victims-report-upload"),
                              {**report_data(), "images": [_upload(item.data) for item in refused]})
    assert response.status_code == 400
    body = response.content.decode()
    for number in range(1, len(refused) + 1):
        assert f"Image {number}:" in body


def test_oversized_upload_is_refused_with_a_message(existing: FiledCase, settings: Any) -> None:
    settings.MAX_UPLOAD_BYTES = 64 * 1024
    big = corpus.valid("PNG") + b"\x00" * (128 * 1024)
    response = _client().post(reverse("victims-report-upload"), {**report_data(), "images": [_upload(big)]})
    assert response.status_code == 400
    assert "larger than" in response.content.decode()


def test_report_form_refuses_every_hostile_address(existing: FiledCase) -> None:
    before = _snapshot(existing)
    client = _client()
    failures: list[str] = []
    for name, url, expect in corpus.HOSTILE_URLS:
        response = client.post(reverse("victims-report-upload"),
                               {**report_data(urls=url), "images": [_upload(corpus.valid("PNG"))]})
        if _check(failures, name, response, expect, message=URL_MESSAGES):
            _check_stored_urls(failures, Case.objects.order_by("-created_at")[0])
    assert not failures, "\n".join(failures)
    _assert_untouched(existing, before)


def test_add_addresses_refuses_every_hostile_address_and_stores_only_public_web_addresses(
        existing: FiledCase) -> None:
    client = _client()
    open_case(client, existing)
    failures: list[str] = []
    urls_before = CaseURL.objects.filter(case=existing.case).count()
    accepted = 0
    for name, url, expect in corpus.HOSTILE_URLS:
        response = client.post(reverse("victims-case-urls"), {"urls": url})
        accepted += _check(failures, name, response, expect, message=URL_MESSAGES)
    # Many lines at once: over the limit, and all hostile lines together.
    lines = "\n".join(url for _, url, expect in corpus.HOSTILE_URLS if expect == "refuse")
    _check(failures, "all-at-once", client.post(reverse("victims-case-urls"), {"urls": lines}), "refuse",
           message=(*URL_MESSAGES, "at most"))
    _check(failures, "1000-lines", client.post(reverse("victims-case-urls"),
                                               {"urls": "\n".join(f"https://example.com/{i}" for i in range(1000))}),
           "refuse", message="at most")
    _check_stored_urls(failures, existing.case)
    assert not failures, "\n".join(failures)
    # Look-alikes may be added (in ASCII); nothing that was there before was lost.
    assert urls_before <= CaseURL.objects.filter(case=existing.case).count() <= urls_before + accepted


def _device_json(overrides: dict[str, Any]) -> str:
    item = {"sha256": "a" * 64, "pdq": "b" * 64, "quality": 90, "width": 10, "height": 10}
    item.update(overrides)
    return json.dumps([item])


HOSTILE_DEVICE_HASHES: tuple[tuple[str, str], ...] = (
    ("deep-array", "[" * 1900 + "]" * 1900),
    ("deep-object", '{"a":' * 700 + "1" + "}" * 700),
    ("deep-in-item", json.dumps([{"sha256": "a" * 64}])[:-2] + ',"x":' + "[" * 1500 + "]" * 1500 + "}]"),
    ("not-json", "<script>alert(1)</script>"),
    ("truncated", '[{"sha256": "' + "a" * 40),
    ("top-level-object", '{"sha256": "' + "a" * 64 + '"}'),
    ("top-level-string", '"' + "a" * 64 + '"'),
    ("empty-list", "[]"),
    ("null", "null"),
    ("list-of-nulls", "[null, null]"),
    ("eleven-items", json.dumps([{"sha256": f"{i:064x}"} for i in range(11)])),
    ("sha-not-hex", _device_json({"sha256": "z" * 64})),
    ("sha-too-long", _device_json({"sha256": "a" * 3000})),
    ("sha-as-list", _device_json({"sha256": ["a" * 64]})),
    ("pdq-nul", _device_json({"pdq": "b" * 63 + "\u0000"})),
    ("quality-huge", '[{"sha256":"' + "a" * 64 + '","pdq":"' + "b" * 64 + '","quality":' + "9" * 3000 + "}]"),
    ("quality-float", _device_json({"quality": 50.5})),
    ("quality-bool", _device_json({"quality": True, "width": True})),
    ("quality-nan", '[{"sha256":"' + "a" * 64 + '","quality":NaN}]'),
    ("width-infinity", '[{"sha256":"' + "a" * 64 + '","width":Infinity}]'),
    ("width-negative", _device_json({"width": -1})),
    ("width-float-overflow", '[{"sha256":"' + "a" * 64 + '","width":1e999}]'),
    ("lone-surrogate", '[{"sha256":"\\ud800' + "a" * 63 + '"}]'),
    ("too-long-field", json.dumps([{"sha256": "a" * 64, "x": "y" * 5000}])),
)


@pytest.mark.parametrize("where", ["report", "evidence"])
def test_device_hashes_json_is_refused_with_a_message(where: str, existing: FiledCase) -> None:
    client = _client()
    if where == "evidence":
        open_case(client, existing)
    before = _snapshot(existing)
    cases_before = Case.objects.count()
    failures: list[str] = []
    for name, text in HOSTILE_DEVICE_HASHES:
        if where == "report":
            response = client.post(reverse("victims-report-device"), {**report_data(), "device_hashes": text})
        else:
            response = client.post(reverse("victims-case-evidence"), {"device_hashes": text})
        status = response.status_code
        if status != 400:
            failures.append(f"{name}: {status}")
    assert not failures, "\n".join(failures)
    assert Case.objects.count() == cases_before
    _assert_untouched(existing, before)


def test_typed_fields_take_hostile_text_without_a_server_error(existing: FiledCase) -> None:
    client = _client()
    failures: list[str] = []
    for name, text in corpus.HOSTILE_TEXT:
        for field in ("description", "signature", "contact"):
            response = client.post(reverse("victims-report-upload"), {
                **report_data(**{field: _form_text(text)}), "images": [_upload(corpus.valid("PNG"))]})
            if response.status_code not in (302, 400):
                failures.append(f"report {field} {name}: {response.status_code}")
            elif response.status_code == 302 and "\x00" in text:
                failures.append(f"report {field} {name}: NUL byte accepted")
    open_case(client, existing)
    for name, text in corpus.HOSTILE_TEXT:
        response = client.post(reverse("victims-case-message"), {"body": _form_text(text)})
        if response.status_code not in (302, 400):
            failures.append(f"message {name}: {response.status_code}")
    assert not failures, "\n".join(failures)
    # Whatever was accepted reads back exactly as typed (no silent truncation or mangling of what was stored).
    for body in Message.objects.filter(case=existing.case).values_list("body", flat=True):
        assert "\x00" not in body


def test_case_access_and_receipt_take_hostile_references_and_secrets(existing: FiledCase) -> None:
    client = _client()
    before = _snapshot(existing)
    failures: list[str] = []
    values = [_form_text(text) for _, text in corpus.HOSTILE_TEXT] + [
        "' OR 1=1 --", existing.reference + "\x00", existing.reference.lower() + "%"]
    for value in values:
        for data in ({"reference": value, "secret": existing.secret}, {"reference": existing.reference,
                                                                       "secret": value}):
            for route in ("victims-case-access", "victims-receipt"):
                response = client.post(reverse(route), data)
                if response.status_code not in (400, 404, 429):
                    failures.append(f"{route} {value[:20]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
    _assert_untouched(existing, before)


def test_raw_bodies_that_are_not_forms_are_refused(existing: FiledCase) -> None:
    client = _client()
    failures: list[str] = []
    bodies = {
        "broken-multipart": (b"--x\r\nContent-Disposition: form-data; name=\"images\"; filename=\"a.jpg\"\r\n\r\n"
                             + b"\xff" * 100, "multipart/form-data; boundary=x"),
        "multipart-no-boundary": (b"anything", "multipart/form-data"),
        "multipart-huge-boundary": (b"--" + b"b" * 5000 + b"\r\n", "multipart/form-data; boundary=" + "b" * 5000),
        "json-body": (b'{"urls": "https://example.com"}', "application/json"),
        "invalid-utf8-form": (b"urls=%ff%fe&signature=%c0%af&good_faith=on&content_kind=deepfake",
                              "application/x-www-form-urlencoded"),
        "5000-fields": (b"&".join(b"f%d=1" % i for i in range(5000)), "application/x-www-form-urlencoded"),
        "3mb-form": (b"description=" + b"A" * (3 * 1024 * 1024), "application/x-www-form-urlencoded"),
    }
    for name, (body, content_type) in bodies.items():
        for route in ("victims-report-upload", "victims-report-device", "victims-case-access"):
            response = client.generic("POST", reverse(route), body, content_type=content_type)
            if not 400 <= response.status_code < 500:
                failures.append(f"{route} {name}: {response.status_code}")
    assert not failures, "\n".join(failures)
