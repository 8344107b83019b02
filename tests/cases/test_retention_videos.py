"""Retention knows video files: the orphan purge keeps a video's file and keyframes, a case purge deletes them."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import CaseStatus, CaseVideo
from takedown.cases.services import case_purge, evidence_orphans_purge
from takedown.core.evidence import evidence_names_on_disk, evidence_put
from tests.remedies.factory import case_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_ROOT = tmp_path / "storage"
    return Path(settings.STORAGE_ROOT)


def _age_every_file(storage: Path, days: int) -> None:
    past = (timezone.now() - timedelta(days=days)).timestamp()
    for path in storage.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def test_orphan_purge_keeps_video_files_and_deletes_true_orphans(storage: Path) -> None:
    case = case_make(images=0)
    video = CaseVideo.objects.create(case=case, source="upload", state=CaseVideo.State.HASHED,
                                     blob_name=evidence_put(b"video"), keyframes=[
                                         {"blob": evidence_put(b"frame"), "second": 0.0, "width": 1, "height": 1}])
    orphan = evidence_put(b"nobody names me")
    _age_every_file(storage, days=3)
    assert evidence_orphans_purge() == 1
    assert sorted(evidence_names_on_disk()) == sorted(video.blob_names())
    assert orphan not in evidence_names_on_disk()


def test_case_purge_deletes_video_and_keyframe_files(settings: Any) -> None:
    case = case_make(images=0, status=CaseStatus.REJECTED)
    CaseVideo.objects.create(case=case, source="upload", state=CaseVideo.State.HASHED,
                             blob_name=evidence_put(b"video"), keyframes=[
                                 {"blob": evidence_put(b"frame"), "second": 0.0, "width": 1, "height": 1}])
    later = timezone.now() + timedelta(days=settings.RETENTION_REJECTED_DAYS + 1)
    assert case_purge(case_id=case.id, now=later) == (CaseStatus.REJECTED, 2)
    assert evidence_names_on_disk() == [] and not CaseVideo.objects.exists()
