"""Meta HMA's lookup shape, so a platform that calls HMA can point at us: `GET /m/lookup`.

HMA answers `{BANK_NAME: [{"bank_content_id": int, "distance": "str"}]}` for the banks that matched (an empty
object when none did). We have one bank, named by settings.PARTNER_HMA_BANK_NAME. Unlike HMA we need an API key
with the `lookup` scope.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from takedown.api.base import PartnerAPIView
from takedown.api.hashes import hash_clean, max_distance_clean
from takedown.api.lookup import EXAMPLE_PDQ
from takedown.api.schema import ERROR_RESPONSES
from takedown.partners.bank import SIGNAL_HEX_LENGTH, SignalType
from takedown.partners.models import Scope
from takedown.partners.services import matchable_statuses

# HMA's signal type names, and ours.
# HMA's video_md5 is the MD5 of a video file, ours too. vPDQ is looked up by its frames (/api/v1/lookup/vpdq).
HMA_SIGNAL_TYPES = {t: t for t in SIGNAL_HEX_LENGTH if t != SignalType.VPDQ}


class HMALookupView(PartnerAPIView):
    required_scope = Scope.LOOKUP

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HMALookupRequest"

        signal_type = serializers.CharField(max_length=20)
        signal = serializers.CharField(max_length=200)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            signal_type = HMA_SIGNAL_TYPES.get(attrs["signal_type"].strip().lower())
            if signal_type is None:
                raise serializers.ValidationError({"signal_type": serializers.ErrorDetail(
                    f"unknown signal type; use one of {', '.join(HMA_SIGNAL_TYPES)}", code="unknown_signal_type")})
            try:
                value = hash_clean(signal_type, attrs["signal"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"signal": exc.detail}) from None
            return {"signal_type": signal_type, "signal": value}

    @extend_schema(
        operation_id="hma_lookup",
        summary="HMA-compatible lookup",
        description="Meta HMA's `/m/lookup` answer shape: matching bank name to a list of "
                    "`{bank_content_id, distance}` (distance as a string, as HMA writes it). Signal types: pdq, "
                    "video_md5 (and our md5, sha256, phash, dhash). Needs an API key with the `lookup` scope.",
        parameters=[
            OpenApiParameter("signal_type", OpenApiTypes.STR, required=True, enum=list(HMA_SIGNAL_TYPES)),
            OpenApiParameter("signal", OpenApiTypes.STR, required=True, description="the hash, hexadecimal",
                             pattern="^[0-9a-fA-F]{16,64}$"),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERROR_RESPONSES},
        examples=[OpenApiExample("A match", response_only=True, status_codes=["200"],
                                 value={"TAKEDOWN": [{"bank_content_id": 4182, "distance": "3"}]}),
                  OpenApiExample("Request", request_only=True, value={"signal_type": "pdq", "signal": EXAMPLE_PDQ})],
        tags=["hma"],
    )
    def get(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        distance = max_distance_clean(query["signal_type"], None)
        matches = self.bank().lookup(signal_type=query["signal_type"], values=[query["signal"]],
                                     max_distance=distance, statuses=matchable_statuses())[0]
        if not matches:
            return Response({})
        return Response({settings.PARTNER_HMA_BANK_NAME: [
            {"bank_content_id": m.entry_id, "distance": str(m.distance)} for m in matches]})
