"""URL checks and normalisation shared by intake, moderation and remedies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.cases.locations import MAX_URL_LENGTH, URLRejected, url_normalise, urls_normalise


@pytest.mark.parametrize(
    ("text", "url", "host", "registrable"),
    [
        ("example.com", "https://example.com/", "example.com", "example.com"),
        ("  HTTPS://WWW.Example.COM:443/a%7eb?utm_source=x&id=1#comments ", "https://www.example.com/a~b?id=1",
         "www.example.com", "example.com"),
        ("http://shop.example.co.uk:8080/p/./q/../r", "http://shop.example.co.uk:8080/p/r", "shop.example.co.uk",
         "example.co.uk"),
        ("//cdn.example.org/x.jpg", "https://cdn.example.org/x.jpg", "cdn.example.org", "example.org"),
        ("https://x.com/#/post/1", "https://x.com/#/post/1", "x.com", "x.com"),
        ("https://x.com/#!/post/1", "https://x.com/#!/post/1", "x.com", "x.com"),
        ("http://8.8.8.8/pic", "http://8.8.8.8/pic", "8.8.8.8", "8.8.8.8"),
        ("https://example.com/a b", "https://example.com/a%20b", "example.com", "example.com"),
        ("https://example.com/?fbclid=abc&gclid=d", "https://example.com/", "example.com", "example.com"),
        ("example.com:8080/x", "https://example.com:8080/x", "example.com", "example.com"),
        # Private suffixes (github.io, blogspot.com) belong to the operator who answers for them.
        ("https://someone.github.io/a", "https://someone.github.io/a", "someone.github.io", "github.io"),
        ("https://example.com.", "https://example.com/", "example.com", "example.com"),
    ],
)
def test_normalises(text: str, url: str, host: str, registrable: str) -> None:
    result = url_normalise(text)
    assert (result.url, result.host, result.registrable_domain) == (url, host, registrable)
    assert result.flags == ()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("javascript:alert(1)", "scheme"),
        ("JaVaScRiPt:alert(1)", "scheme"),
        ("data:text/html;base64,PHNjcmlwdD4=", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("ftp://example.com/x", "scheme"),
        ("mailto:a@example.com", "scheme"),
        ("vbscript:msgbox", "scheme"),
        ("http://user:pass@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("https://example.com@evil.example/", "credentials"),
        ("http://127.0.0.1/", "private-host"),
        ("http://127.1/", "private-host"),
        ("http://2130706433/", "private-host"),
        ("http://0x7f000001/", "private-host"),
        ("http://0177.0.0.1/", "private-host"),
        ("http://[::1]/", "private-host"),
        ("http://[fe80::1]/", "private-host"),
        ("http://[::ffff:10.0.0.1]/", "private-host"),
        ("http://10.1.2.3/", "private-host"),
        ("http://192.168.0.1/", "private-host"),
        ("http://169.254.169.254/latest/meta-data", "private-host"),
        ("http://0.0.0.0/", "private-host"),
        ("http://localhost:8000/", "private-host"),
        ("http://printer.local/", "private-host"),
        ("http://db.internal/", "private-host"),
        ("http://app.localhost/", "private-host"),
        ("http://999.1.1.1/", "bad-host"),
        ("http://intranet/", "no-public-suffix"),
        ("http://example.notarealtld/", "no-public-suffix"),
        ("http://example.com:99999/", "malformed"),
        ("http://[zz]/", "malformed"),
        ("http://exa mple.com/", "bad-host"),
        ("http://example.com/\x00", "control"),
        ("http://example.com/\nx", "control"),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, "too-long"),
        ("http:///path", "no-host"),
    ],
)
def test_rejects(text: str, code: str) -> None:
    with pytest.raises(URLRejected) as caught:
        url_normalise(text)
    assert caught.value.code == code
    assert str(caught.value.message)


def test_internationalised_host_is_flagged_and_stored_in_ascii() -> None:
    result = url_normalise("https://bücher.de/x")
    assert result.url == "https://xn--bcher-kva.de/x"
    assert result.display_host == "bücher.de"
    assert result.is_idn and not result.is_lookalike


@pytest.mark.parametrize("text", ["https://\u0430pple.com/", "https://xn--pple-43d.com/", "https://p\u0430ypal.com/login"])
def test_lookalike_mixing_alphabets_is_flagged(text: str) -> None:
    result = url_normalise(text)
    assert result.is_idn and result.is_lookalike
    assert result.host.startswith("xn--")


def test_batch_deduplicates_and_collects_errors() -> None:
    batch = urls_normalise(
        ["https://example.com/a", "", "HTTPS://EXAMPLE.COM/a?utm_medium=x", "javascript:x", "example.org/b",
         "https://example.net/c"],
        exclude=["https://example.net/c"],
    )
    assert [u.url for u in batch.urls] == ["https://example.com/a", "https://example.org/b"]
    assert batch.duplicates == 2
    assert [(e.line, e.code) for e in batch.errors] == [(4, "scheme")]


def test_suffix_list_is_the_bundled_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: a socket opened while parsing would fail this test."""
    import socket

    from takedown.cases import locations

    locations._suffixes.cache_clear()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suffix list must not be fetched")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert url_normalise("https://a.b.example.co.uk/").registrable_domain == "example.co.uk"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_either_rejected_cleanly_or_stable(text: str) -> None:
    try:
        first = url_normalise(text)
    except URLRejected:
        return
    assert url_normalise(first.url) == first
    assert first.url.startswith(("http://", "https://"))


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["http", "https", "HTTP"]),
    st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){0,2}\.(com|org|co\.uk|de)", fullmatch=True),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
)
def test_generated_public_urls_normalise_idempotently(scheme: str, host: str, path: str) -> None:
    result = url_normalise(f"{scheme}://{host}/{path}")
    assert url_normalise(result.url) == result
    assert result.registrable_domain in result.host
