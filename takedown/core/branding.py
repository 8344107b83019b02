"""The operator's branding in every template: the product name comes from the SITE_NAME setting."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def branding_context(request: HttpRequest) -> dict[str, str]:
    return {"SITE_NAME": settings.SITE_NAME}
