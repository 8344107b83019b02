"""The operator's transparency report: aggregates only (no case, no URL), as a page, a CSV and an SVG chart.

Time to removal is measured per removal request from its receipt (`received_at`: the moment the host's system took
it, where the Act's 48 hours start) to the host's compliance, and "within the deadline" compares compliance with the
request's own `deadline_at` (a court-ordered request keeps its own clock). A request marked complied whose receipt
was never recorded, or was recorded only when the host answered (it had the request by then, since when is not
known), is counted as removed but not timed: nothing stored says when its clock started. The median and
the 90th percentile use the nearest-rank method, so each figure is a time that was actually observed.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from django.db.models import Count
from django.utils import timezone

from takedown.cases.models import Case
from takedown.moderation.models import Decision
from takedown.remedies.models import STATUTORY_HOURS, RemedyRequest, RequestKind, RequestState


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the value at rank ceil(p * n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class PlatformTiming:
    platform: str
    removed: int
    median_hours: float | None
    p90_hours: float | None
    within_deadline: int
    # Complied, but no receipt on record before the host's answer: in `removed`, not in the times.
    untimed: int = 0


@dataclass(frozen=True)
class Transparency:
    generated_at: datetime
    since: datetime | None
    cases_by_status: dict[str, int]
    decisions_by_kind: dict[str, int]
    requests_by_kind_and_state: dict[str, dict[str, int]]
    overdue_requests: int
    platforms: list[PlatformTiming]


def transparency_report(*, since: datetime | None = None) -> Transparency:
    cases = Case.objects.all()
    requests = RemedyRequest.objects.all()
    decisions = Decision.objects.exclude(state=Decision.State.PENDING_SECOND_REVIEW)
    if since is not None:
        cases = cases.filter(created_at__gte=since)
        requests = requests.filter(created_at__gte=since)
        decisions = decisions.filter(decided_at__gte=since)
    by_kind_state = {kind: dict.fromkeys(RequestState.values, 0) for kind in RequestKind.values}
    for row in requests.values("kind", "state").annotate(n=Count("id")):
        by_kind_state[row["kind"]][row["state"]] = row["n"]
    decided: Counter[str] = Counter()
    for kind, state in decisions.values_list("kind", "state"):
        decided["overturned_" + kind if state == Decision.State.OVERTURNED else kind] += 1
    hours: dict[str, list[float]] = defaultdict(list)
    within: Counter[str] = Counter()
    untimed: Counter[str] = Counter()
    removed = (requests.filter(kind=RequestKind.REMOVAL, state=RequestState.COMPLIED, complied_at__isnull=False)
               .select_related("host").prefetch_related("events"))
    for request in removed:
        assert request.complied_at is not None
        label = request.recipient_label
        taken = request.hours_to_compliance()
        if taken is None:
            untimed[label] += 1
            continue
        hours[label].append(taken)
        if request.deadline_at is not None and request.complied_at <= request.deadline_at:
            within[label] += 1
    platforms = [
        PlatformTiming(platform=name, removed=len(hours[name]) + untimed[name],
                       median_hours=percentile(hours[name], 0.5), p90_hours=percentile(hours[name], 0.9),
                       within_deadline=within[name], untimed=untimed[name])
        for name in sorted(set(hours) | set(untimed))
    ]
    return Transparency(
        generated_at=timezone.now(),
        since=since,
        cases_by_status=dict(Counter(cases.values_list("status", flat=True))),
        decisions_by_kind=dict(decided),
        requests_by_kind_and_state=by_kind_state,
        overdue_requests=requests.filter(overdue_at__isnull=False).count(),
        platforms=platforms,
    )


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def transparency_csv(report: Transparency) -> str:
    """One long table: section, key, sub-key, value (easy to load anywhere, stable as sections grow)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "subkey", "value"])
    writer.writerow(["report", "generated_at", "", report.generated_at.isoformat(timespec="seconds")])
    writer.writerow(["report", "since", "", report.since.isoformat(timespec="seconds") if report.since else ""])
    for status, n in sorted(report.cases_by_status.items()):
        writer.writerow(["cases", status, "", n])
    for kind, n in sorted(report.decisions_by_kind.items()):
        writer.writerow(["decisions", kind, "", n])
    for kind, states in report.requests_by_kind_and_state.items():
        for state, n in states.items():
            writer.writerow(["requests", kind, state, n])
    writer.writerow(["requests", "removal", "overdue", report.overdue_requests])
    for timing in report.platforms:
        writer.writerow(["time_to_removal_hours", timing.platform, "removed", timing.removed])
        writer.writerow(["time_to_removal_hours", timing.platform, "median", _hours(timing.median_hours)])
        writer.writerow(["time_to_removal_hours", timing.platform, "p90", _hours(timing.p90_hours)])
        writer.writerow(["time_to_removal_hours", timing.platform, "within_deadline", timing.within_deadline])
        writer.writerow(["time_to_removal_hours", timing.platform, "no_receipt_on_record", timing.untimed])
    return out.getvalue()


def transparency_chart_svg(report: Transparency) -> str:
    """Horizontal bars per platform: median (solid) and 90th percentile (outline), with the 48-hour line.

    Drawn on the server with presentation attributes only, so the page needs no script and no inline style.
    """
    rows = [t for t in report.platforms if t.median_hours is not None]
    label_w, bar_w, row_h, top = 180, 420, 34, 30
    height = top + max(1, len(rows)) * row_h + 30
    scale_max = max([STATUTORY_HOURS * 1.25] + [t.p90_hours or 0 for t in rows])
    width = label_w + bar_w + 80

    def x(hours: float) -> float:
        return label_w + bar_w * hours / scale_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="chart-title">',
        '<title id="chart-title">Median and 90th-percentile hours from receipt of the request to removal, '
        'per platform</title>',
        f'<text x="{label_w}" y="18" font-size="13" fill="#1a1a1a">hours from receipt to removal '
        f'(solid: median; outline: 90th percentile; red line: {STATUTORY_HOURS} h)</text>',
    ]
    if not rows:
        parts.append(f'<text x="{label_w}" y="{top + 20}" font-size="14" fill="#4a4a4a">No removals yet.</text>')
    for i, timing in enumerate(rows):
        y = top + i * row_h
        median, p90 = timing.median_hours or 0.0, timing.p90_hours or 0.0
        parts.append(f'<text x="{label_w - 8}" y="{y + 20}" font-size="13" text-anchor="end" fill="#1a1a1a">'
                     f'{escape(timing.platform[:28])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{x(p90) - label_w:.1f}" height="20" fill="none" '
                     f'stroke="#0b57d0" stroke-width="2"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 9}" width="{x(median) - label_w:.1f}" height="14" '
                     f'fill="#0b57d0"/>')
        parts.append(f'<text x="{x(p90) + 6:.1f}" y="{y + 20}" font-size="12" fill="#1a1a1a">'
                     f'{median:.1f} / {p90:.1f} h (n={timing.removed})</text>')
    line_x = x(STATUTORY_HOURS)
    parts.append(f'<line x1="{line_x:.1f}" y1="{top - 4}" x2="{line_x:.1f}" y2="{height - 24}" stroke="#b3261e" '
                 f'stroke-width="2" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{line_x:.1f}" y="{height - 8}" font-size="12" text-anchor="middle" fill="#b3261e">'
                 f'{STATUTORY_HOURS} h</text>')
    parts.append("</svg>")
    return "".join(parts)
