from django.contrib import admin
from django.urls import include, path

from takedown.core.admin import AuditEventAdmin, StaffAdminSite
from takedown.core.models import AuditEvent

# Every admin page sits behind the staff sign-in (password + second factor + lockout).
admin.site.__class__ = StaffAdminSite
admin.site.register(AuditEvent, AuditEventAdmin)

# A database outage answers 503 "nothing was saved, try again" instead of a bare 500 (takedown.core.views).
handler500 = "takedown.core.views.server_error"

urlpatterns = [
    path("", include("takedown.core.urls")),
    path("", include("victims.urls")),
    path("", include("takedown.moderation.urls")),
    path("", include("takedown.remedies.urls")),
    path("", include("takedown.api.urls")),
    path("", include("takedown.exports.urls")),
    path("admin/", admin.site.urls),
    # The language switch in every page's footer (Django's set_language: a POST that works without JavaScript).
    path("i18n/", include("django.conf.urls.i18n")),
]
