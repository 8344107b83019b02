"""Held-out metrics with bootstrap confidence intervals (numpy only).

Labels: 1 = generated ("fake"), 0 = real. A false positive is a real image scored at or above the
threshold: for this platform, a real photo called a deepfake, which is the costly mistake.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties count half); NaN when a class is missing."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # 1-based average rank of each distinct score value, so tied scores share their rank.
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _rates(y: npt.NDArray[np.bool_], s: FloatArray, threshold: float) -> tuple[float, float, float]:
    predicted = s >= threshold
    accuracy = float((predicted == y).mean()) if y.size else math.nan
    negatives = ~y
    fpr = float(predicted[negatives].mean()) if negatives.any() else math.nan
    tpr = float(predicted[y].mean()) if y.any() else math.nan
    return accuracy, fpr, tpr


@dataclass
class Interval:
    low: float
    high: float


@dataclass
class EvalMetrics:
    n_real: int
    n_fake: int
    threshold: float
    auc: float
    accuracy: float
    false_positive_rate: float
    true_positive_rate: float
    confidence: float
    bootstrap_samples: int
    intervals: dict[str, Interval] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Human-readable summary, one metric a line, with its interval."""

        def fmt(name: str, value: float) -> str:
            ci = self.intervals.get(name)
            band = f"  [{ci.low:.3f}, {ci.high:.3f}]" if ci is not None else ""
            return f"{name:<22} {value:.3f}{band}"

        return [
            f"images                 {self.n_real} real, {self.n_fake} generated",
            f"threshold              {self.threshold:.3f}",
            fmt("auc", self.auc),
            fmt("accuracy", self.accuracy),
            fmt("false_positive_rate", self.false_positive_rate),
            fmt("true_positive_rate", self.true_positive_rate),
            f"intervals              {self.confidence:.0%} stratified bootstrap, {self.bootstrap_samples} resamples",
        ]


def metrics_compute(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    threshold: float,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> EvalMetrics:
    """Point estimates plus percentile intervals from a bootstrap that resamples each class separately.

    Resampling within each class keeps the class counts fixed, so every resample has both classes and
    the false-positive rate is always defined. Images of one person or source are not independent; with
    few groups the intervals are optimistic (said so in docs/detector.md).
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-D and the same length")
    accuracy, fpr, tpr = _rates(y, s, threshold)
    result = EvalMetrics(
        n_real=int((~y).sum()),
        n_fake=int(y.sum()),
        threshold=threshold,
        auc=roc_auc(y, s),
        accuracy=accuracy,
        false_positive_rate=fpr,
        true_positive_rate=tpr,
        confidence=confidence,
        bootstrap_samples=bootstrap,
    )
    positives = np.flatnonzero(y)
    negatives = np.flatnonzero(~y)
    if bootstrap <= 0 or positives.size == 0 or negatives.size == 0:
        return result
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {
        "auc": [],
        "accuracy": [],
        "false_positive_rate": [],
        "true_positive_rate": [],
    }
    for _ in range(bootstrap):
        index = np.concatenate(
            [
                rng.choice(positives, positives.size, replace=True),
                rng.choice(negatives, negatives.size, replace=True),
            ]
        )
        yb, sb = y[index], s[index]
        acc_b, fpr_b, tpr_b = _rates(yb, sb, threshold)
        draws["auc"].append(roc_auc(yb, sb))
        draws["accuracy"].append(acc_b)
        draws["false_positive_rate"].append(fpr_b)
        draws["true_positive_rate"].append(tpr_b)
    tail = (1.0 - confidence) / 2.0 * 100.0
    for name, values in draws.items():
        low, high = np.percentile(np.asarray(values), [tail, 100.0 - tail])
        result.intervals[name] = Interval(float(low), float(high))
    return result
