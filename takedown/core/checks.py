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
    errors += export_tsa_configured()
    return errors


def export_tsa_configured() -> list[CheckMessage]:
    """Court exports are stamped by a third party unless the operator says, in so many words, that its own is fine.

    The local TSA is the operator vouching for its own clock; a court may not accept that. It stays possible (an
    operator with no network) but never by default: EXPORT_TSA_LOCAL_ACCEPTED=true states the choice, and the
    published export keys (/.well-known/takedown-export-keys) say so to anyone checking a file.
    """
    if settings.DEBUG or settings.EXPORT_TSA_URL or settings.EXPORT_TSA_LOCAL_ACCEPTED:
        return []
    return [Error(
        "EXPORT_TSA_URL is not set: court exports would be time-stamped by the operator's own local TSA",
        hint="Set EXPORT_TSA_URL to a public RFC 3161 authority (and EXPORT_TSA_CA_FILE to its CA certificates), or "
             "set EXPORT_TSA_LOCAL_ACCEPTED=true to state that the local TSA is accepted.",
        id="takedown.E002")]


@register()
def detector_threshold_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    # The detector refuses such a threshold at load (off, with the reason in /healthz); say so at startup too.
    threshold = settings.DETECTOR_THRESHOLD
    if threshold is not None and not 0.0 < threshold < 1.0:
        return [Warning(f"DETECTOR_THRESHOLD={threshold} is outside (0, 1): the detector refuses it and stays off",
                        id="takedown.W001")]
    return []
