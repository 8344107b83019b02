"""verify_export (pinned key) and VERIFY.md's script (run literally under `sh`) agree on every tampering.

The script is taken from the export's own VERIFY.md and run with dash, under a file name unlike `case.zip`, so
the instructions a court reads are the ones tested. Each forgery is one a person holding the file, or the
operator itself, could make: a changed byte, a file removed or added, the whole file re-signed with another key
(and stamped by another TSA), a re-stamp by another TSA, a status byte flipped, an audit row left out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.conf import settings
from django.test import override_settings

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.keys import local_tsa_load, signing_key_load
from takedown.exports.services import case_export_build
from takedown.exports.timestamp import (
    LocalTSA,
    certificates_pem,
    local_ca_generate,
    local_tsa_generate,
    timestamp_reply_accept,
    timestamp_request,
)
from tests.exports.conftest import case_make, pinned_key, zip_build, zip_members

REPO = Path(__file__).resolve().parents[2]
SH = shutil.which("dash") or shutil.which("sh")
pytestmark = pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("unzip") and shutil.which("python3")
                                     and SH), reason="needs sh, openssl, unzip and python3")


def _script(verify_md: str) -> str:
    block = re.search(r"## The commands.*?```sh\n(.*?)```", verify_md, re.S)
    assert block, "VERIFY.md has no command block"
    return block.group(1)


def _fingerprint() -> str:
    return bundle.public_key_fingerprint(bundle.public_key_from_pem(pinned_key()))


def script_run(zip_path: Path, reference_md: str, workdir: Path, fingerprint: str | None = None) -> tuple[bool, str]:
    """Save VERIFY.md's block as check.sh and run `sh check.sh FILE FINGERPRINT`, as VERIFY.md says."""
    members = zip_members(zip_path.read_bytes())
    # A forger may also rewrite VERIFY.md; the court follows the copy it trusts, taken from an untouched export.
    verify_md = reference_md or members[bundle.VERIFY_MD].decode()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "check.sh").write_text(_script(verify_md))
    local = workdir / zip_path.name
    shutil.copyfile(zip_path, local)
    result = subprocess.run([SH, "check.sh", local.name, fingerprint or _fingerprint()], cwd=workdir,
                            capture_output=True, text=True, timeout=120)
    return result.returncode == 0, result.stdout + result.stderr


def verify_command(zip_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run([sys.executable, "manage.py", "verify_export", str(zip_path), *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


_BUILT: dict[str, bytes] = {}


@pytest.fixture
def export_zip(db: None) -> bytes:
    if "zip" not in _BUILT:
        case = case_make("TOOLS-0001", urls=4, images=1)
        _BUILT["zip"] = case_export_build(case=case, actor=Actor.system()).data
    return _BUILT["zip"]


def _flipped(members: dict[str, bytes], name: str, position: int, mask: int = 0x01) -> dict[str, bytes]:
    content = bytearray(members[name])
    content[position] ^= mask
    return {**members, name: bytes(content)}


def _stamper(tsa: LocalTSA) -> Callable[[bytes], bytes]:
    def stamp(manifest: bytes) -> bytes:
        request, nonce = timestamp_request(manifest)
        return timestamp_reply_accept(tsa.respond(request), data=manifest, nonce=nonce)

    return stamp


def reseal(members: dict[str, bytes], *, key: ed25519.Ed25519PrivateKey, tsa: LocalTSA, ca_pem: bytes,
           change: Callable[[dict[str, bytes]], None] | None = None) -> bytes:
    """Rebuild a whole export from its files, as a forger with a key and a TSA of their own would."""
    files = {n: v for n, v in members.items()
             if n not in (*bundle.UNLISTED, bundle.SIGNING_PUB, bundle.TSA_CA, bundle.VERIFY_MD)}
    if change is not None:
        change(files)
    data, _ = bundle.bundle_write(files, signing_key=key, timestamp=_stamper(tsa), tsa_ca_pem=ca_pem,
                                  verify_md=lambda _fp: members[bundle.VERIFY_MD], when=datetime.now(UTC))
    return data


def _drop_audit_row(position: int) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        log = json.loads(files[bundle.AUDIT_JSON])
        log["events"] = [e for e in log["events"] if e["seq"] != position]
        files[bundle.AUDIT_JSON] = json.dumps(log, indent=1).encode()

    return change


def _other_tsa() -> tuple[LocalTSA, bytes]:
    ca_key, ca_cert = local_ca_generate(common_name="Another TSA CA")
    return local_tsa_generate(ca_key=ca_key, ca_cert=ca_cert, common_name="Another TSA"), certificates_pem([ca_cert])


def _variants(members: dict[str, bytes]) -> dict[str, bytes | None]:
    tsr = members[bundle.TIMESTAMP]
    status = tsr.index(b"\x02\x01\x00")  # PKIStatus INTEGER 0 (granted), the first INTEGER of the reply
    real_key = signing_key_load()
    real_tsa = local_tsa_load()
    real_ca = members[bundle.TSA_CA]
    other_key = ed25519.Ed25519PrivateKey.generate()
    other_tsa, other_ca = _other_tsa()
    variants: dict[str, dict[str, bytes] | bytes | None] = {
        "untouched": None,
        "pdf byte": _flipped(members, bundle.CASE_PDF, len(members[bundle.CASE_PDF]) // 2),
        "json byte": _flipped(members, bundle.CASE_JSON, 10),
        "audit byte": _flipped(members, bundle.AUDIT_JSON, 30),
        "manifest byte": _flipped(members, bundle.MANIFEST, 5),
        "signature byte": _flipped(members, bundle.SIGNATURE, 63),
        "public key byte": _flipped(members, bundle.SIGNING_PUB, 40),
        "tsa ca byte": _flipped(members, bundle.TSA_CA, 100),
        "verify md byte": _flipped(members, bundle.VERIFY_MD, 3),
        "timestamp signature byte": _flipped(members, bundle.TIMESTAMP, len(tsr) - 5),
        "timestamp status granted with mods": _flipped(members, bundle.TIMESTAMP, status + 2, 0x01),
        "dropped pdf": {k: v for k, v in members.items() if k != bundle.CASE_PDF},
        "dropped signature": {k: v for k, v in members.items() if k != bundle.SIGNATURE},
        "dropped image": {k: v for k, v in members.items() if not k.startswith("images/")},
        "added file": {**members, "notes.txt": b"added later\n"},
        "added image": {**members, "images/extra.png": b"\x89PNG not really\n"},
        "re-signed with another key and stamped by another TSA": reseal(
            members, key=other_key, tsa=other_tsa, ca_pem=other_ca),
        "re-signed with another key, case.json changed": reseal(
            members, key=other_key, tsa=real_tsa, ca_pem=real_ca,
            change=lambda f: f.update({bundle.CASE_JSON: f[bundle.CASE_JSON].replace(b"missed", b"met")})),
        "re-stamped by another TSA": {**members, bundle.TIMESTAMP: _stamper(other_tsa)(members[bundle.MANIFEST]),
                                      bundle.TSA_CA: other_ca},
        "re-stamped by another TSA, CA file kept": {**members,
                                                    bundle.TIMESTAMP: _stamper(other_tsa)(members[bundle.MANIFEST])},
        "an audit row dropped, re-signed with the real key": reseal(
            members, key=real_key, tsa=real_tsa, ca_pem=real_ca, change=_drop_audit_row(2)),
        "the first audit row dropped, re-signed with the real key": reseal(
            members, key=real_key, tsa=real_tsa, ca_pem=real_ca, change=_drop_audit_row(1)),
    }
    return {label: (zip_build(v) if isinstance(v, dict) else v) for label, v in variants.items()}


@pytest.mark.slow
def test_tamper_suite_caught_by_verify_export_and_by_verify_md_under_sh(db: None, tmp_path: Path,
                                                                         advocate) -> None:
    from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim

    case = case_make("TOOLS-0002", urls=3, images=1)
    grant = grant_create_by_victim(case=case, advocate_code=advocate_profile_ensure(user=advocate).grant_code,
                                   days=30, images_consented=True, identity_for_court="")
    data = case_export_build(case=case, actor=Actor.system(), grant=grant, include_images=True).data
    members = zip_members(data)
    reference_md = members[bundle.VERIFY_MD].decode()
    pubkey = tmp_path / "operator.pub.pem"
    pubkey.write_bytes(pinned_key())
    outcomes = {}
    for number, (label, changed) in enumerate(_variants(members).items()):
        path = tmp_path / f"case-TOOLS 0002 ({number}).zip"  # not case.zip, with a space and brackets
        path.write_bytes(data if changed is None else changed)
        tools_ok, tools_output = script_run(path, reference_md, tmp_path / f"run{number}")
        command = verify_command(path, "--pubkey", str(pubkey))
        assert command.returncode in (0, 1), command.stderr
        outcomes[label] = (tools_ok, command.returncode == 0)
        assert tools_ok == (command.returncode == 0), (label, tools_output, command.stdout, command.stderr)
        if command.returncode == 1:
            assert "FAILED: " in command.stderr and "FAILED: " in tools_output
    assert outcomes.pop("untouched") == (True, True)
    assert all(not tools and not ours for tools, ours in outcomes.values()), outcomes


def test_the_script_passes_under_sh_with_any_file_name(export_zip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "case-TOOLS-0001-20260101T000000Z copy.zip"
    path.write_bytes(export_zip)
    ok, output = script_run(path, "", tmp_path / "run")
    assert ok, output
    assert f"Signed with the operator's published key {_fingerprint()}" in output
    assert "the case's chain is complete, positions 1 to 2" in output


def test_the_script_refuses_a_key_other_than_the_published_one(export_zip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    path.write_bytes(export_zip)
    ok, output = script_run(path, "", tmp_path / "run", fingerprint="ab" * 32)
    assert not ok and "not the published" in output


def test_verify_md_points_to_the_published_anchors(export_zip: bytes) -> None:
    text = zip_members(export_zip)[bundle.VERIFY_MD].decode()
    assert f"{settings.SITE_URL.rstrip('/')}/.well-known/takedown-export-keys" in text
    assert "/court-exports/keys/" in text
    assert "only the published value counts" in text


def test_verify_export_needs_an_anchor_and_names_the_one_it_trusted(export_zip: bytes, tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(export_zip)
    unpinned = verify_command(good)
    assert unpinned.returncode == 1 and "FAILED: signing-key: no trust anchor" in unpinned.stderr
    embedded = verify_command(good, "--trust-embedded")
    assert embedded.returncode == 0, embedded.stderr
    assert "trust anchor: the key shipped inside the file (--trust-embedded)" in embedded.stdout
    pinned = verify_command(good, "--fingerprint", _fingerprint().upper())
    assert pinned.returncode == 0, pinned.stderr
    assert f"trust anchor: the pinned signing key {_fingerprint()} (--fingerprint)" in pinned.stdout
    pubkey = tmp_path / "operator.pub.pem"
    pubkey.write_bytes(pinned_key())
    by_file = verify_command(good, "--pubkey", str(pubkey))
    assert by_file.returncode == 0 and f"(--pubkey {pubkey})" in by_file.stdout


def test_verify_export_exit_codes_and_first_failure(export_zip: bytes, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(zip_build(_flipped(zip_members(export_zip), bundle.CASE_JSON, 3)))
    result = verify_command(bad, "--fingerprint", _fingerprint())
    assert result.returncode == 1
    assert "FAILED: digests: case.json" in result.stderr
    missing = verify_command(tmp_path / "nope.zip", "--trust-embedded")
    assert missing.returncode == 1 and "FAILED" in missing.stderr


def test_the_public_key_pem_is_what_the_fingerprint_names(export_zip: bytes) -> None:
    pem = zip_members(export_zip)[bundle.SIGNING_PUB]
    key = serialization.load_pem_public_key(pem)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib

    assert hashlib.sha256(der).hexdigest() == _fingerprint()


@pytest.mark.slow
def test_a_second_authority_stamps_too_and_its_stamp_cannot_be_dropped_or_swapped(
        db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client) -> None:
    from takedown.exports import services

    second, second_ca = _other_tsa()
    (tmp_path / "tsa2-ca.pem").write_bytes(second_ca)
    monkeypatch.setattr(services, "remote_timestamp", lambda url, request, timeout: second.respond(request))
    with override_settings(EXPORT_TSA2_URL="https://tsa2.example/rfc3161",
                           EXPORT_TSA2_CA_FILE=str(tmp_path / "tsa2-ca.pem")):
        data = case_export_build(case=case_make("TOOLS-0003", urls=1, images=0), actor=Actor.system()).data
        published = client.get("/.well-known/takedown-export-keys").json()["time_stamping"]["second_authority"]
    assert published["url"] == "https://tsa2.example/rfc3161"
    members = zip_members(data)
    assert bundle.TIMESTAMP2 in members and bundle.TSA2_CA in bundle.manifest_parse(members[bundle.MANIFEST])
    pubkey = tmp_path / "operator.pub.pem"
    pubkey.write_bytes(pinned_key())
    third, _ = _other_tsa()
    variants: dict[str, bytes] = {
        "untouched": data,
        "second stamp dropped": zip_build({k: v for k, v in members.items() if k != bundle.TIMESTAMP2}),
        "second stamp and its CA dropped": zip_build({k: v for k, v in members.items()
                                                      if k not in (bundle.TIMESTAMP2, bundle.TSA2_CA)}),
        "second stamp byte": zip_build(_flipped(members, bundle.TIMESTAMP2, len(members[bundle.TIMESTAMP2]) - 5)),
        "second stamp by a third TSA": zip_build({**members,
                                                  bundle.TIMESTAMP2: _stamper(third)(members[bundle.MANIFEST])}),
    }
    for number, (label, changed) in enumerate(variants.items()):
        path = tmp_path / f"two stamps {number}.zip"
        path.write_bytes(changed)
        tools_ok, output = script_run(path, "", tmp_path / f"run{number}")
        ours = verify_command(path, "--pubkey", str(pubkey))
        assert tools_ok == (ours.returncode == 0) == (label == "untouched"), (label, output, ours.stdout, ours.stderr)
    assert "also stamped" in verify_command(tmp_path / "two stamps 0.zip", "--pubkey", str(pubkey)).stdout
