"""The host directory: who to ask, how, and under which law, per registrable domain.

One host identity: every URL is looked up by its registrable domain (takedown.cases.locations.registrable_domain,
the public suffix list bundled with tldextract, never fetched; IDNA hosts in their ASCII form), so
`www.reddit.com` and `i.reddit.com` are one platform, reddit.com, while the request still names the exact URL.

Search engines are recognised by their registrable domain (every `google.<suffix>` is Google Search) and get
de-linking requests only: a search engine does not host the image, so it never gets a TAKE IT DOWN removal. A
search-results page (`google.com/search?q=...`) is not itself de-listed: it shows where the target URLs turn up,
and the de-linking request names those targets.

A domain missing from the directory gets an entry on first use. Its abuse contact is then a guess: the standard
`abuse@` mailbox of RFC 2142, marked as a guess wherever it shows, and only when REMEDIES_FALLBACK_ABUSE_MAILBOX is
on; without it the host has no known channel and moderators see "needs a channel". Its jurisdiction is guessed
from an EU (or UK) country-code top-level domain and otherwise left unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings

from takedown.cases.locations import registrable_domain
from takedown.remedies.models import EU_COUNTRIES, Channel, Host, HostKind


@dataclass(frozen=True)
class SearchEngine:
    domain: str
    name: str
    # The engine's own request flow for non-consensual intimate imagery; empty where none is on file (the
    # de-linking request then needs a channel, which a moderator must find and record in the directory).
    web_form_url: str
    # The page for digital forgeries (deepfakes) where the engine has a separate one.
    forgery_form_url: str
    policy: str
    jurisdiction: str
    offers_services_in_eu: bool
    # Registrable domains of the engine besides `domain` (its country sites). "*" in the suffix: any public suffix.
    labels: tuple[str, ...]


# Checked against the engines' own help pages (Google's answers 6302812 and 9116649, Microsoft's "Report a
# concern" form, Yandex's "Request to remove unwanted content"). DuckDuckGo and Baidu publish no request form
# for this kind of content that we could confirm, so none is on file for them.
SEARCH_ENGINES: tuple[SearchEngine, ...] = (
    SearchEngine(
        domain="google.com", name="Google Search",
        web_form_url="https://support.google.com/websearch/answer/6302812",
        forgery_form_url="https://support.google.com/websearch/answer/9116649",
        policy="Google Search's policy on non-consensual explicit or intimate personal images (and, for digital "
               "forgeries, on explicit non-consensual fake imagery)",
        jurisdiction="US", offers_services_in_eu=True, labels=("google",),
    ),
    SearchEngine(
        domain="bing.com", name="Microsoft Bing",
        web_form_url="https://www.microsoft.com/en-us/concern/revengeporn", forgery_form_url="",
        policy="Microsoft's policy on non-consensual intimate imagery (including synthetic imagery) in Bing",
        jurisdiction="US", offers_services_in_eu=True, labels=("bing",),
    ),
    SearchEngine(
        domain="duckduckgo.com", name="DuckDuckGo", web_form_url="", forgery_form_url="",
        policy="DuckDuckGo's policy on removal of content from its results",
        jurisdiction="US", offers_services_in_eu=True, labels=("duckduckgo",),
    ),
    SearchEngine(
        domain="yandex.com", name="Yandex Search",
        web_form_url="https://yandex.com/support/abuse/troubleshooting/deepfake.html", forgery_form_url="",
        policy="Yandex's policy on explicit content published without the consent of the person shown, "
               "including deepfakes",
        jurisdiction="", offers_services_in_eu=False, labels=("yandex",),
    ),
    SearchEngine(
        domain="baidu.com", name="Baidu Search", web_form_url="", forgery_form_url="",
        policy="Baidu's policy on complaints about search results",
        jurisdiction="CN", offers_services_in_eu=False, labels=("baidu",),
    ),
)
_ENGINES_BY_LABEL = {label: engine for engine in SEARCH_ENGINES for label in engine.labels}
_ENGINES_BY_DOMAIN = {engine.domain: engine for engine in SEARCH_ENGINES}
# Query parameters and paths that make a page on an engine's domain a page of search results.
_RESULTS_PARAMETERS = frozenset({"q", "p", "query", "text", "wd", "word", "imgurl"})
_RESULTS_PATHS = ("/search", "/images", "/imgres", "/s", "/videos", "/html", "/lite")
# ccTLDs whose country code differs from the ISO code used in `Host.jurisdiction`.
_CCTLD_TO_ISO = {"uk": "GB", "gr": "GR"}


def host_directory_seed() -> int:
    """Create the bundled search-engine entries if missing (an admin may edit them afterwards)."""
    created = 0
    for engine in SEARCH_ENGINES:
        _, was_created = Host.objects.get_or_create(
            domain=engine.domain,
            defaults={
                "name": engine.name,
                "kind": HostKind.SEARCH_ENGINE,
                "web_form_url": engine.web_form_url,
                "jurisdiction": engine.jurisdiction,
                "offers_services_in_eu": engine.offers_services_in_eu,
                "contact_source": Host.ContactSource.DIRECTORY if engine.web_form_url else Host.ContactSource.NONE,
            },
        )
        created += was_created
    return created


def search_engine_for_domain(domain: str) -> SearchEngine | None:
    """The bundled search engine a registrable domain belongs to (`google.de` -> Google Search), if any."""
    return _ENGINES_BY_DOMAIN.get(domain) or _ENGINES_BY_LABEL.get(domain.split(".", 1)[0])


def search_engine_info(host: Host) -> SearchEngine | None:
    return search_engine_for_domain(host.domain)


def is_search_results_page(url: str) -> bool:
    """A page of an engine's results (`/search?q=`), as opposed to something else on the engine's domain."""
    parts = urlsplit(url)
    if any(name.lower() in _RESULTS_PARAMETERS for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return True
    path = parts.path.rstrip("/").lower()
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _RESULTS_PATHS)


def jurisdiction_guess(domain: str) -> str:
    tld = domain.rsplit(".", 1)[-1].lower()
    if tld == "eu":
        return "EU"
    code = _CCTLD_TO_ISO.get(tld, tld.upper())
    return code if len(tld) == 2 and code in EU_COUNTRIES | {"GB"} else ""


def host_for_domain(domain: str) -> Host:
    engine = search_engine_for_domain(domain)
    if engine is not None:
        host_directory_seed()  # the engine's entry, should an admin or a flushed test database have lost it
        return Host.objects.get(domain=engine.domain)
    host = Host.objects.filter(domain=domain).first()
    if host is not None:
        return host
    fallback = bool(settings.REMEDIES_FALLBACK_ABUSE_MAILBOX)
    host, _ = Host.objects.get_or_create(
        domain=domain,
        defaults={
            "name": domain,
            "abuse_email": f"abuse@{domain}" if fallback else "",
            "contact_source": Host.ContactSource.RFC2142 if fallback else Host.ContactSource.NONE,
            "jurisdiction": jurisdiction_guess(domain),
        },
    )
    return host


def host_for_url(url: str) -> Host:
    return host_for_domain(registrable_domain(url))


def channel_for(host: Host) -> str:
    """How a request reaches the host; NONE ("needs a channel") when the directory knows no way."""
    if host.partner_id:
        return Channel.PARTNER
    if host.abuse_email:
        return Channel.EMAIL
    if host.web_form_url:
        return Channel.WEB_FORM
    return Channel.NONE


def dsa_notice_due(host: Host) -> bool:
    """Whether a removal request to this host carries a DSA Art. 16 notice.

    The DSA applies to services offered in the Union wherever the provider is established (Art. 2(1)). Where the
    directory says so, or the host is established in a Member State, the notice is due. Where the host's
    jurisdiction is unknown (a .com, .org, ... host missing from the directory) it is sent too: such a host is
    reachable from the Union, a notice costs it nothing if it does not serve the Union, and a host that does
    serve the Union and got no notice would leave the person without the DSA's duties. Only a host known to be
    established outside the Union and not marked as serving it gets no notice.
    """
    return host.dsa_applies or not host.jurisdiction
