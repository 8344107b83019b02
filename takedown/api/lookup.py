"""Hash lookup, one at a time (GET) or up to PARTNER_BATCH_MAX at once (POST).

Served from memory: the key check is cached, the rate limit is one Redis round trip, and the bank answers from
its in-memory index and entry metadata. No database query on this path.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from takedown.api.base import PartnerAPIView
from takedown.api.hashes import hash_clean, lookup_signal_type_clean, max_distance_clean
from takedown.api.schema import ERROR_RESPONSES
from takedown.partners.bank import BankMatch
from takedown.partners.models import Scope
from takedown.partners.services import matchable_statuses

SIGNAL_TYPE_HELP = ("pdq (64 hex), md5 (32), sha256 (64), phash (16), dhash (16) or video_md5 (32); a video's vPDQ "
                    "is looked up by its frames at /api/v1/lookup/vpdq")
EXAMPLE_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


class MatchSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField(help_text="The bank entry's id (use it in feedback and to follow sync).")
    distance = serializers.IntegerField(help_text="Hamming distance in bits (0 for exact types).")
    status = serializers.ChoiceField(choices=["Received", "Active", "Withdrawn", "Deleted"])
    first_seen = serializers.DateTimeField()
    quality = serializers.IntegerField(allow_null=True, help_text="PDQ quality 0-100 of the banked hash.")


def match_json(match: BankMatch) -> dict[str, Any]:
    return {
        "entry_id": match.entry_id,
        "distance": match.distance,
        "status": match.status,
        "first_seen": match.first_seen.isoformat().replace("+00:00", "Z"),
        "quality": match.quality,
    }


MATCH_EXAMPLE = {"entry_id": 4182, "distance": 3, "status": "Active", "first_seen": "2026-05-19T08:12:44Z",
                 "quality": 94}


def lookup_params(params: Any) -> dict[str, Any]:
    """The single lookup's query, checked as InputSerializer would but without building a serializer (a quarter
    of the request's time on this, the busiest endpoint)."""
    errors: dict[str, Any] = {}
    for name in ("signal_type", "hash"):
        if not params.get(name):
            errors[name] = [serializers.ErrorDetail("This field is required.", code="required")]
    if errors:
        raise serializers.ValidationError(errors)
    try:
        signal_type = lookup_signal_type_clean(params["signal_type"][:40])
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"signal_type": exc.detail}) from None
    try:
        value = hash_clean(signal_type, params["hash"].strip())
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"hash": exc.detail}) from None
    raw_distance = params.get("max_distance")
    distance: int | None = None
    if raw_distance not in (None, ""):
        try:
            distance = int(raw_distance)
        except ValueError:
            raise serializers.ValidationError({"max_distance": [serializers.ErrorDetail(
                "A valid integer is required.", code="invalid")]}) from None
    try:
        distance = max_distance_clean(signal_type, distance)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"max_distance": exc.detail}) from None
    return {"signal_type": signal_type, "hash": value, "max_distance": distance}


class LookupView(PartnerAPIView):
    required_scope = Scope.LOOKUP

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LookupRequest"

        signal_type = serializers.CharField(max_length=20, help_text=SIGNAL_TYPE_HELP)
        hash = serializers.CharField(max_length=200, help_text="The hash, hexadecimal.")
        max_distance = serializers.IntegerField(required=False, help_text="pdq: 0-31 (default 31); "
                                                "phash/dhash: 0-10 (default 8); md5/sha256: exact only.")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            try:
                signal_type = lookup_signal_type_clean(attrs["signal_type"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"signal_type": exc.detail}) from None
            try:
                value = hash_clean(signal_type, attrs["hash"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"hash": exc.detail}) from None
            try:
                distance = max_distance_clean(signal_type, attrs.get("max_distance"))
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"max_distance": exc.detail}) from None
            return {"signal_type": signal_type, "hash": value, "max_distance": distance}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LookupResponse"

        signal_type = serializers.CharField()
        hash = serializers.CharField()
        matches = MatchSerializer(many=True)

    @extend_schema(
        operation_id="lookup",
        summary="Look one hash up",
        description="Entries of the bank within `max_distance` of the hash, nearest first. Only entries a partner "
                    "should block are returned (Active). PDQ is also matched against the dihedral variants "
                    "(rotations and flips) of every banked image. Needs the `lookup` scope.",
        parameters=[
            OpenApiParameter("signal_type", OpenApiTypes.STR, required=True, description=SIGNAL_TYPE_HELP,
                             enum=["pdq", "md5", "sha256", "phash", "dhash", "video_md5"]),
            OpenApiParameter("hash", OpenApiTypes.STR, required=True, description="hexadecimal hash",
                             pattern="^[0-9a-fA-F]{16,64}$"),
            OpenApiParameter("max_distance", OpenApiTypes.INT, required=False,
                             description="pdq 0-31, phash/dhash 0-10"),
        ],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("A match", response_only=True, status_codes=["200"],
                                 value={"signal_type": "pdq", "hash": EXAMPLE_PDQ, "matches": [MATCH_EXAMPLE]})],
        tags=["lookup"],
    )
    def get(self, request: Request) -> Response:
        query = lookup_params(request.query_params)
        results = self.bank().lookup(signal_type=query["signal_type"], values=[query["hash"]],
                                     max_distance=query["max_distance"], statuses=matchable_statuses())
        return Response({"signal_type": query["signal_type"], "hash": query["hash"],
                         "matches": [match_json(m) for m in results[0]]})


class LookupBatchView(PartnerAPIView):
    required_scope = Scope.LOOKUP

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LookupBatchRequest"

        signal_type = serializers.CharField(max_length=20, help_text=SIGNAL_TYPE_HELP)
        hashes = serializers.ListField(child=serializers.CharField(max_length=200),
                                       help_text="1 to 1,000 hashes of that type, hexadecimal.")
        max_distance = serializers.IntegerField(required=False, help_text="as for a single lookup")

        def validate_hashes(self, value: list[str]) -> list[str]:
            if not value:
                raise serializers.ValidationError("send at least one hash", code="empty_batch")
            if len(value) > settings.PARTNER_BATCH_MAX:
                raise serializers.ValidationError(
                    f"at most {settings.PARTNER_BATCH_MAX} hashes a call", code="batch_too_large")
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            try:
                signal_type = lookup_signal_type_clean(attrs["signal_type"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"signal_type": exc.detail}) from None
            clean: list[str] = []
            errors: dict[int, Any] = {}
            for index, value in enumerate(attrs["hashes"]):
                try:
                    clean.append(hash_clean(signal_type, value))
                except serializers.ValidationError as exc:
                    errors[index] = exc.detail
            if errors:
                raise serializers.ValidationError(
                    {"hashes": [errors.get(i, []) for i in range(len(attrs["hashes"]))]})
            try:
                distance = max_distance_clean(signal_type, attrs.get("max_distance"))
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"max_distance": exc.detail}) from None
            return {"signal_type": signal_type, "hashes": clean, "max_distance": distance}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LookupBatchResponse"

        signal_type = serializers.CharField()
        results = inline_serializer("BatchResult", fields={
            "hash": serializers.CharField(), "matches": MatchSerializer(many=True)}, many=True)

    @extend_schema(
        operation_id="lookup_batch",
        summary="Look up to 1,000 hashes of one type up",
        description="One result per hash, in the order sent. Needs the `lookup` scope. A batch with any malformed "
                    "hash is refused whole (400 `invalid_hash`, with the positions in `fields`).",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Two PDQ hashes", request_only=True,
                           value={"signal_type": "pdq", "hashes": [EXAMPLE_PDQ, "0" * 64], "max_distance": 31}),
            OpenApiExample("Results", response_only=True, status_codes=["200"], value={
                "signal_type": "pdq",
                "results": [{"hash": EXAMPLE_PDQ, "matches": [MATCH_EXAMPLE]}, {"hash": "0" * 64, "matches": []}]}),
        ],
        tags=["lookup"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        results = self.bank().lookup(signal_type=query["signal_type"], values=query["hashes"],
                                     max_distance=query["max_distance"], statuses=matchable_statuses())
        return Response({
            "signal_type": query["signal_type"],
            "results": [{"hash": value, "matches": [match_json(m) for m in matches]}
                        for value, matches in zip(query["hashes"], results, strict=True)],
        })
