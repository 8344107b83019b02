"""verify_export and the standard tools (unzip, sha256sum, openssl) agree, run as subprocesses.

The commands are taken from the export's own VERIFY.md, so the instructions a court reads are the ones tested.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.services import case_export_build
from tests.exports.conftest import case_make, zip_build, zip_members

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("sha256sum") and shutil.which("unzip")),
                                reason="needs openssl, sha256sum and unzip")


def _commands(verify_md: str) -> str:
    block = re.search(r"## The commands.*?```sh\n(.*?)```", verify_md, re.S)
    assert block, "VERIFY.md has no command block"
    return block.group(1)


def standard_tools(zip_path: Path, workdir: Path) -> tuple[bool, str]:
    """Run VERIFY.md's command block (its own unzip included) under bash -e; True when every command passes."""
    members = zip_members(zip_path.read_bytes()) if zipfile.is_zipfile(zip_path) else {}
    verify_md = members.get(bundle.VERIFY_MD, b"").decode() or _REFERENCE_VERIFY_MD[0]
    script = "set -euo pipefail\n" + _commands(verify_md).replace("../case.zip", str(zip_path))
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["bash", "-c", script], cwd=workdir, capture_output=True, text=True, timeout=60)
    return result.returncode == 0, result.stdout + result.stderr


def verify_command(zip_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run([sys.executable, "manage.py", "verify_export", str(zip_path), *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


_REFERENCE_VERIFY_MD: list[str] = [""]
_BUILT: dict[str, bytes] = {}


@pytest.fixture
def export_zip(db: None) -> bytes:
    if "zip" not in _BUILT:
        case = case_make("TOOLS-0001", urls=4, images=1)
        _BUILT["zip"] = case_export_build(case=case, actor=Actor.system()).data
        _REFERENCE_VERIFY_MD[0] = zip_members(_BUILT["zip"])[bundle.VERIFY_MD].decode()
    return _BUILT["zip"]


def _flipped(members: dict[str, bytes], name: str, position: int) -> dict[str, bytes]:
    content = bytearray(members[name])
    content[position] ^= 0x01
    return {**members, name: bytes(content)}


def _variants(members: dict[str, bytes]) -> dict[str, dict[str, bytes] | None]:
    tsr = members[bundle.TIMESTAMP]
    return {
        "untouched": None,
        "pdf byte": _flipped(members, bundle.CASE_PDF, len(members[bundle.CASE_PDF]) // 2),
        "json byte": _flipped(members, bundle.CASE_JSON, 10),
        "audit byte": _flipped(members, bundle.AUDIT_JSON, 30),
        "manifest byte": _flipped(members, bundle.MANIFEST, 5),
        "signature byte": _flipped(members, bundle.SIGNATURE, 63),
        "public key byte": _flipped(members, bundle.SIGNING_PUB, 40),
        "tsa ca byte": _flipped(members, bundle.TSA_CA, 100),
        # The TSA's signature value itself: the last bytes of the token.
        "timestamp signature byte": _flipped(members, bundle.TIMESTAMP, len(tsr) - 5),
        "dropped pdf": {k: v for k, v in members.items() if k != bundle.CASE_PDF},
        "dropped signature": {k: v for k, v in members.items() if k != bundle.SIGNATURE},
        "added file": {**members, "notes.txt": b"added later\n"},
    }


@pytest.mark.slow
def test_verify_export_and_standard_tools_agree(export_zip: bytes, tmp_path: Path) -> None:
    members = zip_members(export_zip)
    outcomes = {}
    for label, changed in _variants(members).items():
        path = tmp_path / f"{label.replace(' ', '-')}.zip"
        path.write_bytes(export_zip if changed is None else zip_build(changed))
        tools_ok, tools_output = standard_tools(path, tmp_path / label.replace(" ", "-"))
        command = verify_command(path)
        assert command.returncode in (0, 1), command.stderr
        outcomes[label] = (tools_ok, command.returncode == 0)
        assert tools_ok == (command.returncode == 0), (label, tools_output, command.stdout, command.stderr)
        if command.returncode == 1:
            assert "FAILED: " in command.stderr
    assert outcomes["untouched"] == (True, True)
    assert all(not ok for label, (ok, _) in outcomes.items() if label != "untouched")


def test_each_standard_tool_passes_on_a_fresh_export(export_zip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    path.write_bytes(export_zip)
    work = tmp_path / "out"
    work.mkdir()
    subprocess.run(["unzip", "-q", str(path)], cwd=work, check=True)
    subprocess.run(["sha256sum", "-c", "--strict", "MANIFEST.sha256"], cwd=work, check=True, capture_output=True)
    subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pub.pem", "-rawin", "-in",
                    "MANIFEST.sha256", "-sigfile", "MANIFEST.sha256.sig"], cwd=work, check=True, capture_output=True)
    subprocess.run(["openssl", "ts", "-verify", "-data", "MANIFEST.sha256", "-in", "MANIFEST.sha256.tsr",
                    "-CAfile", "tsa-ca.pem"], cwd=work, check=True, capture_output=True)
    fingerprint = subprocess.run("openssl pkey -pubin -in signing-key.pub.pem -outform DER | sha256sum", shell=True,
                                 cwd=work, check=True, capture_output=True, text=True).stdout.split()[0]
    assert fingerprint in (work / "VERIFY.md").read_text()


def test_verify_export_exit_codes_and_first_failure(export_zip: bytes, tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(export_zip)
    result = verify_command(good)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("OK: ")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(zip_build(_flipped(zip_members(export_zip), bundle.CASE_JSON, 3)))
    result = verify_command(bad)
    assert result.returncode == 1
    assert "FAILED: digests: case.json" in result.stderr
    missing = verify_command(tmp_path / "nope.zip")
    assert missing.returncode == 1 and "FAILED" in missing.stderr
