"""The hostile corpus straight into the code that parses untrusted bytes and text, below the web layer.

- `detection.hashing.hash_image`: every item answers with ImageHashes or ImageRejected (a message fit for a
  person), never another exception, and within a time bound (no bomb decodes, no frame walk runs away).
- `detection.provenance.reader.provenance_read`: never raises; what it cannot read it lists as unreadable.
- `takedown.cases.locations.url_normalise`: every hostile address is refused with a code, or (look-alike hosts)
  kept only in ASCII and flagged.
- Processing a case whose stored files are hostile (as if the store held them) marks those images rejected and
  still processes the others: nothing is lost, the task does not fail.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from detection.hashing import ImageHashes, ImageRejected, hash_files, hash_image
from detection.provenance.reader import provenance_read
from detection.provenance.signals import ProvenanceReport
from takedown.cases.locations import URLRejected, url_normalise
from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.core.evidence import evidence_put
from tests.hostile import corpus
from tests.victims.conftest import FakeBank
from victims.services import case_process

# Generous for a loaded CI machine; a decoded bomb or a runaway frame walk takes far longer.
SECONDS_PER_ITEM = 5.0
IMAGES = corpus.images()


@pytest.mark.parametrize("item", IMAGES, ids=[item.name for item in IMAGES])
def test_hash_image_answers_every_hostile_file_with_hashes_or_a_rejection(item: corpus.Hostile) -> None:
    started = time.monotonic()
    try:
        result: ImageHashes | ImageRejected = hash_image(item.data)
    except ImageRejected as rejected:
        result = rejected
    elapsed = time.monotonic() - started
    assert elapsed < SECONDS_PER_ITEM, f"{elapsed:.1f} s"
    if isinstance(result, ImageRejected):
        assert item.hash != "accept", f"refused: {result.message}"
        assert result.message and len(result.message) < 200
        assert "Traceback" not in result.message
    else:
        assert item.hash != "refuse", "hashed, should be refused"
        assert len(result.pdq) == 64 and len(result.pdq_dihedral) == 8
        assert result.sha256 == hashlib.sha256(item.data).hexdigest()


@pytest.mark.parametrize("item", IMAGES, ids=[item.name for item in IMAGES])
def test_provenance_read_never_raises_on_hostile_files(item: corpus.Hostile) -> None:
    started = time.monotonic()
    report = provenance_read(item.data)
    assert time.monotonic() - started < SECONDS_PER_ITEM
    assert isinstance(report, ProvenanceReport)
    if item.hash == "refuse" and item.name.startswith(("svg", "html", "pdf", "zip", "elf", "php", "json",
                                                       "truncated")):
        assert report.unreadable or report.format, "a file that is no image was read without a word"


def test_hash_files_reports_paths_that_are_not_files(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(corpus.png_bomb())
    results = dict(hash_files([tmp_path, tmp_path / "missing.png", tmp_path / "bomb.png"]))
    assert all(isinstance(result, ImageRejected) for result in results.values())


@pytest.mark.parametrize("name,url,expect", corpus.HOSTILE_URLS, ids=[n for n, _, _ in corpus.HOSTILE_URLS])
def test_url_normalise_refuses_or_asciifies_every_hostile_address(name: str, url: str, expect: str) -> None:
    if expect == "refuse":
        with pytest.raises(URLRejected) as refused:
            url_normalise(url)
        assert refused.value.code and str(refused.value.message)
        return
    normalised = url_normalise(url)
    assert normalised.url.isascii() and normalised.url.startswith("https://")
    assert normalised.host not in {"apple.com", "paypal.com", "google.com"}
    if name.startswith("idn-"):
        assert normalised.is_lookalike, normalised


@pytest.mark.django_db
def test_processing_rejects_hostile_stored_files_and_keeps_the_rest(fake_bank: FakeBank, storage: Path) -> None:
    case = Case.objects.create(reference=f"TD-HOSTILE-{uuid.uuid4().hex[:6]}", secret_hash="x", pseudonym="Doe",
                               status=CaseStatus.SUBMITTED, good_faith_at=timezone.now())
    hostile = [item for item in IMAGES if item.hash == "refuse"][::6]
    good = corpus.valid("PNG")
    for data in [item.data for item in hostile] + [good]:
        CaseImage.objects.create(case=case, source=CaseImage.Source.UPLOAD, blob_name=evidence_put(data),
                                 media_type="image/png", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    counts = case_process(case_id=case.id)
    assert counts["rejected"] == len(hostile) and counts["hashed"] == 1
    states = dict(CaseImage.objects.filter(case=case).values_list("sha256", "state"))
    assert states[hashlib.sha256(good).hexdigest()] == CaseImage.State.HASHED
    rejected = CaseImage.objects.filter(case=case, state=CaseImage.State.REJECTED)
    assert rejected.count() == len(hostile)
    assert all(error for error in rejected.values_list("error", flat=True))


@pytest.mark.parametrize("url", [
    "https://example.com/a%6%6666/?q=%6%66#/%6%66",  # found by fuzz/fuzz_urls.py: decoding made a new escape
    "https://example.com/%%41%2541%",
    "33333333?#//666666666%66666666666666666666666%6%6666!",
])
def test_url_normalise_is_idempotent_on_stray_percent_signs(url: str) -> None:
    once = url_normalise(url).url
    assert url_normalise(once).url == once


def test_hash_image_command_reports_hostile_files_without_a_traceback(tmp_path: Path) -> None:
    import io as _io

    from django.core.management import CommandError, call_command

    paths = []
    for item in [item for item in IMAGES if item.hash == "refuse"][::8]:
        path = tmp_path / f"{item.name}.img"
        path.write_bytes(item.data)
        paths.append(str(path))
    good = tmp_path / "good.png"
    good.write_bytes(corpus.valid("PNG"))
    out, err = _io.StringIO(), _io.StringIO()
    try:
        call_command("hash_image", *paths, str(good), str(tmp_path / "missing.png"), stdout=out, stderr=err)
    except (CommandError, SystemExit):
        pass  # a non-zero exit for the files it could not hash is the command's to choose
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text
    assert hashlib.sha256(good.read_bytes()).hexdigest() in text or str(good) in text


def test_upload_check_and_hashing_agree_on_colour_profiles() -> None:
    from detection.hashing import icc_profile_valid
    from victims.images import _icc_profile_valid

    good = bytearray(200)
    good[0:4] = (200).to_bytes(4, "big")
    good[36:40] = b"acsp"
    samples = [bytes(good), bytes(good[:100]), bytes(good).replace(b"acsp", b"xxxx"),
               (10**6).to_bytes(4, "big") + bytes(good[4:]), b"", None, "acsp"]
    assert [icc_profile_valid(s) for s in samples] == [_icc_profile_valid(s) for s in samples]
    assert icc_profile_valid(bytes(good))
