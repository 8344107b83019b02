"""The operator publishes its export-key fingerprint and TSA choice outside any file, for a court to pin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.services import case_export_build
from takedown.exports.verify import export_verify
from tests.exports.conftest import case_make, pinned_key, zip_members

pytestmark = pytest.mark.django_db


def _published_fingerprint() -> str:
    return bundle.public_key_fingerprint(bundle.public_key_from_pem(pinned_key()))


def test_well_known_json_publishes_the_key_and_the_tsa_choice(client: Client) -> None:
    response = client.get("/.well-known/takedown-export-keys")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    (current,) = [k for k in body["signing_keys"] if k["status"] == "current"]
    assert current["fingerprint_sha256"] == _published_fingerprint()
    assert current["public_key_pem"].encode() == pinned_key()
    assert body["time_stamping"]["authority"] == "local" and body["time_stamping"]["url"] is None
    assert len(body["time_stamping"]["ca_certificate_fingerprints_sha256"][0]) == 64
    with override_settings(EXPORT_TSA_URL="https://tsa.example.org/tsr", EXPORT_RETIRED_KEY_FINGERPRINTS=["ab" * 32]):
        public = client.get("/.well-known/takedown-export-keys").json()
    assert public["time_stamping"] == {**public["time_stamping"], "authority": "public",
                                       "url": "https://tsa.example.org/tsr"}
    assert {"algorithm": "Ed25519", "fingerprint_sha256": "ab" * 32, "status": "retired"} in public["signing_keys"]


def test_the_public_page_shows_the_same_fingerprint_and_says_who_stamps(client: Client) -> None:
    page = client.get(reverse("exports-keys-page")).content.decode()
    assert _published_fingerprint() in page
    assert "operator&#x27;s own time-stamping authority" in page or "operator's own time-stamping authority" in page


def test_the_staff_transparency_page_shows_the_anchors(moderator_client: Client) -> None:
    page = moderator_client.get(reverse("transparency")).content.decode()
    assert _published_fingerprint() in page and "/.well-known/takedown-export-keys" in page


def test_unconfigured_exports_answer_503_not_500(client: Client, tmp_path: Any) -> None:
    with override_settings(EXPORT_SIGNING_KEY_FILE=str(tmp_path / "missing.pem")):
        assert client.get("/.well-known/takedown-export-keys").status_code == 503
        assert client.get(reverse("exports-keys-page")).status_code == 503


def test_a_file_verifies_against_the_published_fingerprint_and_no_other(client: Client) -> None:
    data = case_export_build(case=case_make("ANCHOR-0001", urls=1), actor=Actor.system()).data
    published = client.get("/.well-known/takedown-export-keys").json()["signing_keys"][0]["fingerprint_sha256"]
    report = export_verify(data, trusted_fingerprint=published, anchor_source="well-known")
    assert report.ok and report.anchor == f"the pinned signing key {published} (well-known)"
    assert published in zip_members(data)[bundle.VERIFY_MD].decode()
    assert export_verify(data, trusted_fingerprint="cd" * 32).first_failure.name == "signing-key"
    unpinned = export_verify(data)
    assert not unpinned.ok and "no trust anchor" in unpinned.first_failure.detail
