"""RFC 3161 time-stamping: a client for a configured authority, a local authority, and a strict token check.

The export's manifest gets a time-stamp token so that a court can tell the file existed at that time, from a
third party it trusts (a public or court-approved TSA) or, for an operator with no network, from a local TSA
whose CA certificate ships in the export. This module imports no Django: `verify_export` runs on its own.

The check is deliberately stricter than `openssl ts -verify`: it accepts only DER that re-encodes to the same
bytes and fields that carry one allowed value, so that a change to any byte of the token is noticed, not only
a change to the bytes the TSA's signature covers. What `openssl ts -verify` lets through is listed in
docs/exports.md.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The local TSA's policy: an OID under 2.25 (UUID-derived, ITU-T X.667), so no registration is needed.
LOCAL_TSA_POLICY = "2.25.216170937357306391547658209431796416842"
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"
MAX_CHAIN = 6


class TimestampError(Exception):
    """The token is missing, malformed, does not cover the data, or does not chain to the trusted CA."""


# --- requests -------------------------------------------------------------------------------------------------


def timestamp_request(data: bytes, *, nonce: int | None = None) -> tuple[bytes, int]:
    """A DER TimeStampReq over SHA-256(data), asking for the TSA certificate in the token."""
    nonce = nonce if nonce is not None else secrets.randbits(63)
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(data).digest(),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return request.dump(), nonce


def _granted_response(token: cms.ContentInfo) -> bytes:
    """A minimal TimeStampResp around a token: status granted, no free text that nothing signs."""
    status = tsp.PKIStatusInfo({"status": "granted"}).dump()
    body = status + token.dump()
    return b"\x30" + _der_length(len(body)) + body


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


# --- the local authority ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalTSA:
    """A time-stamping authority in-process: an EC P-256 key and a certificate issued by the local CA."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def respond(self, request_der: bytes, *, now: datetime | None = None) -> bytes:
        try:
            request = tsp.TimeStampReq.load(request_der)
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            nonce = request["nonce"].native
        except (ValueError, TypeError, KeyError) as exc:
            raise TimestampError("malformed time-stamp request") from exc
        if algorithm != "sha256" or len(digest) != 32:
            raise TimestampError("the local TSA stamps SHA-256 imprints only")
        gen_time = (now or datetime.now(UTC)).replace(microsecond=0)
        info: dict[str, object] = {
            "version": "v1",
            "policy": LOCAL_TSA_POLICY,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
            "serial_number": uuid.uuid4().int,
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
        }
        if nonce is not None:
            info["nonce"] = nonce
        tst_info = tsp.TSTInfo(info)
        econtent = tst_info.dump()
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        cert = ax509.Certificate.load(cert_der)
        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "signing_time", "values": [cms.Time({"utc_time": gen_time})]},
                {"type": "message_digest", "values": [hashlib.sha256(econtent).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [{"certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}]}],
                },
            ]
        )
        signature = self.key.sign(signed_attrs.dump(force=True), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": cert.issuer,
                            "serial_number": cert.serial_number,
                        }
                    }
                ),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {"content_type": "tst_info", "content": tst_info},
                "certificates": [cert],
                "signer_infos": [signer],
            }
        )
        return _granted_response(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}))


def local_ca_generate(*, common_name: str, days: int = 3650) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def local_tsa_generate(
    *, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str, days: int = 3650
) -> LocalTSA:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        # RFC 3161 2.3: the TSA certificate carries exactly one, critical, extended key usage: time stamping.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return LocalTSA(key=key, certificate=cert)


# --- a remote authority -----------------------------------------------------------------------------------------


def remote_timestamp(url: str, request_der: bytes, *, timeout: float, headers: dict[str, str] | None = None) -> bytes:
    """POST the request to a TSA over HTTP(S) and return its DER reply."""
    if not url.startswith(("https://", "http://")):
        raise TimestampError("the TSA URL must be http(s)")
    http_request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=request_der, method="POST", headers={"Content-Type": TIMESTAMP_QUERY, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(1_000_000)
    except OSError as exc:
        raise TimestampError(f"the TSA did not answer: {exc.__class__.__name__}") from exc
    return body


def timestamp_reply_accept(reply: bytes, *, data: bytes, nonce: int) -> bytes:
    """Check a TSA's reply to our request and return the response file to ship (status granted, token as sent).

    The token is kept byte for byte (its signature covers it); the wrapper is rebuilt so that no unsigned free
    text from the TSA (status strings) ends up in the export.
    """
    try:
        response = tsp.TimeStampResp.load(reply)
        status = response["status"]["status"].native
        token = response["time_stamp_token"]
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError("the TSA's reply is not a TimeStampResp") from exc
    if status not in ("granted", "granted_with_mods") or not isinstance(token, cms.ContentInfo):
        raise TimestampError(f"the TSA refused the request ({status})")
    token_der = token.dump()
    _der_walk(token_der)
    shipped = _granted_response(cms.ContentInfo.load(token_der))
    info = _tst_info(_parse_response(shipped)[1])
    if info["nonce"].native != nonce:
        raise TimestampError("the TSA's reply answers another request (nonce)")
    if info["message_imprint"]["hashed_message"].native != hashlib.sha256(data).digest():
        raise TimestampError("the TSA stamped other data")
    return shipped


# --- checking a token -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimestampInfo:
    gen_time: datetime
    serial_number: int
    policy: str
    tsa_subject: str


def _der_walk(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> None:
    """Every length in minimal definite form, every constructed value exactly filled by its children.

    With the field checks below this leaves no byte whose change goes unnoticed; asn1crypto's own re-encoding
    (dump(force=True)) would say the same but costs seconds on a certificate chain.
    """
    end = len(data) if end is None else end
    if depth > 32:
        raise TimestampError("nested too deeply")
    position = start
    while position < end:
        if position + 2 > end:
            raise TimestampError("truncated DER")
        tag = data[position]
        if tag & 0x1F == 0x1F:
            raise TimestampError("unexpected high tag number")
        first = data[position + 1]
        position += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or position + count > end:
                raise TimestampError("indefinite or oversized length (not DER)")
            length = int.from_bytes(data[position : position + count], "big")
            if length < 0x80 or data[position] == 0:
                raise TimestampError("length not in minimal form (not DER)")
            position += count
        if position + length > end:
            raise TimestampError("a length runs past its container")
        if tag & 0x20:
            _der_walk(data, position, position + length, depth + 1)
        position += length
    if position != end:
        raise TimestampError("trailing bytes")


def _parse_response(data: bytes) -> tuple[tsp.TimeStampResp, cms.SignedData]:
    _der_walk(data)
    try:
        response = tsp.TimeStampResp.load(data, strict=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError("not a DER TimeStampResp") from exc
    status = response["status"]
    if status["status"].native != "granted" or status["status_string"].native or status["fail_info"].native:
        raise TimestampError("its status is not a plain 'granted'")
    token = response["time_stamp_token"]
    if not isinstance(token, cms.ContentInfo) or token["content_type"].native != "signed_data":
        raise TimestampError("it holds no signed time-stamp token")
    signed = token["content"]
    if signed["version"].native != "v3":
        raise TimestampError("its SignedData version is not 3")
    return response, signed


def _check_sha256_algorithm(algorithm: algos.DigestAlgorithm, what: str) -> None:
    if algorithm["algorithm"].native != "sha256" or algorithm["parameters"].dump() not in (b"", b"\x05\x00"):
        raise TimestampError(f"its {what} is not SHA-256")


def _tst_info(signed: cms.SignedData) -> tsp.TSTInfo:
    encap = signed["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampError("its content is not a TSTInfo")
    info = encap["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        raise TimestampError("its content is not a TSTInfo")
    return info


def _load_pem_bundle(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError("the CA file holds no readable certificate") from exc


def _issuer_in(cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for candidate in pool:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None


def _verify_with(public_key: object, signature: bytes, message: bytes, algorithm: str) -> None:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if algorithm != "sha256_ecdsa":
                raise TimestampError("its signature algorithm does not fit the TSA key")
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            # A TSA may name either OID for PKCS#1 v1.5 with the SHA-256 digest algorithm checked above.
            if algorithm not in ("sha256_rsa", "rsa"):
                raise TimestampError("its signature algorithm does not fit the TSA key")
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise TimestampError("the TSA key type is not supported")
    except InvalidSignature as exc:
        raise TimestampError("the TSA's signature does not verify") from exc


def timestamp_verify(response_der: bytes, *, data: bytes, ca_pem: bytes) -> TimestampInfo:
    """Check a TimeStampResp over `data` against the CA certificates in `ca_pem`; raise TimestampError if not."""
    try:
        return _timestamp_verify(response_der, data=data, ca_pem=ca_pem)
    except TimestampError:
        raise
    except Exception as exc:
        raise TimestampError(f"malformed token ({exc.__class__.__name__})") from exc


def _timestamp_verify(response_der: bytes, *, data: bytes, ca_pem: bytes) -> TimestampInfo:
    _, signed = _parse_response(response_der)
    if len(signed["digest_algorithms"]) != 1:
        raise TimestampError("it names more than one digest algorithm")
    _check_sha256_algorithm(signed["digest_algorithms"][0], "digest algorithm")
    if signed["crls"].native:
        raise TimestampError("it carries revocation lists, which this check does not read")
    info = _tst_info(signed)
    if info["version"].native != "v1":
        raise TimestampError("its TSTInfo version is not 1")
    imprint = info["message_imprint"]
    _check_sha256_algorithm(imprint["hash_algorithm"], "imprint algorithm")
    if imprint["hashed_message"].native != hashlib.sha256(data).digest():
        raise TimestampError("it does not cover MANIFEST.sha256 (imprint differs)")

    if len(signed["signer_infos"]) != 1:
        raise TimestampError("it must have exactly one signer")
    signer = signed["signer_infos"][0]
    _check_sha256_algorithm(signer["digest_algorithm"], "signer digest algorithm")
    if signer["unsigned_attrs"].native:
        raise TimestampError("it carries unsigned attributes")
    carried = [c.chosen for c in signed["certificates"]] if signed["certificates"].native else []
    if not carried or not all(isinstance(c, ax509.Certificate) for c in carried):
        raise TimestampError("it does not carry the TSA certificate")
    sid = signer["sid"]
    signer_cert_a = None
    for cert in carried:
        if sid.name == "issuer_and_serial_number":
            if (cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native
                    and signer["version"].native == "v1"):
                signer_cert_a = cert
        elif sid.name == "subject_key_identifier" and signer["version"].native == "v3":
            if cert.key_identifier == sid.chosen.native:
                signer_cert_a = cert
    if signer_cert_a is None:
        raise TimestampError("its signer is not among its certificates")
    signer_der = signer_cert_a.dump()
    try:
        tsa_cert = x509.load_der_x509_certificate(signer_der)
        extra = [x509.load_der_x509_certificate(c.dump()) for c in carried if c.dump() != signer_der]
    except ValueError as exc:
        raise TimestampError("a certificate in it is malformed") from exc

    attrs = {attr["type"].native: attr["values"] for attr in signer["signed_attrs"]}
    if len(attrs) != len(signer["signed_attrs"]):
        raise TimestampError("a signed attribute appears twice")
    if set(attrs) - {"content_type", "message_digest", "signing_time", "signing_certificate",
                     "signing_certificate_v2", "cms_algorithm_protection"}:
        raise TimestampError("it carries a signed attribute this check does not know")
    if [v.native for v in attrs.get("content_type", [])] != ["tst_info"]:
        raise TimestampError("its content-type attribute is not TSTInfo")
    econtent = signed["encap_content_info"]["content"].contents
    if [v.native for v in attrs.get("message_digest", [])] != [hashlib.sha256(econtent).digest()]:
        raise TimestampError("its message digest does not match its content")
    if "signing_certificate_v2" in attrs:
        ess = attrs["signing_certificate_v2"][0]["certs"][0]
        _check_sha256_algorithm(ess["hash_algorithm"], "certificate id algorithm")
        if ess["cert_hash"].native != hashlib.sha256(signer_der).digest():
            raise TimestampError("its signing-certificate attribute names another certificate")
    elif "signing_certificate" in attrs:
        ess1 = attrs["signing_certificate"][0]["certs"][0]
        if ess1["cert_hash"].native != hashlib.sha1(signer_der).digest():  # noqa: S324 - RFC 2634 ESSCertID
            raise TimestampError("its signing-certificate attribute names another certificate")
    else:
        raise TimestampError("it has no signing-certificate attribute")
    # The signature covers the attributes' own encoding with the SET OF tag in place of [0] (RFC 5652 5.4).
    signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]
    _verify_with(tsa_cert.public_key(), signer["signature"].native, signed_bytes,
                 signer["signature_algorithm"]["algorithm"].native)
    if signer["signature_algorithm"]["parameters"].dump() not in (b"", b"\x05\x00"):
        raise TimestampError("its signature algorithm has unexpected parameters")

    # The TSA certificate: for time stamping only, valid at the stamp's time, chained to the bundled CA.
    try:
        usage = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise TimestampError("the TSA certificate has no time-stamping key usage") from exc
    if not usage.critical or list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampError("the TSA certificate is not for time stamping only")
    gen_time: datetime = info["gen_time"].native
    anchors = _load_pem_bundle(ca_pem)
    chain_pool = anchors + extra
    used: set[bytes] = set()
    current = tsa_cert
    for _ in range(MAX_CHAIN):
        if not (current.not_valid_before_utc <= gen_time <= current.not_valid_after_utc):
            raise TimestampError("a certificate in the chain was not valid at the stamp's time")
        if current in anchors:
            break
        issuer = _issuer_in(current, chain_pool)
        if issuer is None:
            raise TimestampError("the TSA certificate does not chain to the bundled CA")
        if issuer not in anchors:
            used.add(issuer.public_bytes(serialization.Encoding.DER))
        current = issuer
    else:
        raise TimestampError("the certificate chain is too long")
    # Every carried certificate must be the signer's or on its chain: an unknown one may be an altered copy.
    for cert_extra in extra:
        if cert_extra.public_bytes(serialization.Encoding.DER) not in used:
            raise TimestampError("it carries a certificate that is not on the TSA's chain")
    return TimestampInfo(
        gen_time=gen_time,
        serial_number=info["serial_number"].native,
        policy=info["policy"].native,
        tsa_subject=tsa_cert.subject.rfc4514_string(),
    )


def certificates_pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
