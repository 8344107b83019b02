"""Where imagery appears: checking, normalising and de-duplicating the web addresses people report.

`url_normalise(text)` turns what a person pasted into one canonical `NormalisedURL` or raises `URLRejected`
with a message fit to show them. Moderation and remedies reuse it for addresses they add, so every address in
the system has passed the same checks:

- only http and https; `javascript:`, `data:`, `file:` and every other scheme are refused;
- no user name or password inside the address (a classic way to disguise where a link goes);
- no private, loopback, link-local or otherwise internal host, in any spelling a browser accepts
  (`127.1`, `0x7f000001`, `[::1]`, `localhost`): the platform later fetches nothing from these, but a removal
  request must never point a partner at someone's internal network;
- at most `MAX_URL_LENGTH` characters;
- the host must sit under a public suffix, read from the list bundled with tldextract (pinned; nothing is
  fetched from the network), which also gives the registrable domain that names the platform to contact;
- internationalised hosts are stored in their ASCII (punycode) form and flagged, more loudly when a label
  mixes alphabets, as look-alike domains do (`apple.com` spelled with a Cyrillic `a`, U+0430).

Normalisation makes copies of one address compare equal: scheme and host lower-cased, default port and
trailing dot dropped, empty path made `/`, percent-escapes upper-cased and unreserved ones decoded, tracking
parameters (`utm_*`, `fbclid`, ...) removed, and the fragment dropped unless it is a client-side route
(`#/post/1`, `#!/post/1`), which is the only kind that changes what a page shows.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

import idna
import tldextract
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MAX_URL_LENGTH = 2048
# Query parameters that only say how someone reached a page; dropping them lets copies of one link match.
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "_hsenc",
                                 "_hsmi", "yclid", "twclid", "ttclid"})
# Names that resolve inside a network, never on the public web (RFC 6761, RFC 8375, common practice).
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa", ".corp", ".private")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are in a path or query; everything else (spaces, quotes, non-ASCII) is escaped.
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"


class URLRejected(ValueError):
    """The text is not an address we can act on; `message` says why in words meant for the person."""

    def __init__(self, message: str | Promise, *, code: str) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code


@dataclass(frozen=True)
class NormalisedURL:
    url: str
    # The full host in ASCII (punycode for international names), e.g. "www.example.co.uk".
    host: str
    # The part of the host that someone registered, under a public suffix, e.g. "example.co.uk". It names the
    # operator to contact; private suffixes such as github.io count as part of the operator's domain.
    registrable_domain: str
    # The host as a person reads it, when it differs from `host` (international names).
    display_host: str = ""
    # "idn": the host has letters outside ASCII; "mixed-script": one label mixes alphabets (a look-alike).
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_idn(self) -> bool:
        return "idn" in self.flags

    @property
    def is_lookalike(self) -> bool:
        return "mixed-script" in self.flags


@lru_cache(maxsize=1)
def _suffixes() -> tldextract.TLDExtract:
    # The snapshot bundled with the pinned tldextract; no fetch (suffix_list_urls=()) and no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


_IPV4_HEX = re.compile(r"0[xX][0-9A-Fa-f]*")
_IPV4_OCTAL = re.compile(r"0[0-7]+")
_IPV4_DECIMAL = re.compile(r"[0-9]+")


def _parse_ipv4_number(part: str) -> int | None:
    """One dotted part as browsers read it (WHATWG URL): decimal, 0x hex or 0-prefixed octal.

    ASCII digits only: int() would also take "-8", "+8", "1_0" and other scripts' digits ("\u0663"), and a
    negative number then broke IPv4Address (found by fuzz/fuzz_urls.py: "https://-8/" was a 500).
    """
    if _IPV4_HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if _IPV4_OCTAL.fullmatch(part) else None
    return int(part, 10) if _IPV4_DECIMAL.fullmatch(part) else None


def _as_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        except ValueError:
            raise URLRejected(_("This address has a broken host part."), code="bad-host") from None
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts = parts[:-1]
    # A host whose last label is a number is an IPv4 address to a browser, in whatever base it is written.
    if not parts or _parse_ipv4_number(parts[-1]) is None:
        return None
    numbers = [_parse_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers) or len(numbers) > 4:
        raise URLRejected(_("This address has a broken host part."), code="bad-host")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise URLRejected(_("This address has a broken host part."), code="bad-host")
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number += value * 256 ** (3 - index)
    return ipaddress.IPv4Address(number)


def _script(char: str) -> str:
    if char.isascii():
        return "LATIN" if char.isalpha() else ""
    try:
        name = unicodedata.name(char)
    except ValueError:
        return "UNKNOWN"
    if not char.isalpha():
        return ""
    return name.split(" ", 1)[0]


def _mixes_scripts(label: str) -> bool:
    scripts = {_script(c) for c in label} - {""}
    return len(scripts) > 1


def _host_to_ascii(raw_host: str) -> tuple[str, str, tuple[str, ...]]:
    """Returns the ASCII host, the host as a person reads it, and flags."""
    host = raw_host.strip().rstrip(".").lower()
    if not host:
        raise URLRejected(_("This address has no website name in it."), code="no-host")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
        unicode_host = idna.decode(ascii_host)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise URLRejected(_("This address has a website name that is not valid."), code="bad-host") from None
    flags: list[str] = []
    if ascii_host != unicode_host or any(label.startswith("xn--") for label in ascii_host.split(".")):
        flags.append("idn")
        if any(_mixes_scripts(label) for label in unicode_host.split(".")):
            flags.append("mixed-script")
    return ascii_host, unicode_host if "idn" in flags else "", tuple(flags)


def _normalise_percent(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    # A "%" that starts no escape is itself escaped first: otherwise decoding "%66" in "%6%66" would make a new
    # escape ("%6f"), and normalising the result again would change it (found by fuzz/fuzz_urls.py).
    return _PERCENT.sub(repl, _STRAY_PERCENT.sub("%25", text))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, as browsers apply it: "/a/./b/../c" is "/a/c"."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    joined = "/".join(output)
    return joined if joined.startswith("/") else "/" + joined


def _clean_query(query: str) -> str:
    if not query:
        return ""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0].lower()
        if name.startswith("utm_") or name in TRACKING_PARAMETERS:
            continue
        kept.append(pair)
    return _normalise_percent(quote("&".join(kept), safe=_SAFE_QUERY))


def _clean_fragment(fragment: str) -> str:
    if fragment.startswith(("/", "!")):
        return _normalise_percent(quote(fragment, safe=_SAFE_QUERY))
    return ""


def _with_scheme(text: str) -> str:
    if text.startswith("//"):
        return "https:" + text
    match = _SCHEME.match(text)
    if match and "://" not in text[: match.end() + 2]:
        # "host:8080/path" looks like a scheme to a parser but is a host with a port.
        rest = text[match.end():]
        if not re.match(r"^\d{1,5}(?:[/?#]|$)", rest):
            raise URLRejected(_("Only web addresses starting with http:// or https:// can be used."),
                              code="scheme")
    if "://" not in text:
        return "https://" + text
    return text


def url_normalise(text: str) -> NormalisedURL:
    """Check one address and return its canonical form, or raise URLRejected saying why."""
    if not isinstance(text, str):
        raise URLRejected(_("Enter a web address."), code="empty")
    text = text.strip()
    if not text:
        raise URLRejected(_("Enter a web address."), code="empty")
    if len(text) > MAX_URL_LENGTH:
        raise URLRejected(_("This address is too long (more than %(limit)d characters).")
                          % {"limit": MAX_URL_LENGTH}, code="too-long")
    if _CONTROL.search(text):
        raise URLRejected(_("This address contains characters that cannot be in a web address."), code="control")
    text = _with_scheme(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise URLRejected(_("This address could not be read. Check it and try again."), code="malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise URLRejected(_("Only web addresses starting with http:// or https:// can be used."), code="scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise URLRejected(_("This address has a user name or password in it. Remove it and try again."),
                          code="credentials")
    raw_host = parts.hostname or ""
    if parts.netloc.startswith("[") or ":" in raw_host:
        raw_host = "[" + raw_host + "]"
    ip = _as_ip(raw_host.rstrip(".").lower()) if raw_host else None
    flags: tuple[str, ...] = ()
    display_host = ""
    if ip is not None:
        if not ip.is_global or ip.is_multicast:
            raise URLRejected(_("This address points to a private or local network, not a public website."),
                              code="private-host")
        host = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
        registrable = host
    else:
        host, display_host, flags = _host_to_ascii(raw_host)
        if host == "localhost" or host.endswith(INTERNAL_SUFFIXES):
            raise URLRejected(_("This address points to a private or local network, not a public website."),
                              code="private-host")
        extracted = _suffixes()(host)
        if not extracted.suffix or not extracted.domain:
            raise URLRejected(_("This is not the address of a public website (check the part after the dot)."),
                              code="no-public-suffix")
        registrable = f"{extracted.domain}.{extracted.suffix}"
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    path = _remove_dot_segments(_normalise_percent(quote(parts.path or "/", safe=_SAFE_PATH)))
    url = urlunsplit((scheme, netloc, path, _clean_query(parts.query), _clean_fragment(parts.fragment)))
    if len(url) > MAX_URL_LENGTH:
        raise URLRejected(_("This address is too long (more than %(limit)d characters).")
                          % {"limit": MAX_URL_LENGTH}, code="too-long")
    return NormalisedURL(url=url, host=host, registrable_domain=registrable, display_host=display_host, flags=flags)


@dataclass(frozen=True)
class LineError:
    line: int
    text: str
    message: str | Promise
    code: str


@dataclass(frozen=True)
class URLBatch:
    urls: list[NormalisedURL]
    errors: list[LineError]
    duplicates: int


def urls_normalise(lines: Iterable[str], *, exclude: Iterable[str] = ()) -> URLBatch:
    """Normalise many addresses (one per line), dropping blanks and copies, and collect what was refused.

    `exclude` holds canonical URLs already on the case, so adding one again counts as a copy, not an error.
    """
    seen = set(exclude)
    urls: list[NormalisedURL] = []
    errors: list[LineError] = []
    duplicates = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            normalised = url_normalise(line)
        except URLRejected as rejected:
            errors.append(LineError(line=number, text=line.strip()[:120], message=rejected.message,
                                    code=rejected.code))
            continue
        if normalised.url in seen:
            duplicates += 1
            continue
        seen.add(normalised.url)
        urls.append(normalised)
    return URLBatch(urls=urls, errors=errors, duplicates=duplicates)


def registrable_domain(url: str) -> str:
    """The platform a stored address belongs to: its registrable domain in ASCII (`www.reddit.com` and
    `i.reddit.com` are both "reddit.com"), from the bundled public suffix list (never fetched).

    Every part that groups addresses by platform (the host directory, requests, clocks, transparency counts)
    asks this one function, so that none of them keys on a full host name. An address that no longer passes
    `url_normalise` (stored before a check existed) falls back to its host name without a leading "www.".
    """
    try:
        return url_normalise(url).registrable_domain
    except URLRejected:
        name = (urlsplit(url).hostname or "").lower().strip(".")
        return name.removeprefix("www.")
