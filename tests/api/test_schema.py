"""The OpenAPI schema: valid, complete, browsable; and a bounded schemathesis run finds no 5xx and no response
that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.partners.fixtures import key_client

OPERATIONS = {
    ("GET", "/api/v1/me"), ("GET", "/api/v1/lookup"), ("POST", "/api/v1/lookup/batch"), ("GET", "/api/v1/hashes"),
    ("POST", "/api/v1/feedback"), ("GET", "/api/stopncii/v1/FetchHashes"), ("POST", "/api/stopncii/v1/SubmitFeedback"),
    ("POST", "/api/stopncii/v1/SubmitHashes"), ("GET", "/m/lookup"), ("POST", "/api/v1/lookup/vpdq"),
    ("POST", "/api/v1/lookup/vpdq/batch"),
}


@pytest.mark.django_db
def test_schema_lists_every_operation_with_an_example() -> None:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    found = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert found == OPERATIONS
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            examples = [
                *[c.get("examples") for c in operation.get("requestBody", {}).get("content", {}).values()],
                *[c.get("examples") for r in operation["responses"].values() for c in r.get("content", {}).values()],
            ]
            assert any(examples), f"{method} {path} has no example"
            assert operation.get("security"), f"{method} {path} declares no authentication"


@pytest.mark.django_db
def test_docs_page_is_served_from_our_own_static_files() -> None:
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui-bundle.js" in html and "http" not in html.split("<body>")[1].replace("http-equiv", "")
    assert "<script>" not in html and "<style>" not in html  # the CSP forbids inline script and style
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# Loaded at collection (serving the schema needs no database). schemathesis' fixture-based loader does not work
# with this pytest version, so fixtures come in through the test's own arguments.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def wsgi_keeps_test_connection():
    """Calls go through the raw WSGI app, which closes the database connection at the end of each request and
    so would end the test's transaction; Django's own test client switches this off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def stocked_bank(memory_bank, wsgi_keeps_test_connection):
    memory_bank.add(signal_type="pdq", value="f" * 64, quality=90)
    memory_bank.add(signal_type="md5", value="e" * 32, status="Withdrawn")
    return memory_bank


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_no_schema_violation(case, partner, stocked_bank) -> None:
    keys = partner.stopncii.function_keys
    function = case.path.rsplit("/", 1)[-1]
    headers = {"Authorization": f"Bearer {partner.api_key.plaintext}"}
    if function in keys:
        headers = {"Ocp-Apim-Subscription-Key": partner.stopncii.subscription_key, "x-functions-key": keys[function]}
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                             status_code_conformance, content_type_conformance])


@pytest.mark.django_db
def test_a_documented_example_works_as_documented(partner, memory_bank) -> None:
    memory_bank.add(signal_type="pdq", value="f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
    body = key_client(partner.api_key.plaintext).post("/api/v1/lookup/batch", {
        "signal_type": "pdq", "hashes": ["f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22", "0" * 64],
        "max_distance": 31}, format="json").json()
    assert [len(r["matches"]) for r in body["results"]] == [1, 0]
