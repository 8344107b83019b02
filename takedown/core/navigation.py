"""Which staff pages each role has: the links of the staff home page.

One table, so the home page never offers a page that would answer 403 to the person reading it (a test opens
every link as its role). A new staff page adds its row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from takedown.core.roles import ADMIN, ADVOCATE, MODERATOR


@dataclass(frozen=True)
class StaffLink:
    url_name: str
    label: str | Promise
    roles: frozenset[str]


STAFF_LINKS: tuple[StaffLink, ...] = (
    StaffLink("moderation-queue", _("Review queues"), frozenset({MODERATOR, ADMIN})),
    StaffLink("exports-staff-grants", _("Advocate access to cases"), frozenset({MODERATOR, ADMIN})),
    StaffLink("transparency", _("Transparency report"), frozenset({MODERATOR, ADMIN})),
    StaffLink("exports-advocate-cases", _("Cases shared with you"), frozenset({ADVOCATE})),
    StaffLink("exports-advocate-profile", _("Your profile and sealed-annex certificate"), frozenset({ADVOCATE})),
    StaffLink("admin:index", _("Operator administration (partners, hosts, staff)"), frozenset({ADMIN})),
    StaffLink("api-docs", _("Partner API documentation"), frozenset({ADMIN})),
)


def staff_links(role: str | None) -> list[dict[str, str]]:
    """The pages this role may open, as {"url", "label"} for the template."""
    return [{"url": reverse(link.url_name), "label": str(link.label)} for link in STAFF_LINKS if role in link.roles]
