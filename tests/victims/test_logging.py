"""No log line holds a case secret, an image or a hash: a whole flow, read back from the real log handler."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from takedown.cases.models import CaseImage
from tests.victims.conftest import FakeBank, file_upload_report, jpeg_with_gps, open_case
from victims.credentials import secret_canonical

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def everything_logged() -> Iterator[logging.Handler]:
    """Every logger at DEBUG, writing through the handler (and its redacting filter) that settings.LOGGING made."""
    root = logging.getLogger()
    console = next(h for h in root.handlers if any(type(f).__name__ == "RedactingFilter" for f in h.filters))
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(console.formatter)
    for log_filter in console.filters:
        capture.addFilter(log_filter)
    capture.stream_value = stream  # type: ignore[attr-defined]
    names = ["", "django", "django.request", "django.server", "django.db.backends", "takedown", "victims", "celery"]
    previous = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


def test_full_flow_logs_no_secret_image_or_hash(everything_logged: logging.Handler, fake_bank: FakeBank) -> None:
    client = Client()
    images = [jpeg_with_gps(1), jpeg_with_gps(2)]
    filed = file_upload_report(client, images=images)
    client.post(reverse("victims-receipt"), {"reference": filed.reference, "secret": filed.secret})
    for _ in range(2):
        Client().post(reverse("victims-case-access"), {"reference": filed.reference, "secret": "tds_" + "0" * 25})
    open_case(client, filed)
    client.get(reverse("victims-case-status"))
    client.get(reverse("victims-case-image", args=[CaseImage.objects.filter(case=filed.case).first().id]))
    client.post(reverse("victims-case-urls"), {"urls": "javascript:alert(1)"})
    client.post(reverse("victims-case-urls"), {"urls": "https://more.example.com/x"})
    junk = io.BytesIO(b"not an image")
    junk.name = "junk.png"
    client.post(reverse("victims-case-evidence"), {"images": [junk]})
    client.post(reverse("victims-case-message"), {"body": "hello"})
    hashes = set()
    for image in CaseImage.objects.filter(case=filed.case):
        hashes |= {image.pdq, image.sha256, image.md5, image.phash, image.dhash, *image.pdq_dihedral}
    hashes.discard("")
    client.post(reverse("victims-case-withdraw"), {"confirm": "on"})
    client.get(reverse("victims-withdrawal-receipt"))
    # Something that fails loudly, to be sure error paths are covered too.
    logging.getLogger("victims").exception("simulated failure for %s", filed.secret, exc_info=ValueError(filed.secret))

    output = everything_logged.stream_value.getvalue()  # type: ignore[attr-defined]
    assert "Bad Request: /case/urls/" in output  # the capture really saw the flow
    assert len(hashes) >= 4
    forbidden = [filed.secret, secret_canonical(filed.secret) or "", *hashes]
    for image in images:
        forbidden.append(base64.b64encode(image[:300]).decode()[:60])
    for value in forbidden:
        assert value.lower() not in output.lower(), value
    assert "[secret]" in output
