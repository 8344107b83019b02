from django.contrib import admin
from django.urls import include, path

from takedown.core.admin import AuditEventAdmin, StaffAdminSite
from takedown.core.models import AuditEvent

# Every admin page sits behind the staff sign-in (password + second factor + lockout).
admin.site.__class__ = StaffAdminSite
admin.site.register(AuditEvent, AuditEventAdmin)

urlpatterns = [
    path("", include("takedown.core.urls")),
    path("", include("victims.urls")),
    path("admin/", admin.site.urls),
]
