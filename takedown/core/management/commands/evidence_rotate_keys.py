from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from takedown.cases.models import Case, Message
from takedown.core.evidence import evidence_names_on_disk, evidence_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every evidence file and encrypted field under the first key of EVIDENCE_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        files = sum(1 for name in evidence_names_on_disk() if evidence_reencrypt(name))
        rows = 0
        # The field decrypts with whichever key wrote it and encrypts with the first key on the way back.
        for case in Case.objects.iterator(chunk_size=200):
            with transaction.atomic():
                Case.objects.filter(pk=case.pk).update(
                    description=case.description, signature=case.signature, contact=case.contact
                )
            rows += 1
        for message in Message.objects.iterator(chunk_size=500):
            Message.objects.filter(pk=message.pk).update(body=message.body)
            rows += 1
        rows += _sent_messages_reencrypt()
        self.stdout.write(f"re-encrypted {files} evidence files and {rows} rows")


def _sent_messages_reencrypt() -> int:
    """The stored bytes of every message sent to a host or partner (takedown.remedies), when that app is here."""
    try:
        from takedown.remedies.models import SentMessage
    except ImportError:
        return 0
    rows = 0
    for message in SentMessage.objects.iterator(chunk_size=200):
        message.set_body(message.raw_bytes())  # raw_bytes checks the SHA-256 first: a bad row stops the run
        SentMessage.objects.filter(pk=message.pk).update(body_encrypted=message.body_encrypted)
        rows += 1
    return rows
