"""Who is calling and what they may do: key authentication, scopes and per-key rate limits for DRF views.

Native endpoints take `Authorization: Bearer tdk_...` (or `X-API-Key: tdk_...`). The StopNCII-compatible
endpoints take StopNCII's two headers, `Ocp-Apim-Subscription-Key` and `x-functions-key`; the function key
must be the one issued for that very endpoint, to the same partner as the subscription key.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from takedown.core.http import client_address
from takedown.core.ratelimit import ratelimit_hit, ratelimit_peek
from takedown.partners.auth import KeyGrant, KeyRejected, key_authenticate, key_is_cached
from takedown.partners.models import PartnerKey


class PartnerPrincipal:
    """Stands in for request.user: the partner a key speaks for. Never a Django user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, grant: KeyGrant, *, rate_key_id: uuid.UUID | None = None) -> None:
        self.grant = grant
        # The StopNCII endpoints count requests against the subscription key, not the per-endpoint key.
        self.rate_key_id = rate_key_id or grant.key_id

    @property
    def partner_id(self) -> uuid.UUID:
        return self.grant.partner_id

    @property
    def scopes(self) -> frozenset[str]:
        return self.grant.scopes

    def __str__(self) -> str:
        return f"partner {self.grant.partner_id}"


AUTH_FAILURE_SCOPE = "partner-auth-failure"


def _authenticate(request: Request, plaintext: str, **kwargs: Any) -> KeyGrant:
    """key_authenticate, with a per-address limit on wrong keys: a client trying made-up keys is answered 429
    before its guesses cost database queries (known keys are answered from memory and never wait on this)."""
    address = client_address(request)
    limit = settings.PARTNER_AUTH_FAILURES_PER_MINUTE
    if not key_is_cached(plaintext):
        decision = ratelimit_peek(scope=AUTH_FAILURE_SCOPE, subject=address, limit=limit, window=60)
        if not decision.allowed:
            raise exceptions.Throttled(wait=decision.retry_after)
    try:
        return key_authenticate(plaintext, **kwargs)
    except KeyRejected as exc:
        if exc.code in ("invalid_key", "invalid_function_key"):
            ratelimit_hit(scope=AUTH_FAILURE_SCOPE, subject=address, limit=limit, window=60)
        raise exceptions.AuthenticationFailed(str(exc), code=exc.code) from None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, KeyGrant] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise exceptions.AuthenticationFailed("use: Authorization: Bearer <key>", code="invalid_key")
            plaintext = value.strip()
        else:
            plaintext = request.META.get("HTTP_X_API_KEY", "").strip()
        if not plaintext:
            return None
        grant = _authenticate(request, plaintext, kind=PartnerKey.Kind.API)
        return PartnerPrincipal(grant), grant

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="takedown"'


class StopNCIIAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, KeyGrant] | None:
        subscription = request.META.get("HTTP_OCP_APIM_SUBSCRIPTION_KEY", "").strip()
        function_key = request.META.get("HTTP_X_FUNCTIONS_KEY", "").strip()
        if not subscription and not function_key:
            return None
        if not subscription or not function_key:
            raise exceptions.AuthenticationFailed(
                "both Ocp-Apim-Subscription-Key and x-functions-key are required", code="missing_key")
        view = request.parser_context.get("view") if request.parser_context else None
        function = str(getattr(view, "stopncii_function", ""))
        subscription_grant = _authenticate(request, subscription, kind=PartnerKey.Kind.STOPNCII_SUBSCRIPTION)
        grant = _authenticate(request, function_key, kind=PartnerKey.Kind.STOPNCII_FUNCTION, function=function)
        if grant.partner_id != subscription_grant.partner_id:
            raise exceptions.AuthenticationFailed("the function key belongs to another subscription",
                                                  code="invalid_function_key")
        return PartnerPrincipal(grant, rate_key_id=subscription_grant.key_id), grant

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="Ocp-Apim-Subscription-Key"'


class HasScope(BasePermission):
    """The key must carry the view's `required_scope`."""

    message = "this key may not use this endpoint"
    code = "insufficient_scope"

    def has_permission(self, request: Request, view: APIView) -> bool:
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return False
        return str(getattr(view, "required_scope", "")) in principal.scopes


class _Budget:
    """Requests this process may still serve for one key in the current window, claimed from the shared count."""

    __slots__ = ("bucket", "remaining")

    def __init__(self, bucket: int, remaining: int) -> None:
        self.bucket = bucket
        self.remaining = remaining


_budgets: dict[uuid.UUID, _Budget] = {}
_budgets_lock = threading.Lock()
WINDOW_SECONDS = 60


def _chunk(limit: int) -> int:
    """Requests claimed per round trip: 1 (exact) for small limits; for large ones a chunk small enough that the
    limit is exceeded by under 0.5% across processes, and at most 20 so a quiet process wastes little."""
    return max(1, min(20, limit // 200))


class PartnerRateThrottle(BaseThrottle):
    """Per-key fixed-window limit counted atomically in the shared cache (INCR in Redis): 429 with Retry-After.

    A busy key would cost a Redis round trip on every lookup; instead each process claims the key's budget in
    chunks (`_chunk`): one `ratelimit_hit` stands for that many requests, and the shared limit is divided by the
    chunk size. Small limits use chunks of one and are exact.
    """

    def __init__(self) -> None:
        self.retry_after = 1

    def allow_request(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return True
        limit = principal.grant.rate_limit_per_minute
        chunk = _chunk(limit)
        key_id = principal.rate_key_id
        bucket = int(time.time()) // WINDOW_SECONDS
        with _budgets_lock:
            budget = _budgets.get(key_id)
            if budget is not None and budget.bucket == bucket and budget.remaining > 0:
                budget.remaining -= 1
                return True
        decision = ratelimit_hit(scope=f"partner-api-{chunk}", subject=str(key_id),
                                 limit=math.ceil(limit / chunk), window=WINDOW_SECONDS)
        self.retry_after = decision.retry_after
        if not decision.allowed:
            return False
        with _budgets_lock:
            _budgets[key_id] = _Budget(bucket, chunk - 1)
        return True

    def wait(self) -> float:
        return float(self.retry_after)


def rate_budgets_forget() -> None:
    with _budgets_lock:
        _budgets.clear()
