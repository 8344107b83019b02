"""Videos at intake: checking an upload in the request and making the copy that is kept (without metadata).

The media work is detection.video_media's (pure); this module adds the settings, the person's language and
what the upload handler (victims.uploads.VideoUploadHandler) left: an unnamed temporary file with the digests
of the bytes as sent. `video_check` probes it (every refusal has its own message, in the person's language),
reads what the container's tags say about its origin (provenance signals only: the tags are not kept), and
remuxes it without metadata into a second unnamed temporary file, which the service encrypts into the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from detection.provenance.container import container_signals
from detection.video import VideoRejected as VideoHashRejected
from detection.video import video_hash
from detection.video_media import (
    ScratchFile,
    VideoLimits,
    VideoProbe,
    VideoRejected,
    scratch_file,
    scratch_file_open,
    video_keyframes,
    video_probe,
    video_strip_metadata,
)
from takedown.cases.models import Case, CaseStatus, CaseVideo
from takedown.core.evidence import evidence_copy_to, evidence_delete, evidence_put
from victims import hashbank


@dataclass(frozen=True)
class VideoProblem:
    message: str | Promise
    code: str


@dataclass(frozen=True)
class CheckedVideo:
    """A video that passed: its digests as sent, what the probe read, and the stripped copy to store."""

    md5: str
    sha256: str
    size: int
    probe: VideoProbe
    stripped: ScratchFile
    provenance: dict[str, Any]


def video_limits() -> VideoLimits:
    return VideoLimits(max_bytes=int(settings.VIDEO_MAX_BYTES), max_seconds=float(settings.VIDEO_MAX_SECONDS),
                       max_side=int(settings.VIDEO_MAX_SIDE), max_pixels=int(settings.VIDEO_MAX_PIXELS),
                       max_frames=int(settings.VIDEO_MAX_FRAMES))


def _message(code: str, limits: VideoLimits) -> str | Promise:
    minutes = int(limits.max_seconds // 60)
    messages: dict[str, str | Promise] = {
        "empty": _("This file is empty."),
        "too-large": _("This video is larger than %(mb)d MB.") % {"mb": limits.max_bytes // (1024 * 1024)},
        "not-video": _("This file is not a video we can read. Use MP4, MOV, WebM or MKV."),
        "format": _("This kind of file is not accepted. Use MP4, MOV, WebM or MKV."),
        "no-video": _("This file has no video in it."),
        "truncated": _("This video is cut short: part of the file is missing. Try saving it again."),
        "dimensions": _("This video is too large in width and height to process."),
        "frames": _("This video has more frames than we can process."),
        "too-long": _("This video is longer than %(minutes)d minutes.") % {"minutes": max(1, minutes)},
        "remux": _("This video could not be copied without its metadata. Try exporting it again as MP4."),
    }
    return messages.get(code, _("This video is damaged or incomplete. Try saving or exporting it again."))


def video_check(upload: Any) -> CheckedVideo | VideoProblem:
    """Check one upload from VideoUploadHandler and make its stripped copy, or say what is wrong with it."""
    limits = video_limits()
    if getattr(upload, "too_large", False):
        return VideoProblem(_message("too-large", limits), "too-large")
    scratch = getattr(upload, "scratch", None)
    if not isinstance(scratch, ScratchFile):
        # Only VideoUploadHandler's uploads carry a scratch file; anything else never reached this handler.
        return VideoProblem(_message("not-video", limits), "not-video")
    try:
        probe = video_probe(scratch.path, size=scratch.size(), limits=limits)
        stripped = scratch_file_open(settings.VIDEO_TMP_DIR or None)
        upload.stripped = stripped  # closed with the upload at the end of the request
        video_strip_metadata(scratch.path, stripped.path, probe=probe)
    except VideoRejected as refused:
        return VideoProblem(_message(refused.code, limits), refused.code)
    return CheckedVideo(md5=upload.md5, sha256=upload.sha256, size=scratch.size(), probe=probe, stripped=stripped,
                        provenance=container_signals(probe.tags).as_dict())


# --- processing (the worker: victims.process_case) -------------------------------------------------------------


def video_process(*, video: CaseVideo, counts: dict[str, int]) -> None:
    """Hash a pending video (vPDQ from the stored copy: same frames as sent), extract its keyframes into the
    store, enter its hashes into the bank and look them up. Device videos have only their MD5 to enter."""
    new_blobs: list[str] = []
    if video.blob_name:
        limits = video_limits()
        try:
            with scratch_file(settings.VIDEO_TMP_DIR or None) as scratch:
                evidence_copy_to(video.blob_name, scratch.file)
                hashes = video_hash(scratch.path, max_seconds=limits.max_seconds, max_pixels=limits.max_pixels)
                frames = video_keyframes(scratch.path, count=int(settings.VIDEO_KEYFRAMES), limits=limits)
        except VideoHashRejected as refused:
            CaseVideo.objects.filter(id=video.id, state=CaseVideo.State.PENDING).update(
                state=CaseVideo.State.REJECTED, error=refused.message[:200])
            counts["rejected"] += 1
            return
        for frame in frames:
            new_blobs.append(evidence_put(frame.png))
        video.vpdq = [frame.as_dict() for frame in hashes.vpdq]
        video.frames = hashes.frames
        video.duration_s = hashes.duration_s
        video.keyframes = [{"blob": name, "second": frame.second, "width": frame.width, "height": frame.height}
                           for name, frame in zip(new_blobs, frames, strict=True)]
    with transaction.atomic():
        current = CaseVideo.objects.select_for_update().filter(id=video.id, state=CaseVideo.State.PENDING).first()
        if current is None or Case.objects.filter(id=video.case_id, status=CaseStatus.WITHDRAWN).exists():
            # Withdrawn (or deleted) while it was being hashed: keep nothing made from it.
            for name in new_blobs:
                evidence_delete(name)
            return
        result = hashbank.bank_enter_video(video=video)
        video.state = CaseVideo.State.HASHED
        # "available" records that the lookup was made, as for images.
        video.analysis = {**(current.analysis or {}), "bank": {"available": True, "matches": result.matches}}
        video.save(update_fields=["vpdq", "frames", "duration_s", "keyframes", "state", "analysis"])
    counts["hashed"] += 1
    counts["matches"] += len(result.matches)
