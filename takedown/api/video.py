"""vPDQ lookup: is this video (its frame hashes) in the bank? One video (POST) or up to PARTNER_VPDQ_BATCH_MAX.

A vPDQ query is the list of a video's frame hashes, as Meta's vpdq computes them (one a second) and HMA writes
them: `"pdq,quality,second"` strings, objects `{pdq, quality, second}`, or bare PDQ hex (counted as quality 100).
The answer is HMA's: frames of quality below 50 and repeated hashes are dropped; a banked video matches when at
least `query_match_percent` of the query's frames (default 80) are within `max_distance` (default 31) of one of
its frames, and at least `compared_match_percent` of its frames (default 0) within it of one of the query's.
Both percentages come back with each match, so a partner can apply a stricter rule of its own.

A video's MD5 is looked up like any exact hash: `GET /api/v1/lookup?signal_type=video_md5&hash=...`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from detection.videomatch import (
    COMPARED_MATCH_PERCENT,
    DISTANCE_THRESHOLD,
    MAX_FEATURES,
    QUALITY_THRESHOLD,
    QUERY_MATCH_PERCENT,
    VpdqFeature,
    features_clean,
    prepared,
)
from takedown.api.base import PartnerAPIView
from takedown.api.lookup import EXAMPLE_PDQ
from takedown.api.schema import ERROR_RESPONSES
from takedown.partners.bank import VideoMatch
from takedown.partners.models import Scope
from takedown.partners.services import matchable_statuses

FRAME_HELP = ("A video's frames, in order: `\"pdq,quality,second\"` strings as HMA writes them, objects "
              f"`{{pdq, quality, second}}`, or bare PDQ hex (quality 100). At most {MAX_FEATURES:,} frames.")
EXAMPLE_FRAMES = [f"{EXAMPLE_PDQ},100,0.000",
                  "e0f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,94,1.000"]
VIDEO_MATCH_EXAMPLE = {"entry_id": 5120, "query_match_percent": 100.0, "compared_match_percent": 40.0,
                       "distance": 6, "status": "Active", "first_seen": "2026-05-19T08:12:44Z", "frames": 5}


class VideoMatchSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField(help_text="The bank entry's id (signal type vpdq).")
    query_match_percent = serializers.FloatField(help_text="Of the query's frames that count, the share within "
                                                 "max_distance of one of the banked video's frames.")
    compared_match_percent = serializers.FloatField(help_text="Of the banked video's frames that count, the share "
                                                    "within max_distance of one of the query's frames.")
    distance = serializers.IntegerField(help_text="The nearest pair of frames, in bits.")
    status = serializers.ChoiceField(choices=["Received", "Active", "Withdrawn", "Deleted"])
    first_seen = serializers.DateTimeField()
    frames = serializers.IntegerField(help_text="The banked video's frames that count (quality >= 50, distinct).")


def video_match_json(match: VideoMatch) -> dict[str, Any]:
    return {
        "entry_id": match.entry_id,
        "query_match_percent": round(match.query_match_percent, 3),
        "compared_match_percent": round(match.compared_match_percent, 3),
        "distance": match.distance,
        "status": match.status,
        "first_seen": match.first_seen.isoformat().replace("+00:00", "Z"),
        "frames": match.frames,
    }


def _frames_clean(value: Any) -> list[VpdqFeature]:
    if not isinstance(value, list):
        raise serializers.ValidationError("a video's vpdq is a list of frames", code="invalid_hash")
    try:
        return features_clean(value)
    except ValueError as exc:
        raise serializers.ValidationError(str(exc), code="invalid_hash") from None


def _rule_clean(attrs: dict[str, Any]) -> dict[str, Any]:
    distance = attrs.get("max_distance")
    if distance is None:
        distance = min(int(settings.PARTNER_PDQ_MAX_DISTANCE), DISTANCE_THRESHOLD)
    if not 0 <= distance <= settings.PARTNER_PDQ_DISTANCE_CAP:
        raise serializers.ValidationError({"max_distance": serializers.ErrorDetail(
            f"max_distance for vpdq is between 0 and {settings.PARTNER_PDQ_DISTANCE_CAP}",
            code="invalid_max_distance")})
    rule = {"max_distance": distance}
    for name, default in (("query_match_percent", QUERY_MATCH_PERCENT),
                          ("compared_match_percent", COMPARED_MATCH_PERCENT)):
        value = attrs.get(name, default)
        if not 0 <= value <= 100:
            raise serializers.ValidationError({name: serializers.ErrorDetail(
                f"{name} is between 0 and 100", code="invalid_threshold")})
        rule[name] = value
    return rule


class _RuleFields(serializers.Serializer):
    max_distance = serializers.IntegerField(required=False, help_text="PDQ distance per frame, 0-31 (default 31).")
    query_match_percent = serializers.FloatField(required=False, help_text="default 80 (HMA's)")
    compared_match_percent = serializers.FloatField(required=False, help_text="default 0 (HMA's)")


def _lookup(view: PartnerAPIView, videos: list[list[VpdqFeature]], rule: dict[str, Any]) -> list[dict[str, Any]]:
    results = view.bank().vpdq_lookup(videos=videos, max_distance=rule["max_distance"],
                                      statuses=matchable_statuses(), query_threshold=rule["query_match_percent"],
                                      compared_threshold=rule["compared_match_percent"])
    return [{"frames": len(prepared(features, QUALITY_THRESHOLD)), "matches": [video_match_json(m) for m in found]}
            for features, found in zip(videos, results, strict=True)]


_RESULT_FIELDS = {
    "frames": serializers.IntegerField(help_text="The query's frames that count (quality >= 50, distinct); "
                                       "with none, nothing can match."),
    "matches": VideoMatchSerializer(many=True),
}


class VpdqLookupView(PartnerAPIView):
    required_scope = Scope.LOOKUP

    class InputSerializer(_RuleFields):
        class Meta:
            ref_name = "VpdqLookupRequest"

        vpdq = serializers.ListField(child=serializers.JSONField(), help_text=FRAME_HELP)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            try:
                frames = _frames_clean(attrs["vpdq"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"vpdq": exc.detail}) from None
            return {"vpdq": frames, **_rule_clean(attrs)}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "VpdqLookupResponse"

        frames = _RESULT_FIELDS["frames"]
        matches = VideoMatchSerializer(many=True)

    @extend_schema(
        operation_id="lookup_vpdq",
        summary="Look one video up by its vPDQ frames",
        description="Banked videos (Active) that match the query by HMA's vPDQ rule, best first, each with the "
                    "query and compared match percentages. Needs the `lookup` scope.",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("A video's frames", request_only=True, value={"vpdq": EXAMPLE_FRAMES}),
            OpenApiExample("A match", response_only=True, status_codes=["200"],
                           value={"frames": 2, "matches": [VIDEO_MATCH_EXAMPLE]}),
        ],
        tags=["lookup"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        [result] = _lookup(self, [query["vpdq"]], query)
        return Response(result)


class VpdqLookupBatchView(PartnerAPIView):
    required_scope = Scope.LOOKUP

    class InputSerializer(_RuleFields):
        class Meta:
            ref_name = "VpdqLookupBatchRequest"

        videos = serializers.ListField(child=serializers.JSONField(),
                                       help_text="1 to PARTNER_VPDQ_BATCH_MAX (default 100) videos, each a list "
                                                 "of frames as for a single vPDQ lookup.")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            videos = attrs["videos"]
            if not videos:
                raise serializers.ValidationError({"videos": serializers.ErrorDetail(
                    "send at least one video", code="empty_batch")})
            if len(videos) > settings.PARTNER_VPDQ_BATCH_MAX:
                raise serializers.ValidationError({"videos": serializers.ErrorDetail(
                    f"at most {settings.PARTNER_VPDQ_BATCH_MAX} videos a call", code="batch_too_large")})
            clean: list[list[VpdqFeature]] = []
            errors: dict[int, Any] = {}
            for index, video in enumerate(videos):
                try:
                    clean.append(_frames_clean(video))
                except serializers.ValidationError as exc:
                    errors[index] = exc.detail
            if errors:
                raise serializers.ValidationError({"videos": [errors.get(i, []) for i in range(len(videos))]})
            return {"videos": clean, **_rule_clean(attrs)}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "VpdqLookupBatchResponse"

        results = inline_serializer("VpdqBatchResult", fields=_RESULT_FIELDS, many=True)

    @extend_schema(
        operation_id="lookup_vpdq_batch",
        summary="Look several videos up by their vPDQ frames",
        description="One result per video, in the order sent. A batch with any malformed video is refused whole "
                    "(400 `invalid_hash`, with the positions in `fields`). Needs the `lookup` scope.",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Two videos", request_only=True,
                           value={"videos": [EXAMPLE_FRAMES, [EXAMPLE_PDQ]], "query_match_percent": 80}),
            OpenApiExample("Results", response_only=True, status_codes=["200"], value={"results": [
                {"frames": 2, "matches": [VIDEO_MATCH_EXAMPLE]}, {"frames": 1, "matches": []}]}),
        ],
        tags=["lookup"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        return Response({"results": _lookup(self, query["videos"], query)})
