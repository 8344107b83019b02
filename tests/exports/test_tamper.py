"""Any change to any file of an export, or a dropped or added file, fails verification: every time."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.services import case_export_build
from takedown.exports.verify import export_verify
from tests.exports.conftest import case_make, verify_pinned, zip_build, zip_members

# Files small enough (or critical enough) that every byte position is changed, each in two ways.
EXHAUSTIVE = (bundle.MANIFEST, bundle.SIGNATURE, bundle.TIMESTAMP, bundle.SIGNING_PUB, bundle.TSA_CA)
SAMPLED_POSITIONS = 24


_BUILT: dict[str, bytes] = {}


@pytest.fixture
def export_zip(db: None) -> bytes:
    # Built once for the module (the flips below only read it); the database is rolled back after each test.
    if "zip" not in _BUILT:
        case = case_make("TAMPER-0001", urls=5, images=1)
        _BUILT["zip"] = case_export_build(case=case, actor=Actor.system()).data
    return _BUILT["zip"]


@pytest.fixture
def members(export_zip: bytes) -> dict[str, bytes]:
    return zip_members(export_zip)


def _flip(members: dict[str, bytes], name: str, position: int, mask: int) -> bytes:
    changed = dict(members)
    content = bytearray(changed[name])
    content[position] ^= mask
    changed[name] = bytes(content)
    return zip_build(changed)


def test_untouched_export_verifies(export_zip: bytes) -> None:
    report = verify_pinned(export_zip)
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == [
        "zip", "required-files", "manifest-format", "signing-key", "signature", "timestamp", "file-set", "digests",
        "audit-chain",
    ]


def test_rezipped_untouched_members_still_verify(members: dict[str, bytes]) -> None:
    # The flips below rebuild the ZIP; this shows a rebuilt ZIP alone does not fail, so each failure is the flip's.
    assert verify_pinned(zip_build(members)).ok


@pytest.mark.parametrize("name", [
    bundle.CASE_PDF, bundle.CASE_JSON, bundle.AUDIT_JSON, bundle.VERIFY_MD, *EXHAUSTIVE,
])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_changing_a_byte_fails(members: dict[str, bytes], name: str, where: str) -> None:
    size = len(members[name])
    position = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    report = verify_pinned(_flip(members, name, position, 0x01))
    assert not report.ok
    assert report.first_failure is not None


@pytest.mark.parametrize("name", [bundle.CASE_PDF, bundle.CASE_JSON, bundle.AUDIT_JSON, bundle.VERIFY_MD])
def test_changing_sampled_bytes_of_large_files_fails(members: dict[str, bytes], name: str) -> None:
    rnd = random.Random(name)
    positions = rnd.sample(range(len(members[name])), SAMPLED_POSITIONS)
    for position in positions:
        for mask in (0x01, 0x80):
            report = verify_pinned(_flip(members, name, position, mask))
            assert not report.ok, (name, position, mask)
            assert report.first_failure.name == "digests"


@pytest.mark.slow
@pytest.mark.parametrize("name", EXHAUSTIVE)
def test_changing_every_byte_of_the_manifest_files_fails(members: dict[str, bytes], name: str) -> None:
    survivors = []
    for position in range(len(members[name])):
        for mask in (0x01, 0x80):
            if verify_pinned(_flip(members, name, position, mask)).ok:
                survivors.append((position, mask))
    assert survivors == []


@pytest.mark.parametrize("name", [
    bundle.MANIFEST, bundle.SIGNATURE, bundle.TIMESTAMP, bundle.SIGNING_PUB, bundle.TSA_CA, bundle.VERIFY_MD,
    bundle.CASE_PDF, bundle.CASE_JSON, bundle.AUDIT_JSON,
])
def test_dropping_a_file_fails(members: dict[str, bytes], name: str) -> None:
    remaining = {k: v for k, v in members.items() if k != name}
    report = verify_pinned(zip_build(remaining))
    assert not report.ok
    assert name in report.first_failure.detail


@pytest.mark.parametrize("added", ["extra.txt", "images/extra.png", "README"])
def test_adding_a_file_fails(members: dict[str, bytes], added: str) -> None:
    report = verify_pinned(zip_build({**members, added: b"not part of the export\n"}))
    assert not report.ok
    assert report.first_failure.name == "file-set"
    assert added in report.first_failure.detail


def test_dropping_any_listed_file_names_it(members: dict[str, bytes]) -> None:
    for name in bundle.manifest_parse(members[bundle.MANIFEST]):
        report = verify_pinned(zip_build({k: v for k, v in members.items() if k != name}))
        assert report.first_failure.name in ("required-files", "file-set")
        assert name in report.first_failure.detail


def test_duplicate_and_unsafe_names_fail(members: dict[str, bytes]) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        with pytest.warns(UserWarning):
            archive.writestr(bundle.CASE_JSON, b"{}")
    assert verify_pinned(buffer.getvalue()).first_failure.name == "zip"
    assert verify_pinned(zip_build({**members, "../evil": b"x"})).first_failure.name == "zip"


def test_swapped_signing_key_fails_when_the_key_is_pinned(members: dict[str, bytes], export_key_dir: Path,
                                                           tmp_path: Path) -> None:
    from takedown.exports.keys import export_keys_generate

    other = export_keys_generate(out=tmp_path / "other", operator="Impostor")
    pinned = (export_key_dir / "signing-key.pub.pem").read_bytes()
    assert export_verify(zip_build(members), trusted_key_pem=pinned).ok
    foreign = (other.directory / "signing-key.pub.pem").read_bytes()
    report = export_verify(zip_build(members), trusted_key_pem=foreign)
    assert report.first_failure.name == "signing-key"


def test_not_a_zip_fails() -> None:
    report = verify_pinned(b"PK\x03\x04 garbage")
    assert not report.ok and report.first_failure.name == "zip"


def test_changing_an_image_file_fails(db: None, advocate) -> None:
    from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim

    case = case_make("TAMPER-0002", urls=1, images=2)
    grant = grant_create_by_victim(case=case, advocate_code=advocate_profile_ensure(user=advocate).grant_code,
                                   days=30, images_consented=True, identity_for_court="")
    members = zip_members(case_export_build(case=case, actor=Actor.system(), grant=grant,
                                            include_images=True).data)
    images = sorted(name for name in members if name.startswith("images/"))
    assert len(images) == 2
    for name in images:
        for position in (0, len(members[name]) // 2, len(members[name]) - 1):
            report = verify_pinned(_flip(members, name, position, 0x01))
            assert report.first_failure is not None and report.first_failure.name == "digests"
            assert name in report.first_failure.detail
        dropped = verify_pinned(zip_build({k: v for k, v in members.items() if k != name}))
        assert dropped.first_failure is not None and dropped.first_failure.name == "file-set"
