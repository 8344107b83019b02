"""Advocates' access to cases, and a record of every court export made.

An advocate (lawyer, NGO caseworker) is a staff user in the advocate group with a profile: an organisation name
the victim recognises, a code the advocate gives the victim so that the victim can grant access, and optionally
an X.509 certificate whose key the sealed identity annex is encrypted to.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from takedown.cases.models import Case
from takedown.core.fields import EncryptedTextField


class AdvocateProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="advocate_profile")
    organisation = models.CharField(max_length=120)
    # What a victim types on the status page to grant this advocate access; random, shown to the advocate.
    grant_code = models.CharField(max_length=24, unique=True)
    annex_certificate = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.organisation


class AdvocateGrant(models.Model):
    class Basis(models.TextChoices):
        VICTIM_CONSENT = "victim_consent", _("Consent given by the person on the status page")
        DOCUMENTED_REQUEST = "documented_request", _("A moderator acting on a documented request")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="advocate_grants")
    advocate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_grants")
    basis = models.CharField(max_length=24, choices=Basis.choices)
    # For a documented request: what the moderator relied on (e.g. "signed authority of 3 May, ticket 1182").
    request_document = models.CharField(max_length=300, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    images_consented = models.BooleanField(default=False)
    # What the person chose to give for the court (name, address...): only ever leaves in the sealed annex.
    identity_for_court = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("advocate", "expires_at"))]

    def __str__(self) -> str:
        return f"grant {self.id}"

    def is_active(self, at: datetime | None = None) -> bool:
        now = at or timezone.now()
        return self.revoked_at is None and self.expires_at > now and self.case.withdrawn_at is None

    @property
    def identity_sealable(self) -> bool:
        """The identity the person gave goes into the file, sealed: the advocate has a certificate to seal it to."""
        profile = getattr(self.advocate, "advocate_profile", None)
        return bool(self.identity_for_court) and bool(profile and profile.annex_certificate)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class CaseExport(models.Model):
    """One export made: who, when, which manifest. The ZIP itself is never stored (it is rebuilt on demand)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exports")
    grant = models.ForeignKey(AdvocateGrant, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports")
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    manifest_digest = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    images_included = models.BooleanField(default=False)
    annex_included = models.BooleanField(default=False)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"export {self.id}"
