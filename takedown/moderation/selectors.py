"""Reads for the console: the queues and what a review page shows.

The review page shows the case's imagery (shielded), hashes, matches with their distances, URLs, the detector's
explanation, the history and the messages, and never the person's contact details or signature.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from takedown.cases.models import Case, CaseImage, CaseURL, CaseVideo, Message
from takedown.cases.verdicts import VERDICT_KEYS
from takedown.core.audit import audit_events_for_case
from takedown.core.models import AuditEvent
from takedown.moderation.models import Decision, ItemKind, ReviewItem
from takedown.moderation.services import queue_order
from takedown.remedies.models import RemedyRequest
from takedown.remedies.selectors import remedies_for_case

PDQ_MATCH_DISTANCE = 31
# How many other hashed images a review page compares against without an index (newest first).
MATCH_SCAN_LIMIT = 5000


def queue_items(*, kind: str = "") -> QuerySet[ReviewItem]:
    items = ReviewItem.objects.filter(state=ReviewItem.State.OPEN).select_related("case", "claimed_by")
    if kind:
        items = items.filter(kind=kind)
    return queue_order(items)


@dataclass(frozen=True)
class UnansweredMessage:
    item_id: Any
    reference: str
    oldest_at: datetime
    count: int


def unanswered_messages() -> list[UnansweredMessage]:
    """Cases whose person wrote and got no reply yet, the longest-waiting first (the item to open for each)."""
    items = {item.case_id: item for item in ReviewItem.objects.filter(
        kind=ItemKind.VICTIM_MESSAGE, state=ReviewItem.State.OPEN).select_related("case")}
    waiting = (Message.objects.filter(author=Message.Author.VICTIM, read_at__isnull=True, case_id__in=items)
               .values("case_id").annotate(oldest=Min("created_at"), count=Count("id")).order_by("oldest"))
    return [UnansweredMessage(item_id=items[row["case_id"]].id, reference=items[row["case_id"]].case.court_reference,
                              oldest_at=row["oldest"], count=row["count"]) for row in waiting]


def queue_counts() -> dict[str, int]:
    counts = Counter(ReviewItem.objects.filter(state=ReviewItem.State.OPEN).values_list("kind", flat=True))
    return {kind: counts.get(kind, 0) for kind in ItemKind.values}


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class ImageMatch:
    case_reference: str
    signal: str
    distance: int


VERDICT_LABELS = {
    "generated": gettext_lazy("Generated: signed provenance or a generator's watermark says so"),
    "likely_generated": gettext_lazy("Likely generated"),
    "conflicting_evidence": gettext_lazy(
        "Conflicting evidence: a manifest from a trusted signer says captured, other evidence says generated"),
    "no_evidence_of_generation": gettext_lazy(
        "No evidence of generation (this is not a finding that the image is authentic)"),
    "undetermined": gettext_lazy(
        "Undetermined: the detector did not score it (or is uncalibrated) and nothing says generated"),
}


@dataclass(frozen=True)
class VerdictView:
    """detection.verdict's stored `as_dict()` (CaseImage.analysis), as the review page shows it."""

    label: str
    label_text: str
    supports_digital_forgery: bool
    detector_on: bool
    detector_text: str
    reasons: list[str]
    limits: list[str]
    notes: list[str]


@dataclass
class ImageView:
    image: CaseImage
    stored: bool
    matches: list[ImageMatch] = field(default_factory=list)
    verdict: VerdictView | None = None
    # Whatever else the analysis holds (the bank lookup, a verdict of an unknown version), as label/value rows.
    analysis: list[tuple[str, str]] = field(default_factory=list)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def verdict_view(analysis: Any) -> VerdictView | None:
    """The verdict stored with an image, or None when it has none (not analysed yet, or an unknown version)."""
    # Version 1 verdicts (before calibration and C2PA trust) read the same; they are re-analysed on the next trigger.
    if not isinstance(analysis, dict) or analysis.get("version") not in (1, 2) \
            or analysis.get("label") not in VERDICT_LABELS:
        return None
    detector = _mapping(analysis.get("detector"))
    status = _mapping(detector.get("status"))
    score = detector.get("score")
    if not status.get("enabled"):
        detector_text = _("off: %(reason)s") % {"reason": status.get("reason") or _("no reason given")}
    elif isinstance(score, int | float) and isinstance(status.get("calibration"), dict):
        calibration = status["calibration"]
        detector_text = _(
            "score %(score).2f, threshold %(threshold).2f (%(arch)s, weights %(weights)s, %(device)s); at this "
            "threshold %(fp)s of %(n)s held-out real images were called generated") % {
            "score": score, "threshold": float(status.get("threshold") or 0), "arch": status.get("architecture", ""),
            "weights": str(status.get("weights_sha256", ""))[:12], "device": status.get("device", ""),
            "fp": calibration.get("false_positives", "?"), "n": calibration.get("real_images", "?")}
    elif isinstance(score, int | float):
        detector_text = _(
            "score %(score).2f (%(arch)s, weights %(weights)s, %(device)s): uncalibrated, not used as evidence") % {
            "score": score, "arch": status.get("architecture", ""),
            "weights": str(status.get("weights_sha256", ""))[:12], "device": status.get("device", "")}
    else:
        detector_text = _("could not score this file: %(error)s") % {"error": detector.get("error") or _("no score")}
    provenance = _mapping(analysis.get("provenance"))
    label = str(analysis["label"])
    return VerdictView(
        label=label,
        label_text=str(VERDICT_LABELS[label]),
        supports_digital_forgery=analysis.get("supports_digital_forgery") is True,
        detector_on=bool(status.get("enabled")),
        detector_text=str(detector_text),
        reasons=_strings(analysis.get("reasons")),
        limits=_strings(analysis.get("limits")),
        notes=_strings(provenance.get("skipped")),
    )


def _analysis_rows(analysis: Any, *, verdict_shown: bool) -> list[tuple[str, str]]:
    """The rest of the stored analysis as label/value rows, whatever fields its writers used."""
    if not isinstance(analysis, dict):
        return []
    rows = []
    for key, value in analysis.items():
        if verdict_shown and key in VERDICT_KEYS:
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)[:400]
        rows.append((str(key).replace("_", " "), str(value)))
    return rows


def image_matches(image: CaseImage) -> list[ImageMatch]:
    """Other cases' images that are the same (SHA-256) or near-identical (PDQ within 31 bits)."""
    matches: list[ImageMatch] = []
    others = CaseImage.objects.exclude(case_id=image.case_id).filter(state=CaseImage.State.HASHED)
    if image.sha256:
        for reference in others.filter(sha256=image.sha256).values_list("case__court_reference", flat=True)[:20]:
            matches.append(ImageMatch(reference, "sha256", 0))
    if image.pdq and (image.pdq_quality or 0) >= 50:
        seen = {m.case_reference for m in matches}
        candidates = (others.exclude(pdq="").filter(Q(pdq_quality__gte=50) | Q(pdq_quality__isnull=True))
                      .order_by("-created_at").values_list("case__court_reference", "pdq")[:MATCH_SCAN_LIMIT])
        for reference, pdq in candidates:
            distance = _hamming(image.pdq, pdq)
            if distance <= PDQ_MATCH_DISTANCE and reference not in seen:
                matches.append(ImageMatch(reference, "pdq", distance))
                seen.add(reference)
    return sorted(matches, key=lambda m: m.distance)[:20]


@dataclass(frozen=True)
class VideoMatch:
    case_reference: str
    signal: str


@dataclass
class VideoView:
    video: CaseVideo
    stored: bool
    # (index, second, reveal key) of each keyframe, blurred and grey until revealed one at a time.
    keyframes: list[tuple[int, float, str]] = field(default_factory=list)
    matches: list[VideoMatch] = field(default_factory=list)
    verdict: VerdictView | None = None
    # One row per scored keyframe: (second, detector text, label text), so the verdict explains itself.
    frame_rows: list[tuple[float, str, str]] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)


def video_matches(video: CaseVideo) -> list[VideoMatch]:
    """Other cases with the same video file (MD5 or SHA-256); near copies are the bank's vPDQ lookup's to find."""
    matches: list[VideoMatch] = []
    others = CaseVideo.objects.exclude(case_id=video.case_id).filter(state=CaseVideo.State.HASHED)
    seen: set[str] = set()
    for signal in ("md5", "sha256"):
        value = getattr(video, signal)
        if not value:
            continue
        for reference in others.filter(**{signal: value}).values_list("case__reference", flat=True)[:20]:
            if reference not in seen:
                seen.add(reference)
                matches.append(VideoMatch(reference, signal))
    return matches


def video_view(video: CaseVideo) -> VideoView:
    analysis = video.analysis if isinstance(video.analysis, dict) else {}
    verdict = verdict_view(analysis)
    frame_rows = []
    for frame in analysis.get("frames", []) if isinstance(analysis.get("frames"), list) else []:
        frame_verdict = verdict_view(frame.get("verdict")) if isinstance(frame, dict) else None
        if frame_verdict is not None:
            frame_rows.append((float(frame.get("second") or 0), frame_verdict.detector_text,
                               frame_verdict.label_text))
    provenance = [str(_mapping(signal).get("summary", "")) for signal in
                  _mapping(video.provenance).get("signals", []) or []]
    return VideoView(video=video, stored=bool(video.blob_name),
                     keyframes=[(index, float(_mapping(frame).get("second") or 0), f"{video.id}:{index}")
                                for index, frame in enumerate(video.keyframes or [])],
                     matches=video_matches(video), verdict=verdict, frame_rows=frame_rows, provenance=provenance)


@dataclass
class CaseReview:
    case: Case
    images: list[ImageView]
    urls: list[CaseURL]
    messages: list[Message]
    decisions: list[Decision]
    history: list[AuditEvent]
    requests: list[RemedyRequest]
    signature_given: bool
    now: datetime
    videos: list[VideoView] = field(default_factory=list)


def case_review(case: Case) -> CaseReview:
    images = []
    for image in case.images.exclude(state=CaseImage.State.DELETED).order_by("created_at"):
        verdict = verdict_view(image.analysis)
        rows = _analysis_rows(image.analysis, verdict_shown=verdict is not None)
        images.append(ImageView(image=image, stored=bool(image.blob_name), matches=image_matches(image),
                                verdict=verdict, analysis=rows))
    return CaseReview(
        case=case,
        images=images,
        urls=list(case.urls.order_by("added_at")),
        messages=list(case.messages.order_by("created_at")),
        decisions=list(case.decisions.select_related("decided_by", "second_reviewer").order_by("decided_at")),
        history=audit_events_for_case(case.id)[-100:],
        requests=list(remedies_for_case(case)),
        signature_given=bool(case.signature),
        now=timezone.now(),
        videos=[video_view(video) for video in
                case.videos.exclude(state=CaseVideo.State.DELETED).order_by("created_at")],
    )
