"""The host directory: who to ask, how, and under which law, per registrable domain.

A URL's host is its registrable domain, as intake stores it on `CaseURL.host` (the public-suffix work lives in
takedown/cases/locations.py). A domain missing from the directory gets an entry on first use: its abuse contact
is the standard `abuse@` mailbox of RFC 2142 (marked unverified, and only when REMEDIES_FALLBACK_ABUSE_MAILBOX is
on) and its jurisdiction is guessed from an EU country-code top-level domain, so that DSA notices still go out.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from takedown.remedies.models import EU_COUNTRIES, Host, HostKind

# Search engines that run request flows for non-consensual intimate imagery. Both take requests through web
# forms only, so their de-linking requests are prepared here and submitted by a moderator.
SEARCH_ENGINES: tuple[dict[str, str], ...] = (
    {
        "domain": "google.com",
        "name": "Google Search",
        "web_form_url": "https://support.google.com/websearch/answer/6302812",
        "jurisdiction": "US",
    },
    {
        "domain": "bing.com",
        "name": "Microsoft Bing",
        "web_form_url": "https://www.microsoft.com/en-us/concern/revengeporn",
        "jurisdiction": "US",
    },
)
# ccTLDs whose country code differs from the ISO code used in `Host.jurisdiction`.
_CCTLD_TO_ISO = {"uk": "GB", "gr": "GR"}


def host_directory_seed() -> int:
    """Create the bundled search-engine entries if missing (an admin may edit them afterwards)."""
    created = 0
    for entry in SEARCH_ENGINES:
        _, was_created = Host.objects.get_or_create(
            domain=entry["domain"],
            defaults={
                "name": entry["name"],
                "kind": HostKind.SEARCH_ENGINE,
                "web_form_url": entry["web_form_url"],
                "jurisdiction": entry["jurisdiction"],
                "offers_services_in_eu": True,
                "contact_source": Host.ContactSource.DIRECTORY,
            },
        )
        created += was_created
    return created


def domain_of(*, url: str, host: str = "") -> str:
    """The directory key for a URL: the registrable domain intake stored, else the URL's host name."""
    if host:
        return host.lower().strip(".")
    name = (urlsplit(url).hostname or "").lower().strip(".")
    return name.removeprefix("www.")


def jurisdiction_guess(domain: str) -> str:
    tld = domain.rsplit(".", 1)[-1].lower()
    if tld == "eu":
        return "EU"
    code = _CCTLD_TO_ISO.get(tld, tld.upper())
    return code if len(tld) == 2 and code in EU_COUNTRIES | {"GB"} else ""


def host_for_domain(domain: str) -> Host:
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
