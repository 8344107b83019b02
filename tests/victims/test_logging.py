"""No log line holds a case secret, an image or a hash: a whole flow, read back from the real log handler."""

from __future__ import annotations

import base64
import copy
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.log import configure_logging

from takedown.cases.models import CaseImage
from tests.victims.conftest import FakeBank, file_upload_report, jpeg_with_gps, open_case
from victims.credentials import secret_canonical

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def everything_logged(settings: Any, capfd: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """settings.LOGGING with every level at DEBUG, read back from what its console handler (and its redacting
    filter) really wrote to stderr. The levels go into the settings themselves because Celery's Django fixup
    re-applies settings.LOGGING (django.setup()) whenever an in-process task runs."""
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    original = settings.LOGGING
    config = copy.deepcopy(original)
    config["root"]["level"] = "DEBUG"
    for name in ("django.request", "django.server"):
        config["loggers"][name]["level"] = "DEBUG"
    settings.LOGGING = config
    configure_logging(settings.LOGGING_CONFIG, config)
    capfd.readouterr()
    try:
        yield capfd
    finally:
        configure_logging(settings.LOGGING_CONFIG, original)
        root.handlers = handlers_before


def test_full_flow_logs_no_secret_image_or_hash(everything_logged: pytest.CaptureFixture[str],
                                                fake_bank: FakeBank) -> None:
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
    client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": filed.secret})
    client.get(reverse("victims-withdrawal-receipt"))
    # Something that fails loudly, to be sure error paths are covered too.
    # (Logged under "tests." so the suite-wide raw log audit knows it is deliberate.)
    logging.getLogger("tests.victims").exception("simulated failure for %s", filed.secret,
                                                 exc_info=ValueError(filed.secret))

    output = everything_logged.readouterr().err
    assert "Bad Request: /case/urls/" in output  # the capture really saw the flow
    assert len(hashes) >= 4
    forbidden = [filed.secret, secret_canonical(filed.secret) or "", *hashes]
    for image in images:
        forbidden.append(base64.b64encode(image[:300]).decode()[:60])
    for value in forbidden:
        assert value.lower() not in output.lower(), value
    assert "[secret]" in output
