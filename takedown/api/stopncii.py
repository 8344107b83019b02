"""StopNCII-compatible hash exchange under /api/stopncii/v1/, as python-threatexchange's StopNCIIAPI calls it.

Partners that run python-threatexchange or Meta's HMA point `base_url_override` at us and need no code. What the
real client (threatexchange 1.2.17) does, and so what this accepts and answers:

- FetchHashes is parsed strictly into dataclasses: every field is present with its type, enum values are spelled
  exactly, `nextPageToken` is a string ("" on the last page) and timestamps are Unix seconds. Only an image's PDQ
  (ImagePDQ) and a video file's MD5 (VideoMD5, our video_md5) exist in StopNCII's vocabulary, so only those are
  served here (an image's MD5 and vPDQ are not: vPDQ goes through our own sync and lookup).
- `hashStatus` carries Withdrawn and Deleted, so a client that reads it drops withdrawn hashes.
- `caseNumbers` is always an empty object: a partner never sees a case. `CSPFeedbacks` holds only the caller's
  own feedback: a partner never sees another partner's.
- SubmitHashes sends `signalType` as the Python enum's string ("StopNCIISignalType.ImagePDQ") and no
  `hashStatus`; SubmitFeedback sends no `signalType` at all (the hash is found by its value).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from takedown.api.base import StopNCIIAPIView
from takedown.api.errors import ApiError
from takedown.api.hashes import cursor_decode
from takedown.api.lookup import EXAMPLE_PDQ
from takedown.api.schema import ERROR_RESPONSES
from takedown.api.sync import changes_page
from takedown.partners.bank import BankChange, BankEntryRef, HashBank, SignalType
from takedown.partners.models import (
    STOPNCII_FEEDBACK_VALUES,
    PartnerFeedback,
    Scope,
    StopNCIIFunction,
)
from takedown.partners.services import PartnerError, entry_submit_by_partner, feedback_record_many

# Our signal type -> StopNCII's, and back (with the enum-string spelling the real client sends).
STOPNCII_TYPES = {SignalType.PDQ: "ImagePDQ", SignalType.VIDEO_MD5: "VideoMD5"}
FROM_STOPNCII = {v: k for k, v in STOPNCII_TYPES.items()}
FROM_STOPNCII.update({f"StopNCIISignalType.{v}": k for k, v in STOPNCII_TYPES.items()})

# Our native feedback vocabulary has values StopNCII's does not; the client's parser would drop a record
# carrying them, so they are mapped onto the nearest StopNCII value (the original stays in the tags).
TO_STOPNCII_FEEDBACK = {"Removed": "Blocked", "NotFound": "None", "Disputed": "NotBlocked"}


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _own_feedback(partner_id: Any, entry_ids: Sequence[int], partner_name: str) -> dict[int, dict[str, Any]]:
    """The caller's latest feedback per entry, in StopNCII's CSPFeedback shape."""
    latest: dict[int, dict[str, Any]] = {}
    rows = (PartnerFeedback.objects.filter(partner_id=partner_id, bank_entry_id__in=list(entry_ids))
            .order_by("bank_entry_id", "-created_at").values("bank_entry_id", "value", "tags"))
    for row in rows:
        entry_id = row["bank_entry_id"]
        if entry_id is None or entry_id in latest:
            continue
        value = TO_STOPNCII_FEEDBACK.get(row["value"], row["value"])
        tags = [str(t) for t in row["tags"]]
        if value != row["value"]:
            tags.append(f"takedown:{row['value']}")
        latest[entry_id] = {"source": partner_name, "feedbackValue": value, "tags": tags}
    return latest


def _record(change: BankChange, feedback: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "lastModtimestamp": _unix(change.updated_at),
        "signalType": STOPNCII_TYPES[change.signal_type],
        "hashValue": change.value,
        "hashStatus": change.status,
        "caseNumbers": {},
        "CSPFeedbacks": [feedback] if feedback else [],
    }


RECORD_EXAMPLE = {"lastModtimestamp": 1779271170, "signalType": "ImagePDQ", "hashValue": EXAMPLE_PDQ,
                  "hashStatus": "Withdrawn", "caseNumbers": {},
                  "CSPFeedbacks": [{"source": "Example Social", "feedbackValue": "Blocked", "tags": []}]}


class FetchHashesView(StopNCIIAPIView):
    required_scope = Scope.FETCH
    stopncii_function = StopNCIIFunction.FETCH_HASHES

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StopNCIIFetchHashesRequest"

        startTimestamp = serializers.IntegerField(required=False, min_value=0, max_value=2**40)
        pageSize = serializers.IntegerField(required=False, min_value=1)
        nextPageToken = serializers.CharField(required=False, allow_blank=True, max_length=60)

        def validate_nextPageToken(self, value: str) -> str:
            if value:
                cursor_decode(value)
            return value

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StopNCIIFetchHashesResponse"

        count = serializers.IntegerField()
        nextPageToken = serializers.CharField(allow_blank=True)
        nextSetTimestamp = serializers.IntegerField()
        hasMoreRecords = serializers.BooleanField()
        hashRecords = inline_serializer("StopNCIIHashRecord", many=True, fields={
            "lastModtimestamp": serializers.IntegerField(),
            "signalType": serializers.ChoiceField(choices=["ImagePDQ", "VideoMD5"]),
            "hashValue": serializers.CharField(),
            "hashStatus": serializers.ChoiceField(choices=["Received", "Active", "Withdrawn", "Deleted"]),
            "caseNumbers": serializers.DictField(child=serializers.CharField()),
            "CSPFeedbacks": inline_serializer("StopNCIICSPFeedback", many=True, fields={
                "source": serializers.CharField(), "feedbackValue": serializers.CharField(),
                "tags": serializers.ListField(child=serializers.CharField())}),
        })

    @extend_schema(
        operation_id="stopncii_fetch_hashes",
        summary="StopNCII FetchHashes",
        description="Hash records changed at or after `startTimestamp` (Unix seconds), oldest first, in pages of "
                    "`pageSize` (at most 1,000). Follow `nextPageToken` while `hasMoreRecords`; store "
                    "`nextSetTimestamp` as the next `startTimestamp`. Withdrawn and Deleted records mean: delete "
                    "the hash. Headers: `Ocp-Apim-Subscription-Key` and the FetchHashes `x-functions-key`.",
        parameters=[
            OpenApiParameter("startTimestamp", OpenApiTypes.INT, description="Unix seconds (default 10)"),
            OpenApiParameter("pageSize", OpenApiTypes.INT, description="default 800, at most 1,000"),
            OpenApiParameter("nextPageToken", OpenApiTypes.STR),
        ],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("Last page", response_only=True, status_codes=["200"], value={
            "count": 1, "nextPageToken": "", "nextSetTimestamp": 1779271140, "hasMoreRecords": False,
            "hashRecords": [RECORD_EXAMPLE]})],
        tags=["stopncii"],
    )
    def get(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        # A client asking for more than we serve at once gets a full page and pages on, as with any cap.
        size = min(query.get("pageSize", 800), settings.PARTNER_STOPNCII_PAGE_MAX)
        since = datetime.fromtimestamp(query.get("startTimestamp", 10), tz=UTC)
        principal = self.principal(request)
        page = changes_page(store=self.bank(), since=since, cursor=query.get("nextPageToken", ""), limit=size,
                            signal_types=tuple(STOPNCII_TYPES))
        own = _own_feedback(principal.partner_id, [c.entry_id for c in page.changes], principal.grant.partner_name)
        records = [_record(c, own.get(c.entry_id)) for c in page.changes]
        return Response({
            "count": len(records),
            "nextPageToken": page.next_cursor,
            "nextSetTimestamp": page.checkpoint,
            "hasMoreRecords": page.has_more,
            "hashRecords": records,
        })


def _find_by_value(store: HashBank, values: Sequence[str]) -> dict[str, BankEntryRef]:
    """SubmitFeedback names no signal type: 32 hex digits is a video's MD5 (or, failing that, an image's), 64 is
    PDQ (or, failing that, SHA-256, then a vPDQ key)."""
    found: dict[str, BankEntryRef] = {}
    by_length: dict[int, list[str]] = {}
    for value in values:
        by_length.setdefault(len(value), []).append(value)
    if by_length.get(32):
        found.update(store.entries_find(signal_type=SignalType.VIDEO_MD5, values=by_length[32]))
        rest = [v for v in by_length[32] if v not in found]
        if rest:
            found.update(store.entries_find(signal_type=SignalType.MD5, values=rest))
    if by_length.get(64):
        found.update(store.entries_find(signal_type=SignalType.PDQ, values=by_length[64]))
        rest = [v for v in by_length[64] if v not in found]
        if rest:
            found.update(store.entries_find(signal_type=SignalType.SHA256, values=rest))
        rest = [v for v in by_length[64] if v not in found]
        if rest:
            found.update(store.entries_find(signal_type=SignalType.VPDQ, values=rest))
    return found


def _hex_clean(value: str) -> str:
    text = value.strip().lower()
    if len(text) not in (32, 64) or any(c not in "0123456789abcdef" for c in text):
        raise serializers.ValidationError("hashValue is an MD5 (32 hex) or PDQ (64 hex) hash", code="invalid_hash")
    return text


class _CSPFeedbackInput(serializers.Serializer):
    feedbackValue = serializers.CharField(max_length=20)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)

    def validate_feedbackValue(self, value: str) -> str:
        if value not in STOPNCII_FEEDBACK_VALUES:
            raise serializers.ValidationError(f"feedbackValue is one of {', '.join(STOPNCII_FEEDBACK_VALUES)}",
                                              code="unknown_feedback_value")
        return value


def _count_check(attrs: dict[str, Any], key: str) -> dict[str, Any]:
    if attrs["count"] != len(attrs[key]):
        raise serializers.ValidationError({"count": serializers.ErrorDetail(
            f"count says {attrs['count']} but {len(attrs[key])} items were sent", code="count_mismatch")})
    if len(attrs[key]) > settings.PARTNER_BATCH_MAX:
        raise serializers.ValidationError({key: serializers.ErrorDetail(
            f"at most {settings.PARTNER_BATCH_MAX} items a call", code="batch_too_large")})
    return attrs


class SubmitFeedbackView(StopNCIIAPIView):
    required_scope = Scope.FEEDBACK
    stopncii_function = StopNCIIFunction.SUBMIT_FEEDBACK

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StopNCIISubmitFeedbackRequest"

        class HashFeedback(_CSPFeedbackInput):
            hashValue = serializers.CharField(max_length=100)

            def validate_hashValue(self, value: str) -> str:
                return _hex_clean(value)

        count = serializers.IntegerField(min_value=0)
        hashFeedbacks = HashFeedback(many=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            return _count_check(attrs, "hashFeedbacks")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StopNCIISubmitFeedbackResponse"

        count = serializers.IntegerField()
        accepted = serializers.IntegerField()
        unknownHashes = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="stopncii_submit_feedback",
        summary="StopNCII SubmitFeedback",
        description="Feedback on hashes by value (no signal type, as the StopNCII client sends it): "
                    "feedbackValue is None, QualityUnknown, PendingReview, Blocked, NotBlocked, Withdrawn or "
                    "Deleted. Hashes the bank does not hold are listed in `unknownHashes` and otherwise ignored. "
                    "Headers: `Ocp-Apim-Subscription-Key` and the SubmitFeedback `x-functions-key`.",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Blocked", request_only=True, value={"count": 1, "hashFeedbacks": [
                {"hashValue": EXAMPLE_PDQ, "feedbackValue": "Blocked", "tags": ["upload-filter"]}]}),
            OpenApiExample("Accepted", response_only=True, status_codes=["200"],
                           value={"count": 1, "accepted": 1, "unknownHashes": []}),
        ],
        tags=["stopncii"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = data.validated_data["hashFeedbacks"]
        found = _find_by_value(self.bank(), [item["hashValue"] for item in items])
        known = [(found[i["hashValue"]], i["feedbackValue"], i.get("tags", [])) for i in items if i["hashValue"]
                 in found]
        unknown = sorted({i["hashValue"] for i in items if i["hashValue"] not in found})
        if known:
            feedback_record_many(partner=self.partner(request), items=known,
                                 channel=PartnerFeedback.Channel.STOPNCII)
        return Response({"count": len(items), "accepted": len(known), "unknownHashes": unknown})


class SubmitHashesView(StopNCIIAPIView):
    required_scope = Scope.SUBMIT
    stopncii_function = StopNCIIFunction.SUBMIT_HASHES

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StopNCIISubmitHashesRequest"

        class HashRecord(serializers.Serializer):
            lastModtimestamp = serializers.IntegerField(required=False)
            signalType = serializers.CharField(max_length=60)
            hashValue = serializers.CharField(max_length=100)
            hashStatus = serializers.CharField(required=False, max_length=20)
            CSPFeedbacks = _CSPFeedbackInput(many=True, required=False)

            def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
                signal_type = FROM_STOPNCII.get(attrs["signalType"])
                if signal_type is None:
                    raise serializers.ValidationError({"signalType": serializers.ErrorDetail(
                        "signalType is ImagePDQ or VideoMD5", code="unsupported_signal_type")})
                value = attrs["hashValue"].strip().lower()
                expected = 64 if signal_type == SignalType.PDQ else 32
                if len(value) != expected or any(c not in "0123456789abcdef" for c in value):
                    raise serializers.ValidationError({"hashValue": serializers.ErrorDetail(
                        f"a {attrs['signalType']} hash is {expected} hexadecimal characters", code="invalid_hash")})
                attrs["signal_type"] = signal_type
                attrs["hashValue"] = value
                return attrs

        count = serializers.IntegerField(min_value=0)
        hashRecords = HashRecord(many=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            return _count_check(attrs, "hashRecords")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StopNCIISubmitHashesResponse"

        count = serializers.IntegerField()
        accepted = serializers.IntegerField()

    @extend_schema(
        operation_id="stopncii_submit_hashes",
        summary="StopNCII SubmitHashes",
        description="Hashes a partner found itself. They enter the bank as Received and reach other partners only "
                    "after a moderator confirms them. `signalType` may be spelled `ImagePDQ` or, as the Python "
                    "client sends it, `StopNCIISignalType.ImagePDQ`; `hashStatus` may be left out. Headers: "
                    "`Ocp-Apim-Subscription-Key` and the SubmitHashes `x-functions-key`.",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("As the Python client sends it", request_only=True, value={"count": 1, "hashRecords": [{
                "lastModtimestamp": 1779271170, "signalType": "StopNCIISignalType.ImagePDQ", "hashValue": EXAMPLE_PDQ,
                "CSPFeedbacks": [{"tags": [], "feedbackValue": "Blocked"}]}]}),
            OpenApiExample("Accepted", response_only=True, status_codes=["200"], value={"count": 1, "accepted": 1}),
        ],
        tags=["stopncii"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        records = data.validated_data["hashRecords"]
        partner = self.partner(request)
        try:
            entry_submit_by_partner(
                partner=partner, store=self.bank(),
                items=[(r["signal_type"], r["hashValue"], [(f["feedbackValue"], f.get("tags", []))
                                                          for f in r.get("CSPFeedbacks", [])]) for r in records],
            )
        except PartnerError as exc:
            raise ApiError(exc.code, str(exc)) from None
        return Response({"count": len(records), "accepted": len(records)})
