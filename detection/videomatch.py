"""HMA's rule for matching two vPDQ hashes, and the vPDQ hash's text form (pure: no Django).

The rule is python-threatexchange's (``threatexchange/extensions/vpdq``, which Meta's HMA runs): drop frames of
quality below 50 and repeated frame hashes; a query frame *matches* a video when it is within PDQ distance 31 of
any of that video's frames. Then

- query match percent = matching query frames x 100 / query frames,
- compared match percent = the compared video's frames within the distance of any query frame x 100 / its
  frames,

and the two videos match when the first is at least 80 and the second at least 0 (HMA's defaults). A video with
no frame left after the filter matches nothing.

A vPDQ hash is written as HMA writes it: one ``pdq,quality,second`` per frame (HMA keeps it as a JSON list of
those strings). The bank keys a video's vPDQ by :func:`vpdq_key`, the SHA-256 of its canonical text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: HMA's thresholds (VPDQ_QUALITY_THRESHOLD, VPDQ_DISTANCE_THRESHOLD, VPDQ_QUERY/INDEX_MATCH_THRESHOLD_PERCENT).
QUALITY_THRESHOLD = 50
DISTANCE_THRESHOLD = 31
QUERY_MATCH_PERCENT = 80.0
COMPARED_MATCH_PERCENT = 0.0
#: Most frames a vPDQ hash may have (an hour at HMA's one frame per second is 3,600).
MAX_FEATURES = 20_000

_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class VpdqFeature:
    """One frame of a vPDQ hash, as HMA keeps it: its PDQ hash, quality and time in the video."""

    pdq: str
    quality: int
    second: float

    def text(self) -> str:
        return f"{self.pdq},{self.quality},{self.second:.3f}"


@dataclass(frozen=True, slots=True)
class VpdqMatch:
    query_match_percent: float
    compared_match_percent: float

    def is_match(
        self, query_threshold: float = QUERY_MATCH_PERCENT, compared_threshold: float = COMPARED_MATCH_PERCENT
    ) -> bool:
        return self.query_match_percent >= query_threshold and self.compared_match_percent >= compared_threshold


def feature_clean(item: object) -> VpdqFeature:
    """One frame from what a person or partner sent: ``"pdq,quality,second"``, a bare ``"pdq"`` (quality then
    counts as 100: the sender vouches for it), or ``{"pdq", "quality", "second"}``. ValueError saying why."""
    if isinstance(item, VpdqFeature):
        return item
    if isinstance(item, str):
        parts = item.strip().split(",")
        if len(parts) == 1:
            return _feature(parts[0], 100, 0.0)
        if len(parts) == 3:
            return _feature(parts[0], parts[1], parts[2])
        raise ValueError("a vPDQ frame is written pdq,quality,second")
    if isinstance(item, dict):
        return _feature(item.get("pdq", item.get("hash")), item.get("quality", 100),
                        item.get("second", item.get("timestamp", 0.0)))
    raise ValueError("a vPDQ frame is a string pdq,quality,second or an object {pdq, quality, second}")


def features_clean(items: Iterable[object]) -> list[VpdqFeature]:
    """Every frame of a vPDQ hash checked; ValueError naming the first bad frame (counted from 0)."""
    out: list[VpdqFeature] = []
    for position, item in enumerate(items):
        if position >= MAX_FEATURES:
            raise ValueError(f"a vPDQ hash has at most {MAX_FEATURES:,} frames")
        try:
            out.append(feature_clean(item))
        except ValueError as exc:
            raise ValueError(f"frame {position}: {exc}") from None
    if not out:
        raise ValueError("a vPDQ hash has at least one frame")
    return out


def features_text(features: Sequence[VpdqFeature]) -> str:
    """The canonical text: one ``pdq,quality,second`` line per frame, in the video's order."""
    return "\n".join(feature.text() for feature in features)


def features_parse(text: str) -> list[VpdqFeature]:
    return features_clean(line for line in text.splitlines() if line.strip())


def vpdq_key(features: Sequence[VpdqFeature]) -> str:
    """The bank's value for a vPDQ hash: SHA-256 of its canonical text (equal hashes, one entry)."""
    return hashlib.sha256(features_text(features).encode("ascii")).hexdigest()


def prepared(features: Iterable[VpdqFeature], quality_threshold: int = QUALITY_THRESHOLD) -> list[str]:
    """The frame hashes that count when matching: quality at least the threshold, each distinct hash once, in
    order (HMA's ``prepare_vpdq_feature``)."""
    seen: set[str] = set()
    out: list[str] = []
    for feature in features:
        if feature.quality >= quality_threshold and feature.pdq not in seen:
            seen.add(feature.pdq)
            out.append(feature.pdq)
    return out


def vpdq_compare(
    query: Sequence[VpdqFeature],
    compared: Sequence[VpdqFeature],
    *,
    quality_threshold: int = QUALITY_THRESHOLD,
    max_distance: int = DISTANCE_THRESHOLD,
) -> VpdqMatch:
    """HMA's brute-force comparison of two vPDQ hashes (what the bank's index answers, one pair at a time)."""
    query_hashes = [int(h, 16) for h in prepared(query, quality_threshold)]
    compared_hashes = [int(h, 16) for h in prepared(compared, quality_threshold)]
    if not query_hashes or not compared_hashes:
        return VpdqMatch(0.0, 0.0)

    def found(needles: list[int], haystack: list[int]) -> int:
        return sum(any((n ^ h).bit_count() <= max_distance for h in haystack) for n in needles)

    return VpdqMatch(found(query_hashes, compared_hashes) * 100 / len(query_hashes),
                     found(compared_hashes, query_hashes) * 100 / len(compared_hashes))


def _feature(pdq: object, quality: object, second: object) -> VpdqFeature:
    if not isinstance(pdq, str) or not _HEX64.match(pdq.strip().lower()):
        raise ValueError("a frame's pdq is 64 hexadecimal characters")
    try:
        quality_value = int(str(quality).strip()) if not isinstance(quality, int) else quality
        second_value = float(second) if isinstance(second, int | float) else float(str(second).strip())
    except ValueError:
        raise ValueError("a frame's quality is a whole number and its second a number") from None
    if isinstance(quality, bool) or not 0 <= quality_value <= 100:
        raise ValueError("a frame's quality is from 0 to 100")
    if not 0 <= second_value < 1e7:  # also refuses NaN
        raise ValueError("a frame's second is a number from 0")
    return VpdqFeature(pdq.strip().lower(), quality_value, second_value)
