"""One explained verdict per video, from the verdicts of its sampled frames and its container's provenance.

Pure (no Django). Each sampled frame (a keyframe, detection.video_media.video_keyframes) is analysed like an
image (detection.verdict.images_analyse: detector score, watermark); the container's tags were read at intake,
before they were stripped (detection.provenance.container). The video's verdict is detection.verdict's
`verdict_build` over the container's signals, every frame's provenance signals, and the highest frame score (a
deepfake may be generated in some scenes only, so one frame at or above the threshold is what a moderator must
see); its first reason says how many frames were scored, which one scored highest and how many reached the
threshold, and the per-frame verdicts are kept beside it so the review page shows each frame's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detection.detector.interface import DetectorStatus
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal
from detection.verdict import Verdict, verdict_build

LIMIT_SAMPLED = (
    "Only sampled keyframes were scored, not every frame: a few generated or altered frames between them can be "
    "missed, and the container's metadata was read before it was removed at intake, which proves nothing either "
    "way (anyone can write or strip it)."
)


@dataclass(frozen=True)
class FrameVerdict:
    second: float
    verdict: Verdict

    def as_dict(self) -> dict[str, Any]:
        return {"second": self.second, "verdict": self.verdict.as_dict()}


def provenance_report_from_dict(data: Any) -> ProvenanceReport:
    """A stored `ProvenanceReport.as_dict()` back into a report (unknown fields are ignored)."""
    report = ProvenanceReport()
    if not isinstance(data, dict):
        return report
    report.format = str(data.get("format", ""))
    for item in data.get("signals") or []:
        if isinstance(item, dict):
            try:
                report.signals.append(ProvenanceSignal(
                    kind=item["kind"], strength=item["strength"], says_generated=item.get("says_generated"),
                    summary=str(item.get("summary", "")), detail=dict(item.get("detail") or {})))
            except (KeyError, TypeError, ValueError):
                report.unreadable.append("stored provenance signal could not be read")
    report.unreadable.extend(str(x) for x in data.get("unreadable") or [])
    report.skipped.extend(str(x) for x in data.get("skipped") or [])
    return report


def video_verdict(*, frames: Sequence[FrameVerdict], detector_status: DetectorStatus,
                  container: ProvenanceReport) -> Verdict:
    """Combine frame verdicts and the container's provenance into the video's verdict."""
    scored = [(frame.second, frame.verdict.detector.get("score")) for frame in frames]
    numbers = [(second, float(score)) for second, score in scored if isinstance(score, int | float)]
    combined = ProvenanceReport(format="video", signals=list(container.signals),
                                unreadable=list(container.unreadable), skipped=list(container.skipped))
    for frame in frames:
        for signal in provenance_report_from_dict(frame.verdict.provenance).signals:
            combined.signals.append(ProvenanceSignal(
                kind=signal.kind, strength=signal.strength, says_generated=signal.says_generated,
                summary=f"keyframe at {frame.second:.1f} s: {signal.summary}", detail=signal.detail))
    top = max(numbers, key=lambda pair: pair[1]) if numbers else None
    errors = sorted({str(frame.verdict.detector.get("error") or "") for frame in frames} - {""})
    verdict = verdict_build(detector_status=detector_status, detector_score=top[1] if top else None,
                            provenance=combined, detector_error="; ".join(errors) or
                            ("no keyframes to score" if not frames else ""))
    threshold = detector_status.threshold
    if numbers and top is not None:
        if detector_status.calibrated and threshold is not None:
            reaching = sum(1 for _, score in numbers if score >= threshold)
            verdict.reasons.insert(0, f"detector scored {len(numbers)} of {len(frames)} sampled keyframes; highest "
                                      f"{top[1]:.2f} at {top[0]:.1f} s; {reaching} at or above threshold "
                                      f"{threshold:.2f}")
        else:
            # verdict_build does not use an uncalibrated model's score as evidence; neither does this summary.
            verdict.reasons.insert(0, f"detector scored {len(numbers)} of {len(frames)} sampled keyframes; highest "
                                      f"{top[1]:.2f} at {top[0]:.1f} s (uncalibrated model: not used as evidence)")
    verdict.limits.append(LIMIT_SAMPLED)
    return verdict
