"""Acceptance (issue 14): `remedies_render CASE_REF --format json` keeps its contract and, for a case with URLs on a
`www.` subdomain of a directory host, a search engine, an EU host and an unknown `.com`, yields a removal to the
directory address, de-linking (not removal) to the search engine with its form URL, a DSA notice with a national
basis, and a removal to the `.com` with the guessed address flagged."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from takedown.core.audit import Actor
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make

pytestmark = pytest.mark.django_db

REDDIT = "https://www.reddit.com/r/example/comments/abc123/post/"
IMAGE_HOST = "https://i.reddit.com/abc123.jpg"
SEARCH = "https://www.google.com/search?q=jane+doe&tbm=isch"
EU_HOST = "https://cdn.bildhost.de/i/9.jpg"
UNKNOWN_COM = "https://pics.unknownhost-example.com/p/77"


def _render(reference: str) -> dict[str, Any]:
    out = StringIO()
    call_command("remedies_render", reference, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_one_case_across_a_directory_host_a_search_engine_an_eu_host_and_an_unknown_com() -> None:
    host_make("reddit.com", name="Reddit", email="legal-ncii@reddit.example")
    urls = [(u, "") for u in (REDDIT, IMAGE_HOST, SEARCH, EU_HOST, UNKNOWN_COM)]
    case = confirm(case_make(urls=urls))
    remedies_generate_for_case(case=case, actor=Actor.system())

    payload = _render(case.reference)
    # The contract: {"case", "status", "requests": [<document JSON, schema takedown.remedy-request/1>]}.
    assert set(payload) == {"case", "status", "requests"}
    assert payload["case"] == case.court_reference and payload["status"] == "confirmed"
    assert all(r["schema"] == "takedown.remedy-request/1" and r["text"] and r["title"] for r in payload["requests"])
    removals = {r["recipient"]["domain"]: r for r in payload["requests"] if r["kind"] == "removal"}
    delinking = {r["recipient"]["domain"]: r for r in payload["requests"] if r["kind"] == "delinking"}

    # One platform for www.reddit.com and i.reddit.com, at the directory's address, each exact URL named.
    assert set(removals) == {"reddit.com", "bildhost.de", "unknownhost-example.com"}
    reddit = removals["reddit.com"]
    assert reddit["recipient"]["address"] == "legal-ncii@reddit.example"
    assert reddit["recipient"]["address_guessed"] is False
    assert reddit["urls"] == [REDDIT, IMAGE_HOST]
    assert reddit["take_it_down"]["statute"].startswith("47 U.S.C. 223a")

    # The search engine: de-linking only, with its form, naming the target pages; its results page is context.
    assert "google.com" not in removals
    google = delinking["google.com"]
    assert google["delinking"]["form_url"] == "https://support.google.com/websearch/answer/9116649"
    assert google["urls"] == [REDDIT, IMAGE_HOST, EU_HOST, UNKNOWN_COM]
    assert google["delinking"]["results_pages_seen"] == [SEARCH]
    assert "take_it_down" not in google and "223a" not in google["text"] and "6851" not in google["text"]
    assert google["delinking"]["gdpr_article_17"] is True and "C-131/12" in google["text"]
    assert google["delinking"]["signature"]["electronic_signature"].startswith("/s/ ")

    # The EU host: a DSA Art. 16 notice with the national offence of its Member State.
    eu = removals["bildhost.de"]
    basis = eu["dsa_notice"]["national_basis"]
    assert eu["recipient"]["jurisdiction"] == "DE" and basis["member_state"] == "DE" and basis["on_file"]
    assert "§ 201a(2) StGB" in [o["citation"] for o in basis["offences"]]
    assert "§ 201a(2) StGB" in eu["dsa_notice"]["explanation"] and "2024/1385" not in eu["text"]

    # The unknown .com: a removal to the RFC 2142 guess, flagged as a guess in the JSON and the text.
    com = removals["unknownhost-example.com"]
    assert com["recipient"]["address"] == "abuse@unknownhost-example.com"
    assert com["recipient"]["address_guessed"] is True
    assert "guessed" in " ".join(com["text"].split())
    # Its jurisdiction unknown, it gets a DSA notice too, which says that no national offence is on file for it.
    assert com["dsa_notice"]["national_basis"]["on_file"] is False
    assert "national offence not on file" in com["dsa_notice"]["explanation"]
