"""The sealed identity annex: what the person chose to give for the court, encrypted to the advocate's certificate.

CMS/PKCS#7 EnvelopedData (RSA key transport, AES-256-CBC content), so the advocate opens it with a standard tool
and their own private key:

    openssl cms -decrypt -inform DER -in identity-annex.p7m -inkey advocate.key -out identity-annex.json

The operator cannot open it once written (the content key exists only encrypted to the advocate's key), and
nothing of it appears in the export's plain files.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

MIN_RSA_BITS = 2048


class AnnexCertificateError(ValueError):
    pass


def annex_certificate_load(pem: str) -> x509.Certificate:
    """An advocate's certificate as pasted on their profile: one PEM X.509 certificate with an RSA key."""
    try:
        certs = x509.load_pem_x509_certificates(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise AnnexCertificateError("Paste one certificate in PEM form (-----BEGIN CERTIFICATE-----).") from exc
    if len(certs) != 1:
        raise AnnexCertificateError("Paste exactly one certificate.")
    key = certs[0].public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        raise AnnexCertificateError(f"The certificate must carry an RSA key of at least {MIN_RSA_BITS} bits.")
    return certs[0]


def annex_seal(content: dict[str, Any], *, certificate_pem: str) -> bytes:
    cert = annex_certificate_load(certificate_pem)
    body = json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True).encode()
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(body)
        .set_content_encryption_algorithm(algorithms.AES256)  # AES-256-CBC, as `openssl cms` reads it
        .add_recipient(cert)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
