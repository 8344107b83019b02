"""Removal requests addressed to the calling partner: read them in full, and say what was done (`requests` scope).

Reading a request is its receipt: the first time a partner's system fetches one, the request counts as received
and the Act's 48 hours start; the exact JSON served for it is kept as the message the partner got.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from takedown.api.base import PartnerAPIView
from takedown.api.errors import ApiError
from takedown.api.schema import ERROR_RESPONSES
from takedown.partners.models import Scope
from takedown.remedies.documents import case_image_facts
from takedown.remedies.models import OPEN_STATES, RemedyRequest
from takedown.remedies.partner_api import item_bytes, removal_request_item
from takedown.remedies.selectors import remedies_for_partner
from takedown.remedies.services import (
    PARTNER_ACK_STATES,
    RemedyError,
    remedy_partner_acknowledge,
    remedy_requests_fetched,
)

PAGE_MAX = 100
EXAMPLE_ID = "1f0c8a52-4b0e-4f0a-9f7e-2d1e8d3c6b11"
EXAMPLE_ITEM = {
    "schema": "takedown.partner-removal-request/1", "id": EXAMPLE_ID,
    "url": f"https://takedown.example/api/v1/removal-requests?id={EXAMPLE_ID}", "kind": "removal", "state": "sent",
    "urls": ["https://social.example/p/123"], "statute": "47 U.S.C. 223a (TAKE IT DOWN Act)",
    "elements": {
        "signature": {"electronic_signature": "/s/ Example Operator", "on_behalf_of": "Jane Doe 12"},
        "identification_and_location": {"urls": ["https://social.example/p/123"], "images": [
            {"sha256": "…", "md5": "…", "pdq": "…", "pdq_quality": 94, "forgery_findings": []}]},
        "good_faith_statement": "I have a good-faith belief that …",
        "contact": {"name": "Example Operator", "email": "requests@operator.example", "postal_address": "…",
                    "reference": EXAMPLE_ID},
    },
    "dsa_notice": None, "deadline_hours": 48, "sent_at": "2026-05-20T10:00:00Z", "received_at": "2026-05-20T10:00:05Z",
    "deadline_at": "2026-05-22T10:00:05Z", "acknowledged_at": None, "removed_at": None, "refused_at": None,
    "title": "Removal request under the TAKE IT DOWN Act", "text": "…",
}


def _not_found() -> ApiError:
    return ApiError("unknown_removal_request", "no removal request with this id was sent to you",
                    status.HTTP_404_NOT_FOUND)


class RemovalRequestsView(PartnerAPIView):
    required_scope = Scope.REQUESTS

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RemovalRequestsQuery"

        id = serializers.UUIDField(required=False)
        state = serializers.ChoiceField(choices=["open", "all"], required=False, default="open")
        after = serializers.UUIDField(required=False)
        limit = serializers.IntegerField(required=False, default=PAGE_MAX, min_value=1, max_value=PAGE_MAX)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RemovalRequestsResponse"

        count = serializers.IntegerField()
        has_more = serializers.BooleanField()
        next_after = serializers.CharField(allow_null=True)
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        operation_id="removal_requests_list",
        summary="Removal requests addressed to you, in full",
        description="Each request with the Act's four elements (`elements`: signature, identification and "
                    "location, good-faith statement, contact), the exact `urls`, the request's text, its times and "
                    "your 48-hour deadline. `?id=` returns one request (the `fetch_url` of the webhook); otherwise "
                    "open requests (`state=all` for every one), oldest first, `limit` per page, the next page "
                    "with `after=<next_after>`. Fetching a request is your receipt of it: the 48 hours count from "
                    "your first fetch or from your endpoint's first 2xx to the webhook, whichever came first. "
                    "Needs the `requests` scope.",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.UUID, description="one request"),
            OpenApiParameter("state", OpenApiTypes.STR, enum=["open", "all"], description="default open"),
            OpenApiParameter("after", OpenApiTypes.UUID, description="`next_after` of the previous page"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"1-{PAGE_MAX}, default {PAGE_MAX}"),
        ],
        responses={200: OutputSerializer, 404: ERROR_RESPONSES[400], **ERROR_RESPONSES},
        examples=[OpenApiExample("A page", response_only=True, status_codes=["200"], value={
            "count": 1, "has_more": False, "next_after": None, "results": [EXAMPLE_ITEM]})],
        tags=["removal requests"],
    )
    def get(self, request: Request) -> HttpResponse:
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        partner_id = self.principal(request).partner_id
        requests = remedies_for_partner(partner_id).select_related("case", "host").order_by("created_at", "id")
        if "id" in query:
            requests = requests.filter(id=query["id"])
            if not requests.exists():
                raise _not_found()
        elif query["state"] == "open":
            requests = requests.filter(state__in=OPEN_STATES)
        if "after" in query:
            anchor = remedies_for_partner(partner_id).filter(id=query["after"]).values_list("created_at", flat=True)
            if not anchor:
                raise ApiError("invalid_cursor", "after: not a request of yours", status.HTTP_400_BAD_REQUEST)
            requests = requests.filter(created_at__gte=anchor[0]).exclude(id=query["after"])
        page = list(requests[: query["limit"] + 1])
        has_more = len(page) > query["limit"]
        page = page[: query["limit"]]
        images: dict[uuid.UUID, list[dict[str, Any]]] = {}

        def render(item: RemedyRequest) -> bytes:
            if item.case_id not in images:
                images[item.case_id] = case_image_facts(item.case)
            return item_bytes(removal_request_item(item, images=images[item.case_id]))

        bodies = remedy_requests_fetched(partner_id=partner_id, requests=page, render=render)
        head = json.dumps({"count": len(bodies), "has_more": has_more,
                           "next_after": str(page[-1].id) if has_more and page else None})
        body = head[:-1].encode() + b', "results": [' + b",".join(bodies) + b"]}"
        return HttpResponse(body, content_type="application/json")


class RemovalRequestAcknowledgeView(PartnerAPIView):
    required_scope = Scope.REQUESTS

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RemovalRequestAcknowledge"

        removal_request_id = serializers.UUIDField()
        status = serializers.ChoiceField(choices=list(PARTNER_ACK_STATES))
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["status"] == "refused" and not attrs.get("reason", "").strip():
                raise serializers.ValidationError({"reason": serializers.ErrorDetail(
                    "a refusal needs its reason", code="required")})
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RemovalRequestAcknowledged"

        removal_request_id = serializers.UUIDField()
        state = serializers.CharField()
        received_at = serializers.DateTimeField(allow_null=True)
        deadline_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        operation_id="removal_requests_acknowledge",
        summary="Say what you did about a removal request",
        description="`status`: `received` (you have it and are looking), `removed` (the content is gone from "
                    "every listed URL) or `refused` (with a `reason`, at most 1,000 characters). A request not sent "
                    "to you is 404 `unknown_removal_request`. The existing `feedback` endpoint (Removed, NotFound, "
                    "Disputed with `removal_request_id`) keeps working. Needs the `requests` scope.",
        request=InputSerializer,
        responses={200: OutputSerializer, 404: ERROR_RESPONSES[400], **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Received", request_only=True, value={"removal_request_id": EXAMPLE_ID,
                                                                  "status": "received"}),
            OpenApiExample("Refused", request_only=True, value={
                "removal_request_id": EXAMPLE_ID, "status": "refused",
                "reason": "the account owner shows a signed model release"}),
            OpenApiExample("Recorded", response_only=True, status_codes=["200"], value={
                "removal_request_id": EXAMPLE_ID, "state": "acknowledged", "received_at": "2026-05-20T10:00:05Z",
                "deadline_at": "2026-05-22T10:00:05Z"}),
        ],
        tags=["removal requests"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        try:
            answered = remedy_partner_acknowledge(partner_id=self.principal(request).partner_id,
                                                  request_id=query["removal_request_id"], status=query["status"],
                                                  reason=query.get("reason", ""))
        except RemedyRequest.DoesNotExist:
            raise _not_found() from None
        except RemedyError as exc:
            raise ApiError("request_closed", str(exc), status.HTTP_409_CONFLICT) from None
        return Response({"removal_request_id": answered.id, "state": answered.state,
                         "received_at": answered.received_at, "deadline_at": answered.deadline_at})
