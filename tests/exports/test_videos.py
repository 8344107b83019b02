"""Court exports name each video's digests and length; the blurred contact sheet goes with the images (consent)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from takedown.cases.models import CaseVideo
from takedown.core.audit import Actor
from takedown.core.evidence import evidence_put
from takedown.exports.services import advocate_profile_ensure, case_export_build, grant_create_by_victim
from tests.conftest import draw_image
from tests.exports.conftest import case_make, verify_pinned, zip_members

pytestmark = pytest.mark.django_db

MD5, SHA = "3" * 32, "4" * 64
FRAMES = [{"frame": n * 25, "second": float(n), "pdq": f"{n + 1:064x}", "quality": 88} for n in range(3)]


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"


def _case_with_video(reference: str) -> Any:
    case = case_make(reference, urls=1, images=1)
    keyframes = [{"blob": evidence_put(draw_image(seed=10 + n)), "second": float(n), "width": 320, "height": 240}
                 for n in range(3)]
    CaseVideo.objects.create(case=case, source=CaseVideo.Source.UPLOAD, state=CaseVideo.State.HASHED,
                             blob_name=evidence_put(b"the stored copy"), media_type="video/mp4", size=15, width=320,
                             height=240, duration_s=3.0, frames=75, md5=MD5, sha256=SHA, vpdq=FRAMES,
                             keyframes=keyframes)
    return case


def test_export_names_video_digests_and_includes_the_blurred_contact_sheet(advocate: Any) -> None:
    case = _case_with_video("VIDEO-0001")
    grant = grant_create_by_victim(case=case, advocate_code=advocate_profile_ensure(user=advocate).grant_code,
                                   days=30, images_consented=True, identity_for_court="")
    data = case_export_build(case=case, actor=Actor.system(), grant=grant, include_images=True).data
    members = zip_members(data)
    [video] = json.loads(members["case.json"])["videos"]
    assert video["hashes"] == {"md5": MD5, "sha256": SHA, "vpdq": FRAMES}
    assert (video["duration_s"], video["frames"]) == (3.0, 75)
    sheet_name = video["contact_sheet_in_export"]
    assert sheet_name == f"videos/{case.videos.get().id.hex}-contact-sheet.png"
    with Image.open(io.BytesIO(members[sheet_name])) as sheet:
        raw = sheet.convert("RGB").tobytes()
    assert raw[0::3] == raw[1::3] == raw[2::3]  # grey: blurred and greyscale, as moderators first see it
    assert b"the stored copy" not in data  # the video itself never goes into a court file
    report = verify_pinned(data)
    assert report.first_failure is None  # the sheet is in the signed manifest like every file


def test_without_image_consent_the_digests_go_but_no_contact_sheet() -> None:
    case = _case_with_video("VIDEO-0002")
    members = zip_members(case_export_build(case=case, actor=Actor.system()).data)
    [video] = json.loads(members["case.json"])["videos"]
    assert video["hashes"]["md5"] == MD5 and video["contact_sheet_in_export"] is None
    assert not any(name.startswith("videos/") for name in members)
