"""Reading a delivery status notification (RFC 3464) and finding the message of ours it is about.

A DSN is a multipart/report whose `message/delivery-status` part has one block of per-message fields and one
block per recipient (Final-Recipient, Action, Status, Diagnostic-Code). It names our message in two ways: the
address it was sent to is our VERP envelope sender (bounces+<message id>@..., see REMEDIES_BOUNCE_ADDRESS), and
the returned headers (`text/rfc822-headers` or `message/rfc822`) carry our Message-ID. A mail that is not an RFC
3464 report is refused: guessing at free-text bounces would record failures that did not happen.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser

_VERP = re.compile(r"[^\s<@+]+\+([0-9a-f]{32})@", re.IGNORECASE)
_ADDRESS_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "Return-Path")


class DsnError(ValueError):
    """The input is not a delivery status notification we can read."""


@dataclass(frozen=True)
class DsnRecipient:
    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str

    @property
    def failed(self) -> bool:
        return self.action == "failed"


@dataclass(frozen=True)
class Dsn:
    verp_ids: tuple[uuid.UUID, ...]
    message_ids: tuple[str, ...]
    recipients: tuple[DsnRecipient, ...]
    reporting_mta: str


def _address(value: str) -> str:
    # "rfc822; abuse@pics.example" -> "abuse@pics.example"
    return value.split(";", 1)[-1].strip().strip("<>").lower()


def _field_blocks(part: Message) -> list[Message]:
    """The blocks of a message/delivery-status part (Python parses them as sub-messages, or leaves text)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else part.get_payload(decode=True)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    blocks = re.split(r"\r?\n\s*\r?\n", str(text or "").strip())
    return [HeaderParser().parsestr(block) for block in blocks if block.strip()]


def _returned_message_ids(report: Message) -> list[str]:
    ids: list[str] = []
    for part in report.walk():
        content_type = part.get_content_type()
        headers: Message | None
        if content_type == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            headers = HeaderParser().parsestr(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else
                                              str(part.get_payload()))
        elif content_type == "message/rfc822":
            inner = part.get_payload()
            headers = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else None
        else:
            continue
        if headers is not None and headers.get("Message-ID"):
            ids.append(str(headers["Message-ID"]).strip())
    return ids


def dsn_parse(raw: bytes) -> Dsn:
    if not raw.strip():
        raise DsnError("the input is empty")
    report = message_from_bytes(raw, policy=policy.compat32)
    if report.get_content_type() != "multipart/report" or \
            report.get_param("report-type", "", header="content-type") != "delivery-status":
        raise DsnError("not a delivery status notification (RFC 3464 multipart/report; "
                       "report-type=delivery-status)")
    status_parts = [p for p in report.walk() if p.get_content_type() in ("message/delivery-status",
                                                                          "message/global-delivery-status")]
    if not status_parts:
        raise DsnError("the report has no message/delivery-status part")
    blocks = _field_blocks(status_parts[0])
    if len(blocks) < 2:
        raise DsnError("the delivery-status part has no per-recipient fields")
    per_message, per_recipient = blocks[0], blocks[1:]
    recipients = []
    for block in per_recipient:
        final = block.get("Final-Recipient") or block.get("Original-Recipient")
        action = str(block.get("Action", "")).strip().lower()
        if not final or not action:
            raise DsnError("a recipient block lacks Final-Recipient or Action")
        recipients.append(DsnRecipient(recipient=_address(str(final)), action=action,
                                       status=str(block.get("Status", "")).strip(),
                                       diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split())))
    verp: list[uuid.UUID] = []
    for header in _ADDRESS_HEADERS:
        for value in report.get_all(header) or []:
            for match in _VERP.finditer(str(value)):
                found = uuid.UUID(hex=match.group(1))
                if found not in verp:
                    verp.append(found)
    return Dsn(verp_ids=tuple(verp), message_ids=tuple(_returned_message_ids(report)),
               recipients=tuple(recipients), reporting_mta=_address(str(per_message.get("Reporting-MTA", ""))))
