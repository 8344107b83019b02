"""`check --deploy` refuses the operator's placeholders: requests name the operator as the person's agent."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

# Placeholders the settings fall back to: requests signed with these would name no one a host can reach.
OPERATOR_NAME_DEFAULTS = frozenset({"", "takedown operator"})


def _public_host_problem(host: str) -> str | None:
    """Why `host` is not a public web host (loopback, private, localhost, no public suffix), or None."""
    from takedown.cases.locations import URLRejected, url_normalise

    try:
        url_normalise(f"https://{host}/")
    except URLRejected as rejected:
        return str(rejected.message)
    return None


@register(deploy=True)
def operator_identity_configured(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse placeholders where removal requests name the operator as the person's agent (issue 14).

    A request signed by "Takedown operator" with contact `takedown@localhost` and links to `http://127.0.0.1:8000`
    tells a host nothing it can act on or answer; such a deployment must not start sending.
    """
    from urllib.parse import urlsplit

    errors: list[CheckMessage] = []
    name = str(settings.REMEDIES_OPERATOR_NAME or "").strip()
    if name.lower() in OPERATOR_NAME_DEFAULTS:
        errors.append(Error(
            f"REMEDIES_OPERATOR_NAME is {name!r}, a placeholder: removal requests name the operator as the "
            "person's authorised agent", hint="Set it to the operator's legal name.", id="takedown.E010"))
    if not str(settings.REMEDIES_OPERATOR_ADDRESS or "").strip():
        errors.append(Error(
            "REMEDIES_OPERATOR_ADDRESS is empty: removal requests and DSA notices must give the operator's postal "
            "address", hint="Set it to the operator's postal address.", id="takedown.E011"))
    email = str(settings.REMEDIES_OPERATOR_EMAIL or "").strip()
    domain = email.rpartition("@")[2]
    problem = "it is empty" if not email else ("it has no domain" if "@" not in email or not domain
                                             else _public_host_problem(domain))
    if problem:
        errors.append(Error(
            f"REMEDIES_OPERATOR_EMAIL ({email!r}) cannot be the contact element of removal requests: {problem}",
            hint="Set it (or DEFAULT_FROM_EMAIL) to a mailbox on the operator's public domain.", id="takedown.E012"))
    site = str(settings.SITE_URL or "").strip()
    parts = urlsplit(site)
    problem = "it is empty" if not site else (
        "it is not an http(s) address" if parts.scheme not in {"http", "https"} or not parts.hostname
        else _public_host_problem(parts.hostname))
    if problem:
        errors.append(Error(
            f"SITE_URL ({site!r}) cannot be the public address in generated requests: {problem}",
            hint="Set it to the public https address of this deployment.", id="takedown.E013"))
    return errors
