"""A removal request as a partner platform's system receives it: the API item and the webhook payload.

Both carry the whole request: the Act's four elements (signature, identification and location, good-faith
statement, contact) as the request's documents state them (takedown.remedies.documents, one code path), the exact
URLs, and the request's text. Nothing about the case beyond what the documents already tell any host.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings

from takedown.remedies.documents import document_text, request_document
from takedown.remedies.models import STATUTORY_HOURS, RemedyRequest

REMOVAL_REQUEST_SCHEMA = "takedown.partner-removal-request/1"
STATUTORY_ELEMENTS = ("signature", "identification_and_location", "good_faith_statement", "contact")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def partner_request_url(request: RemedyRequest) -> str:
    """Where the partner's system fetches the request (partner API key with the `requests` scope)."""
    return f"{settings.SITE_URL}/api/v1/removal-requests?id={request.id}"


def removal_request_item(request: RemedyRequest, *, images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    document = request_document(request, images=images)
    facts = document.facts
    statute = facts.get("take_it_down") or {}
    return {
        "schema": REMOVAL_REQUEST_SCHEMA,
        "id": str(request.id),
        "url": partner_request_url(request),
        "kind": request.kind,
        "state": request.state,
        "urls": list(facts.get("urls") or []),
        "statute": statute.get("statute", ""),
        "elements": {name: statute.get(name) for name in STATUTORY_ELEMENTS},
        "dsa_notice": facts.get("dsa_notice"),
        "deadline_hours": STATUTORY_HOURS,
        "sent_at": _iso(request.sent_at),
        "received_at": _iso(request.received_at),
        "deadline_at": _iso(request.deadline_at),
        "acknowledged_at": _iso(request.acknowledged_at),
        "removed_at": _iso(request.complied_at),
        "refused_at": _iso(request.refused_at),
        "title": document.title,
        "text": document_text(document),
    }


def removal_request_payload(request: RemedyRequest) -> dict[str, Any]:
    """The `removal_request.created` webhook's data: the request itself and where to fetch it again."""
    item = removal_request_item(request)
    return {"removal_request_id": item["id"], "fetch_url": item["url"], "urls": item["urls"],
            "deadline_hours": STATUTORY_HOURS, "removal_request": item}


def item_bytes(item: dict[str, Any]) -> bytes:
    """One item as served (the list and the detail endpoints serve these very bytes)."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
