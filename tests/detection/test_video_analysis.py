"""Videos through the detector (gpu queue) and provenance: one verdict per video that explains each frame's score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from detection.services import detector_current
from detection.verdict import VERDICT_VERSION
from takedown.cases.models import Case, CaseVideo
from takedown.cases.video_analysis import ANALYSE_VIDEOS_TASK, case_videos_analyse, case_videos_analysis_schedule
from takedown.core.models import AuditEvent
from tests.intake_videos import report_video, video_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"


@pytest.fixture(autouse=True)
def fresh_detector() -> Any:
    detector_current.cache_clear()
    yield
    detector_current.cache_clear()


def _video(client: Client, **kwargs: Any) -> CaseVideo:
    case = report_video(client, video_bytes(container="mp4", seconds=3, fps=10, gop=10, width=256, height=256,
                                            **kwargs))
    assert isinstance(case, Case)
    return case.videos.get()


def test_keyframes_are_scored_and_the_verdict_explains_each_frame(client: Client, settings: Any,
                                                                  tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256, settings.DETECTOR_THRESHOLD = str(path), sha, 0.5
    video = _video(client)  # processed after commit, then analysed (tasks run in-process in tests)
    analysis = video.analysis
    assert analysis["version"] == VERDICT_VERSION and analysis["detector"]["status"]["enabled"] is True
    frames = analysis["frames"]
    assert [frame["second"] for frame in frames] == [0.0, 1.0, 2.0]
    scores = [frame["verdict"]["detector"]["score"] for frame in frames]
    assert all(isinstance(score, float) for score in scores)
    assert analysis["detector"]["score"] == max(scores)
    best = frames[scores.index(max(scores))]["second"]
    status = analysis["detector"]["status"]
    if status.get("calibrated"):
        reaching = sum(score >= 0.5 for score in scores)
        assert analysis["reasons"][0] == (f"detector scored 3 of 3 sampled keyframes; highest {max(scores):.2f} at "
                                          f"{best:.1f} s; {reaching} at or above threshold 0.50")
        assert analysis["label"] == ("likely_generated" if reaching else "no_evidence_of_generation")
    else:
        # The tiny test model has no calibration: its scores are shown, never used as evidence.
        assert analysis["reasons"][0] == (f"detector scored 3 of 3 sampled keyframes; highest {max(scores):.2f} at "
                                          f"{best:.1f} s (uncalibrated model: not used as evidence)")
        assert analysis["label"] == "undetermined"
    assert any("Only sampled keyframes were scored" in limit for limit in analysis["limits"])
    assert analysis["bank"]["available"] in (True, False)  # the lookup result stays beside the verdict
    event = AuditEvent.objects.get(action="video.analysed", object_id=str(video.id))
    assert event.detail["frames"] == 3
    # Again: same result, nothing written.
    assert case_videos_analyse(video_ids=[video.id]).changed == 0


def test_container_metadata_goes_through_provenance(client: Client, settings: Any) -> None:
    settings.DETECTOR_WEIGHTS = settings.DETECTOR_WEIGHTS_SHA256 = ""
    video = _video(client, metadata={"comment": "Generated with Sora", "title": "a private title"})
    analysis = CaseVideo.objects.get(id=video.id).analysis
    assert analysis["label"] == "likely_generated"  # an unsigned claim, so "likely", not "generated"
    assert any("names a known video generator or face-swap tool: Sora" in reason for reason in analysis["reasons"])
    assert any(reason.startswith("detector off") for reason in analysis["reasons"])
    assert "a private title" not in str(analysis) and "a private title" not in str(video.provenance)


def test_video_analysis_goes_to_the_gpu_queue(client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from takedown.celery import app

    app.loader.import_default_modules()
    assert ANALYSE_VIDEOS_TASK in app.tasks
    assert app.amqp.router.route({}, ANALYSE_VIDEOS_TASK)["queue"].name == "gpu"
    settings.DETECTOR_WEIGHTS = settings.DETECTOR_WEIGHTS_SHA256 = ""
    video = _video(client)
    sent: list[tuple[str, Any]] = []
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw.get("queue"))))
    with transaction.atomic():
        assert case_videos_analysis_schedule(case_ids=[video.case_id], force=True) == 1
    assert sent == [(ANALYSE_VIDEOS_TASK, "gpu")]
