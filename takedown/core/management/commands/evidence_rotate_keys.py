from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction

from takedown.core.evidence import evidence_names_on_disk, evidence_reencrypt
from takedown.core.fields import EncryptedTextField


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every concrete model with encrypted fields, whichever app declares it (core names none of them)."""
    found = []
    for model in apps.get_models():
        names = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if names and not model._meta.proxy:
            found.append((model, names))
    return found


class Command(BaseCommand):
    help = (
        "Re-encrypt every evidence file and encrypted field under the first key of EVIDENCE_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        files = sum(1 for name in evidence_names_on_disk() if evidence_reencrypt(name))
        rows = 0
        # The field decrypts with whichever key wrote it and encrypts with the first key on the way back.
        for model, names in encrypted_fields():
            for row in model._default_manager.only("pk", *names).iterator(chunk_size=200):
                with transaction.atomic():
                    model._default_manager.filter(pk=row.pk).update(**{name: getattr(row, name) for name in names})
                rows += 1
        rows += _sent_messages_reencrypt()
        self.stdout.write(f"re-encrypted {files} evidence files and {rows} rows")


def _sent_messages_reencrypt() -> int:
    """Rows whose model encrypts its own payload (e.g. the stored bytes of sent messages) declare
    `evidence_reencrypt_all()`; core finds them through the app registry, importing no app of its own."""
    rows = 0
    for model in apps.get_models():
        reencrypt = getattr(model, "evidence_reencrypt_all", None)
        if callable(reencrypt):
            rows += int(reencrypt())
    return rows
