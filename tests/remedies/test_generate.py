"""Given a confirmed case, when remedies are generated, then every request it supports exists once."""

import pytest

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.remedies.models import Channel, RemedyRequest, RequestKind, RequestState
from takedown.remedies.services import RemedyError, remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db


def _urls():
    return [("https://pics.example/a/1", "pics.example"), ("https://pics.example/a/2", "pics.example"),
            ("https://bilder.example.de/x", "bilder.example.de"),  # one platform: example.de
            ("https://unknown-host.example/p", "unknown-host.example")]


def test_one_removal_per_host_one_blocking_and_one_delinking_per_search_engine() -> None:
    host_make("pics.example")
    host_make("example.de", jurisdiction="DE")
    case = confirm(case_make(urls=_urls()))
    created = remedies_generate_for_case(case=case, actor=Actor.system())
    kinds = sorted(r.kind for r in created)
    assert kinds.count(RequestKind.REMOVAL) == 3
    assert kinds.count(RequestKind.BLOCKING) == 1
    assert kinds.count(RequestKind.DELINKING) == 5  # Google, Bing, DuckDuckGo, Yandex, Baidu
    removal = {r.host.domain: r for r in created if r.kind == RequestKind.REMOVAL}
    assert removal["pics.example"].urls == ["https://pics.example/a/1", "https://pics.example/a/2"]
    assert removal["example.de"].dsa_notice is True and removal["pics.example"].dsa_notice is False
    # A host missing from the directory is asked at its RFC 2142 abuse mailbox (a guess), with its ccTLD's law
    # guessed; its jurisdiction unknown, it gets a DSA notice too.
    assert removal["unknown-host.example"].host.abuse_email == "abuse@unknown-host.example"
    assert removal["unknown-host.example"].host.contact_guessed and removal["unknown-host.example"].dsa_notice
    delinking = {r.host.domain: r for r in created if r.kind == RequestKind.DELINKING}
    assert all(len(r.urls) == 4 for r in delinking.values())
    assert {d: r.channel for d, r in delinking.items()} == {
        "google.com": Channel.WEB_FORM, "bing.com": Channel.WEB_FORM, "yandex.com": Channel.WEB_FORM,
        "duckduckgo.com": Channel.NONE, "baidu.com": Channel.NONE}
    assert AuditEvent.objects.filter(action="remedies.generate", case_id=case.id).count() == 1


def test_generation_is_idempotent_and_adds_only_new_urls() -> None:
    host_make("pics.example")
    case = confirm(case_make())
    first = remedies_generate_for_case(case=case, actor=Actor.system())
    assert remedies_generate_for_case(case=case, actor=Actor.system()) == []
    case.urls.create(url="https://pics.example/a/9", host="pics.example", source="match")
    again = remedies_generate_for_case(case=case, actor=Actor.system())
    assert sorted(r.kind for r in again) == ["delinking"] * 5 + ["removal"]
    assert [r.urls for r in again if r.kind == "removal"] == [["https://pics.example/a/9"]]
    assert RemedyRequest.objects.filter(case=case).count() == len(first) + 6


def test_unconfirmed_case_gets_no_requests() -> None:
    case = case_make()
    with pytest.raises(RemedyError):
        remedies_generate_for_case(case=case, actor=Actor.system())
    assert not RemedyRequest.objects.exists()


def test_eu_cctld_of_unknown_host_gets_a_dsa_notice() -> None:
    case = confirm(case_make(urls=[("https://foto.example.fr/1", "example.fr")]))
    created = remedies_generate_for_case(case=case, actor=Actor.system())
    removal = next(r for r in created if r.kind == RequestKind.REMOVAL)
    assert removal.host.jurisdiction == "FR" and removal.dsa_notice


def test_removal_missing_an_element_stays_a_draft(mailoutbox) -> None:
    host_make("pics.example")
    case = confirm(case_make(signature=""))
    remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    assert removal.state == RequestState.DRAFT and removal.sent_at is None
