"""Operator views of partners in the admin: read-only records; key revocation goes through the service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from takedown.core.audit import Actor
from takedown.core.roles import ADMIN, user_role
from takedown.partners.models import Partner, PartnerFeedback, PartnerKey, WebhookDelivery, WebhookEndpoint
from takedown.partners.services import partner_key_revoke


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    # The operator role (the only one the admin site lets in) reads these; nobody edits them here.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return user_role(request.user) == ADMIN

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_role(request.user) == ADMIN
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(ReadOnlyAdmin):
    list_display = ("name", "active", "rate_limit_per_minute", "created_at")
    search_fields = ("name",)


@admin.action(description="Revoke the selected keys now")
def revoke_keys(modeladmin: Any, request: HttpRequest, queryset: QuerySet[PartnerKey]) -> None:
    actor = Actor.for_user(request.user)
    for key in queryset.filter(revoked_at__isnull=True):
        partner_key_revoke(key=key, actor=actor)
    messages.success(request, "Revoked. Other processes stop accepting them within PARTNER_KEY_CACHE_SECONDS.")


@admin.register(PartnerKey)
class PartnerKeyAdmin(ReadOnlyAdmin):
    list_display = ("lookup_id", "partner", "kind", "function", "scopes", "created_at", "expires_at", "revoked_at")
    list_filter = ("kind", "partner")
    exclude = ("digest",)
    actions = [revoke_keys]


@admin.register(PartnerFeedback)
class PartnerFeedbackAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "partner", "value", "channel", "bank_entry_id", "removal_request_id")
    list_filter = ("value", "channel", "partner")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "partner", "events", "active", "created_at")
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "endpoint", "event", "status", "attempts", "last_status_code", "delivered_at")
    list_filter = ("status", "event")
    exclude = ("payload",)
