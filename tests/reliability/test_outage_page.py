"""A database outage answers 503 with Retry-After and tells the person to send again; other errors stay 500."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from tests.conftest import draw_image


def _post_report(client: Client) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("drawn.png", draw_image(3), content_type="image/png")
    return client.post("/report/", {"content_kind": "deepfake", "urls": "https://example.org/x", "good_faith": "on",
                                    "authority": "self", "signature": "F.T.", "images": [image]})


@pytest.mark.django_db
def test_database_outage_during_a_report_is_a_503_that_says_send_again(settings) -> None:
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    with mock.patch("victims.views.report_submit", side_effect=OperationalError("server closed the connection")):
        response = _post_report(client)
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response["Retry-After"] == "30"  # type: ignore[index]
    assert b"send it again" in response.content  # type: ignore[attr-defined]
    assert b"server closed" not in response.content  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_other_errors_stay_500_without_details(settings) -> None:
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    with mock.patch("victims.views.report_submit", side_effect=RuntimeError("internal detail xyz")):
        response = _post_report(client)
    assert response.status_code == 500  # type: ignore[attr-defined]
    assert b"internal detail" not in response.content and "Retry-After" not in response  # type: ignore[attr-defined, operator]


def test_api_outage_is_a_json_503_in_the_api_error_shape(rf) -> None:
    from takedown.core.views import server_error

    try:
        raise OperationalError("down")
    except OperationalError:
        response = server_error(rf.post("/api/v1/lookup"))
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert json.loads(response.content)["error"]["code"] == "unavailable"
