"""The operator's export keys: an Ed25519 signing key and, for air-gapped operators, a local TSA and its CA.

Keys live in files named by settings (EXPORT_SIGNING_KEY_FILE, EXPORT_TSA_*), written once by
`manage.py export_keys_generate --out DIR` and never committed. In DEBUG and tests, when nothing is configured,
a development set is generated under VAR_DIR so that `./run` can export without any setup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from takedown.exports.bundle import public_key_fingerprint, public_key_pem
from takedown.exports.timestamp import LocalTSA, certificates_pem, local_ca_generate, local_tsa_generate

SIGNING_KEY = "signing-key.pem"
SIGNING_PUB = "signing-key.pub.pem"
TSA_CA_CERT = "tsa-ca.pem"
TSA_CA_KEY = "tsa-ca.key.pem"
TSA_CERT = "tsa.pem"
TSA_KEY = "tsa.key.pem"


@dataclass(frozen=True)
class GeneratedKeys:
    directory: Path
    signing_fingerprint: str
    tsa_ca_fingerprint: str

    def settings_lines(self) -> list[str]:
        d = self.directory.resolve()
        return [
            f"EXPORT_SIGNING_KEY_FILE={d / SIGNING_KEY}",
            f"EXPORT_TSA_CA_FILE={d / TSA_CA_CERT}",
            f"EXPORT_TSA_CERT_FILE={d / TSA_CERT}",
            f"EXPORT_TSA_KEY_FILE={d / TSA_KEY}",
        ]


def _write_private(path: Path, data: bytes, *, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_public(path: Path, data: bytes, *, force: bool) -> None:
    if path.exists() and not force:
        raise FileExistsError(path)
    path.write_bytes(data)
    path.chmod(0o644)


def _pkcs8(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def certificate_fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def export_keys_generate(*, out: Path, operator: str = "Takedown operator", force: bool = False) -> GeneratedKeys:
    """Write a fresh signing key and a local TSA (CA + TSA certificate) into `out` (private files mode 0600)."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = [SIGNING_KEY, SIGNING_PUB, TSA_CA_CERT, TSA_CA_KEY, TSA_CERT, TSA_KEY]
    existing = [n for n in names if (out / n).exists()]
    if existing and not force:
        raise FileExistsError(f"{out} already holds {', '.join(existing)} (use --force to replace them)")
    signing = ed25519.Ed25519PrivateKey.generate()
    ca_key, ca_cert = local_ca_generate(common_name=f"{operator} export time-stamping CA")
    tsa = local_tsa_generate(ca_key=ca_key, ca_cert=ca_cert, common_name=f"{operator} export TSA")
    _write_private(out / SIGNING_KEY, _pkcs8(signing), force=force)
    _write_public(out / SIGNING_PUB, public_key_pem(signing.public_key()), force=force)
    _write_private(out / TSA_CA_KEY, _pkcs8(ca_key), force=force)
    _write_public(out / TSA_CA_CERT, certificates_pem([ca_cert]), force=force)
    _write_private(out / TSA_KEY, _pkcs8(tsa.key), force=force)
    _write_public(out / TSA_CERT, certificates_pem([tsa.certificate]), force=force)
    return GeneratedKeys(out, public_key_fingerprint(signing.public_key()), certificate_fingerprint(ca_cert))


def _development_dir() -> Path | None:
    if not (settings.DEBUG or settings.TESTING):
        return None
    directory = Path(settings.VAR_DIR) / "export-keys"
    if not (directory / SIGNING_KEY).exists():
        export_keys_generate(out=directory, operator="Development")
    return directory


def _configured(name: str, filename: str) -> Path:
    value = getattr(settings, name, "")
    if value:
        return Path(value)
    directory = _development_dir()
    if directory is None:
        raise ImproperlyConfigured(f"{name} is not set: run `manage.py export_keys_generate --out DIR` first")
    return directory / filename


def _read(name: str, filename: str) -> bytes:
    path = _configured(name, filename)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}: cannot read {path}") from exc


def signing_key_load() -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(_read("EXPORT_SIGNING_KEY_FILE", SIGNING_KEY), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ImproperlyConfigured("EXPORT_SIGNING_KEY_FILE must hold an Ed25519 private key")
    return key


def tsa_ca_pem_load() -> bytes:
    pem = _read("EXPORT_TSA_CA_FILE", TSA_CA_CERT)
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ImproperlyConfigured("EXPORT_TSA_CA_FILE must hold PEM certificates") from exc
    return pem


def local_tsa_load() -> LocalTSA:
    key = serialization.load_pem_private_key(_read("EXPORT_TSA_KEY_FILE", TSA_KEY), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured("EXPORT_TSA_KEY_FILE must hold an EC private key")
    cert = x509.load_pem_x509_certificate(_read("EXPORT_TSA_CERT_FILE", TSA_CERT))
    return LocalTSA(key=key, certificate=cert)


@dataclass(frozen=True)
class TrustAnchors:
    """What the operator publishes so that a court pins its key and knows who stamps the time, outside any file."""

    operator: str
    signing_fingerprint: str
    signing_public_pem: str
    retired_fingerprints: list[str]
    tsa_url: str
    tsa_local: bool
    tsa_local_accepted: bool
    tsa_ca_fingerprints: list[str]
    tsa2_url: str = ""
    tsa2_ca_fingerprints: tuple[str, ...] = ()

    def as_json(self, *, site: str) -> dict[str, object]:
        return {
            "format": "takedown-export-keys/1",
            "operator": self.operator,
            "site": site,
            "signing_keys": [{"algorithm": "Ed25519", "fingerprint_sha256": self.signing_fingerprint,
                              "fingerprint_of": "SHA-256 of the DER SubjectPublicKeyInfo",
                              "public_key_pem": self.signing_public_pem, "status": "current"}]
            + [{"algorithm": "Ed25519", "fingerprint_sha256": fp, "status": "retired"}
               for fp in self.retired_fingerprints],
            "time_stamping": {
                "authority": "local" if self.tsa_local else "public",
                "url": self.tsa_url or None,
                "local_tsa_accepted_by_operator": self.tsa_local_accepted if self.tsa_local else None,
                "ca_certificate_fingerprints_sha256": self.tsa_ca_fingerprints,
                "note": ("The operator's own TSA stamps exports: the time is the operator's word, not a third party's."
                         if self.tsa_local else "A public RFC 3161 authority stamps exports."),
                "second_authority": ({"url": self.tsa2_url,
                                      "ca_certificate_fingerprints_sha256": list(self.tsa2_ca_fingerprints)}
                                     if self.tsa2_url else None),
            },
            "verify": "sh check.sh EXPORT.zip FINGERPRINT (VERIFY.md in every export), or "
                      "manage.py verify_export EXPORT.zip --fingerprint FINGERPRINT",
        }


def trust_anchors() -> TrustAnchors:
    """The anchors as configured now; raises ImproperlyConfigured when exports are not set up."""
    public = signing_key_load().public_key()
    cas = x509.load_pem_x509_certificates(tsa_ca_pem_load())
    retired = [fp.strip().lower() for fp in getattr(settings, "EXPORT_RETIRED_KEY_FINGERPRINTS", []) if fp.strip()]
    return TrustAnchors(
        operator=getattr(settings, "EXPORT_OPERATOR_NAME", ""),
        signing_fingerprint=public_key_fingerprint(public),
        signing_public_pem=public_key_pem(public).decode("ascii"),
        retired_fingerprints=retired,
        tsa_url=settings.EXPORT_TSA_URL,
        tsa_local=not settings.EXPORT_TSA_URL,
        tsa_local_accepted=bool(getattr(settings, "EXPORT_TSA_LOCAL_ACCEPTED", False)),
        tsa_ca_fingerprints=[certificate_fingerprint(c) for c in cas],
        tsa2_url=getattr(settings, "EXPORT_TSA2_URL", ""),
        tsa2_ca_fingerprints=tuple(
            certificate_fingerprint(c) for c in x509.load_pem_x509_certificates(
                Path(settings.EXPORT_TSA2_CA_FILE).read_bytes())
        ) if getattr(settings, "EXPORT_TSA2_URL", "") and getattr(settings, "EXPORT_TSA2_CA_FILE", "") else (),
    )
