"""One explained verdict per image: detector score and provenance signals, with reasons and limits.

The verdict is what moderators see, what a removal request cites when it calls an image a "digital
forgery", and what the court export carries. So it says how it was reached (reasons, strongest first)
and what it cannot show (limits), and it never turns an absent signal into evidence of authenticity.

Labels:
* "generated": a C2PA manifest from a trusted signer (under C2PA_TRUST_ANCHORS_PEM) says generated, or a
  generator watermark was decoded;
* "likely_generated": a calibrated detector scores at or above its threshold, or unsigned metadata / an
  untrusted or invalid manifest says generated;
* "conflicting_evidence": a trusted C2PA manifest says captured, but other evidence says generated (an
  untrusted capture claim never cancels other evidence: anyone can sign their own deepfake "captured");
* "no_evidence_of_generation": a calibrated detector scored below its threshold, and nothing says generated
  (this is not a finding that the image is authentic);
* "undetermined": the detector is off, uncalibrated (no false-positive rate measured on held-out real
  images) or could not score, and nothing says generated.

Pure Python (no Django): the caller stores `as_dict()`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from detection.detector.interface import Detector, DetectorStatus
from detection.provenance.reader import ProvenanceLimits, provenance_read
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# 2: forgery support from the detector needs a calibrated model; only trusted C2PA signers are verified.
VERDICT_VERSION = 2
Label = Literal["generated", "likely_generated", "conflicting_evidence", "no_evidence_of_generation", "undetermined"]

LIMIT_DETECTOR = (
    "A detector score is a statistical estimate, not proof. It has false positives and false negatives, and "
    "JPEG re-compression, resizing, screenshots and generators unlike its training data lower its accuracy "
    "(measured error rates: docs/detector.md)."
)
LIMIT_ABSENCE = (
    "Missing provenance proves nothing: most platforms strip metadata and C2PA manifests on upload, and "
    "most generators write none."
)
LIMIT_UNSIGNED = "Unsigned metadata (XMP, PNG text chunks, EXIF) can be written or removed by anyone."
LIMIT_C2PA = (
    "A valid C2PA signature shows the file is unchanged since the certificate holder signed it; unless the "
    "signer is on a trust list the operator configured, it does not establish who that holder is."
)
LIMIT_UNCALIBRATED = (
    "The detector's score was not used: its model has no false-positive rate measured on held-out real images "
    "(docs/detector.md, calibration), so no one can say how often real photos score as high."
)
LIMIT_WATERMARK = (
    "The invisible-watermark check finds only the open Stable Diffusion mark, which many tools never "
    "embed and which re-compression or resizing can erase; a decode at >= 90% bit agreement is very "
    "unlikely by chance."
)


@dataclass
class Verdict:
    label: Label
    reasons: list[str]
    limits: list[str]
    detector: dict[str, Any]
    provenance: dict[str, Any]
    # Every claim a file makes about its origin, whether it was trusted, and why (see `_claims`).
    claims: list[dict[str, Any]] = field(default_factory=list)
    version: int = VERDICT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def supports_digital_forgery(self) -> bool:
        """Whether a removal request may cite this verdict as technical support for "digital forgery"."""
        return self.label in ("generated", "likely_generated")

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "label": self.label,
            "supports_digital_forgery": self.supports_digital_forgery,
            "reasons": list(self.reasons),
            "limits": list(self.limits),
            "detector": dict(self.detector),
            "provenance": dict(self.provenance),
            "claims": [dict(claim) for claim in self.claims],
            **({"extra": dict(self.extra)} if self.extra else {}),
        }


def _rank(signal: ProvenanceSignal) -> int:
    order = {"verified": 0, "statistical": 1, "claimed": 2, "invalid": 3}
    return order[signal.strength]


def _claims(signals: Sequence[ProvenanceSignal]) -> list[dict[str, Any]]:
    """What each signal claims, whether the verdict trusted it, and why (for moderators, requests, courts)."""
    claims: list[dict[str, Any]] = []
    for signal in signals:
        if signal.says_generated is None:
            continue
        says = "generated" if signal.says_generated else "captured"
        if signal.strength == "verified":
            why = str(signal.detail.get("trust", "")) or "signed by a signer under the configured trust anchors"
            trusted = True
        elif signal.strength == "statistical":
            trusted, why = True, "a watermark decoded well above chance; a statistical finding, not a signature"
        elif signal.strength == "invalid":
            trusted, why = False, "the C2PA manifest fails validation (altered or broken)"
        elif signal.kind == "c2pa":
            trusted = False
            why = str(signal.detail.get("trust", "")) or "signer not under the configured trust anchors"
        else:
            trusted, why = False, "unsigned metadata: anyone can write or remove it"
        if not trusted and says == "captured":
            why += "; an untrusted capture claim is reported but never weighed against other evidence"
        claims.append({"kind": signal.kind, "says": says, "trusted": trusted, "why": why})
    return claims


def verdict_build(
    *,
    detector_status: DetectorStatus,
    detector_score: float | None,
    provenance: ProvenanceReport,
    detector_error: str = "",
) -> Verdict:
    """Combine what is known about one image. `detector_score` is None when the detector did not score."""
    if detector_score is not None and not math.isfinite(detector_score):
        # Never compared, never stored: a NaN is a broken model, not a low score (and not valid JSON).
        detector_error = detector_error or f"the detector returned a non-finite score ({detector_score})"
        detector_score = None
    signals = sorted(provenance.signals, key=_rank)
    strong_generated = [s for s in signals if s.says_generated is True and s.strength in ("verified", "statistical")]
    weak_generated = [s for s in signals if s.says_generated is True and s.strength in ("claimed", "invalid")]
    # "verified" is only ever set for a signer under the operator's trust anchors (c2pa_read).
    verified_captured = [s for s in signals if s.says_generated is False and s.strength == "verified"]
    threshold = detector_status.threshold
    calibration = detector_status.calibration if detector_status.calibrated else None

    reasons: list[str] = [s.summary for s in strong_generated]
    detector_positive = False
    detector_ran = False
    if detector_status.enabled and detector_score is not None:
        model = f"{detector_status.architecture}, weights {detector_status.weights_sha256[:12]}"
        if calibration is not None and threshold is not None:
            detector_ran = True
            detector_positive = detector_score >= threshold
            relation = "at or above" if detector_positive else "below"
            reasons.append(
                f"detector {detector_score:.2f} {relation} threshold {threshold:.2f} ({model}); "
                f"{_calibration_sentence(calibration)}"
            )
        else:
            reasons.append(
                f"detector scored {detector_score:.2f} ({model}) but the model is uncalibrated (no false-positive "
                "rate measured on held-out real images), so the score is not used as evidence"
            )
    elif not detector_status.enabled:
        reasons.append(f"detector off: {detector_status.reason}")
    else:
        reasons.append(f"detector could not score this file: {detector_error or 'no score'}")
    reasons.extend(s.summary for s in weak_generated)
    reasons.extend(s.summary for s in verified_captured)
    reasons.extend(s.summary for s in signals if s not in strong_generated + weak_generated + verified_captured)
    reasons.extend(f"unreadable: {problem}" for problem in provenance.unreadable)

    label: Label
    any_generated = bool(strong_generated or weak_generated or detector_positive)
    if verified_captured and any_generated:
        label = "conflicting_evidence"
    elif strong_generated:
        label = "generated"
    elif weak_generated or detector_positive:
        label = "likely_generated"
    elif detector_ran:
        label = "no_evidence_of_generation"
    else:
        label = "undetermined"

    limits = [LIMIT_DETECTOR, LIMIT_ABSENCE]
    if detector_status.enabled and detector_score is not None and calibration is None:
        limits.append(LIMIT_UNCALIBRATED)
    if any(s.strength == "claimed" for s in signals):
        limits.append(LIMIT_UNSIGNED)
    if any(s.kind == "c2pa" for s in signals):
        limits.append(LIMIT_C2PA)
    if any(s.kind == "watermark" for s in signals) or label in ("no_evidence_of_generation", "undetermined"):
        limits.append(LIMIT_WATERMARK)
    return Verdict(
        label=label,
        reasons=reasons,
        limits=limits,
        detector={
            "status": detector_status.as_dict(),
            "score": None if detector_score is None else round(float(detector_score), 4),
            "error": detector_error,
        },
        provenance=provenance.as_dict(),
        claims=_claims(signals),
    )


def _calibration_sentence(calibration: dict[str, Any]) -> str:
    try:
        return (
            f"at this threshold the model called {int(calibration['false_positives'])} of "
            f"{int(calibration['real_images'])} held-out real images generated (false-positive rate "
            f"{float(calibration['measured_fpr']):.1%}, 95% upper bound {float(calibration['fpr_upper_95']):.1%}; "
            f"measured on {calibration['measured_on']})"
        )
    except (KeyError, TypeError, ValueError):
        return "its calibration record is incomplete"


def _intake_merge(report: ProvenanceReport, found: dict[str, Any]) -> None:
    for item in found.get("signals") or []:
        if not isinstance(item, dict):
            continue
        try:
            signal = ProvenanceSignal(**item)
        except TypeError:
            continue
        report.signals.append(
            ProvenanceSignal(
                kind=signal.kind,
                strength=signal.strength,
                says_generated=signal.says_generated,
                summary=f"{signal.summary} (read from the original file at intake)",
                detail={**signal.detail, "read_at": "intake"},
            )
        )
    report.unreadable.extend(f"at intake: {line}" for line in found.get("unreadable") or [])


def image_analyse(
    data: bytes,
    *,
    detector: Detector,
    limits: ProvenanceLimits | None = None,
) -> Verdict:
    """Read provenance and, when the detector is on and the pixels decode, score the image."""
    return images_analyse([data], detector=detector, limits=limits)[0]


def images_analyse(
    files: Sequence[bytes],
    *,
    detector: Detector,
    limits: ProvenanceLimits | None = None,
    provenance_notes: Sequence[str] = (),
    intake: Sequence[dict[str, Any] | None] | None = None,
    file_notes: Sequence[Sequence[str]] | None = None,
) -> list[Verdict]:
    """One verdict per file, in order. The detector scores every decodable file in one call, so a worker
    given many images fills its batches (the detector splits them at its own batch size).

    `provenance_notes` are added to each report's skipped checks: what the caller knows the files cannot
    show (for example that metadata was removed before they were stored); `file_notes`, one list per file, too.
    `intake`, one per file (or None), is what `provenance_read(..., pixels=False)` found in the original file
    before its metadata was removed (`ProvenanceReport.as_dict()`): its signals join the stored copy's.
    """
    limits = limits or ProvenanceLimits()
    reports = [provenance_read(data, limits=limits) for data in files]
    for index, report in enumerate(reports):
        report.skipped.extend(provenance_notes)
        if file_notes is not None:
            report.skipped.extend(file_notes[index])
        found = intake[index] if intake is not None else None
        if isinstance(found, dict):
            _intake_merge(report, found)
    scores: list[float | None] = [None] * len(files)
    errors = [""] * len(files)
    if detector.status.enabled:
        # Imported here so that building or reading verdicts, and a detector that is off, never import torch.
        from detection.detector.preprocess import ImageRejected, center_window, image_load

        decoded: list[tuple[int, npt.NDArray[np.uint8]]] = []
        for index, data in enumerate(files):
            if len(data) > limits.max_bytes:
                errors[index] = "file over the size limit"
                continue
            try:
                # Keep only the window the model scores: a batch of large decoded photos would not fit in memory.
                decoded.append((index, center_window(image_load(data, max_pixels=limits.max_pixels))))
            except (ImageRejected, OSError, ValueError) as exc:  # ImageRejected is a ValueError
                errors[index] = str(exc) or type(exc).__name__
        # Every window is already a valid 224x224 RGB array, so one odd file cannot fail the others' batch.
        if decoded:
            from detection.detector.interface import DetectorUnavailable

            try:
                probabilities = detector.score([window for _, window in decoded])
            except DetectorUnavailable as exc:
                # The detector turned itself off (a non-finite score): every verdict says so via its status.
                for index, _ in decoded:
                    errors[index] = str(exc)
            else:
                for (index, _), probability in zip(decoded, probabilities, strict=True):
                    scores[index] = float(probability)
    return [
        verdict_build(detector_status=detector.status, detector_score=score, provenance=report, detector_error=error)
        for report, score, error in zip(reports, scores, errors, strict=True)
    ]

