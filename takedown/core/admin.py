"""The Django admin behind the same sign-in as every staff page: password, second factor and lockout."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_otp.admin import OTPAdminSite

from takedown.core.models import AuditEvent
from takedown.core.roles import ADMIN, user_role


class StaffAdminSite(OTPAdminSite):
    site_header = "Takedown operator admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and user_role(request.user) == ADMIN

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return redirect_to_login(request.get_full_path())


class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ("id", "at", "actor_kind", "action", "object_type")
    list_filter = ("actor_kind", "action")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
