from django.contrib import admin

from takedown.remedies.models import Host


@admin.register(Host)
class HostAdmin(admin.ModelAdmin[Host]):
    """The host directory: abuse contacts, web forms, partner links and jurisdiction, edited by operator admins."""

    list_display = ("domain", "name", "kind", "jurisdiction", "offers_services_in_eu", "contact_source", "partner_id")
    list_filter = ("kind", "jurisdiction", "contact_source")
    search_fields = ("domain", "name")
