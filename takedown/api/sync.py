"""The hash list and its changes, for partners that keep their own copy (the `fetch` scope).

Paging: entries in (updated_at, entry_id) order from `since`; follow `next_cursor` while `has_more`; then keep
`checkpoint` and pass it as `since` next time. Withdrawn and Deleted entries are included: delete them.
The checkpoint trails now by PARTNER_SYNC_SAFETY_SECONDS, so a change that commits late is still picked up
(a few entries may come twice; each replaces the older copy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from takedown.api.base import PartnerAPIView
from takedown.api.hashes import cursor_decode, cursor_encode, signal_type_clean, timestamp_clean
from takedown.api.lookup import EXAMPLE_PDQ
from takedown.api.schema import ERROR_RESPONSES
from takedown.partners.bank import SIGNAL_HEX_LENGTH, BankChange, HashBank
from takedown.partners.models import Scope
from takedown.partners.services import change_as_json, shared_statuses

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ChangePage:
    changes: list[BankChange]
    has_more: bool
    next_cursor: str
    checkpoint: int


def changes_page(*, store: HashBank, since: datetime, cursor: str, limit: int,
                 signal_types: tuple[str, ...]) -> ChangePage:
    """One page of bank changes and the checkpoint that is safe to resume from after it."""
    after = cursor_decode(cursor) if cursor else None
    rows = store.changes(since=since, after=after, limit=limit + 1, signal_types=signal_types,
                         statuses=shared_statuses())
    has_more = len(rows) > limit
    rows = rows[:limit]
    safe = timezone.now() - timedelta(seconds=settings.PARTNER_SYNC_SAFETY_SECONDS)
    # Everything before the last row's second has been handed out (rows come in updated_at order), and nothing
    # later than `safe` is trusted to be complete yet; `since` is inclusive, so flooring repeats, never skips.
    horizon = min(rows[-1].updated_at, safe) if has_more else safe
    checkpoint = max(math.floor(since.timestamp()), math.floor(horizon.timestamp()))
    next_cursor = cursor_encode(rows[-1].updated_at, rows[-1].entry_id) if has_more else ""
    return ChangePage(changes=rows, has_more=has_more, next_cursor=next_cursor, checkpoint=checkpoint)


class HashChangesView(PartnerAPIView):
    required_scope = Scope.FETCH

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HashChangesRequest"

        since = serializers.CharField(required=False, max_length=40)
        cursor = serializers.CharField(required=False, allow_blank=True, max_length=60)
        limit = serializers.IntegerField(required=False)
        signal_type = serializers.CharField(required=False, max_length=20)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"since": EPOCH, "cursor": attrs.get("cursor", ""),
                                   "signal_types": tuple(SIGNAL_HEX_LENGTH)}
            try:
                if "since" in attrs:
                    out["since"] = timestamp_clean(attrs["since"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"since": exc.detail}) from None
            try:
                if out["cursor"]:
                    cursor_decode(out["cursor"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"cursor": exc.detail}) from None
            limit = attrs.get("limit", 1000)
            if not 1 <= limit <= settings.PARTNER_SYNC_PAGE_MAX:
                raise serializers.ValidationError({"limit": serializers.ErrorDetail(
                    f"limit is between 1 and {settings.PARTNER_SYNC_PAGE_MAX}", code="invalid_limit")})
            out["limit"] = limit
            if attrs.get("signal_type"):
                try:
                    out["signal_types"] = (signal_type_clean(attrs["signal_type"]),)
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({"signal_type": exc.detail}) from None
            return out

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HashChangesResponse"

        changes = serializers.ListField(child=serializers.DictField())
        has_more = serializers.BooleanField()
        next_cursor = serializers.CharField(allow_blank=True)
        checkpoint = serializers.IntegerField(help_text="Unix seconds: pass as `since` on the next sync.")

    @extend_schema(
        operation_id="hashes_changes",
        summary="Bank entries changed since a time (sync)",
        description="Every entry changed at or after `since`, oldest change first, with its current status "
                    "(Active, Withdrawn, Deleted): partners add Active hashes and delete Withdrawn and Deleted ones. "
                    "Page with `cursor`; keep `checkpoint` for the next sync. Needs the `fetch` scope.",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="Unix seconds or ISO 8601; default: the "
                             "beginning"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="`next_cursor` of the previous page"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1-5000, default 1000"),
            OpenApiParameter("signal_type", OpenApiTypes.STR, enum=list(SIGNAL_HEX_LENGTH)),
        ],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("A page", response_only=True, status_codes=["200"], value={
            "changes": [{"entry_id": 4182, "signal_type": "pdq", "hash": EXAMPLE_PDQ, "status": "Withdrawn",
                         "updated_at": "2026-05-20T10:00:00+00:00", "first_seen": "2026-05-19T08:12:44+00:00",
                         "quality": 94}],
            "has_more": False, "next_cursor": "", "checkpoint": 1779271170})],
        tags=["sync"],
    )
    def get(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        page = changes_page(store=self.bank(), since=query["since"], cursor=query["cursor"], limit=query["limit"],
                            signal_types=query["signal_types"])
        return Response({"changes": [change_as_json(c) for c in page.changes], "has_more": page.has_more,
                         "next_cursor": page.next_cursor, "checkpoint": page.checkpoint})
