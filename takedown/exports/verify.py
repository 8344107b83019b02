"""Offline verification of an export ZIP: what `manage.py verify_export` runs, with no database and no network.

The checks run in a fixed order and each is reported; the first that fails names the reason. They match, one
for one, the standard-tool commands written into VERIFY.md (unzip and compare names, `sha256sum -c`,
`openssl pkeyutl -verify -rawin`, `openssl ts -verify`), plus a recomputation of the audit-log excerpt's hashes.
By default the signing key and the TSA CA are the ones shipped inside the ZIP, which proves the file is intact
and consistent; pass the operator's published key (and CA) to prove also who made it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from takedown.exports import bundle
from takedown.exports.timestamp import TimestampError, TimestampInfo, timestamp_verify

MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)
    timestamp: TimestampInfo | None = None
    signing_fingerprint: str = ""
    anchor: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def _read_members(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise bundle.BundleError("not a ZIP file") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise bundle.BundleError("too many files")
        if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise bundle.BundleError("the files are too large once unpacked")
        members: dict[str, bytes] = {}
        for info in infos:
            if info.is_dir():
                raise bundle.BundleError(f"unexpected directory entry {info.filename!r}")
            bundle.name_check(info.filename)
            if info.filename in members:
                raise bundle.BundleError(f"{info.filename} appears twice")
            if info.flag_bits & 0x1:
                raise bundle.BundleError(f"{info.filename} is encrypted")
            try:
                members[info.filename] = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise bundle.BundleError(f"{info.filename} cannot be read ({exc})") from exc
    return members


def audit_row_digest(row: dict[str, Any]) -> str:
    """The audit log's row hash (takedown.core.audit), recomputed from an exported row."""
    body = {
        "prev": row["prev_hash"],
        "at": row["at"],
        "actor_kind": row["actor_kind"],
        "actor_id": row["actor_id"],
        "action": row["action"],
        "case_id": row["case_id"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "detail": row["detail"],
    }
    if row.get("seq"):
        body["chain"] = row["chain"]
        body["seq"] = row["seq"]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _audit_check(data: bytes, case_id: str) -> str:
    """Every row recomputes; the case's chain is complete: positions 1..n, each linked, n the exported head."""
    try:
        excerpt = json.loads(data)
        events = excerpt["events"]
        head = excerpt["chain_head"]
        head_chain, head_seq, head_hash = head["chain"], head["seq"], head["row_hash"]
    except (ValueError, KeyError, TypeError) as exc:
        raise bundle.BundleError("audit-log.json is not an audit excerpt") from exc
    expected_chain = f"case:{case_id}"
    if head_chain != expected_chain:
        raise bundle.BundleError("the audit chain head names another case")
    legacy_previous: dict[str, Any] | None = None
    prev_hash, expected_seq = GENESIS_HASH, 1
    for row in events:
        try:
            digest = audit_row_digest(row)
            seq = row["seq"]
            if digest != row["row_hash"]:
                raise bundle.BundleError(f"audit row {row.get('id')} does not match its hash")
            if row["case_id"] != case_id:
                raise bundle.BundleError(f"audit row {row['id']} is about another case")
        except (KeyError, TypeError) as exc:
            raise bundle.BundleError("an audit row lacks a field") from exc
        if not seq:
            # The old global chain: rows adjacent in the whole log must link; others cannot be checked here.
            if legacy_previous is not None:
                if row["id"] <= legacy_previous["id"]:
                    raise bundle.BundleError(f"audit row {row['id']} is out of order")
                if row["id"] == legacy_previous["id"] + 1 and row["prev_hash"] != legacy_previous["row_hash"]:
                    raise bundle.BundleError(f"audit row {row['id']} does not link to row {legacy_previous['id']}")
            legacy_previous = row
            continue
        if row["chain"] != expected_chain:
            raise bundle.BundleError(f"audit row {row['id']} belongs to another chain")
        if seq != expected_seq:
            raise bundle.BundleError(
                f"the case's audit chain skips from position {expected_seq - 1} to {seq} (a row was left out)")
        if row["prev_hash"] != prev_hash:
            raise bundle.BundleError(f"audit row at position {seq} does not link to position {seq - 1}")
        prev_hash, expected_seq = row["row_hash"], expected_seq + 1
    if expected_seq - 1 != head_seq or prev_hash != head_hash:
        raise bundle.BundleError(
            f"the case's audit chain had {head_seq} rows when exported but positions 1 to {expected_seq - 1} are "
            "here (a row was left out)")
    return (f"{len(events)} rows recompute; the case's chain is complete: positions 1 to {head_seq}, "
            f"head {head_hash[:16]}...")


def export_verify(
    source: bytes | Path,
    *,
    trusted_key_pem: bytes | None = None,
    trusted_fingerprint: str = "",
    trusted_ca_pem: bytes | None = None,
    trust_embedded: bool = False,
    anchor_source: str = "",
) -> VerifyReport:
    """Check an export. The signing key must be pinned (its PEM, or the fingerprint the operator publishes at
    /.well-known/takedown-export-keys) unless `trust_embedded`, which proves only that the file is intact and
    self-consistent: anyone can re-sign and re-stamp a file with a key and a TSA of their own."""
    report = VerifyReport()
    data = source.read_bytes() if isinstance(source, Path) else source
    try:
        members = _read_members(data)
    except bundle.BundleError as exc:
        report.add("zip", False, str(exc))
        return report
    report.add("zip", True, f"{len(members)} files, safe names, no duplicates")

    expected = [bundle.MANIFEST, bundle.SIGNATURE, bundle.TIMESTAMP, *bundle.REQUIRED]
    if bundle.TSA2_CA in members or bundle.TIMESTAMP2 in members:
        expected += [bundle.TSA2_CA, bundle.TIMESTAMP2]  # a second stamp, once there, must stay with its CA
    missing = [n for n in expected if n not in members]
    if not report.add("required-files", not missing, f"missing {', '.join(missing)}" if missing else "present"):
        return report

    manifest = members[bundle.MANIFEST]
    try:
        entries = bundle.manifest_parse(manifest)
    except bundle.BundleError as exc:
        report.add("manifest-format", False, str(exc))
        return report
    report.add("manifest-format", True, f"{len(entries)} entries in sha256sum format")

    try:
        public = bundle.public_key_from_pem(members[bundle.SIGNING_PUB])
    except bundle.BundleError as exc:
        report.add("signing-key", False, str(exc))
        return report
    report.signing_fingerprint = bundle.public_key_fingerprint(public)
    pinned = ""
    if trusted_key_pem is not None:
        try:
            trusted = bundle.public_key_from_pem(trusted_key_pem)
        except bundle.BundleError as exc:
            report.add("signing-key", False, f"the trusted key: {exc}")
            return report
        pinned = bundle.public_key_fingerprint(trusted)
    elif trusted_fingerprint:
        pinned = trusted_fingerprint.strip().lower().replace(":", "")
        if len(pinned) != 64 or any(c not in "0123456789abcdef" for c in pinned):
            report.add("signing-key", False, "the trusted fingerprint is not 64 hex digits (SHA-256)")
            return report
    if pinned:
        if pinned != report.signing_fingerprint:
            report.add("signing-key", False, f"signing-key.pub.pem ({report.signing_fingerprint}) is not the "
                       f"trusted key ({pinned}): this file was not signed with the operator's published key")
            return report
        report.anchor = f"the pinned signing key {pinned}" + (f" ({anchor_source})" if anchor_source else "")
    elif trust_embedded:
        report.anchor = ("the key shipped inside the file (--trust-embedded): this shows the file is intact, not "
                         "who made it")
    else:
        report.add("signing-key", False, "no trust anchor: pin the operator's published key (--pubkey FILE or "
                   "--fingerprint HEX from /.well-known/takedown-export-keys) or pass --trust-embedded")
        return report
    report.add("signing-key", True, f"Ed25519, SHA-256 fingerprint {report.signing_fingerprint}; trusted: "
               f"{report.anchor}")

    try:
        public.verify(members[bundle.SIGNATURE], manifest)
        signature_ok = len(members[bundle.SIGNATURE]) == 64
    except InvalidSignature:
        signature_ok = False
    if not report.add("signature", signature_ok,
                      "MANIFEST.sha256.sig verifies" if signature_ok else "MANIFEST.sha256.sig does not verify"):
        return report

    ca_pem = members[bundle.TSA_CA]
    if trusted_ca_pem is not None and trusted_ca_pem.strip() != ca_pem.strip():
        report.add("timestamp", False, "tsa-ca.pem is not the trusted CA file")
        return report
    try:
        report.timestamp = timestamp_verify(members[bundle.TIMESTAMP], data=manifest, ca_pem=ca_pem)
    except TimestampError as exc:
        report.add("timestamp", False, f"MANIFEST.sha256.tsr: {exc}")
        return report
    report.add("timestamp", True, f"stamped {report.timestamp.gen_time.isoformat()} by "
               f"{report.timestamp.tsa_subject}; PKIStatus granted; message imprint = SHA-256 of MANIFEST.sha256")
    if bundle.TIMESTAMP2 in members:
        try:
            second = timestamp_verify(members[bundle.TIMESTAMP2], data=manifest, ca_pem=members[bundle.TSA2_CA])
        except TimestampError as exc:
            report.add("timestamp-2", False, f"MANIFEST.sha256.tsr2: {exc}")
            return report
        report.add("timestamp-2", True, f"also stamped {second.gen_time.isoformat()} by {second.tsa_subject}, "
                   "chained to tsa2-ca.pem")

    listed = set(entries)
    present = set(members) - set(bundle.UNLISTED)
    unlisted = sorted(present - listed)
    absent = sorted(listed - present)
    if unlisted or absent:
        problems = [f"not in the manifest: {', '.join(unlisted)}"] if unlisted else []
        problems += [f"listed but missing: {', '.join(absent)}"] if absent else []
        report.add("file-set", False, "; ".join(problems))
        return report
    report.add("file-set", True, "the ZIP holds exactly the listed files and the three manifest files")

    for name in sorted(entries):
        if hashlib.sha256(members[name]).hexdigest() != entries[name]:
            report.add("digests", False, f"{name}: SHA-256 differs from the manifest")
            return report
    report.add("digests", True, f"{len(entries)} files match the manifest")

    try:
        case_id = str(json.loads(members[bundle.CASE_JSON])["case"]["id"])
        summary = _audit_check(members[bundle.AUDIT_JSON], case_id)
    except (bundle.BundleError, ValueError, KeyError, TypeError) as exc:
        report.add("audit-chain", False, str(exc) if isinstance(exc, bundle.BundleError) else
                   "case.json does not name the case's id")
        return report
    report.add("audit-chain", True, summary)
    return report
