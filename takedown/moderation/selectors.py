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

from django.db.models import Q, QuerySet
from django.utils import timezone

from takedown.cases.models import Case, CaseImage, CaseURL, Message
from takedown.cases.verdicts import VERDICT_KEYS, verdict_summary
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


@dataclass
class ImageView:
    image: CaseImage
    stored: bool
    matches: list[ImageMatch] = field(default_factory=list)
    analysis: list[tuple[str, str]] = field(default_factory=list)


def _raw_rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in analysis.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)[:400]
        rows.append((str(key).replace("_", " "), str(value)))
    return rows


def _analysis_rows(analysis: Any) -> list[tuple[str, str]]:
    """The stored verdict as label/value rows: its label and meaning, score, reasons and limits (as the court
    export states them), the hash bank's matches, then whatever else an analysis holds, as it is."""
    if not isinstance(analysis, dict):
        return []
    verdict = verdict_summary(analysis)
    rows: list[tuple[str, str]] = []
    if verdict is not None:
        detector = verdict["detector"]
        if detector["enabled"] and detector["score"] is not None:
            score = f"{detector['score']} (threshold {detector['threshold']}, {detector['architecture']})"
        elif detector["enabled"]:
            score = f"not scored: {detector['error'] or 'no score'}"
        else:
            score = f"detector off: {detector['off_reason'] or '-'}"
        rows += [
            ("verdict", f"{verdict['label']}: {verdict['meaning']}"),
            ("detector score", score),
            ("reasons", "; ".join(verdict["reasons"]) or "-"),
            ("limits", " ".join(verdict["limits"]) or "-"),
        ]
    bank = analysis.get("bank")
    if isinstance(bank, dict):
        matches = [m for m in bank.get("matches") or [] if isinstance(m, dict)]
        text = "; ".join(f"entry {m.get('entry')} at {m.get('distance')} bits" for m in matches)
        rows.append(("hash bank", text or ("no near-identical hash" if bank.get("available") else "unavailable")))
    shown = (VERDICT_KEYS if verdict is not None else set()) | {"bank"}
    return rows + _raw_rows({k: v for k, v in analysis.items() if k not in shown})


def image_matches(image: CaseImage) -> list[ImageMatch]:
    """Other cases' images that are the same (SHA-256) or near-identical (PDQ within 31 bits)."""
    matches: list[ImageMatch] = []
    others = CaseImage.objects.exclude(case_id=image.case_id).filter(state=CaseImage.State.HASHED)
    if image.sha256:
        for reference in others.filter(sha256=image.sha256).values_list("case__reference", flat=True)[:20]:
            matches.append(ImageMatch(reference, "sha256", 0))
    if image.pdq and (image.pdq_quality or 0) >= 50:
        seen = {m.case_reference for m in matches}
        candidates = (others.exclude(pdq="").filter(Q(pdq_quality__gte=50) | Q(pdq_quality__isnull=True))
                      .order_by("-created_at").values_list("case__reference", "pdq")[:MATCH_SCAN_LIMIT])
        for reference, pdq in candidates:
            distance = _hamming(image.pdq, pdq)
            if distance <= PDQ_MATCH_DISTANCE and reference not in seen:
                matches.append(ImageMatch(reference, "pdq", distance))
                seen.add(reference)
    return sorted(matches, key=lambda m: m.distance)[:20]


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


def case_review(case: Case) -> CaseReview:
    images = []
    for image in case.images.exclude(state=CaseImage.State.DELETED).order_by("created_at"):
        images.append(ImageView(image=image, stored=bool(image.blob_name), matches=image_matches(image),
                                analysis=_analysis_rows(image.analysis)))
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
    )
