"""Refuse to serve or work without the production secrets (outside DEBUG): called by wsgi, asgi and the worker."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def startup_check() -> None:
    if settings.DEBUG or settings.TESTING:
        return
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django itself refuses to read an empty key
        secret_key = ""
    if not secret_key:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is required unless DEBUG=true")
    if not settings.EVIDENCE_KEYS:
        raise ImproperlyConfigured("EVIDENCE_KEYS (or EVIDENCE_KEYS_FILE) is required unless DEBUG=true")
