"""Fixtures for court exports: export keys generated per test session, a case with a little of everything."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from takedown.cases.models import Case, CaseImage, CaseURL, Message
from takedown.core.audit import Actor, audit_record
from takedown.core.evidence import evidence_put
from takedown.exports.keys import export_keys_generate
from takedown.exports.verify import VerifyReport, export_verify
from tests.conftest import draw_image

SECRET = "tds_correct-case-secret"


@pytest.fixture(scope="session")
def export_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("export-keys")
    export_keys_generate(out=directory, operator="Test operator")
    return directory


def key_settings(directory: Path) -> dict[str, str]:
    return {
        "EXPORT_SIGNING_KEY_FILE": str(directory / "signing-key.pem"),
        "EXPORT_TSA_CA_FILE": str(directory / "tsa-ca.pem"),
        "EXPORT_TSA_CERT_FILE": str(directory / "tsa.pem"),
        "EXPORT_TSA_KEY_FILE": str(directory / "tsa.key.pem"),
        "EXPORT_TSA_URL": "",
        "EXPORT_OPERATOR_NAME": "Test operator",
    }


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    # Counters key on user ids and references, which repeat from test to test once the database rolls back.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def export_keys(export_key_dir: Path) -> Iterator[Path]:
    with override_settings(**key_settings(export_key_dir)):
        yield export_key_dir


def case_make(
    reference: str = "TEST-CASE-0001", *, urls: int = 3, images: int = 1, secret: str = SECRET
) -> Case:
    case = Case.objects.create(
        reference=reference, secret_hash=make_password(secret), pseudonym="Jane Doe 17",
        content_kind="deepfake", signature="Real Name Signed", contact="real@example.org",
        description="The real name of the person is Real Name.", good_faith_at=timezone.now(),
        authority="self", agent_authorised_at=timezone.now(),
    )
    audit_record(actor=Actor.victim(), action="case.submit", case_id=case.id, object_type="case", object_id=case.id)
    for index in range(urls):
        host = f"host{index % 7}.example"
        CaseURL.objects.create(case=case, url=f"https://{host}/item/{index}?q=\u00e9", host=host,
                               platform=f"Platform {index % 7}",
                               source=CaseURL.Source.MATCH if index == 0 else CaseURL.Source.REPORT)
    for index in range(images):
        data = draw_image(seed=index)
        CaseImage.objects.create(
            case=case, source=CaseImage.Source.UPLOAD, state=CaseImage.State.HASHED, blob_name=evidence_put(data),
            media_type="image/png", size=len(data), width=320, height=240,
            sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(), pdq="ab" * 32,
            pdq_quality=90, phash="0123456789abcdef", dhash="fedcba9876543210",
            analysis={"detector": {"score": 0.91, "model": "test"}, "provenance": {"c2pa": "absent"}},
        )
    Message.objects.create(case=case, author=Message.Author.VICTIM, body="My name is Real Name")
    case.confirmed_at = timezone.now() + timedelta(seconds=1)
    case.status = "confirmed"
    case.save()
    audit_record(actor=Actor.system(), action="case.confirm", case_id=case.id, object_type="case", object_id=case.id)
    return case


@pytest.fixture
def make_case(db: None) -> Callable[..., Case]:
    return case_make


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_build(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def pinned_key() -> bytes:
    """The operator's published signing key, as a court would pin it (the public half of the configured key)."""
    from django.conf import settings

    return (Path(settings.EXPORT_SIGNING_KEY_FILE).parent / "signing-key.pub.pem").read_bytes()


def verify_pinned(data: bytes, **options: object) -> VerifyReport:
    return export_verify(data, trusted_key_pem=pinned_key(), **options)  # type: ignore[arg-type]
