"""`check --deploy` refuses a deployment without its secrets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register(deploy=True)
def secrets_configured(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not settings.EVIDENCE_KEYS and not settings.DEBUG:
        errors.append(Error("EVIDENCE_KEYS is not set: evidence cannot be encrypted", id="takedown.E001"))
    return errors
