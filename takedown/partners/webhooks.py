"""Signing and sending webhook deliveries.

Signature (the partner checks it with `webhook_signature_verify`, or the same few lines in its own language):
`Takedown-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`. The timestamp is inside
the MAC so a captured delivery cannot be replayed later than the receiver's tolerance.

Sending: HTTPS only (plain HTTP only when settings allow it, for development), no redirects, a short timeout,
and never to a private, loopback or link-local address unless settings allow it. The address is resolved once,
checked, and the connection is made to that very address (TLS still verifies the host name), so a DNS answer
that changes between the check and the connection cannot point a delivery at an internal service.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

SIGNATURE_HEADER = "Takedown-Signature"
EVENT_HEADER = "Takedown-Event"
DELIVERY_HEADER = "Takedown-Delivery"


def webhook_body(payload: object) -> bytes:
    """The exact bytes posted for a delivery's payload (stable, so the sender can record them in advance)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_signature_verify(secret: str, header: str, body: bytes, *, tolerance: int = 300,
                             now: float | None = None) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance` seconds."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if settings.PARTNER_WEBHOOK_ALLOW_PRIVATE:
        return True
    return ip.is_global and not ip.is_multicast


def webhook_url_check(url: str, *, resolve: bool = True) -> str | None:
    """Why a URL cannot receive webhooks, or None when it can."""
    parts = urlsplit(url)
    allowed_schemes = {"https", "http"} if settings.PARTNER_WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed_schemes:
        return f"the URL must use {' or '.join(sorted(allowed_schemes))}"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "the URL must not carry credentials"
    if not resolve:
        try:
            if not _address_allowed(parts.hostname):
                return "the URL points at a private address"
        except ValueError:
            pass  # a host name: checked when it is resolved at delivery time
        return None
    return None


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to an address chosen in advance while verifying the certificate for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def webhook_send(*, url: str, secret: str, body: bytes, event: str, delivery_id: str) -> SendResult:
    started = time.monotonic()

    def done(status: int | None, error: str) -> SendResult:
        return SendResult(status, error[:300], int((time.monotonic() - started) * 1000))

    problem = webhook_url_check(url)
    if problem:
        return done(None, problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    timeout = settings.PARTNER_WEBHOOK_TIMEOUT_SECONDS
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return done(None, f"cannot resolve the host: {type(exc).__name__}")
    addresses = [str(info[4][0]) for info in infos]
    allowed = [a for a in addresses if _address_allowed(a)]
    if not allowed:
        return done(None, "the host resolves to a private address")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(host, allowed[0], port, timeout, ssl.create_default_context())
    else:
        conn = _PinnedHTTPConnection(host, allowed[0], port, timeout)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Takedown-Webhooks/1",
        SIGNATURE_HEADER: webhook_signature(secret, timestamp, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)  # drain a little so the connection closes cleanly; the body is not kept
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return done(None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
    return done(status, "" if 200 <= status < 300 else f"HTTP {status}")
