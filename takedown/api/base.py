"""The base of every partner endpoint: key authentication, one scope, a per-key rate limit, JSON in and out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from takedown.api.access import (
    ApiKeyAuthentication,
    HasScope,
    PartnerPrincipal,
    PartnerRateThrottle,
    StopNCIIAuthentication,
)
from takedown.api.errors import BankUnavailable
from takedown.api.schema import PartnerAutoSchema
from takedown.partners.bank import HashBank, bank
from takedown.partners.models import Partner


class PartnerJSONParser(JSONParser):
    """DRF's JSON parser, which only turns ValueError into a 400: a body nested deeper than the decoder's recursion
    limit (`[[[[...`, a few kilobytes) raises RecursionError and was a 500."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None


class PartnerAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [PartnerRateThrottle]
    parser_classes = [PartnerJSONParser]
    schema = PartnerAutoSchema()
    renderer_classes = [JSONRenderer]
    required_scope: ClassVar[str] = ""

    def principal(self, request: Request) -> PartnerPrincipal:
        principal = request.user
        assert isinstance(principal, PartnerPrincipal)  # HasScope let only partners through
        return principal

    def partner(self, request: Request) -> Partner:
        """The caller's partner row, for writes (lookups only need the principal, read from memory)."""
        return Partner.objects.get(pk=self.principal(request).partner_id)

    def bank(self) -> HashBank:
        try:
            return bank()
        except (ImportError, RuntimeError) as exc:
            raise BankUnavailable() from exc


class StopNCIIAPIView(PartnerAPIView):
    authentication_classes = [StopNCIIAuthentication]
    stopncii_function: ClassVar[str] = ""
