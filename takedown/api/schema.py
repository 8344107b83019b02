"""OpenAPI pieces shared by every endpoint: the error body, the error responses, the security schemes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer("Error", fields={
    "error": inline_serializer("ErrorBody", fields={
        "code": serializers.CharField(help_text="machine-readable: invalid_hash, unknown_signal_type, "
                                                "batch_too_large, malformed_json, unsupported_media_type, "
                                                "not_authenticated, invalid_key, key_revoked, key_expired, "
                                                "insufficient_scope, rate_limited, ..."),
        "message": serializers.CharField(),
        "fields": serializers.DictField(required=False, child=serializers.ListField(child=serializers.DictField())),
    }),
})


def _error(description: str, code: str, message: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description, examples=[
        OpenApiExample(code, value={"error": {"code": code, "message": message}})])


ERROR_RESPONSES: dict[int, Any] = {
    400: _error("Bad input", "invalid_hash", "hash: a pdq hash is 64 hexadecimal characters"),
    401: _error("No key, or a key that is not valid, revoked or expired", "key_revoked", "the key has been revoked"),
    403: _error("The key lacks this endpoint's scope", "insufficient_scope", "this key may not use this endpoint"),
    415: _error("The body is not application/json", "unsupported_media_type", "send the body as application/json"),
    429: _error("Rate limit reached (see Retry-After)", "rate_limited", "too many requests"),
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "takedown.api.access.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "tdk_...",
                "description": "`Authorization: Bearer tdk_...` (an API key from `manage.py partner_create`)."}


class StopNCIIScheme(OpenApiAuthenticationExtension):
    target_class = "takedown.api.access.StopNCIIAuthentication"
    name = ["StopNCIISubscription", "StopNCIIFunction"]

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        return {"StopNCIISubscription": [], "StopNCIIFunction": []}

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key",
             "description": "the StopNCII subscription key"},
            {"type": "apiKey", "in": "header", "name": "x-functions-key",
             "description": "the function key issued for this endpoint"},
        ]


class PartnerAutoSchema(AutoSchema):
    """Each operation carries `x-required-scope`: the key scope it needs ("" when any partner key will do).

    Machine-readable, so clients and the authorization matrix (tests/security/test_authz_matrix.py) read who may
    call an operation from the schema itself instead of from its prose."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is not None:
            operation["x-required-scope"] = str(getattr(self.view, "required_scope", ""))
        return operation
