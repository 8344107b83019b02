"""Handing one e-mail to the mail server and keeping its answer: the proof that a host's system accepted it.

Django's `send_messages` answers only "sent" or an exception, and re-renders the message on the way, so the
bytes a host received could not be shown. Here the message is rendered once (`message.message().as_bytes()`, with
the CRLF line ends SMTP requires), those very bytes go through MAIL FROM / RCPT TO / DATA on the configured SMTP
backend's own connection (its TLS and login settings apply), and the server's reply to DATA ("250 2.0.0 queued as
...") is the acceptance we record. A 5xx reply to RCPT or DATA is a refusal (a bounce at the door); a 4xx reply
or a broken connection is temporary and raises, so the outbox sends again later.

Any other backend (locmem in tests, console or file in development) holds no SMTP conversation; the message is
handed to it and the record says exactly that.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

NO_SMTP = "no SMTP conversation"


class SmtpTemporaryFailure(Exception):
    """The server could not take the message now (4xx, or no connection): try again later."""


@dataclass(frozen=True)
class SmtpAnswer:
    accepted: bool
    # The server's reply as received ("250 2.0.0 Ok: queued as 4C1B2"), or what the backend was.
    detail: str


def rendered_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire. It must carry its own Message-ID and Date (else each render differs)."""
    mime = message.message()
    assert mime["Message-ID"] and mime["Date"], "set Message-ID and Date before rendering"
    return mime.as_bytes(linesep="\r\n")


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"[:500]


def _smtp_conversation(backend: SMTPBackend, *, envelope_from: str, recipient: str, raw: bytes) -> SmtpAnswer:
    try:
        backend.open()
        connection = backend.connection
        assert connection is not None
        connection.ehlo_or_helo_if_needed()
        code, text = connection.mail(envelope_from)
        if code != 250:
            connection.rset()
            # Our own sender refused: nothing the host did, so not a bounce; it waits for an operator and retry.
            raise SmtpTemporaryFailure(f"MAIL FROM refused: {_reply(code, text)}")
        code, text = connection.rcpt(recipient)
        if code not in (250, 251):
            connection.rset()
            if code >= 500:
                return SmtpAnswer(False, _reply(code, text))
            raise SmtpTemporaryFailure(f"RCPT TO deferred: {_reply(code, text)}")
        code, text = connection.data(raw)
        if code != 250:
            if code >= 500:
                return SmtpAnswer(False, _reply(code, text))
            raise SmtpTemporaryFailure(f"DATA deferred: {_reply(code, text)}")
        return SmtpAnswer(True, _reply(code, text))
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPSenderRefused):
            return SmtpAnswer(False, _reply(exc.smtp_code, exc.smtp_error))
        raise SmtpTemporaryFailure(_reply(exc.smtp_code, exc.smtp_error)) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpTemporaryFailure(f"{type(exc).__name__}: {exc}"[:300]) from exc
    finally:
        try:
            backend.close()
        except (OSError, smtplib.SMTPException):
            pass


def smtp_hand_over(*, message: EmailMessage, raw: bytes, envelope_from: str) -> SmtpAnswer:
    """Give `raw` (the rendering of `message`) to the mail server for its one recipient; return its answer."""
    recipients = message.recipients()
    assert len(recipients) == 1, "one message per recipient, so each answer belongs to one address"
    backend = get_connection(fail_silently=False)
    if isinstance(backend, SMTPBackend):
        return _smtp_conversation(backend, envelope_from=envelope_from, recipient=recipients[0], raw=raw)
    message.connection = backend
    if not backend.send_messages([message]):
        raise SmtpTemporaryFailure(f"{type(backend).__module__} took nothing")
    return SmtpAnswer(True, f"handed to {type(backend).__module__} ({NO_SMTP}: a development or test backend)")
