"""The staff home page links each role to its own pages, and every link it shows opens for that role."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

EXPECTED = {
    "moderator": {"moderation-queue", "exports-staff-grants", "transparency"},
    "advocate": {"exports-advocate-cases", "exports-advocate-profile"},
    "admin": {"moderation-queue", "exports-staff-grants", "transparency", "admin:index", "api-docs"},
}


def _links(client: Client) -> list[str]:
    page = client.get(reverse("staff-home")).content.decode()
    block = re.search(r'<ul id="staff-links">(.*?)</ul>', page, re.S)
    assert block, "the staff home page has no link list"
    return re.findall(r'<a href="([^"]+)">', block.group(1))


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_gets_exactly_its_pages_and_each_opens(role: str, role_clients: dict[str, Client]) -> None:
    client = role_clients[role]
    links = _links(client)
    assert sorted(links) == sorted(reverse(name) for name in EXPECTED[role])
    for url in links:
        response = client.get(url)
        assert response.status_code == 200, f"{role}: {url} answered {response.status_code}"


def test_other_roles_pages_are_not_offered(role_clients: dict[str, Client]) -> None:
    assert reverse("moderation-queue") not in _links(role_clients["advocate"])
    assert reverse("exports-advocate-cases") not in _links(role_clients["moderator"])
    assert reverse("admin:index") not in _links(role_clients["moderator"])
