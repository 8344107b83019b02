"""A text field stored encrypted with the evidence keyring (contact details, signatures, free text)."""

from __future__ import annotations

from typing import Any

from django.db import models

from takedown.core import crypto


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with AES-256-GCM"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt_text(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt_text(str(value))
