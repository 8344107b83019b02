"""`GET /api/v1/me`: what the presented key is (a quick way for a partner to check its set-up)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from takedown.api.access import PartnerPrincipal
from takedown.api.base import PartnerAPIView
from takedown.api.schema import ERROR_RESPONSES


class AnyPartner(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, PartnerPrincipal)


class MeView(PartnerAPIView):
    permission_classes = [AnyPartner]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MeResponse"

        partner_id = serializers.UUIDField()
        partner = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())
        rate_limit_per_minute = serializers.IntegerField()
        expires_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        operation_id="me",
        summary="The calling key",
        description="The partner the key belongs to, its scopes, its rate limit and, for a rotated key, when it "
                    "stops working. Any valid key may call it.",
        responses={200: OutputSerializer, **{k: v for k, v in ERROR_RESPONSES.items() if k in (401, 429)}},
        examples=[OpenApiExample("A key", response_only=True, status_codes=["200"], value={
            "partner_id": "5d1c3b2a-0f9e-4d8c-b7a6-e5d4c3b2a190", "partner": "Example Social",
            "scopes": ["lookup", "fetch", "feedback"], "rate_limit_per_minute": 6000, "expires_at": None})],
        tags=["keys"],
    )
    def get(self, request: Request) -> Response:
        grant = self.principal(request).grant
        body: dict[str, Any] = {
            "partner_id": grant.partner_id, "partner": grant.partner_name, "scopes": sorted(grant.scopes),
            "rate_limit_per_minute": grant.rate_limit_per_minute, "expires_at": grant.expires_at,
        }
        return Response(body)
