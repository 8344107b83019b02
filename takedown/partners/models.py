"""Partner platforms and what they hold: keys, their feedback, their webhook endpoints and deliveries.

Nothing here names a victim or holds an image. Feedback points at a bank entry by id (never by hash value) and
at the cases that entry came from, so moderators and the victim's status page can show what each platform did.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from takedown.core.fields import EncryptedTextField


class Scope(models.TextChoices):
    LOOKUP = "lookup", _("Look hashes up")
    FETCH = "fetch", _("Fetch the hash list and its changes")
    FEEDBACK = "feedback", _("Report what was done")
    SUBMIT = "submit", _("Submit hashes")
    REQUESTS = "requests", _("Read removal requests addressed to you and answer them")


ALL_SCOPES: tuple[str, ...] = tuple(Scope.values)


class StopNCIIFunction(models.TextChoices):
    FETCH_HASHES = "FetchHashes", "FetchHashes"
    SUBMIT_FEEDBACK = "SubmitFeedback", "SubmitFeedback"
    SUBMIT_HASHES = "SubmitHashes", "SubmitHashes"


# The scope a StopNCII function key needs: the same permission model as the native API.
STOPNCII_FUNCTION_SCOPES: dict[str, str] = {
    StopNCIIFunction.FETCH_HASHES: Scope.FETCH,
    StopNCIIFunction.SUBMIT_FEEDBACK: Scope.FEEDBACK,
    StopNCIIFunction.SUBMIT_HASHES: Scope.SUBMIT,
}


class Partner(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    # Null means the site-wide default (settings.PARTNER_RATE_LIMIT_PER_MINUTE).
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class PartnerKey(models.Model):
    """One credential: a native API key, or one of the StopNCII-compatible keys (subscription or function)."""

    class Kind(models.TextChoices):
        API = "api", _("API key")
        STOPNCII_SUBSCRIPTION = "stopncii_subscription", _("StopNCII subscription key")
        STOPNCII_FUNCTION = "stopncii_function", _("StopNCII function key")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.API)
    # Only for StopNCII function keys: which endpoint the key opens.
    function = models.CharField(max_length=16, choices=StopNCIIFunction.choices, blank=True)
    lookup_id = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    label = models.CharField(max_length=100, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on rotation: the old key keeps working until then, so a partner can roll its deployment over.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ("partner", "created_at")

    def __str__(self) -> str:
        return f"{self.kind} {self.lookup_id}"

    @property
    def display_prefix(self) -> str:
        return f"tdk_{self.lookup_id}_…"


class FeedbackValue(models.TextChoices):
    # What a partner did (the native API).
    BLOCKED = "Blocked", _("Blocked")
    NOT_BLOCKED = "NotBlocked", _("Not blocked")
    REMOVED = "Removed", _("Removed")
    NOT_FOUND = "NotFound", _("Not found")
    DISPUTED = "Disputed", _("Disputed")
    # The rest of StopNCII's CSP feedback vocabulary, so SubmitFeedback loses nothing.
    NONE = "None", _("No opinion")
    QUALITY_UNKNOWN = "QualityUnknown", _("Quality unknown")
    PENDING_REVIEW = "PendingReview", _("Pending review")
    WITHDRAWN = "Withdrawn", _("Withdrawn")
    DELETED = "Deleted", _("Deleted")


NATIVE_FEEDBACK_VALUES: tuple[str, ...] = ("Blocked", "NotBlocked", "Removed", "NotFound", "Disputed")
STOPNCII_FEEDBACK_VALUES: tuple[str, ...] = (
    "None", "QualityUnknown", "PendingReview", "Blocked", "NotBlocked", "Withdrawn", "Deleted",
)


class PartnerFeedback(models.Model):
    class Channel(models.TextChoices):
        API = "api", _("Partner API")
        STOPNCII = "stopncii", _("StopNCII-compatible API")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="feedback")
    value = models.CharField(max_length=16, choices=FeedbackValue.choices)
    # A partner's note may name its own users or content: encrypted at rest like every free text field.
    note = EncryptedTextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    bank_entry_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    removal_request_id = models.UUIDField(null=True, blank=True, db_index=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.partner_id} {self.value}"


class PartnerFeedbackCase(models.Model):
    """Which cases a piece of feedback concerns (one bank entry can come from several cases)."""

    feedback = models.ForeignKey(PartnerFeedback, on_delete=models.CASCADE, related_name="case_links")
    # A plain UUID like the audit log: a withdrawn case's deletion must not be blocked by partner history.
    case_id = models.UUIDField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("feedback", "case_id"), name="feedback_case_unique")]

    def __str__(self) -> str:
        return str(self.case_id)


class WebhookEvent(models.TextChoices):
    HASH_ADDED = "hash.added", _("New hashes")
    HASH_WITHDRAWN = "hash.withdrawn", _("Withdrawn hashes")
    HASH_DELETED = "hash.deleted", _("Deleted hashes")
    REMOVAL_REQUEST_CREATED = "removal_request.created", _("New removal requests")


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    # Needed in the clear to sign each delivery, so encrypted (not hashed) at rest.
    secret = EncryptedTextField()
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("partner", "created_at")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Retrying")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Gave up")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.event} {self.status}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, what came back, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("at",)

    def __str__(self) -> str:
        return f"{self.status_code or self.error}"


class BankWatermark(models.Model):
    """How far the webhook publisher has read the bank's change feed (a single row per feed name)."""

    name = models.CharField(max_length=32, primary_key=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    entry_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
