"""Review queues: one row per thing a moderator must look at, claimed by one moderator at a time.

A claim is a user and an expiry on the row, taken under SELECT ... FOR UPDATE SKIP LOCKED (see services), so two
moderators never hold the same item and an abandoned claim frees itself.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from takedown.cases.models import Case


class ItemKind(models.TextChoices):
    NEW_REPORT = "new_report", _("New report")
    PARTNER_MATCH = "partner_match", _("Partner match awaiting review")
    DETECTOR_FLAG = "detector_flag", _("Detector flag")
    DEADLINE_RISK = "deadline_risk", _("Request at risk of its deadline")
    VICTIM_MESSAGE = "victim_message", _("Message from the person")
    SECOND_REVIEW = "second_review", _("Rejection awaiting a second review")


# Kinds whose review ends in a decision on the case (confirm / reject / ask for information).
DECIDABLE_KINDS = frozenset({ItemKind.NEW_REPORT, ItemKind.PARTNER_MATCH, ItemKind.DETECTOR_FLAG,
                             ItemKind.VICTIM_MESSAGE})


class ReviewItem(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="review_items")
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    # What inside the case the item is about (a request, a message, a URL), so one thing makes one item.
    subject = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    severity = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    # Who may not take the item: the moderator whose rejection a second review checks.
    excluded_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ("due_at", "-severity", "created_at")
        constraints = [
            models.UniqueConstraint(fields=("case", "kind", "subject"), condition=models.Q(state="open"),
                                    name="review_item_one_open_per_subject"),
        ]
        indexes = [models.Index(fields=("state", "due_at", "severity"))]

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class DecisionKind(models.TextChoices):
    CONFIRM = "confirm", _("Confirmed")
    REJECT = "reject", _("Rejected")
    ASK_INFO = "ask_info", _("Asked for more information")


class Decision(models.Model):
    """A moderator's decision on a case. A rejection may wait for a second moderator before it takes effect."""

    class State(models.TextChoices):
        FINAL = "final", _("In effect")
        PENDING_SECOND_REVIEW = "pending", _("Waiting for a second review")
        OVERTURNED = "overturned", _("Overturned on second review")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    item = models.ForeignKey(ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.FINAL)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField()
    second_reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    second_reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("decided_at",)

    def __str__(self) -> str:
        return f"{self.kind} {self.decided_at:%Y-%m-%d}"
