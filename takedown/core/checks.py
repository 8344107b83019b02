"""`check --deploy` refuses a deployment without its secrets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register(deploy=True)
def secrets_configured(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not settings.EVIDENCE_KEYS and not settings.DEBUG:
        errors.append(Error("EVIDENCE_KEYS is not set: evidence cannot be encrypted", id="takedown.E001"))
    return errors


@register()
def detector_threshold_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    # The detector refuses such a threshold at load (off, with the reason in /healthz); say so at startup too.
    threshold = settings.DETECTOR_THRESHOLD
    if threshold is not None and not 0.0 < threshold < 1.0:
        return [Warning(f"DETECTOR_THRESHOLD={threshold} is outside (0, 1): the detector refuses it and stays off",
                        id="takedown.W001")]
    return []
