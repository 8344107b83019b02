"""One host identity (registrable domain), search engines de-linked only, guessed addresses flagged, and a host with
no known channel shown as "needs a channel" and never counted as sent."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from takedown.cases.locations import registrable_domain
from takedown.core.audit import Actor
from takedown.remedies.directory import is_search_results_page, search_engine_for_domain
from takedown.remedies.models import Channel, Host, RemedyRequest, RequestKind, RequestState
from takedown.remedies.services import RemedyError, remedies_generate_for_case, remedy_request_send
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("url", "domain"), [
    ("https://www.reddit.com/r/x/1", "reddit.com"),
    ("https://i.reddit.com/x.jpg", "reddit.com"),
    ("https://images.example.co.uk/a", "example.co.uk"),
    ("https://bücher.example.de/a", "example.de"),
    ("https://www.bücher.de/a", "xn--bcher-kva.de"),  # IDNA: the directory key is the ASCII (punycode) form
])
def test_every_url_resolves_to_its_registrable_domain(url: str, domain: str) -> None:
    assert registrable_domain(url) == domain


def test_engine_domains_and_results_pages() -> None:
    assert search_engine_for_domain("google.de").domain == "google.com"
    assert search_engine_for_domain("google.co.uk").domain == "google.com"
    assert search_engine_for_domain("reddit.com") is None
    assert is_search_results_page("https://www.google.com/search?q=name")
    assert is_search_results_page("https://www.bing.com/images/search?q=name")
    assert is_search_results_page("https://duckduckgo.com/?q=name")
    assert is_search_results_page("https://www.baidu.com/s?wd=name")
    assert not is_search_results_page("https://sites.google.com/view/somepage")


def test_a_search_engine_never_gets_a_removal_and_its_results_page_is_not_an_object() -> None:
    case = confirm(case_make(urls=[("https://www.google.de/search?q=jane", ""), ("https://pics.example/a/1", "")]))
    host_make("pics.example")
    created = remedies_generate_for_case(case=case, actor=Actor.system())
    removal = [r for r in created if r.kind == RequestKind.REMOVAL]
    assert [r.host.domain for r in removal] == ["pics.example"]
    assert not Host.objects.filter(domain__in=["google.de", "www.google.de", "www.google.com"]).exists()
    for request in created:
        if request.kind == RequestKind.DELINKING:
            assert request.urls == ["https://pics.example/a/1"]


def test_no_channel_means_a_draft_that_is_never_sent(settings, mailoutbox) -> None:
    settings.REMEDIES_FALLBACK_ABUSE_MAILBOX = False
    case = confirm(case_make(urls=[("https://www.nocontact-example.com/p", "")]))
    remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    assert removal.host.domain == "nocontact-example.com" and removal.channel == Channel.NONE
    assert removal.state == RequestState.DRAFT and removal.sent_at is None and mailoutbox == []
    with pytest.raises(RemedyError, match="no channel"):
        remedy_request_send(request=removal, actor=Actor.system())
    removal.refresh_from_db()
    assert removal.state == RequestState.DRAFT and removal.send_count == 0
    # Once the directory knows an address, sending picks it up.
    Host.objects.filter(id=removal.host_id).update(abuse_email="report@nocontact-example.com",
                                                   contact_source=Host.ContactSource.DIRECTORY)
    remedy_request_send(request=removal, actor=Actor.system())
    removal.refresh_from_db()
    assert removal.channel == Channel.EMAIL


def test_the_moderator_sees_the_guess_and_needs_a_channel(moderator_client: Client) -> None:
    case = confirm(case_make(urls=[("https://www.guessed-example.com/p", "")]))
    remedies_generate_for_case(case=case, actor=Actor.system())
    html = moderator_client.get(reverse("remedies-case", args=[case.id])).content.decode()
    assert "abuse@guessed-example.com" in html and 'data-guessed="true"' in html
    # DuckDuckGo and Baidu have no form on file: their de-linking requests need a channel.
    assert html.count('class="needs-channel"') == 2
    assert len(mail.outbox) <= 1  # at most the one removal email: no de-linking is ever "sent" without a channel


def test_agent_authorisation_is_required_to_send_but_not_to_block(mailoutbox) -> None:
    host_make("pics.example")
    case = confirm(case_make(agent_authorised=False))
    created = remedies_generate_for_case(case=case, actor=Actor.system())
    removal = next(r for r in created if r.kind == RequestKind.REMOVAL)
    removal.refresh_from_db()
    assert removal.state == RequestState.DRAFT and mailoutbox == []
    with pytest.raises(RemedyError):
        remedy_request_send(request=removal, actor=Actor.system())
    assert any(r.kind == RequestKind.BLOCKING for r in created)  # blocking needs no agent
