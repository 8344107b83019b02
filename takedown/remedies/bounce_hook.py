"""POST /hooks/remedies/bounce: a DSN (RFC 3464) as the body, for mail services that forward bounces over HTTP.

Authorised by `Authorization: Bearer <REMEDIES_BOUNCE_WEBHOOK_TOKEN>`; the path does not exist (404) while the
token is unset. Answers 200 with what was recorded, 400 for a body that is no DSN, 413 past the size limit.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from takedown.core.audit import Actor
from takedown.remedies.bounces import DsnError
from takedown.remedies.services import remedies_bounce_record


@csrf_exempt  # a machine caller with a bearer token, no browser session
@require_POST
def bounce_webhook(request: HttpRequest) -> HttpResponse:
    token = settings.REMEDIES_BOUNCE_WEBHOOK_TOKEN
    if not token:
        raise Http404
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return JsonResponse({"error": {"code": "invalid_token", "message": "a valid bearer token is required"}},
                            status=401, headers={"WWW-Authenticate": "Bearer"})
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.REMEDIES_BOUNCE_MAX_BYTES:
        return JsonResponse({"error": {"code": "too_large", "message": "the DSN is too large"}}, status=413)
    raw = request.body
    try:
        result = remedies_bounce_record(raw=raw, actor=Actor.system())
    except DsnError as exc:
        return JsonResponse({"error": {"code": "not_a_dsn", "message": str(exc)}}, status=400)
    return JsonResponse({"matched": result.matched, "bounced": [str(i) for i in result.bounced],
                         "delayed": result.delayed})
