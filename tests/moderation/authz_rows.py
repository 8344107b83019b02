"""Rows of the authorization matrix (tests/security/test_authz_matrix.py) for the console and remedies routes.

Paths are callables: each builds the objects its route needs in the test's database. Moderators and admins may
use every route; an advocate is refused; anonymous callers are sent to sign in. Actions answer with a redirect
back into the console (302), including when they were refused for the item's state (the claim is not theirs).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from takedown.core.audit import Actor
from takedown.core.evidence import evidence_put
from takedown.moderation.models import ItemKind, ReviewItem
from takedown.moderation.services import moderation_item_open
from takedown.remedies.directory import host_directory_seed
from takedown.remedies.models import CourtOrder, RemedyRequest
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make

PAGE = {"anonymous": "login", "advocate": "deny", "moderator": "ok", "admin": "ok"}
ACTION = {"anonymous": "login", "advocate": "deny", "moderator": 302, "admin": 302}
# A review item nobody has claimed: its page and image refuse everyone (redirect to the queue / 403).
UNCLAIMED_PAGE = {"anonymous": "login", "advocate": "deny", "moderator": 302, "admin": 302}
UNCLAIMED_IMAGE = {"anonymous": "login", "advocate": "deny", "moderator": "deny", "admin": "deny"}


def _item(scenario: dict[str, Any]) -> ReviewItem:
    if "item" not in scenario:
        scenario["item"] = moderation_item_open(case=case_make(), kind=ItemKind.NEW_REPORT)
    item: ReviewItem = scenario["item"]
    return item


def _request(scenario: dict[str, Any]) -> RemedyRequest:
    if "request" not in scenario:
        host_directory_seed()
        host_make("authz.example")
        case = confirm(case_make(urls=[("https://authz.example/1", "authz.example")]))
        remedies_generate_for_case(case=case, actor=Actor.system())
        scenario["request"] = RemedyRequest.objects.get(case=case, kind="removal")
    request: RemedyRequest = scenario["request"]
    return request


def _court_order(scenario: dict[str, Any]) -> CourtOrder:
    if "court_order" not in scenario:
        data = b"%PDF-1.4\n% a drawn test order\n%%EOF\n"
        scenario["court_order"] = CourtOrder.objects.create(
            case=_request(scenario).case, court="Test Court", docket_number="T-1", order_date=date(2026, 1, 2),
            scope=["removal"], document_blob=evidence_put(data), document_sha256=hashlib.sha256(data).hexdigest(),
            document_size=len(data))
    order: CourtOrder = scenario["court_order"]
    return order


def _item_path(suffix: str) -> Any:
    return lambda s: f"/staff/moderation/items/{_item(s).id}/{suffix}"


def rows(row: Any) -> dict[str, Any]:
    def image_path(s: dict[str, Any]) -> str:
        item = _item(s)
        return f"/staff/moderation/items/{item.id}/images/{item.case.images.get().id}/"

    return {
        "moderation-queue": row("/staff/moderation/", PAGE),
        "moderation-claim-next": row("/staff/moderation/claim/", ACTION, method="post"),
        "moderation-review": row(_item_path(""), UNCLAIMED_PAGE),
        "moderation-claim": row(_item_path("claim/"), ACTION, method="post"),
        "moderation-release": row(_item_path("release/"), ACTION, method="post"),
        "moderation-decide": row(_item_path("decide/"), ACTION, method="post", data={"decision": "confirm"}),
        "moderation-second-review": row(_item_path("second-review/"), ACTION, method="post",
                                        data={"verdict": "uphold"}),
        "moderation-reply": row(_item_path("reply/"), ACTION, method="post", data={"body": "hello"}),
        "moderation-item-done": row(_item_path("done/"), ACTION, method="post"),
        "moderation-message-close": row(_item_path("close-message/"), ACTION, method="post",
                                        data={"reason": "answered in the other message"}),
        "moderation-shield": row(_item_path("shield/"), ACTION, method="post"),
        "moderation-reveal": row(lambda s: image_path(s) + "reveal/", ACTION, method="post"),
        "moderation-image": row(image_path, UNCLAIMED_IMAGE),
        "transparency": row("/staff/transparency/", PAGE),
        "transparency-csv": row("/staff/transparency.csv", PAGE),
        "remedies-case": row(lambda s: f"/staff/remedies/cases/{_request(s).case_id}/", PAGE),
        "remedies-document": row(lambda s: f"/staff/remedies/requests/{_request(s).id}/document.pdf", PAGE),
        "remedies-send": row(lambda s: f"/staff/remedies/requests/{_request(s).id}/send/", ACTION, method="post"),
        "remedies-outcome": row(lambda s: f"/staff/remedies/requests/{_request(s).id}/outcome/", ACTION,
                                method="post", data={"state": "acknowledged"}),
        "remedies-court-order-pdf": row(lambda s: f"/staff/remedies/court-orders/{_court_order(s).id}/order.pdf", PAGE),
    }
