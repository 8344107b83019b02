"""The detector and provenance on a case's videos: sampled keyframes scored on the gpu queue, one verdict each.

As for images (takedown.cases.services.case_images_analysis_schedule): `case_videos_analysis_schedule` queues the
case's hashed videos that lack a current verdict as `detection.videos_analyse` (settings.DETECTOR_QUEUE) through
the outbox, inside the caller's transaction; it is a CASE_PROCESSED_HOOKS hook. `case_videos_analyse` (the task)
decrypts each video's keyframes, scores them through the same public entry point as images
(detection.verdict.images_analyse with detection.services.detector_current), and stores
detection.video_verdict's verdict in CaseVideo.analysis with the per-frame verdicts under "frames".
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from takedown.cases.models import Case, CaseStatus, CaseVideo
from takedown.cases.services import AnalysisResult, _verdict_current, verdict_part
from takedown.cases.verdicts import VERDICT_KEYS
from takedown.core.audit import Actor, audit_record
from takedown.core.crypto import DecryptionError
from takedown.core.evidence import evidence_get
from takedown.core.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

ANALYSE_VIDEOS_TASK = "detection.videos_analyse"
FRAMES_KEY = "frames"
KEYFRAME_NOTE = "metadata: keyframes are pictures decoded from the video; the container's tags were read at intake"


def _analysable(videos: Any) -> Any:
    return (videos.filter(state=CaseVideo.State.HASHED, blob_name__gt="").exclude(keyframes=[])
            .exclude(case__status=CaseStatus.WITHDRAWN))


def case_videos_analysis_schedule(*, case_ids: Iterable[uuid.UUID], force: bool = False) -> int:
    pending = [str(video_id) for video_id, analysis in
               _analysable(CaseVideo.objects.filter(case_id__in=list(case_ids))).order_by("created_at")
               .values_list("id", "analysis")
               if force or not _verdict_current(analysis)]
    # One video per task: its keyframes already fill a detector batch.
    for video_id in pending:
        outbox_enqueue(task=ANALYSE_VIDEOS_TASK, kwargs={"video_ids": [video_id]}, queue=settings.DETECTOR_QUEUE)
    return len(pending)


def case_processed_videos(*, case: Case, actor: Actor) -> None:
    """victims' CASE_PROCESSED_HOOKS: the case's new videos are hashed and their keyframes stored."""
    case_videos_analysis_schedule(case_ids=[case.id])


def case_videos_analyse(*, video_ids: Sequence[uuid.UUID]) -> AnalysisResult:
    from detection.provenance.reader import ProvenanceLimits
    from detection.services import detector_current, provenance_limits
    from detection.verdict import images_analyse
    from detection.video_verdict import FrameVerdict, provenance_report_from_dict, video_verdict

    videos = list(_analysable(CaseVideo.objects.filter(id__in=list(video_ids))).order_by("created_at"))
    skipped = len(set(video_ids)) - len(videos)
    detector = None
    limits: ProvenanceLimits | None = None
    analysed = changed = unreadable = 0
    for video in videos:
        try:
            frames = [(float(frame["second"]), evidence_get(str(frame["blob"]))) for frame in video.keyframes]
        except (OSError, ValueError, KeyError, DecryptionError) as exc:
            unreadable += 1
            logger.warning("analysis: keyframes of video %s unreadable (%s)", video.id, type(exc).__name__)
            continue
        detector = detector or detector_current()
        limits = limits or provenance_limits()
        verdicts = images_analyse([data for _, data in frames], detector=detector, limits=limits,
                                  provenance_notes=[KEYFRAME_NOTE])
        frame_verdicts = [FrameVerdict(second=second, verdict=verdict)
                          for (second, _), verdict in zip(frames, verdicts, strict=True)]
        verdict = video_verdict(frames=frame_verdicts, detector_status=detector.status,
                                container=provenance_report_from_dict(video.provenance))
        analysed += 1
        changed += _store(video_id=video.id, verdict=verdict.as_dict(),
                          frames=[frame.as_dict() for frame in frame_verdicts])
    return AnalysisResult(analysed=analysed, changed=changed, skipped=skipped, unreadable_files=unreadable)


def _store(*, video_id: uuid.UUID, verdict: dict[str, Any], frames: list[dict[str, Any]]) -> bool:
    with transaction.atomic():
        video = _analysable(CaseVideo.objects.select_for_update().filter(id=video_id)).first()
        if video is None:
            return False  # withdrawn or deleted meanwhile: keep nothing about it
        previous = video.analysis if isinstance(video.analysis, dict) else {}
        if verdict_part(previous) == verdict and previous.get(FRAMES_KEY) == frames:
            return False
        others = {key: value for key, value in previous.items() if key not in VERDICT_KEYS and key != FRAMES_KEY}
        video.analysis = {**others, **verdict, FRAMES_KEY: frames}
        video.save(update_fields=["analysis"])
        status = verdict["detector"]["status"]
        audit_record(actor=Actor.system(), action="video.analysed", case_id=video.case_id, object_type="case_video",
                     object_id=video.id,
                     detail={"label": verdict["label"], "detector": "on" if status.get("enabled") else "off",
                             "digital_forgery": verdict["supports_digital_forgery"], "frames": len(frames)})
    return True
