"""One error shape for the whole partner API: `{"error": {"code", "message", "fields"?}}` and a 4xx.

Codes are stable and machine-readable (clients branch on them); messages are for people. Bad input of any kind
is answered here with a 4xx; only a bug reaches a 500, and then without any detail of the request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with a code of ours: raise it from views and serializers' callers."""

    def __init__(self, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.headers = headers or {}


class BankUnavailable(ApiError):
    def __init__(self, message: str = "the hash bank is not available yet; retry shortly") -> None:
        super().__init__("bank_unavailable", message, status.HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": "5"})


# Codes a field error may carry that are ours (see serializers); anything else is reported as invalid_request.
FIELD_ERROR_CODES = frozenset({
    "invalid_hash", "unknown_signal_type", "batch_too_large", "invalid_max_distance", "invalid_timestamp",
    "invalid_cursor", "invalid_limit", "unknown_feedback_value", "note_too_long", "count_mismatch",
    "unsupported_signal_type", "empty_batch", "invalid_tags", "required", "invalid_page_size",
    "invalid_threshold",
})


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """(field path, code, message) for every leaf of a DRF ValidationError detail."""
    out: list[tuple[str, str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = key if not prefix else (f"{prefix}.{key}" if key != "non_field_errors" else prefix)
            out.extend(_flatten(value, path))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append((prefix, getattr(item, "code", "invalid"), str(item)))
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(_flatten(item, f"{prefix}[{index}]"))
    else:
        out.append((prefix, getattr(detail, "code", "invalid"), str(detail)))
    return out


def error_response(code: str, message: str, status_code: int, *, fields: dict[str, list[dict[str, str]]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=status_code, headers=headers)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return error_response("request_too_large", "the request body is too large", 413)
    elif isinstance(exc, SuspiciousOperation):
        return error_response("bad_request", "the request was refused", 400)
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = str(auth_header)
    wait = getattr(exc, "wait", None)
    if wait:
        headers["Retry-After"] = str(max(1, int(wait)))
    if isinstance(exc, ApiError):
        headers.update(exc.headers)
        return error_response(exc.error_code, str(exc.detail), exc.status_code, headers=headers)
    if isinstance(exc, exceptions.ValidationError):
        leaves = _flatten(exc.detail)
        fields: dict[str, list[dict[str, str]]] = {}
        for path, code, message in leaves:
            fields.setdefault(path or "request", []).append({"code": code, "message": message})
        first_code = next((code for _, code, _ in leaves if code in FIELD_ERROR_CODES), "invalid_request")
        if first_code == "required":
            first_code = "missing_field"
        first_message = leaves[0][2] if leaves else "the request is not valid"
        if leaves and leaves[0][0]:
            first_message = f"{leaves[0][0]}: {first_message}"
        return error_response(first_code, first_message, 400, fields=fields, headers=headers)
    mapping: dict[type[exceptions.APIException], tuple[str, str]] = {
        exceptions.NotAuthenticated: ("not_authenticated", "an API key is required"),
        exceptions.AuthenticationFailed: ("invalid_key", "the key is not valid"),
        exceptions.PermissionDenied: ("insufficient_scope", "this key may not use this endpoint"),
        exceptions.Throttled: ("rate_limited", "too many requests; retry after the time in Retry-After"),
        exceptions.ParseError: ("malformed_json", "the body is not valid JSON"),
        exceptions.UnsupportedMediaType: ("unsupported_media_type", "send the body as application/json"),
        exceptions.MethodNotAllowed: ("method_not_allowed", "this method is not allowed here"),
        exceptions.NotAcceptable: ("not_acceptable", "this endpoint answers in application/json only"),
        exceptions.NotFound: ("not_found", "not found"),
    }
    for cls, (code, message) in mapping.items():
        if isinstance(exc, cls):
            detail_code = exc.get_codes() if isinstance(exc.detail, str) else None
            # Authentication and permission failures carry their own reason (key_revoked, insufficient_scope).
            if isinstance(detail_code, str) and detail_code not in {
                "not_authenticated", "authentication_failed", "permission_denied", "throttled", "parse_error",
                "unsupported_media_type", "method_not_allowed", "not_acceptable", "not_found", "error",
            }:
                code, message = detail_code, str(exc.detail)
            return error_response(code, message, exc.status_code, headers=headers)
    return error_response("error", str(exc.detail), exc.status_code, headers=headers)
