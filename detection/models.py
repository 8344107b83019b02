"""The hash bank: one entry per (signal type, value), and the opaque sources that brought it.

An entry says nothing about a case: its sources name a kind ("case", "partner", "import") and an opaque id
(a case's UUID, a partner's UUID, an import batch), never a person, a URL or a description. Partners see an
entry's value, status, quality and timestamps; they never see its sources.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from detection import signals


class SignalType(models.TextChoices):
    # Values from detection.signals, the bank's one vocabulary; the labels are for admin screens.
    PDQ = signals.SignalType.PDQ.value, "PDQ"
    MD5 = signals.SignalType.MD5.value, "MD5"
    SHA256 = signals.SignalType.SHA256.value, "SHA-256"
    PHASH = signals.SignalType.PHASH.value, "pHash"
    DHASH = signals.SignalType.DHASH.value, "dHash"
    VIDEO_MD5 = signals.SignalType.VIDEO_MD5.value, "Video MD5"
    VPDQ = signals.SignalType.VPDQ.value, "vPDQ"


class EntryStatus(models.TextChoices):
    RECEIVED = signals.EntryStatus.RECEIVED.value, "Received"
    ACTIVE = signals.EntryStatus.ACTIVE.value, "Active"
    WITHDRAWN = signals.EntryStatus.WITHDRAWN.value, "Withdrawn"
    DELETED = signals.EntryStatus.DELETED.value, "Deleted"


class SourceKind(models.TextChoices):
    CASE = "case", "Case"
    PARTNER = "partner", "Partner submission"
    IMPORT = "import", "Import"


class BankEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    signal_type = models.CharField(max_length=16, choices=SignalType.choices)
    value = models.CharField(max_length=64)  # lower-case hex
    # PDQ only, when the image was hashed here: the 7 other dihedral variants (rotations and flips), 32 bytes
    # each (224 bytes), so a rotated or mirrored copy matches too. Empty for hashes received from elsewhere.
    # Raw bytes, not hex: the index build reads them by binary COPY straight into arrays, with nothing to decode.
    variants = models.BinaryField(blank=True, default=b"")
    status = models.CharField(max_length=10, choices=EntryStatus.choices, default=EntryStatus.RECEIVED)
    quality = models.SmallIntegerField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("signal_type", "value"), name="bank_entry_unique_value")]
        indexes = [
            models.Index(fields=("updated_at", "id"), name="bank_entry_changes"),
            # Each process's refresh (`signal_type = ? AND updated_at >= ?`, every few seconds): an exact fit, so the
            # plan stays an index range scan even on a restored database that has no planner statistics yet.
            models.Index(fields=("signal_type", "updated_at"), name="bank_entry_refresh"),
        ]
        verbose_name_plural = "bank entries"

    def __str__(self) -> str:
        return f"{self.signal_type} entry {self.id} ({self.status})"


class BankSource(models.Model):
    entry = models.ForeignKey(BankEntry, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=8, choices=SourceKind.choices)
    source_id = models.CharField(max_length=64)  # opaque: a UUID or an import batch name
    active = models.BooleanField(default=True)  # false once this source withdrew the hash
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("entry", "kind", "source_id"), name="bank_source_unique"),
        ]
        indexes = [models.Index(fields=("kind", "source_id"), name="bank_source_by_source")]

    def __str__(self) -> str:
        return f"{self.kind} source of entry {self.entry_id}"


class BankVpdq(models.Model):
    """The frames of a vPDQ entry, in HMA's text form (one ``pdq,quality,second`` per line). Kept while the entry
    is Received or Active; dropped when it is withdrawn or deleted (the entry's value, a SHA-256 of this text,
    stays so partners can drop their copy)."""

    entry = models.OneToOneField(BankEntry, on_delete=models.CASCADE, primary_key=True, related_name="vpdq")
    features = models.TextField()
    frames = models.PositiveIntegerField()  # frames that count when matching: quality >= 50, distinct hashes

    class Meta:
        verbose_name = "vPDQ frames"
        verbose_name_plural = "vPDQ frames"

    def __str__(self) -> str:
        return f"vPDQ frames of entry {self.entry_id}"
