"""Every console view as anonymous, as the wrong role (advocate) and as the right roles (moderator, admin)."""

import pytest
from django.test import Client
from django.urls import reverse

from takedown.core.audit import Actor
from takedown.moderation.models import ItemKind
from takedown.moderation.services import moderation_claim, moderation_item_open
from takedown.remedies.models import RemedyRequest
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db

DENIED = {"anonymous": 302, "advocate": 403}


def _item_for(client_role: str, role_clients):
    from django.contrib.auth.models import User

    case = case_make()
    item = moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)
    user = User.objects.filter(username=f"user-{client_role}").first()
    if user is not None and client_role in ("moderator", "admin"):
        moderation_claim(item_id=item.id, user=user)
    return item


def _views(item, image_id, request_id):
    return [
        ("get", reverse("moderation-queue"), {}, 200),
        ("post", reverse("moderation-claim-next"), {}, 302),
        ("get", reverse("moderation-review", args=[item.id]), {}, 200),
        ("post", reverse("moderation-reveal", args=[item.id, image_id]), {}, 302),
        ("get", reverse("moderation-image", args=[item.id, image_id]), {}, 200),
        ("post", reverse("moderation-shield", args=[item.id]), {}, 302),
        ("post", reverse("moderation-reply", args=[item.id]), {"body": "Thanks, we are on it."}, 302),
        ("post", reverse("moderation-claim", args=[item.id]), {}, 302),
        ("post", reverse("moderation-decide", args=[item.id]), {"decision": "ask_info", "message": "Which page?"},
         302),
        ("post", reverse("moderation-release", args=[item.id]), {}, 302),
        ("post", reverse("moderation-second-review", args=[item.id]), {"verdict": "uphold"}, 302),
        ("post", reverse("moderation-item-done", args=[item.id]), {}, 302),
        ("get", reverse("transparency"), {}, 200),
        ("get", reverse("transparency-csv"), {}, 200),
        ("get", reverse("remedies-case", args=[item.case_id]), {}, 200),
        ("get", reverse("remedies-document", args=[request_id, "pdf"]), {}, 200),
        ("get", reverse("remedies-document", args=[request_id, "txt"]), {}, 200),
        ("get", reverse("remedies-document", args=[request_id, "json"]), {}, 200),
        ("post", reverse("remedies-send", args=[request_id]), {}, 302),
        ("post", reverse("remedies-outcome", args=[request_id]), {"state": "complied"}, 302),
    ]


@pytest.mark.parametrize("role", ["anonymous", "advocate", "moderator", "admin"])
def test_every_view_by_role(role: str, role_clients: dict[str, Client]) -> None:
    host_make("pics.example")
    item = _item_for(role, role_clients)
    image_id = item.case.images.get().id
    confirmed = confirm(case_make())
    remedies_generate_for_case(case=confirmed, actor=Actor.system())
    request_id = RemedyRequest.objects.filter(case=confirmed, kind="removal").get().id
    client = role_clients[role]
    for method, url, data, allowed in _views(item, image_id, request_id):
        response = getattr(client, method)(url, data)
        expected = DENIED.get(role, allowed)
        assert response.status_code == expected, (role, method, url, response.status_code)
        if role == "anonymous":
            assert reverse("staff-login") in response["Location"]


def test_wrong_method_and_bad_input_are_4xx(moderator_client: Client) -> None:
    host_make("pics.example")
    confirmed = confirm(case_make())
    remedies_generate_for_case(case=confirmed, actor=Actor.system())
    request_id = RemedyRequest.objects.filter(case=confirmed, kind="removal").get().id
    assert moderator_client.get(reverse("moderation-claim-next")).status_code == 405
    assert moderator_client.get(reverse("moderation-queue") + "?kind=nope").status_code == 400
    assert moderator_client.post(reverse("moderation-claim-next"), {"kind": "nope"}).status_code == 400
    assert moderator_client.get(reverse("remedies-document", args=[request_id, "docx"])).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert moderator_client.get(reverse("moderation-review", args=[missing])).status_code == 404
    assert moderator_client.post(reverse("moderation-claim", args=[missing])).status_code == 404
    assert moderator_client.get(reverse("remedies-case", args=[missing])).status_code == 404
    before = RemedyRequest.objects.get(id=request_id).state
    response = moderator_client.post(reverse("remedies-outcome", args=[request_id]), {"state": "sent"})
    assert response.status_code == 302  # refused with a message, not a 500
    assert RemedyRequest.objects.get(id=request_id).state == before


def test_queue_page_lists_items_and_claim_next_opens_the_most_urgent(moderator_client: Client) -> None:
    case = case_make()
    html = moderator_client.get(reverse("moderation-queue")).content.decode()
    assert case.court_reference in html and case.reference not in html and "New report" in html
    response = moderator_client.post(reverse("moderation-claim-next"), {"kind": "new_report"})
    assert response.status_code == 302 and "/staff/moderation/items/" in response["Location"]
    assert moderator_client.get(response["Location"]).status_code == 200
