"""Removal and blocking requests name a case's videos: MD5, SHA-256, vPDQ frame count and duration."""

from __future__ import annotations

import pytest

from takedown.cases.models import CaseVideo
from takedown.core.audit import Actor
from takedown.remedies.directory import host_directory_seed
from takedown.remedies.documents import request_facts
from takedown.remedies.models import RemedyRequest
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make


def _squash(text: str) -> str:
    return " ".join(text.split())

pytestmark = pytest.mark.django_db

MD5, SHA = "1" * 32, "2" * 64
FRAMES = [{"frame": n * 30, "second": float(n), "pdq": f"{n:064x}", "quality": 90} for n in range(12)]


def _requests(*, uploaded: bool) -> dict[str, RemedyRequest]:
    host_directory_seed()
    host_make("pics.example")
    case = case_make(images=0)
    CaseVideo.objects.create(case=case, source="upload" if uploaded else "device", state=CaseVideo.State.HASHED,
                             md5=MD5, sha256=SHA if uploaded else "", vpdq=FRAMES if uploaded else [],
                             duration_s=12.04 if uploaded else None)
    confirm(case)
    remedies_generate_for_case(case=case, actor=Actor.system())
    return {request.kind: request for request in RemedyRequest.objects.filter(case=case)}


def test_removal_and_blocking_requests_name_the_video_fingerprints() -> None:
    from takedown.remedies.documents import request_render

    requests = _requests(uploaded=True)
    line = f"* Video 1: 12.0 seconds; MD5 {MD5}; SHA-256 {SHA}; vPDQ 12 frame hashes"
    removal = _squash(request_render(requests["removal"], "txt")[0].decode())
    assert line in removal and "Fingerprints of the reported videos" in removal
    blocking = _squash(request_render(requests["blocking"], "txt")[0].decode())
    assert line in blocking and "(no fingerprints yet)" not in blocking
    facts = request_facts(requests["blocking"])
    assert facts["videos"] == [{"md5": MD5, "sha256": SHA, "vpdq_frames": 12, "duration_s": 12.04}]
    assert facts["hash_bank"]["signal_types"] == ["video_md5", "vpdq"]


def test_a_device_hashed_video_says_what_is_not_known() -> None:
    from takedown.remedies.documents import request_render

    removal = _squash(request_render(_requests(uploaded=False)["removal"], "txt")[0].decode())
    assert f"* Video 1: duration unknown (hashed on the person's device); MD5 {MD5};" in removal
    assert "SHA-256 ;" not in removal and "vPDQ 0" not in removal
