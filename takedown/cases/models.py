"""Cases: what a victim reported, kept to the least that the remedies need.

A case knows no real name, email or account. It is found by its reference and opened by a secret whose
argon2 hash alone is stored. Free text that could identify someone (signature, contact, description) is
encrypted at rest; images are stored encrypted outside the database (takedown.core.evidence).
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from takedown.core.fields import EncryptedTextField


class CaseStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Received")
    IN_REVIEW = "in_review", _("Being reviewed")
    NEEDS_INFO = "needs_info", _("More information needed")
    CONFIRMED = "confirmed", _("Confirmed: requests sent")
    REJECTED = "rejected", _("Not taken forward")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ContentKind(models.TextChoices):
    DEEPFAKE = "deepfake", _("A fake or altered image (deepfake)")
    REAL = "real", _("A real image shared without consent")
    UNSURE = "unsure", _("Not sure")


class Authority(models.TextChoices):
    """Who filed the report, in relation to the person shown (the Act's "authorized person acting on behalf")."""

    SELF = "self", _("I am the person shown")
    PARENT_GUARDIAN = "parent_guardian", _("I am their parent or guardian")
    LAWYER = "lawyer", _("I am their lawyer")
    OTHER_AUTHORISED = "other_authorised", _("Another person they have authorised to act for them")


class IntakeMode(models.TextChoices):
    UPLOAD = "upload", _("Images uploaded")
    DEVICE = "device", _("Hashed on the person's device")


COURT_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def court_reference_new() -> str:
    """A reference for courts and staff, unrelated to the person's own: it opens nothing, anywhere."""
    raw = "".join(secrets.choice(COURT_REFERENCE_ALPHABET) for _ in range(12))  # 60 bits
    return "CR-" + "-".join(raw[i : i + 4] for i in range(0, 12, 4))


class Case(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The person's own reference: with their secret it opens the case (and five wrong secrets lock it), so it
    # never leaves their hands: staff pages, advocates and court files show court_reference instead.
    reference = models.CharField(max_length=24, unique=True)
    court_reference = models.CharField(max_length=24, unique=True, default=court_reference_new)
    secret_hash = models.CharField(max_length=255)
    pseudonym = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.SUBMITTED, db_index=True)
    content_kind = models.CharField(max_length=16, choices=ContentKind.choices, default=ContentKind.UNSURE)
    intake_mode = models.CharField(max_length=16, choices=IntakeMode.choices, default=IntakeMode.UPLOAD)
    description = EncryptedTextField(blank=True)
    signature = EncryptedTextField(blank=True)
    contact = EncryptedTextField(blank=True)
    good_faith_at = models.DateTimeField(null=True, blank=True)
    # Who signed: the person shown or someone acting for them; blank on cases filed before intake asked.
    authority = models.CharField(max_length=16, choices=Authority.choices, blank=True)
    # When the person authorised the operator to send requests on their behalf as their agent. Without it no
    # removal or de-linking request is sent (hashing and blocking need no agent and still go ahead).
    agent_authorised_at = models.DateTimeField(null=True, blank=True)
    locale = models.CharField(max_length=8, default="en")
    severity = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.court_reference


class CaseURL(models.Model):
    """A place where the imagery appears, normalised; `host` is the registrable domain."""

    class Source(models.TextChoices):
        REPORT = "report", _("In the report")
        VICTIM = "victim", _("Added later by the person")
        MATCH = "match", _("Found by a partner match")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="urls")
    url = models.TextField()
    host = models.CharField(max_length=253, db_index=True)
    platform = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.REPORT)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("added_at",)
        constraints = [models.UniqueConstraint(fields=("case", "url"), name="case_url_unique")]

    def __str__(self) -> str:
        return self.host


class CaseImage(models.Model):
    """One image of a case: its hashes, and (upload mode only) the encrypted file until withdrawal."""

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Uploaded")
        DEVICE = "device", _("Hashed on the device")
        EVIDENCE = "evidence", _("Added later as evidence")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be hashed")
        HASHED = "hashed", _("Hashed")
        REJECTED = "rejected", _("Could not be read")
        DELETED = "deleted", _("Deleted")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="images")
    source = models.CharField(max_length=16, choices=Source.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    blob_name = models.CharField(max_length=100, blank=True)
    media_type = models.CharField(max_length=40, blank=True)
    size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    md5 = models.CharField(max_length=32, blank=True)
    pdq = models.CharField(max_length=64, blank=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    pdq_dihedral = models.JSONField(default=list, blank=True)
    phash = models.CharField(max_length=16, blank=True)
    dhash = models.CharField(max_length=16, blank=True)
    error = models.CharField(max_length=200, blank=True)
    analysis = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return str(self.id)


class Message(models.Model):
    """A message between the person and the moderators, pseudonymous both ways."""

    class Author(models.TextChoices):
        VICTIM = "victim", _("You")
        MODERATOR = "moderator", _("Moderator")
        SYSTEM = "system", _("System")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=Author.choices)
    body = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"{self.author} {self.created_at:%Y-%m-%d}"


class CaseVideo(models.Model):
    """One video of a case: its hashes, its keyframes, and (upload mode only) the encrypted file until withdrawal.

    `md5`/`sha256` are of the file as sent (what an exact copy online has; StopNCII exchanges video MD5). The
    stored copy is remuxed without metadata (detection.video_media), so its frames, and `vpdq`, are the same.
    In device mode only the digests the browser computed reach the server: no file, keyframes or vPDQ.
    """

    # The same life as an image's: where it came from, and how far processing got.
    Source = CaseImage.Source
    State = CaseImage.State

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="videos")
    source = models.CharField(max_length=16, choices=Source.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    blob_name = models.CharField(max_length=100, blank=True)
    media_type = models.CharField(max_length=40, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    frames = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    md5 = models.CharField(max_length=32, blank=True, db_index=True)
    # [{frame, second, pdq, quality}] as detection.video computes it (one frame per second).
    vpdq = models.JSONField(default=list, blank=True)
    # [{blob, second, width, height}]: keyframes (PNG, encrypted) for the contact sheet and the detector.
    keyframes = models.JSONField(default=list, blank=True)
    # What the container's tags said about its origin, read before they were stripped (signals, never the tags).
    provenance = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    analysis = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return str(self.id)

    @property
    def vpdq_frames(self) -> int:
        return len(self.vpdq or [])

    def blob_names(self) -> list[str]:
        """Every evidence file this video holds: the video and its keyframes."""
        names = [self.blob_name] if self.blob_name else []
        names.extend(str(frame["blob"]) for frame in self.keyframes or [] if isinstance(frame, dict)
                     and frame.get("blob"))
        return names
