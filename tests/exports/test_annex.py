"""The sealed identity annex: what the person gave for the court, encrypted to the advocate's certificate only.

The advocate opens it with a standard tool (`openssl cms -decrypt`) and their own key; nothing of it appears in
the export's plain files, and without a certificate it is left out rather than written in the clear.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.annex import AnnexCertificateError, annex_certificate_load
from takedown.exports.models import AdvocateGrant
from takedown.exports.services import GrantError, advocate_profile_ensure, case_export_build, grant_create_by_victim
from tests.exports.conftest import verify_pinned, zip_build, zip_members

IDENTITY = "Given name Family-name, 1 Court Street, Springfield"


def _advocate_keys(bits: int = 2048) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Advocate")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _grant(case, advocate: User, certificate: str) -> AdvocateGrant:
    profile = advocate_profile_ensure(user=advocate)
    profile.annex_certificate = certificate
    profile.save()
    return grant_create_by_victim(case=case, advocate_code=profile.grant_code, days=30, images_consented=False,
                                  identity_for_court=IDENTITY)


def test_identity_is_sealed_to_the_advocate_and_opens_with_openssl(make_case, advocate: User,
                                                                   tmp_path: Path) -> None:
    key, cert = _advocate_keys()
    case = make_case("ANNEX-0001")
    grant = _grant(case, advocate, _pem(cert))
    result = case_export_build(case=case, actor=Actor.for_user(advocate), grant=grant, made_by=advocate)
    members = zip_members(result.data)
    assert bundle.ANNEX in bundle.manifest_parse(members[bundle.MANIFEST])
    assert verify_pinned(result.data).ok and result.record.annex_included
    for name, content in members.items():
        if name != bundle.ANNEX:
            assert b"Family-name" not in content and b"Real Name" not in content, name
    assert b"Family-name" not in members[bundle.ANNEX]  # encrypted, not merely attached
    assert "openssl cms -decrypt" in members[bundle.VERIFY_MD].decode()

    opened = json.loads(pkcs7.pkcs7_decrypt_der(members[bundle.ANNEX], cert, key, []))
    assert opened["identity_for_court"] == IDENTITY and opened["pseudonym"] == case.pseudonym
    assert opened["court_reference"] == case.court_reference

    if shutil.which("openssl"):
        (tmp_path / "annex.p7m").write_bytes(members[bundle.ANNEX])
        (tmp_path / "advocate.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        done = subprocess.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in", "annex.p7m", "-inkey",
                               "advocate.key", "-out", "annex.json"], cwd=tmp_path, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert json.loads((tmp_path / "annex.json").read_text())["identity_for_court"] == IDENTITY

    # Another key cannot open it.
    other_key, other_cert = _advocate_keys()
    with pytest.raises(ValueError):
        pkcs7.pkcs7_decrypt_der(members[bundle.ANNEX], other_cert, other_key, [])


def test_a_changed_annex_fails_verification(make_case, advocate: User) -> None:
    _, cert = _advocate_keys()
    case = make_case("ANNEX-0002")
    members = zip_members(case_export_build(case=case, actor=Actor.system(),
                                            grant=_grant(case, advocate, _pem(cert))).data)
    changed = bytearray(members[bundle.ANNEX])
    changed[len(changed) // 2] ^= 0x01
    report = verify_pinned(zip_build({**members, bundle.ANNEX: bytes(changed)}))
    assert report.first_failure is not None and report.first_failure.name == "digests"
    assert bundle.ANNEX in report.first_failure.detail


def test_without_a_certificate_no_identity_is_taken_and_none_is_promised(make_case, advocate: User) -> None:
    case = make_case("ANNEX-0003")
    with pytest.raises(GrantError, match="cannot receive a sealed identity"):
        _grant(case, advocate, "")
    assert not AdvocateGrant.objects.filter(case=case).exists()


def test_a_certificate_removed_later_leaves_the_identity_out_and_says_so(make_case, advocate: User) -> None:
    case = make_case("ANNEX-0004")
    _, cert = _advocate_keys()
    grant = _grant(case, advocate, _pem(cert))
    assert grant.identity_sealable
    profile = advocate_profile_ensure(user=advocate)
    profile.annex_certificate = ""
    profile.save()
    grant = AdvocateGrant.objects.select_related("advocate__advocate_profile").get(id=grant.id)
    assert not grant.identity_sealable
    result = case_export_build(case=case, actor=Actor.system(), grant=grant)
    members = zip_members(result.data)
    assert bundle.ANNEX not in members and not result.record.annex_included
    assert all(b"Family-name" not in content for content in members.values())


@pytest.mark.parametrize("pem", [
    "", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
])
def test_bad_certificates_are_refused_with_a_message(pem: str) -> None:
    with pytest.raises(AnnexCertificateError):
        annex_certificate_load(pem)


def test_small_rsa_keys_are_refused() -> None:
    _, cert = _advocate_keys(bits=1024)
    with pytest.raises(AnnexCertificateError, match="2048"):
        annex_certificate_load(_pem(cert))
