"""The operating threshold, chosen for a target false-positive rate on held-out real images.

A detector score means nothing to a moderator or a court until one knows how often real photos reach it.
So the threshold is not a constant: training (and `detector_eval --calibrate`) scores real images that the
model never trained on, picks the lowest threshold at which at most the target share of them (default 1 %)
score at or above it, and writes that threshold with the held-out real scores into the weights file. At
load time the false-positive rate at whatever threshold is in use is recomputed from those scores, so a
verdict can state it ("called k of n held-out real images generated"), and a model with no such record is
"uncalibrated": it still scores, but its scores are never used as evidence of forgery.

Pure numpy and math, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_TARGET_FPR = 0.01
CALIBRATION_FORMAT = "takedown-detector-calibration/1"


class CalibrationError(ValueError):
    """No threshold in (0, 1) meets the target, or the calibration record in a weights file is malformed."""


@dataclass(frozen=True)
class Calibration:
    """The false-positive rate measured at one threshold on a named set of held-out real images."""

    threshold: float
    target_fpr: float
    real_images: int
    false_positives: int
    measured_fpr: float
    # One-sided 95 % Clopper-Pearson upper bound on the true rate: with few images the point estimate
    # (often 0 of n) says little, and this says how little.
    fpr_upper_95: float
    measured_on: str
    device: str = ""
    precision: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        return (
            f"at threshold {self.threshold:.4f} it called {self.false_positives} of {self.real_images} held-out real "
            f"images generated (false-positive rate {self.measured_fpr:.1%}, 95% upper bound "
            f"{self.fpr_upper_95:.1%}; measured on {self.measured_on})"
        )


def fpr_upper_bound(false_positives: int, n: int, confidence: float = 0.95) -> float:
    """Exact one-sided upper confidence bound for a binomial rate (Clopper-Pearson), by bisection."""
    if n <= 0:
        return 1.0
    if false_positives >= n:
        return 1.0
    alpha = 1.0 - confidence

    def cdf(p: float) -> float:  # P(X <= false_positives) for X ~ Binomial(n, p)
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(false_positives + 1))

    low, high = false_positives / n, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if cdf(mid) > alpha:
            low = mid
        else:
            high = mid
    return high


def _finite_scores(real_scores: Sequence[float] | np.ndarray) -> np.ndarray:
    scores = np.asarray(real_scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise CalibrationError("calibration needs at least one held-out real image score")
    if not np.isfinite(scores).all():
        raise CalibrationError("held-out real image scores include NaN or infinity; the model is broken")
    return scores


def calibration_choose(
    real_scores: Sequence[float],
    *,
    target_fpr: float = DEFAULT_TARGET_FPR,
    measured_on: str,
    device: str = "",
    precision: str = "",
) -> Calibration:
    """The lowest threshold at which at most `target_fpr` of these real images score at or above it."""
    if not 0.0 < target_fpr < 1.0:
        raise CalibrationError(f"target false-positive rate must be between 0 and 1, got {target_fpr}")
    scores = np.sort(_finite_scores(real_scores))[::-1]
    allowed = math.floor(target_fpr * scores.size + 1e-9)
    if allowed >= scores.size:
        raise CalibrationError("too few held-out real images for this target false-positive rate")
    # Every real score at or above the threshold is a false positive: put the threshold just above the
    # (allowed + 1)-th highest real score. Ties at that score all fall below it.
    threshold = float(np.nextafter(scores[allowed], np.inf))
    if not 0.0 < threshold < 1.0:
        raise CalibrationError(
            f"no threshold below 1 keeps the false-positive rate at {target_fpr:.1%}: the held-out real images "
            "score 1.0; this model cannot be used"
        )
    return calibration_at(threshold, scores, target_fpr=target_fpr, measured_on=measured_on, device=device,
                          precision=precision)


def calibration_at(
    threshold: float,
    real_scores: Sequence[float] | np.ndarray,
    *,
    target_fpr: float,
    measured_on: str,
    device: str = "",
    precision: str = "",
) -> Calibration:
    """The measured false-positive rate of these real scores at `threshold` (any threshold in (0, 1))."""
    if not (isinstance(threshold, float | int) and math.isfinite(threshold) and 0.0 < threshold < 1.0):
        raise CalibrationError(f"threshold must be between 0 and 1, got {threshold!r}")
    scores = _finite_scores(real_scores)
    false_positives = int((scores >= threshold).sum())
    return Calibration(
        threshold=float(threshold),
        target_fpr=float(target_fpr),
        real_images=int(scores.size),
        false_positives=false_positives,
        measured_fpr=false_positives / scores.size,
        fpr_upper_95=fpr_upper_bound(false_positives, int(scores.size)),
        measured_on=measured_on,
        device=device,
        precision=precision,
    )


def calibration_record(calibration: Calibration, real_scores: Sequence[float]) -> dict[str, Any]:
    """What goes into a weights file's meta: the choice and the scores it came from (to re-measure later)."""
    return {
        "format": CALIBRATION_FORMAT,
        **calibration.as_dict(),
        "real_scores": [float(s) for s in sorted(_finite_scores(real_scores))],
    }


def calibration_from_record(record: object, *, threshold: float | None = None) -> Calibration:
    """Read a weights file's calibration record; with `threshold`, re-measure the rate at that threshold."""
    if not isinstance(record, dict) or record.get("format") != CALIBRATION_FORMAT:
        raise CalibrationError("the weights file has no calibration record")
    try:
        scores = [float(s) for s in record["real_scores"]]
        chosen = float(record["threshold"])
        target = float(record["target_fpr"])
        measured_on = str(record["measured_on"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"the weights file's calibration record is malformed ({type(exc).__name__})") from exc
    return calibration_at(
        chosen if threshold is None else threshold,
        scores,
        target_fpr=target,
        measured_on=measured_on,
        device=str(record.get("device", "")),
        precision=str(record.get("precision", "")),
    )
