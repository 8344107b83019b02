"""What the status page shows, gathered in one place: per platform, per URL, each remedy with its timestamps.

Remedies (removal, blocking, de-linking requests) belong to the remedies app. It plugs its rows in through
`settings.CASE_REMEDY_PROVIDERS`: dotted paths of callables `provider(case=) -> list[dict]`, each dict with
`kind` (removal | blocking | delinking), `kind_label`, `state`, `state_label`, optional `url` (the canonical
URL it concerns), optional `platform` (registrable domain), `events`: a list of `(label, datetime)` pairs
(sent, acknowledged, done, ...), and optionally `clock` (the 48-hour clock in words) with `overdue` (bool).
A row with a URL is shown under that URL; one with only a platform under the platform; one with neither
(blocking through partners) under the case as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from takedown.cases.locations import URLRejected, url_normalise
from takedown.cases.models import Case, CaseImage, CaseStatus, CaseURL, Message


@dataclass
class URLRow:
    id: str
    url: str
    display: str
    flags: tuple[str, ...]
    source_label: str
    added_at: Any
    remedies: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PlatformRow:
    platform: str
    urls: list[URLRow] = field(default_factory=list)
    remedies: list[dict[str, Any]] = field(default_factory=list)


def _remedy_rows(case: Case) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in getattr(settings, "CASE_REMEDY_PROVIDERS", []):
        rows.extend(import_string(path)(case=case) or [])
    return rows


def _url_row(item: CaseURL) -> URLRow:
    try:
        normalised = url_normalise(item.url)
        flags, display_host = normalised.flags, normalised.display_host
    except URLRejected:
        flags, display_host = (), ""
    display = item.url.replace(item.host, display_host, 1) if display_host else item.url
    return URLRow(id=str(item.id), url=item.url, display=display, flags=flags,
                  source_label=item.get_source_display(), added_at=item.added_at)


def case_status_context(case: Case) -> dict[str, Any]:
    platforms: dict[str, PlatformRow] = {}
    by_url: dict[str, URLRow] = {}
    for item in case.urls.all():
        row = _url_row(item)
        name = item.platform or item.host
        platforms.setdefault(name, PlatformRow(platform=name)).urls.append(row)
        by_url[item.url] = row
    case_wide: list[dict[str, Any]] = []
    for remedy in _remedy_rows(case):
        url = remedy.get("url") or ""
        platform = remedy.get("platform") or ""
        if url in by_url:
            by_url[url].remedies.append(remedy)
        elif platform:
            platforms.setdefault(platform, PlatformRow(platform=platform)).remedies.append(remedy)
        else:
            case_wide.append(remedy)
    images = list(case.images.all())
    return {
        "case": case,
        "withdrawn": case.status == CaseStatus.WITHDRAWN,
        "platforms": sorted(platforms.values(), key=lambda p: p.platform),
        "case_remedies": case_wide,
        "images": images,
        "stored_images": [i for i in images if i.blob_name],
        "hashed_count": sum(1 for i in images if i.state == CaseImage.State.HASHED),
        "pending_count": sum(1 for i in images if i.state == CaseImage.State.PENDING),
        "rejected_count": sum(1 for i in images if i.state == CaseImage.State.REJECTED),
        # Videos: no preview on this page (a video is never played back to the person); state and length only.
        "videos": [v for v in case.videos.all() if v.state != "deleted"],
        "messages": list(case.messages.all()),
        "unread": sum(1 for m in case.messages.all() if m.read_at is None and m.author != Message.Author.VICTIM),
        "statuses": CaseStatus,
    }
