"""The export's container: files, MANIFEST.sha256, its Ed25519 signature and its RFC 3161 time-stamp, in one ZIP.

Pure (no Django), shared by the builder and the verifier so that both agree on names and formats.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Mapping
from datetime import datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sha256.sig"
TIMESTAMP = "MANIFEST.sha256.tsr"
# A second, independent authority's stamp over the same manifest, when the operator configures one; its CA
# certificates are listed in the manifest, so a second stamp cannot be removed unnoticed.
TIMESTAMP2 = "MANIFEST.sha256.tsr2"
TSA2_CA = "tsa2-ca.pem"
SIGNING_PUB = "signing-key.pub.pem"
TSA_CA = "tsa-ca.pem"
VERIFY_MD = "VERIFY.md"
CASE_PDF = "case.pdf"
CASE_JSON = "case.json"
AUDIT_JSON = "audit-log.json"
ANNEX = "identity-annex.p7m"
# The files that are about the manifest and so cannot be listed in it; every other file is.
UNLISTED = (MANIFEST, SIGNATURE, TIMESTAMP, TIMESTAMP2)
REQUIRED = (SIGNING_PUB, TSA_CA, VERIFY_MD, CASE_PDF, CASE_JSON, AUDIT_JSON)
# Plain relative names only: no directories of their own, no "..", nothing a shell or sha256sum would misread.
NAME_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,99}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})  (\S+)$")


class BundleError(ValueError):
    pass


def name_check(name: str) -> None:
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise BundleError(f"unsafe file name {name!r}")


def manifest_render(files: Mapping[str, bytes]) -> bytes:
    """`sha256sum` output for every file, sorted by name, LF line ends."""
    lines = []
    for name in sorted(files):
        name_check(name)
        if name in UNLISTED:
            raise BundleError(f"{name} cannot be listed in the manifest")
        lines.append(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n")
    return "".join(lines).encode("ascii")


def manifest_parse(data: bytes) -> dict[str, str]:
    """Name -> hex digest; refuses anything that manifest_render would not have written."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BundleError("the manifest is not ASCII") from exc
    if not text.endswith("\n") or "\r" in text:
        raise BundleError("the manifest's lines must end in LF")
    entries: dict[str, str] = {}
    previous = ""
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        match = MANIFEST_LINE.fullmatch(line)
        if not match:
            raise BundleError(f"manifest line {number} is not '<sha256>  <name>'")
        digest, name = match.groups()
        name_check(name)
        if name in UNLISTED or name in entries or name <= previous:
            raise BundleError(f"manifest line {number}: {name} is listed out of order, twice, or not allowed")
        entries[name] = digest
        previous = name
    return entries


def signature_create(key: ed25519.Ed25519PrivateKey, manifest: bytes) -> bytes:
    # Pure Ed25519 over the file itself (not a pre-hash): what `openssl pkeyutl -verify -rawin` checks.
    return key.sign(manifest)


def bundle_write(
    files: Mapping[str, bytes],
    *,
    signing_key: ed25519.Ed25519PrivateKey,
    timestamp: Callable[[bytes], bytes],
    tsa_ca_pem: bytes,
    verify_md: Callable[[str], bytes],
    when: datetime,
    second_timestamp: Callable[[bytes], bytes] | None = None,
    tsa2_ca_pem: bytes | None = None,
) -> tuple[bytes, bytes]:
    """The ZIP bytes and the manifest. `verify_md(fingerprint)` writes VERIFY.md; `timestamp(m)` stamps m."""
    content = dict(files)
    for fixed in (*UNLISTED, SIGNING_PUB, TSA_CA, TSA2_CA, VERIFY_MD):
        if fixed in content:
            raise BundleError(f"{fixed} is written by the bundle itself")
    public = signing_key.public_key()
    content[SIGNING_PUB] = public_key_pem(public)
    content[TSA_CA] = tsa_ca_pem
    if (second_timestamp is None) != (tsa2_ca_pem is None):
        raise BundleError("a second time-stamp needs its CA file, and the other way round")
    if tsa2_ca_pem is not None:
        content[TSA2_CA] = tsa2_ca_pem
    content[VERIFY_MD] = verify_md(public_key_fingerprint(public))
    manifest = manifest_render(content)
    content[MANIFEST] = manifest
    content[SIGNATURE] = signature_create(signing_key, manifest)
    content[TIMESTAMP] = timestamp(manifest)
    if second_timestamp is not None:
        content[TIMESTAMP2] = second_timestamp(manifest)
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        # The manifest first, then everything else by name, so a reader finds its bearings at the top.
        for name in [*(n for n in UNLISTED if n in content), *sorted(n for n in content if n not in UNLISTED)]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content[name])
    return buffer.getvalue(), manifest


def public_key_pem(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_fingerprint(key: ed25519.Ed25519PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform DER | sha256sum` prints it."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_key_from_pem(pem: bytes) -> ed25519.Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise BundleError("signing-key.pub.pem is not a PEM public key") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BundleError("signing-key.pub.pem is not an Ed25519 key")
    return key
