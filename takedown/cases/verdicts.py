"""Reading the detector's and provenance's verdict that CaseImage.analysis holds, for people to weigh.

detection.verdict writes `Verdict.as_dict()` into the analysis (its keys are VERDICT_KEYS; other keys, such as
the hash bank's lookup under "bank", belong to other parts). The moderators' review page and the court export
both show it through `verdict_summary`, so they say the same thing, limits included.
"""

from __future__ import annotations

from typing import Any

# What each verdict label means, in the words the court reads (detection.verdict defines the labels).
VERDICT_MEANINGS = {
    "generated": (
        "A C2PA manifest from a signer the operator trusts says the image was generated, or a generator's watermark "
        "was decoded."
    ),
    "likely_generated": (
        "The detector, whose false-positive rate was measured on held-out real images, scored the image at or above "
        "its threshold, or unsigned metadata (or an untrusted or invalid C2PA manifest) says it was generated."
    ),
    "conflicting_evidence": "A C2PA manifest from a trusted signer says captured, but other evidence says generated.",
    "no_evidence_of_generation": (
        "The detector scored the image below its threshold and nothing says generated. This is not a finding that "
        "the image is authentic."
    ),
    "undetermined": (
        "The detector was off, uncalibrated or could not score the image, and nothing says generated."
    ),
}
# The keys detection.verdict's `as_dict()` writes into CaseImage.analysis; other keys belong to other parts
# (the hash bank's lookup under "bank").
VERDICT_KEYS = frozenset(
    {"version", "label", "supports_digital_forgery", "reasons", "limits", "detector", "provenance", "claims", "extra"}
)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def verdict_summary(analysis: Any) -> dict[str, Any] | None:
    """The detector and provenance verdict stored on an image, reduced to what a court weighs, limits included."""
    if not isinstance(analysis, dict) or "label" not in analysis:
        return None
    label = str(analysis.get("label", ""))
    detector = _mapping(analysis.get("detector"))
    status = _mapping(detector.get("status"))
    provenance = _mapping(analysis.get("provenance"))
    signals = provenance.get("signals")
    signals = signals if isinstance(signals, list) else []
    return {
        "version": analysis.get("version"),
        "label": label,
        "meaning": VERDICT_MEANINGS.get(label, "A label this export does not know; see the reasons."),
        "supports_digital_forgery": analysis.get("supports_digital_forgery") is True,
        "reasons": _text_list(analysis.get("reasons")),
        # The verdict's own statement of what it cannot show, exactly as the analysis wrote it.
        "limits": _text_list(analysis.get("limits")),
        "detector": {
            "enabled": bool(status.get("enabled")),
            "score": detector.get("score"),
            "threshold": status.get("threshold"),
            "architecture": status.get("architecture", ""),
            "weights_sha256": status.get("weights_sha256", ""),
            "off_reason": "" if status.get("enabled") else str(status.get("reason", "")),
            "calibration": _mapping(status.get("calibration")) or None,
            "error": str(detector.get("error", "") or ""),
        },
        "provenance": {
            "format": provenance.get("format", ""),
            "signals": [
                {"kind": sig.get("kind"), "strength": sig.get("strength"), "says_generated": sig.get("says_generated"),
                 "summary": sig.get("summary", "")}
                for sig in signals if isinstance(sig, dict)
            ],
            "unreadable": _text_list(provenance.get("unreadable")),
            "skipped": _text_list(provenance.get("skipped")),
        },
        # Which claims about the file's origin were trusted, and why (detection.verdict._claims).
        "claims": [claim for claim in analysis.get("claims") or [] if isinstance(claim, dict)],
    }


