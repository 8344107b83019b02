"""The base of every partner endpoint: key authentication, one scope, a per-key rate limit, JSON in and out."""

from __future__ import annotations

from typing import ClassVar

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
from takedown.partners.bank import HashBank, bank
from takedown.partners.models import Partner


class PartnerAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [PartnerRateThrottle]
    parser_classes = [JSONParser]
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
